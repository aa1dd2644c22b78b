import { type TaskRecord, taskRecordSchema } from "../core/runs.ts";
import type { recordLocationFrom } from "./env.ts";

/** Generation written for a task that has no input of its own: GCS never gives out generation 0. */
export const NO_INPUT_GENERATION = "0";

/** What a task knows about itself by the time it ends; grows as the task gets further. */
export interface TaskFacts {
  runId: string;
  index: number;
  attempt: number;
  /**
   * The claimed input. A task without one (the input-less task of an `always` run, or a task that failed
   * before it found its entry) names the manifest header with generation "0".
   */
  input: { object: string; generation: string };
  records: number;
  badRecords: number;
  bytesIn: number;
  bytesOut: number;
  /** Set once the output upload is finalized (so a task that failed after writing it still says so). */
  output: string | null;
  /** Set once the errors file is finalized; stays null when there were no bad records. */
  errors: string | null;
  processor: string;
  processorVersion: string;
  startedAt: Date;
}

/**
 * The facts a task starts from: where recordLocationFrom placed it (or nothing, when even that could not be
 * read), nothing counted yet, and the manifest header as its input until it finds its own entry.
 */
export function startingFacts(
  location: ReturnType<typeof recordLocationFrom>,
  startedAt: Date,
  processor: { name: string; version: string },
): TaskFacts {
  return {
    runId: location?.run.runId ?? "",
    index: location?.taskIndex ?? 0,
    attempt: location?.attempt ?? 0,
    input: { object: location?.run.manifest ?? "", generation: NO_INPUT_GENERATION },
    records: 0,
    badRecords: 0,
    bytesIn: 0,
    bytesOut: 0,
    output: null,
    errors: null,
    processor: processor.name,
    processorVersion: processor.version,
    startedAt,
  };
}

export type TaskOutcomeFields =
  | { status: "SUCCEEDED" }
  | { status: "FAILED"; retryable: boolean; error: string };

/** The task record for `runs/<runId>/tasks/<index>.json`, checked against the contract's schema. */
export function buildTaskRecord(facts: TaskFacts, outcome: TaskOutcomeFields, finishedAt: Date): TaskRecord {
  const failed = outcome.status === "FAILED";
  return taskRecordSchema.parse({
    schemaVersion: 1,
    runId: facts.runId,
    index: facts.index,
    attempt: facts.attempt,
    input: facts.input,
    status: outcome.status,
    retryable: failed ? outcome.retryable : false,
    error: failed ? outcome.error : null,
    records: facts.records,
    badRecords: facts.badRecords,
    bytesIn: facts.bytesIn,
    bytesOut: facts.bytesOut,
    output: facts.output,
    errors: facts.errors,
    processor: facts.processor,
    processorVersion: facts.processorVersion,
    startedAt: facts.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: Math.max(0, Math.round(finishedAt.getTime() - facts.startedAt.getTime())),
  });
}
