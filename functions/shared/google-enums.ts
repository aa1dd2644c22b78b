import { protos as batchProtos } from "@google-cloud/batch";
import { protos as workflowsProtos } from "@google-cloud/workflows";

/**
 * Enum names of the Batch and Workflow Executions APIs, read from the protos the official clients ship (a
 * client answers with a name, or over REST with `enum-encoding=int` with a number), so no table of ours can
 * drift from the API.
 */
function namesOf(values: object): Record<number, string> {
  return Object.fromEntries(Object.entries(values).map(([name, n]) => [n as number, name]));
}

export const JOB_STATE_NAMES = namesOf(batchProtos.google.cloud.batch.v1.JobStatus.State);
export const TASK_STATE_NAMES = namesOf(batchProtos.google.cloud.batch.v1.TaskStatus.State);
export const EXECUTION_STATE_NAMES = namesOf(
  workflowsProtos.google.cloud.workflows.executions.v1.Execution.State,
);

/** The name of an enum value a client returned as a name or as a number. */
export function enumName(value: unknown, names: Record<number, string>): string {
  if (typeof value === "number") return names[value] ?? String(value);
  return String(value ?? "STATE_UNSPECIFIED");
}

/** Batch job states after which nothing more will happen to the job's tasks. */
export const FINAL_JOB_STATES: ReadonlySet<string> = new Set([
  "SUCCEEDED",
  "FAILED",
  "CANCELLED",
  "DELETION_IN_PROGRESS",
]);
