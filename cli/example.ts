import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { parseConfigText } from "../core/config/load.ts";
import { clientConfigSchema } from "../core/config/schema.ts";
import { BatchlineError } from "../core/errors.ts";
import { batchLocalSchema } from "../local/batch/config.ts";

/**
 * An example client under `examples/<name>/` (e.g. examples/python-client): its client config
 * (`client.yaml`), its local image mapping (`local.yaml`, a `batch.images` section) and its `inputs/`.
 * `prepareExample` lays out a config directory that is the project's plus the example's client, and a
 * local config whose image map has the example's image too, so the local cloud runs it unchanged.
 */
export interface PreparedExample {
  client: string;
  configDir: string;
  localConfigFile: string;
  inputsDir: string;
  /** Removes the temporary config. */
  cleanup(): void;
}

export class ExampleError extends BatchlineError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

const NAME = /^[a-z][a-z0-9-]*$/;

export function prepareExample(
  name: string,
  options: { rootDir?: string; configDir?: string; localConfigFile?: string } = {},
): PreparedExample {
  const root = resolve(options.rootDir ?? process.cwd());
  const dir = join(root, "examples", name);
  if (!NAME.test(name) || !existsSync(join(dir, "client.yaml"))) {
    const known = readdirSync(join(root, "examples")).filter((d) =>
      existsSync(join(root, "examples", d, "client.yaml")),
    );
    throw new ExampleError(
      `no example "${name}" (an example is examples/<name>/client.yaml; known: ${known.join(", ") || "none"})`,
    );
  }
  const clientFile = join(dir, "client.yaml");
  const client = parseConfigText(clientFile, readFileSync(clientFile, "utf8"), clientConfigSchema);
  const mappingFile = join(dir, "local.yaml");
  const mapping = existsSync(mappingFile)
    ? parseConfigText(mappingFile, readFileSync(mappingFile, "utf8"), localFileSchema)
    : { batch: batchLocalSchema.parse({}) };

  const configDir = resolve(root, options.configDir ?? "config");
  const temp = mkdtempSync(join(tmpdir(), `batchline-example-${name}-`));
  try {
    mkdirSync(join(temp, "clients"));
    copyFileSync(join(configDir, "platform.yaml"), join(temp, "platform.yaml"));
    const clientsDir = join(configDir, "clients");
    for (const f of existsSync(clientsDir) ? readdirSync(clientsDir) : []) {
      if (f.endsWith(".yaml") && f !== `${client.id}.yaml`)
        copyFileSync(join(clientsDir, f), join(temp, "clients", f));
    }
    copyFileSync(clientFile, join(temp, "clients", `${client.id}.yaml`));

    const localFile = resolve(root, options.localConfigFile ?? "config/local.yaml");
    const local = existsSync(localFile)
      ? ((parse(readFileSync(localFile, "utf8")) ?? {}) as Record<string, unknown>)
      : {};
    const batch = { ...((local.batch as Record<string, unknown> | undefined) ?? {}) };
    batch.images = {
      ...((batch.images as Record<string, unknown> | undefined) ?? {}),
      ...mapping.batch?.images,
    };
    const localConfigFile = join(temp, "local.yaml");
    writeFileSync(localConfigFile, stringify({ ...local, batch }));
    return {
      client: client.id,
      configDir: temp,
      localConfigFile,
      inputsDir: join(dir, "inputs"),
      cleanup: () => rmSync(temp, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw err;
  }
}

/** An example's local.yaml: its batch section (the image map) only. */
const localFileSchema = z.strictObject({ batch: batchLocalSchema.partial().optional() });

/** The data files of an inputs folder (not its README or dot files), sorted. */
export function inputFiles(dir: string, extension?: string): string[] {
  return readdirSync(dir)
    .filter(
      (f) =>
        !f.startsWith(".") &&
        !/^readme(\.md)?$/i.test(f) &&
        (extension === undefined || f.endsWith(extension)) &&
        statSync(join(dir, f)).isFile(),
    )
    .map((f) => basename(f))
    .sort();
}
