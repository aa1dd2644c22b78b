import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { parseConfigText } from "../../core/config/load.ts";
import { ConfigError } from "../../core/errors.ts";

/**
 * `config/local.yaml`, section `batch`: how the local Batch service runs what a job asks for. Every local
 * service owns one top-level section of the file and validates only its own; inside `batch`, unknown keys
 * are errors like everywhere else in the config.
 */

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");

/** One container image, as the local service stands it in for `docker run`. */
export const imageMappingSchema = z.strictObject({
  /**
   * The image's ENTRYPOINT, as a local command: program and its leading arguments, e.g.
   * `["node", "--import", "tsx", "worker/main.ts"]`. `container.commands` are appended to it as arguments;
   * `container.entrypoint` replaces it.
   */
  command: z.array(z.string().min(1, "must not be empty")).min(1, "must name at least the program to run"),
  /** The image's CMD: default arguments, used only when the runnable gives neither commands nor entrypoint. */
  args: z.array(z.string()).default([]),
  /** The image's WORKDIR, relative to the repository root (default: the root). */
  cwd: z.string().min(1).default("."),
  /** The image's ENV; the job's variables override these. */
  env: z.record(envName, z.string()).default({}),
});
export type ImageMapping = z.infer<typeof imageMappingSchema>;

const imageKey = z
  .string()
  .min(1)
  .refine(
    (k) => !k.slice(0, -1).includes("*"),
    "a '*' may only end the image name, as a prefix match (e.g. \"repo/worker:*\")",
  );

export const batchLocalSchema = z.strictObject({
  /**
   * Container images by URI. A key ending in `*` matches every URI that starts with the rest of the key
   * (`…/worker:*` matches every tag); the exact URI wins over a prefix, and a longer prefix over a shorter one.
   */
  images: z.record(imageKey, imageMappingSchema).default({}),
  /** Where task logs are kept, one file per task attempt (relative to the repository root). */
  logDir: z.string().min(1).default(".batchline/batch/logs"),
  /**
   * Local stand-in for Secret Manager: `secretVariables` values `projects/P/secrets/S/versions/V` are read
   * from `<dir>/S/V` (or `<dir>/S` for `latest`), else from the environment variable BATCHLINE_SECRET_<S>
   * (S upper-cased, non-alphanumerics as `_`).
   */
  secrets: z
    .strictObject({ dir: z.string().min(1).default(".batchline/secrets") })
    .default({ dir: ".batchline/secrets" }),
  /** Variables every task process gets, below the job's own (e.g. emulator hosts). */
  env: z.record(envName, z.string()).default({}),
});
export type BatchLocalConfig = z.infer<typeof batchLocalSchema>;

const fileSchema = z.looseObject({ batch: batchLocalSchema.optional() });

/** The batch section of `config/local.yaml` text; a missing section means all defaults. */
export function parseBatchLocalConfig(file: string, text: string): BatchLocalConfig {
  const parsed = parseConfigText(file, text, fileSchema);
  return parsed.batch ?? batchLocalSchema.parse({});
}

export function loadBatchLocalConfig(file: string): BatchLocalConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [{ field: "", message: `cannot be read: ${(err as Error).message}` }], {
      cause: err,
    });
  }
  return parseBatchLocalConfig(file, text);
}

/** An image URI with neither tag nor digest means `:latest`, as Docker reads it. */
function withDefaultTag(uri: string): string {
  const lastSlash = uri.lastIndexOf("/");
  const tail = uri.slice(lastSlash + 1);
  return tail.includes(":") || tail.includes("@") ? uri : `${uri}:latest`;
}

/** The mapping for an image URI: exact key first (also `uri:latest` for an untagged URI), then the longest prefix. */
export function resolveImage(
  images: Record<string, ImageMapping>,
  imageUri: string,
): { key: string; mapping: ImageMapping } | undefined {
  for (const candidate of [imageUri, withDefaultTag(imageUri)]) {
    const exact = images[candidate];
    if (exact) return { key: candidate, mapping: exact };
  }
  let best: { key: string; mapping: ImageMapping } | undefined;
  const tagged = withDefaultTag(imageUri);
  for (const [key, mapping] of Object.entries(images)) {
    if (!key.endsWith("*")) continue;
    const prefix = key.slice(0, -1);
    if (
      (imageUri.startsWith(prefix) || tagged.startsWith(prefix)) &&
      (!best || key.length > best.key.length)
    ) {
      best = { key, mapping };
    }
  }
  return best;
}

export function resolveFrom(root: string, path: string): string {
  return isAbsolute(path) ? path : resolve(root, path);
}
