import {
  capReason,
  type FailedInput,
  MAX_FAILED_INPUTS_IN_MESSAGE,
  type ResultMessageV1,
  resultMessageV1Schema,
} from "../../core/messages.ts";
import { areaPrefix, gsUri, runRecordName } from "../../core/naming.ts";
import type { Manifest, Summary } from "../../core/runs.ts";
import type { InputOutcome, JobOutcome } from "./outcomes.ts";

/** One input's line in the summary: its outcome plus what its claim now says. */
export type SummaryInput = Summary["inputs"][number];

/** An outcome with its settled claim numbers, as it goes into the summary. */
export function summaryInput(outcome: InputOutcome, failures: number, poison: boolean): SummaryInput {
  return {
    index: outcome.index,
    object: outcome.object,
    generation: outcome.generation,
    status: outcome.status,
    reason: outcome.reason,
    failures,
    poison,
    records: outcome.records,
    badRecords: outcome.badRecords,
    output: outcome.output,
    errors: outcome.errors,
  };
}

/**
 * Inputs refused at plan time, as summary lines. They have no task, so they are numbered after the job's
 * tasks (taskCount, taskCount + 1, …) to keep every summary index unique.
 */
export function rejectedInputs(manifest: Manifest, failures: readonly number[]): SummaryInput[] {
  return manifest.rejected.map((r, j) => ({
    index: manifest.taskCount + j,
    object: r.object,
    generation: r.generation,
    status: "FAILED",
    reason: capReason(r.reason),
    failures: Math.max(1, failures[j] ?? 1),
    poison: true,
    records: 0,
    badRecords: 0,
    output: null,
    errors: null,
  }));
}

export interface MessageFacts {
  manifest: Manifest;
  /** Every input of the run, refused ones included, in summary order. */
  inputs: readonly SummaryInput[];
  jobId: string | null;
  job: JobOutcome;
  /** Records and bad records over every task record read (an input-less `always` task included). */
  records: number;
  badRecords: number;
  startedAt: string | null;
  finishedAt: Date;
}

/** Why the run as a whole failed, if it did: the job could not run, or did not succeed. */
export function runError(manifest: Manifest, job: JobOutcome): ResultMessageV1["error"] {
  if (job.jobError !== null) {
    return job.jobError.code === undefined
      ? { message: job.jobError.message }
      : { message: job.jobError.message, code: job.jobError.code };
  }
  if (manifest.taskCount === 0 || job.jobState === "SUCCEEDED") return null;
  if (job.jobState === null) return { message: `job for run ${manifest.runId} never started` };
  return { message: `job ${manifest.jobId} ended in state ${job.jobState}` };
}

/**
 * The v1 result message. FAILED when any input failed, when there was work for a job and the job did not
 * succeed (which also decides an `always` run with no inputs), or when a stage of the run failed.
 */
export function buildMessage(facts: MessageFacts): ResultMessageV1 {
  const { manifest } = facts;
  const failed = facts.inputs.filter((i) => i.status === "FAILED");
  const jobFailed = manifest.taskCount > 0 && facts.job.jobState !== "SUCCEEDED";
  const listed: FailedInput[] = failed.slice(0, MAX_FAILED_INPUTS_IN_MESSAGE).map((i) => ({
    object: i.object,
    generation: i.generation,
    reason: capReason(i.reason ?? "failed"),
    failures: i.failures,
    poison: i.poison,
  }));
  const plannedAt = Date.parse(manifest.plannedAt);
  const finishedAt = facts.finishedAt.getTime();
  const errorsPrefix = `${areaPrefix(manifest.product, manifest.client, "errors")}${manifest.runId}/`;
  return resultMessageV1Schema.parse({
    schemaVersion: 1,
    status: failed.length > 0 || jobFailed || facts.job.jobError !== null ? "FAILED" : "SUCCEEDED",
    product: manifest.product,
    client: manifest.client,
    runId: manifest.runId,
    jobId: facts.jobId,
    trigger: manifest.trigger,
    counts: {
      inputs: facts.inputs.length,
      succeeded: facts.inputs.length - failed.length,
      failed: failed.length,
      records: facts.records,
      badRecords: facts.badRecords,
    },
    failedInputs: listed,
    failedInputsOmitted: failed.length - listed.length,
    error: runError(manifest, facts.job),
    locations: {
      outputs: gsUri(manifest.bucket, areaPrefix(manifest.product, manifest.client, "outputs")),
      summary: gsUri(
        manifest.bucket,
        runRecordName(manifest.product, manifest.client, manifest.runId, "summary.json"),
      ),
      errors: gsUri(manifest.bucket, errorsPrefix),
    },
    timings: {
      plannedAt: manifest.plannedAt,
      startedAt: facts.startedAt,
      finishedAt: facts.finishedAt.toISOString(),
      durationMs: Math.max(0, finishedAt - plannedAt),
    },
  } satisfies ResultMessageV1);
}
