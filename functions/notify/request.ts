import { z } from "zod";
import { idSchema } from "../../core/config/schema.ts";
import { isRunId } from "../../core/ids.ts";
import { triggerSchema } from "../../core/messages.ts";

/** Final states of a Batch job as the workflow reports them. */
export const JOB_STATES = ["SUCCEEDED", "FAILED", "CANCELLED", "DELETION_IN_PROGRESS"] as const;
export type JobState = (typeof JOB_STATES)[number];

/** The body the workflow POSTs to notify, on every path (the job ran, failed, or was never created). */
export const notifyRequestSchema = z.strictObject({
  client: idSchema,
  runId: z.string().refine(isRunId, "must be a run id such as ev-0123456789abcdef"),
  /** `gs://<bucket>/<product>/<client>/runs/<runId>/manifest.json`, as plan returned it. */
  manifestUri: z.string().min(1),
  /** The Batch job id; null when no job was created. */
  jobId: z.string().min(1).nullable(),
  /** The job's final state; null when the job never started (or could not be read). */
  jobState: z.enum(JOB_STATES).nullable(),
  /** Why the job could not be created or read, when that happened. */
  jobError: z
    .strictObject({
      message: z.string().min(1),
      code: z
        .union([z.string(), z.number()])
        .transform((c) => String(c))
        .optional(),
    })
    .nullable()
    .optional(),
  /** When the job started running tasks, if the caller knows; otherwise the earliest task start is used. */
  startedAt: z.iso.datetime({ offset: true }).nullable().optional(),
});
export type NotifyRequest = z.infer<typeof notifyRequestSchema>;

/** Stages of a run that can fail before the job's outcome is known; each ends with a FAILED message. */
export const FAILED_STAGES = ["plan"] as const;

/**
 * What the workflow POSTs to notify when a stage failed past its retries before there was a run to report
 * (plan refused or unreachable): enough to name the run it would have been and the input the event named.
 */
export const stageFailureRequestSchema = z.strictObject({
  client: idSchema,
  stage: z.enum(FAILED_STAGES),
  trigger: triggerSchema,
  /** The runKey plan was called with: the run id follows from it, as plan computes it. */
  runKey: z.string().min(1).max(1024),
  error: z.strictObject({
    message: z.string().min(1),
    code: z
      .union([z.string(), z.number()])
      .transform((c) => String(c))
      .optional(),
  }),
});
export type StageFailureRequest = z.infer<typeof stageFailureRequestSchema>;
