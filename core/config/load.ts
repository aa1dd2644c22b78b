import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigProblem } from "../errors.ts";
import { schemaProblems } from "../schema-problems.ts";
import {
  type ClientConfig,
  clientConfigSchema,
  type PlatformConfig,
  platformConfigSchema,
  type ResolvedJobSettings,
} from "./schema.ts";

/** Everything the platform and its clients are configured with, read once. */
export interface BatchlineConfig {
  platform: PlatformConfig;
  /** Clients by id, in id order. */
  clients: Map<string, ClientConfig>;
}

/** Parses YAML text and validates it, naming the file, the field and the value on any problem. */
export function parseConfigText<S extends z.ZodType>(file: string, text: string, schema: S): z.output<S> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        field: "",
        message: `invalid YAML at line ${e.linePos?.[0]?.line ?? "?"}, column ${e.linePos?.[0]?.col ?? "?"}: ${(
          e.message.split("\n")[0] ?? ""
        ).replace(/ at line \d+, column \d+:?$/, "")}`,
      })),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    throw new ConfigError(file, [{ field: "", message: "is empty" }]);
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    const problems: ConfigProblem[] = schemaProblems(result.error, data).map((p) => {
      if (p.unknownKeys) {
        return { field: p.unknownKeys.join(", "), message: "is not a known setting (check the spelling)" };
      }
      return { field: p.field, message: p.value === undefined ? "is required" : p.message, value: p.value };
    });
    throw new ConfigError(file, problems);
  }
  return result.data;
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [{ field: "", message: `cannot be read: ${(err as Error).message}` }], {
      cause: err,
    });
  }
}

export function loadPlatformConfig(file: string): PlatformConfig {
  return parseConfigText(file, readText(file), platformConfigSchema);
}

/** Loads one client file; its `id` must match the file name. */
export function loadClientConfig(file: string): ClientConfig {
  const client = parseConfigText(file, readText(file), clientConfigSchema);
  const expected = basename(file).replace(/\.ya?ml$/, "");
  if (client.id !== expected) {
    throw new ConfigError(file, [
      { field: "id", message: `must equal the file name "${expected}"`, value: client.id },
    ]);
  }
  return client;
}

/** Reads `<dir>/platform.yaml` and every `<dir>/clients/*.yaml`. */
export function loadConfig(dir: string): BatchlineConfig {
  const platform = loadPlatformConfig(join(dir, "platform.yaml"));
  const clientsDir = join(dir, "clients");
  let names: string[];
  try {
    names = readdirSync(clientsDir).filter((n) => /\.ya?ml$/.test(n));
  } catch (err) {
    throw new ConfigError(clientsDir, [
      { field: "", message: `cannot be listed: ${(err as Error).message}` },
    ]);
  }
  const clients = new Map<string, ClientConfig>();
  for (const name of names.sort()) {
    const client = loadClientConfig(join(clientsDir, name));
    if (clients.has(client.id)) {
      throw new ConfigError(join(clientsDir, name), [
        { field: "id", message: "is used by another client file", value: client.id },
      ]);
    }
    clients.set(client.id, client);
  }
  return { platform, clients };
}

/** Platform job defaults with the client's overrides on top; env maps are merged, client wins. */
export function resolveJobSettings(platform: PlatformConfig, client: ClientConfig): ResolvedJobSettings {
  const defaults = platform.jobDefaults;
  const overrides = client.job;
  const merged: ResolvedJobSettings = { ...defaults };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  merged.env = { ...defaults.env, ...overrides.env };
  merged.secrets = { ...defaults.secrets, ...overrides.secrets };
  return merged;
}

/** The poison threshold that applies to a client. */
export function maxInputFailuresFor(platform: PlatformConfig, client: ClientConfig): number {
  return client.maxInputFailures ?? platform.maxInputFailures;
}
