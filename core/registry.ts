import { parseConfigText } from "./config/load.ts";
import { type ClientConfig, clientConfigSchema } from "./config/schema.ts";
import { ConfigError } from "./errors.ts";
import { assertSafeObjectName } from "./naming.ts";

/**
 * The client registry: one object per client, `registry/<product>/<client>.json`, in the platform bucket.
 * A client stack writes it (infra/stacks/client-stack.ts), `batchline local up` and `batchline clients add`
 * write it on the local cloud, and plan and notify read it at run time (functions/shared/registry.ts), so the
 * platform stack never carries the client list. It sits outside `<product>/`, so no client trigger, client
 * IAM condition or lifecycle rule on a client's prefix ever matches it.
 */
export const REGISTRY_FOLDER = "registry";

/** The version of the registry document; a reader refuses any other. */
export const REGISTRY_SCHEMA_VERSION = 1;

/** `registry/<product>/` */
export function registryPrefix(product: string): string {
  return `${REGISTRY_FOLDER}/${product}/`;
}

/** `registry/<product>/<client>.json`, checked to be a safe object name. */
export function registryObjectName(product: string, client: string): string {
  const name = `${registryPrefix(product)}${client}.json`;
  assertSafeObjectName(name);
  return name;
}

/** What a registry object holds: the client's config as validated (defaults filled in), with its version. */
export interface RegistryDocument {
  schemaVersion: typeof REGISTRY_SCHEMA_VERSION;
  product: string;
  client: ClientConfig;
}

/** The registry object's content for a client: stable JSON (same config, same bytes), ending in a newline. */
export function registryDocument(product: string, client: ClientConfig): string {
  const doc: RegistryDocument = { schemaVersion: REGISTRY_SCHEMA_VERSION, product, client };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Reads a registry object's content back, validating it with core's client schema and naming the object and
 * the field on any problem. `where` names the object in errors (e.g. `gs://bucket/registry/shop/acme.json`).
 */
export function parseRegistryDocument(
  where: string,
  text: string,
  product: string,
  id: string,
): ClientConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(where, [{ field: "", message: `is not JSON: ${(err as Error).message}` }]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(where, [
      { field: "", message: 'must be {"schemaVersion": 1, "product": …, "client": …}' },
    ]);
  }
  const { schemaVersion, product: docProduct, client, ...rest } = data as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(where, [{ field: unknown.join(", "), message: "is not a known key" }]);
  }
  if (schemaVersion !== REGISTRY_SCHEMA_VERSION) {
    throw new ConfigError(where, [
      {
        field: "schemaVersion",
        message: `must be ${REGISTRY_SCHEMA_VERSION} (written by another Batchline version?)`,
        value: schemaVersion,
      },
    ]);
  }
  if (docProduct !== product) {
    throw new ConfigError(where, [{ field: "product", message: `must be "${product}"`, value: docProduct }]);
  }
  // JSON is YAML: core's parser validates the client and words its errors as it does for client files.
  const config = parseConfigText(`${where} (client)`, JSON.stringify(client ?? null), clientConfigSchema);
  if (config.id !== id) {
    throw new ConfigError(where, [{ field: "client.id", message: `must equal "${id}"`, value: config.id }]);
  }
  return config;
}
