import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BatchlineConfig, loadConfig, parseConfigText } from "../../core/config/load.ts";
import { type ClientConfig, clientConfigSchema, platformConfigSchema } from "../../core/config/schema.ts";
import { ConfigError } from "../../core/errors.ts";

/**
 * Where a function instance gets its config (plan and notify use its platform part; a client's config is read
 * from the client's registry object at run time, functions/shared/registry.ts), in order:
 * - `BATCHLINE_CONFIG`: the validated config as JSON, `{"platform": …}` (what the deployed functions get from
 *   infra; `"clients": {id: …}` is accepted too);
 * - `BATCHLINE_CONFIG_DIR`: a directory with `platform.yaml` and `clients/*.yaml`;
 * - otherwise the nearest `config/` with a `platform.yaml`, from the bundle's own directory upwards
 *   (next to the bundle when deployed, the repository's `config/` when run from source).
 */
export function loadFunctionConfig(env: NodeJS.ProcessEnv, moduleUrl: string): BatchlineConfig {
  const json = env.BATCHLINE_CONFIG;
  if (json !== undefined && json.trim() !== "") return parseConfigJson(json);
  const dir = env.BATCHLINE_CONFIG_DIR;
  if (dir !== undefined && dir.trim() !== "") return loadConfig(resolve(dir));
  return loadConfig(findConfigDir(dirname(fileURLToPath(moduleUrl))));
}

/** Walks up from `start` to the first `config/platform.yaml`. */
export function findConfigDir(start: string): string {
  const tried: string[] = [];
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, "config");
    tried.push(candidate);
    if (existsSync(join(candidate, "platform.yaml"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new ConfigError("BATCHLINE_CONFIG_DIR", [
    {
      field: "",
      message: `is not set and no config/platform.yaml was found (looked in ${tried.join(", ")}); set BATCHLINE_CONFIG_DIR or BATCHLINE_CONFIG`,
    },
  ]);
}

/** Parses `BATCHLINE_CONFIG`, validating each part with core's schemas and naming the part on any problem. */
export function parseConfigJson(json: string): BatchlineConfig {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new ConfigError("BATCHLINE_CONFIG", [
      { field: "", message: `is not JSON: ${(err as Error).message}` },
    ]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError("BATCHLINE_CONFIG", [
      { field: "", message: 'must be {"platform": …, "clients": {…}}' },
    ]);
  }
  const { platform, clients, ...rest } = data as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError("BATCHLINE_CONFIG", [{ field: unknown.join(", "), message: "is not a known key" }]);
  }
  // Deployed functions get the platform part only: clients come from the registry (functions/shared/registry.ts).
  if (clients !== undefined && (clients === null || typeof clients !== "object" || Array.isArray(clients))) {
    throw new ConfigError("BATCHLINE_CONFIG", [
      { field: "clients", message: "must be an object of clients by id" },
    ]);
  }
  // JSON is YAML, so core's parser validates each part and words its errors the same way as for files.
  const parsedPlatform = parseConfigText(
    "BATCHLINE_CONFIG.platform",
    JSON.stringify(platform ?? null),
    platformConfigSchema,
  );
  const parsedClients = new Map<string, ClientConfig>();
  for (const id of Object.keys(clients ?? {}).sort()) {
    const where = `BATCHLINE_CONFIG.clients.${id}`;
    const client = parseConfigText(
      where,
      JSON.stringify((clients as Record<string, unknown>)[id]),
      clientConfigSchema,
    );
    if (client.id !== id) {
      throw new ConfigError(where, [
        { field: "id", message: `must equal its key "${id}"`, value: client.id },
      ]);
    }
    parsedClients.set(id, client);
  }
  return { platform: parsedPlatform, clients: parsedClients };
}
