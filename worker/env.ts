import { z } from "zod";
import { assertSafeObjectName, parseGsUri } from "../core/naming.ts";
import { PermanentTaskError } from "./errors.ts";

/** Default bound on one input line: longer lines are bad records, streamed past without being held. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/** Where a run's manifest header lives, and so where its task records go. */
export interface RunLocation {
  bucket: string;
  product: string;
  client: string;
  runId: string;
  /** Object name of `runs/<runId>/manifest.json`. */
  manifest: string;
}

/** Everything a task reads from its environment, checked. */
export interface WorkerEnv {
  /** BATCH_TASK_INDEX */
  taskIndex: number;
  /** BATCH_TASK_COUNT */
  taskCount: number;
  /** BATCH_TASK_RETRY_ATTEMPT (0 on the first attempt; 0 when unset, as outside Batch). */
  attempt: number;
  /** BATCHLINE_MANIFEST_URI, split up. */
  run: RunLocation;
  manifestUri: string;
  /** BATCHLINE_JOB_ID: the Batch job, for provenance; the manifest's jobId when unset. */
  jobId: string | undefined;
  /** BATCHLINE_IMAGE: the container image, for provenance. */
  image: string | undefined;
  /** BATCHLINE_MAX_LINE_BYTES (default 1 MiB). */
  maxLineBytes: number;
  /** BATCHLINE_MAX_INPUT_BYTES: inputs over this many bytes fail permanently (no limit when unset). */
  maxInputBytes: number | undefined;
}

const count = (min: number) =>
  z
    .string({ error: "is missing" })
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(Number.MAX_SAFE_INTEGER, "is too large"));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const envSchema = z
  .object({
    BATCH_TASK_INDEX: count(0),
    BATCH_TASK_COUNT: count(1),
    BATCH_TASK_RETRY_ATTEMPT: count(0).optional(),
    BATCHLINE_MANIFEST_URI: z.string({ error: "is missing" }).transform((uri, ctx) => {
      try {
        return parseRunLocation(uri);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
    BATCHLINE_JOB_ID: optionalText,
    BATCHLINE_IMAGE: optionalText,
    BATCHLINE_MAX_LINE_BYTES: count(1).optional(),
    BATCHLINE_MAX_INPUT_BYTES: count(0).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.BATCH_TASK_INDEX >= env.BATCH_TASK_COUNT) {
      ctx.addIssue({
        code: "custom",
        path: ["BATCH_TASK_INDEX"],
        message: `must be below BATCH_TASK_COUNT (${env.BATCH_TASK_COUNT})`,
      });
    }
  });

/** Reads and checks the task's environment; a PermanentTaskError names every bad variable and its value. */
export function parseWorkerEnv(raw: Readonly<Record<string, string | undefined>>): WorkerEnv {
  const result = envSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "environment");
      const value = raw[name];
      return `${name} ${issue.message}${value === undefined ? "" : ` (got ${JSON.stringify(value)})`}`;
    });
    throw new PermanentTaskError(`bad environment: ${problems.join("; ")}`);
  }
  const env = result.data;
  return {
    taskIndex: env.BATCH_TASK_INDEX,
    taskCount: env.BATCH_TASK_COUNT,
    attempt: env.BATCH_TASK_RETRY_ATTEMPT ?? 0,
    run: env.BATCHLINE_MANIFEST_URI,
    manifestUri: raw.BATCHLINE_MANIFEST_URI ?? "",
    jobId: env.BATCHLINE_JOB_ID,
    image: env.BATCHLINE_IMAGE,
    maxLineBytes: env.BATCHLINE_MAX_LINE_BYTES ?? DEFAULT_MAX_LINE_BYTES,
    maxInputBytes: env.BATCHLINE_MAX_INPUT_BYTES,
  };
}

const MANIFEST_NAME = /^([^/]+)\/([^/]+)\/runs\/([^/]+)\/manifest\.json$/;

/** `gs://bucket/<product>/<client>/runs/<runId>/manifest.json` to its parts; throws on anything else. */
export function parseRunLocation(uri: string): RunLocation {
  const { bucket, name } = parseGsUri(uri);
  assertSafeObjectName(name);
  const m = MANIFEST_NAME.exec(name);
  if (!m?.[1] || !m[2] || !m[3]) {
    throw new PermanentTaskError(
      `${JSON.stringify(uri)} is not a run manifest (gs://BUCKET/PRODUCT/CLIENT/runs/RUN_ID/manifest.json)`,
    );
  }
  return { bucket, product: m[1], client: m[2], runId: m[3], manifest: name };
}

/**
 * As much as a failed task needs to leave its record: where the run is, which task, which attempt.
 * Lenient on purpose: with a bad BATCH_TASK_COUNT the record can still say so.
 */
export function recordLocationFrom(
  raw: Readonly<Record<string, string | undefined>>,
): { run: RunLocation; taskIndex: number; attempt: number } | null {
  const index = raw.BATCH_TASK_INDEX;
  const uri = raw.BATCHLINE_MANIFEST_URI;
  if (
    index === undefined ||
    !/^\d+$/.test(index) ||
    !Number.isSafeInteger(Number(index)) ||
    uri === undefined
  ) {
    return null;
  }
  const attempt = raw.BATCH_TASK_RETRY_ATTEMPT;
  try {
    return {
      run: parseRunLocation(uri),
      taskIndex: Number(index),
      attempt: attempt !== undefined && /^\d+$/.test(attempt) ? Number(attempt) : 0,
    };
  } catch {
    return null;
  }
}

/** Log labels for the task, from the raw environment, without failing on bad values. */
export function taskLabels(raw: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw.BATCH_TASK_INDEX !== undefined) labels.taskIndex = raw.BATCH_TASK_INDEX;
  const location = recordLocationFrom(raw);
  if (location) labels.runId = location.run.runId;
  return labels;
}
