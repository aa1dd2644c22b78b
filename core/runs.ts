import { z } from "zod";
import { generation, isoTime, triggerSchema } from "./messages.ts";

/**
 * Run records: the objects that carry a run from plan to worker to notify. They live under
 * `<product>/<client>/runs/<runId>/` (and `claims/` for claims). Each is parsed with its schema wherever
 * it is read, so a half-written or foreign object fails loudly instead of being misread.
 */

/** Inputs per manifest shard: a task reads the header and one shard, never the whole list. */
export const MANIFEST_SHARD_SIZE = 1000;

/** Exit codes of the worker, which the Batch job's lifecyclePolicies act on. */
export const EXIT = {
  /** The task processed its input (bad records, if any, are in the errors file). */
  OK: 0,
  /** Something that may pass on a retry (network, 5xx, timeouts): Batch retries up to maxRetryCount. */
  RETRYABLE: 1,
  /** The input can never succeed (missing, too big, unreadable, not the expected format): FAIL_TASK, no retry. */
  PERMANENT: 3,
  /** Batch's own code for a VM preempted under SPOT: RETRY_TASK. */
  PREEMPTED: 50001,
} as const;

/** One input of a run, as the plan function recorded it. */
export const manifestInputSchema = z.strictObject({
  /** Task index (BATCH_TASK_INDEX) that processes this input. */
  index: z.number().int().min(0),
  /** Input object name. */
  object: z.string().min(1),
  /** The input generation this run claimed; the worker reads exactly this generation. */
  generation,
  /** Size in bytes at plan time. */
  size: z.number().int().min(0),
  /** Where the output goes: `outputs/<same relative path>`, or `outputs/.hashed/…` when that would be too long. */
  output: z.string().min(1),
  /** Where bad records go: `errors/<runId>/<path>.jsonl`, or `errors/<runId>/.hashed/…` when that would be too long. */
  errors: z.string().min(1),
  /** The claim object for this input. */
  claim: z.string().min(1),
});
export type ManifestInput = z.infer<typeof manifestInputSchema>;

