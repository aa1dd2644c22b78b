import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { describeValue } from "../core/errors.ts";
import { assertSafeObjectName } from "../core/naming.ts";
import { InfraError } from "./errors.ts";

/** The repository root, found from this file so synth works from any working directory. */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Deploy-time settings: where things are, not what they are (that is config/). Read from the environment
 * once, in `settingsFromEnv`, so `cdktf deploy` and Cloud Build set them the same way.
 */
export interface InfraSettings {
  /** Directory with `platform.yaml` and `clients/*.yaml`. */
  configDir: string;
  /** The workflow definition deployed as the product's workflow. */
  workflowFile: string;
  /** Where synth writes `manifest.json` and `stacks/<stack>/cdk.tf.json`. */
  outdir: string;
  /** GCS bucket for Terraform state; without it every stack uses a local state file. */
  stateBucket?: string;
  /** Prefix under the state bucket; each stack's state lives at `<prefix>/<stack>`. */
  statePrefix: string;
  /** Directory for local state files (`terraform.<stack>.tfstate`) when there is no state bucket. */
  localStateDir: string;
  /** Bucket holding the function bundles; defaults to the state bucket, else `<project>-batchline-deploy`. */
  functionsBucket?: string;
  /** Object name of the function bundle to deploy, e.g. `functions/<commit>.zip`. */
  functionsObject: string;
  /** Replaces the tag of `workerImage` from platform.yaml, e.g. with the commit the build pushed. */
  workerTag?: string;
}

const BUCKET = /^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$/;

/** Each setting's environment variable, what it means, and its default. docs/deploy.md lists the same. */
export const SETTINGS_ENV = {
  BATCHLINE_CONFIG_DIR: "config directory (default: config/)",
  BATCHLINE_WORKFLOW_FILE: "workflow definition (default: workflows/batch.workflows.yaml)",
  CDKTF_OUTDIR: "synth output directory; the cdktf CLI sets it from cdktf.json (default: infra/cdktf.out)",
  BATCHLINE_STATE_BUCKET: "GCS bucket for Terraform state (default: none, local state files)",
  BATCHLINE_STATE_PREFIX: "state object prefix, one folder per stack below it (default: batchline)",
  BATCHLINE_LOCAL_STATE_DIR: "directory for local state files (default: infra/state)",
  BATCHLINE_FUNCTIONS_BUCKET:
    "bucket with the function bundles (default: the state bucket, else <project>-batchline-deploy)",
  BATCHLINE_FUNCTIONS_OBJECT: "object name of the function bundle to deploy (default: functions/dev.zip)",
  BATCHLINE_WORKER_TAG: "tag that replaces the one in platform.yaml's workerImage (default: keep it)",
} as const;

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const envSchema = z.object({
  BATCHLINE_CONFIG_DIR: optionalText,
  BATCHLINE_WORKFLOW_FILE: optionalText,
  CDKTF_OUTDIR: optionalText,
  BATCHLINE_STATE_BUCKET: optionalText.pipe(z.string().regex(BUCKET, "must be a bucket name").optional()),
  BATCHLINE_STATE_PREFIX: optionalText.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/, "must be a path without leading or trailing '/'")
      .optional(),
  ),
  BATCHLINE_LOCAL_STATE_DIR: optionalText,
  BATCHLINE_FUNCTIONS_BUCKET: optionalText.pipe(z.string().regex(BUCKET, "must be a bucket name").optional()),
  BATCHLINE_FUNCTIONS_OBJECT: optionalText.pipe(
    z
      .string()
      .refine((name) => {
        try {
          assertSafeObjectName(name);
          return name.endsWith(".zip");
        } catch {
          return false;
        }
      }, "must be a safe object name ending in .zip, e.g. functions/<commit>.zip")
      .optional(),
  ),
  BATCHLINE_WORKER_TAG: optionalText.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "must be a Docker tag (letters, digits, _ . -)")
      .optional(),
  ),
});

function pathFrom(value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  return isAbsolute(value) ? value : resolve(process.cwd(), value);
}

/** Reads the settings from `env`; a bad value fails naming the variable and the value. */
export function settingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  root: string = REPO_ROOT,
): InfraSettings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "");
      return `${name}: ${issue.message} (got ${describeValue(env[name])})`;
    });
    throw new InfraError(`invalid deploy settings: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  return {
    configDir: pathFrom(e.BATCHLINE_CONFIG_DIR, resolve(root, "config")),
    workflowFile: pathFrom(e.BATCHLINE_WORKFLOW_FILE, resolve(root, "workflows", "batch.workflows.yaml")),
    outdir: pathFrom(e.CDKTF_OUTDIR, resolve(root, "infra", "cdktf.out")),
    ...(e.BATCHLINE_STATE_BUCKET ? { stateBucket: e.BATCHLINE_STATE_BUCKET } : {}),
    statePrefix: e.BATCHLINE_STATE_PREFIX ?? "batchline",
    localStateDir: pathFrom(e.BATCHLINE_LOCAL_STATE_DIR, resolve(root, "infra", "state")),
    ...(e.BATCHLINE_FUNCTIONS_BUCKET ? { functionsBucket: e.BATCHLINE_FUNCTIONS_BUCKET } : {}),
    functionsObject: e.BATCHLINE_FUNCTIONS_OBJECT ?? "functions/dev.zip",
    ...(e.BATCHLINE_WORKER_TAG ? { workerTag: e.BATCHLINE_WORKER_TAG } : {}),
  };
}
