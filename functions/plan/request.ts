import { z } from "zod";
import { idSchema } from "../../core/config/schema.ts";
import { triggerSchema } from "../../core/messages.ts";

/** The body the workflow POSTs to plan. */
export const planRequestSchema = z.strictObject({
  /** Client id; must be a configured client. */
  client: idSchema,
  /** What started the run: the upload event, the schedule tick, or a person. */
  trigger: triggerSchema,
  /**
   * What makes this run this run: the CloudEvent id for an upload (redeliveries carry the same id), the
   * workflow execution id for a schedule. The same key always plans (or finds) the same run.
   */
  runKey: z.string().min(1, "must not be empty").max(1024, "must be at most 1024 characters"),
  /** Seconds this execution has already waited for a burst of uploads to go quiet (see debounceSeconds). */
  waitedSeconds: z.number().int().min(0).max(86_400).default(0),
});
/** What plan accepts: the parsed body, or a caller's own object (waitedSeconds may be left out). */
export type PlanRequest = z.input<typeof planRequestSchema>;
