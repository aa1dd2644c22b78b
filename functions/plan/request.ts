import { z } from "zod";
import { idSchema } from "../../core/config/schema.ts";
import { triggerSchema } from "../../core/messages.ts";

/** A workflow execution runs for at most a year, so it can never have waited longer. */
const MAX_EXECUTION_SECONDS = 366 * 86_400;

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
  waitedSeconds: z.number().int().min(0).max(MAX_EXECUTION_SECONDS).default(0),
  /**
   * The calling workflow execution, `projects/P/locations/L/workflows/W/executions/E`. Kept with the open run
   * so that a later plan can ask whether the execution still runs (recovery).
   */
  execution: z
    .string()
    .regex(
      /^projects\/[^/]+\/locations\/[^/]+\/workflows\/[^/]+\/executions\/[^/]+$/,
      "must be projects/P/locations/L/workflows/W/executions/E",
    )
    .nullable()
    .optional(),
});
/** What plan accepts: the parsed body, or a caller's own object (waitedSeconds may be left out). */
export type PlanRequest = z.input<typeof planRequestSchema>;