/** `runs/<runId>/manifest.json`: the run's header; inputs are in shards next to it. */
export const manifestSchema = z.strictObject({
  schemaVersion: z.literal(1),
  product: z.string(),
  client: z.string(),
  bucket: z.string(),
  runId: z.string(),
  jobId: z.string(),
  trigger: triggerSchema,
  /** The workflow execution that planned the run (`projects/…/executions/…`), when it said; null otherwise. */
  execution: z.string().nullable().optional(),
  plannedAt: isoTime,
  processor: z.string(),
  /**
   * `event`/`sweep` runs have one task per input. An `always` schedule runs even with no inputs: then
   * taskCount is 1 and task 0 has no input (the processor's no-input hook runs, if it has one).
   */
  mode: z.enum(["event", "sweep", "always"]),
  inputCount: z.number().int().min(0),
  /** Tasks in the Batch job: inputCount, or 1 for an `always` run with no inputs, 0 when only rejections. */
  taskCount: z.number().int().min(0),
  /**
   * Inputs refused at plan time (oversized, unsafe names): marked poison at once and reported by notify,
   * so nothing is silently dropped.
   */
  rejected: z.array(z.strictObject({ object: z.string(), generation, reason: z.string() })),
  shardSize: z.number().int().min(1),
  /** Object names of the shards, in order: shard k holds inputs k*shardSize … (k+1)*shardSize-1. */
  shards: z.array(z.string()),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** `runs/<runId>/manifest/<k>.json` */
export const manifestShardSchema = z.strictObject({
  runId: z.string(),
  shard: z.number().int().min(0),
  inputs: z.array(manifestInputSchema),
});
export type ManifestShard = z.infer<typeof manifestShardSchema>;

export function manifestShardName(runPrefix: string, shard: number): string {
  return `${runPrefix}manifest/${String(shard).padStart(5, "0")}.json`;
}

/** `runs/<runId>/tasks/<index>.json`: what one task did; written by the worker, last attempt wins. */
export const taskRecordSchema = z.strictObject({
  schemaVersion: z.literal(1),
  runId: z.string(),
  index: z.number().int().min(0),
  /** BATCH_TASK_RETRY_ATTEMPT of the attempt that wrote this record. */
  attempt: z.number().int().min(0),
  input: z.strictObject({ object: z.string(), generation }),
  status: z.enum(["SUCCEEDED", "FAILED"]),
  /** For FAILED: whether a retry could help (the exit code said so to Batch too). */
  retryable: z.boolean(),
  /** Why it failed; null on success. */
  error: z.string().nullable(),
  records: z.number().int().min(0),
  badRecords: z.number().int().min(0),
  bytesIn: z.number().int().min(0),
  bytesOut: z.number().int().min(0),
  /** Output object written (null if the task failed before writing it). */
  output: z.string().nullable(),
  /** Errors file written (null when there were no bad records). */
  errors: z.string().nullable(),
  processor: z.string(),
  processorVersion: z.string(),
  startedAt: isoTime,
  finishedAt: isoTime,
  durationMs: z.number().int().min(0),
});
export type TaskRecord = z.infer<typeof taskRecordSchema>;

/**
 * Claim state, kept in the custom metadata of `claims/<input path>` so a single list call shows every
 * claim of a client without downloading any. Values are strings because GCS metadata values are strings.
 * - `running`: a run holds the input; others skip it until the lease expires.
 * - `succeeded`: this input generation is done; a new generation (re-upload) is pending again.
 * - `failed`: released after a failed run; pending again, with `failures` counted.
 * - `poison`: failed maxInputFailures times; never retried; `reason` says why.
 * Every change is a compare-and-swap on the claim object's generation (create with ifGenerationMatch=0,
 * replace with ifGenerationMatch=<seen generation>), so two runs can never both take one input.
 */
export const claimMetadataSchema = z.strictObject({
  state: z.enum(["running", "succeeded", "failed", "poison"]),
  /** The input generation this claim is about. */
  inputGeneration: generation,
  /** The run that set this state. */
  runId: z.string(),
  /** Failed runs so far for this input generation. */
  failures: z.string().regex(/^\d+$/),
  /** When a `running` claim may be taken over (the run died without notifying). RFC 3339. */
  leaseExpiresAt: isoTime,
  /** Last failure reason (capped), empty when none. */
  reason: z.string(),
});
export type ClaimMetadata = z.infer<typeof claimMetadataSchema>;

/** One input's outcome in the summary. */
export const summaryInputSchema = z.strictObject({
  index: z.number().int().min(0),
  object: z.string(),
  generation,
  status: z.enum(["SUCCEEDED", "FAILED"]),
  reason: z.string().nullable(),
  failures: z.number().int().min(0),
  poison: z.boolean(),
  records: z.number().int().min(0),
  badRecords: z.number().int().min(0),
  output: z.string().nullable(),
  errors: z.string().nullable(),
});

/** `runs/<runId>/summary.json`: every input and its outcome, plus the message that was published. */
export const summarySchema = z.strictObject({
  schemaVersion: z.literal(1),
  runId: z.string(),
  jobId: z.string().nullable(),
  /** The Batch job's final state as reported to notify (e.g. SUCCEEDED, FAILED), or null if none ran. */
  jobState: z.string().nullable(),
  inputs: z.array(summaryInputSchema),
  /** The exact message body published (so a repeated notify republishes identical content). */
  message: z.unknown(),
  /** Pub/Sub message id of the first successful publish. */
  messageId: z.string().nullable(),
  /**
   * Set while one notify call publishes the message, so that concurrent calls for the same run (a duplicate
   * event, a retried call, a recovering plan) wait for its message id instead of publishing again. A publisher
   * that dies leaves it to expire at `until`; a later call then publishes.
   */
  publishing: z
    .strictObject({ by: z.string().min(1), until: isoTime })
    .nullable()
    .optional(),
  /** Set when a later plan settled the run because its execution ended without calling notify. */
  recovered: z.string().nullable().optional(),
});
export type Summary = z.infer<typeof summarySchema>;

/**
 * `runs/.open/<runId>.json`: written by plan before it claims anything, deleted once the run's message is
 * published. A later plan reads these (a list of open runs, never of history) to find runs whose execution
 * ended without notifying, and settles them (docs/architecture.md, "Recovery").
 */
export const openRunSchema = z.strictObject({
  schemaVersion: z.literal(1),
  runId: z.string(),
  jobId: z.string(),
  /** Full name of the workflow execution that planned the run, when it said (projects/…/executions/…). */
  execution: z.string().nullable(),
  openedAt: isoTime,
  /** After this, the run is taken for dead even when no API can say whether its execution still runs. */
  leaseExpiresAt: isoTime,
});
export type OpenRun = z.infer<typeof openRunSchema>;

/** The open-run marker of a run, under the client's runs/ area. */
export function openRunName(runsPrefix: string, runId: string): string {
  return `${runsPrefix}${OPEN_RUNS_FOLDER}/${runId}.json`;
}
export const OPEN_RUNS_FOLDER = ".open";

/**
 * `runs/.undelivered/<runId>.json`: a run's message that could not be published (the topic is gone, Pub/Sub
 * kept refusing). Kept until a later publish succeeds; every plan of the client tries again (recovery).
 */
export const undeliveredSchema = z.strictObject({
  schemaVersion: z.literal(1),
  runId: z.string(),
  topic: z.string(),
  /** Why the last publish failed. */
  error: z.string(),
  failedAt: isoTime,
  /** The message body and attributes, exactly as they will be published. */
  message: z.unknown(),
  attributes: z.record(z.string(), z.string()),
});
export type Undelivered = z.infer<typeof undeliveredSchema>;
export const UNDELIVERED_FOLDER = ".undelivered";

export function undeliveredName(runsPrefix: string, runId: string): string {
  return `${runsPrefix}${UNDELIVERED_FOLDER}/${runId}.json`;
}
