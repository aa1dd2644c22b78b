import { z } from "zod";

/** Most failed inputs one message names; the rest are counted in `failedInputsOmitted`. */
export const MAX_FAILED_INPUTS_IN_MESSAGE = 100;
/** Longest reason text kept per failed input. */
export const MAX_REASON_CHARS = 500;

/** An RFC 3339 time with its offset, as every record and message writes times. */
export const isoTime = z.iso.datetime({ offset: true });
/** A GCS generation: an int64, so a decimal string. */
export const generation = z.string().regex(/^\d+$/, "must be a GCS generation (decimal digits)");

/** One input a run could not process. */
export const failedInputSchema = z.strictObject({
  /** Object name of the input. */
  object: z.string(),
  /** Generation of the input that failed (GCS generations are int64, so a decimal string). */
  generation,
  /** Why it failed, capped to MAX_REASON_CHARS. */
  reason: z.string().max(MAX_REASON_CHARS),
  /**
   * Runs this generation has failed so far, this one included. 0 when the input was not processed through no
   * fault of its own (its run was interrupted) and is pending again for the next run.
   */
  failures: z.number().int().min(0),
  /** True when it will not be retried again (it reached the client's maxInputFailures, or cannot succeed). */
  poison: z.boolean(),
});
export type FailedInput = z.infer<typeof failedInputSchema>;

export const triggerSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("event"),
    /** The object whose upload started the run. */
    object: z.string(),
    generation: generation.optional(),
    /** CloudEvent id, for tracing a delivery. */
    eventId: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal("schedule"),
    /** When the scheduler fired. */
    scheduledTime: isoTime.optional(),
  }),
  z.strictObject({ type: z.literal("manual") }),
  /** The local cloud restarted on the same directory and swept up what the crash left (docs/local-batch.md). */
  z.strictObject({ type: z.literal("recovery") }),
]);
export type Trigger = z.infer<typeof triggerSchema>;

/**
 * Result message v1: what a client receives on `batch-<product>-<client>-outputs` when a run ends.
 * Documented field by field in docs/messages.md; additions are backwards compatible, removals are v2.
 */
export const resultMessageV1Schema = z.strictObject({
  schemaVersion: z.literal(1),
  status: z.enum(["SUCCEEDED", "FAILED"]),
  product: z.string(),
  client: z.string(),
  runId: z.string(),
  /** Batch job id; null when the job never started (e.g. job creation failed). */
  jobId: z.string().nullable(),
  trigger: triggerSchema,
  counts: z.strictObject({
    /** Inputs the run claimed. */
    inputs: z.number().int().min(0),
    succeeded: z.number().int().min(0),
    failed: z.number().int().min(0),
    /** Records processed into the outputs, across all inputs (bad records are counted separately). */
    records: z.number().int().min(0),
    /** Records written to the errors area instead of the outputs. */
    badRecords: z.number().int().min(0),
  }),
  failedInputs: z.array(failedInputSchema).max(MAX_FAILED_INPUTS_IN_MESSAGE),
  /** Failed inputs not listed in failedInputs because of the cap; see the summary for all of them. */
  failedInputsOmitted: z.number().int().min(0),
  /** Why the run as a whole failed, when it did (e.g. job creation refused); null otherwise. */
  error: z.strictObject({ message: z.string(), code: z.string().optional() }).nullable(),
  locations: z.strictObject({
    /** gs:// prefix of this client's outputs. */
    outputs: z.string(),
    /** gs:// URI of runs/<runId>/summary.json, which lists every input and its outcome. */
    summary: z.string(),
    /** gs:// prefix of this run's bad-record files. */
    errors: z.string(),
  }),
  timings: z.strictObject({
    /** When the run was planned. */
    plannedAt: isoTime,
    /** When the job started running tasks; null if it never did. */
    startedAt: isoTime.nullable(),
    finishedAt: isoTime,
    durationMs: z.number().int().min(0),
  }),
});
export type ResultMessageV1 = z.infer<typeof resultMessageV1Schema>;

/** Pub/Sub attributes sent with every result message, for subscription filters. */
export function resultMessageAttributes(message: ResultMessageV1): Record<string, string> {
  return {
    schemaVersion: String(message.schemaVersion),
    status: message.status,
    client: message.client,
    product: message.product,
    runId: message.runId,
    trigger: message.trigger.type,
  };
}

/** Caps a reason to `max` characters (MAX_REASON_CHARS unless said), marking the cut with "...". */
export function capReason(reason: string, max = MAX_REASON_CHARS): string {
  return reason.length <= max ? reason : `${reason.slice(0, max - 3)}...`;
}
