import type { Bucket } from "@google-cloud/storage";
import type { BatchlineConfig } from "../../core/config/load.ts";
import type { ClientConfig } from "../../core/config/schema.ts";
import { BatchlineError } from "../../core/errors.ts";
import { gsUri } from "../../core/naming.ts";
import { downloadObject } from "../../core/object-read.ts";
import {
  parseRegistryDocument,
  registryDocument,
  registryObjectName,
  registryPrefix,
} from "../../core/registry.ts";
import { BadRequestError, isNotFound } from "./errors.ts";
import { mapLimit } from "./limit.ts";

/**
 * How long a function instance trusts a client's registry object it has read: 30 s. A config change (a
 * client stack redeployed) reaches every instance within this time; an offboarded client is refused within it
 * (runs planned meanwhile are ordinary runs, settled and reported as usual). A client with no object is not
 * remembered, so an onboarded client is seen at its first event.
 */
export const REGISTRY_TTL_MS = 30_000;

/** A plan for a client with no registry object: never onboarded, or offboarded (`cdktf destroy client-NAME`). */
export class UnknownClientError extends BadRequestError {
  readonly client: string;
  readonly registryObject: string;
  constructor(client: string, registryObject: string) {
    super(
      `unknown client "${client}": its registry object ${registryObject} does not exist ` +
        `(the client was never deployed, or was offboarded; deploy its client stack to onboard it)`,
      "client",
    );
    this.client = client;
    this.registryObject = registryObject;
  }
}

/** Where plan and notify get a client's config at run time. */
export interface ClientRegistry {
  /** The client's config, or UnknownClientError when it has no registry object. */
  get(id: string): Promise<ClientConfig>;
  /** The client's config, or null when it has no registry object. */
  find(id: string): Promise<ClientConfig | null>;
}

export interface BucketRegistryOptions {
  /** How long a read object is trusted (default REGISTRY_TTL_MS); 0 reads the object every time. */
  ttlMs?: number;
  /** Milliseconds now (default Date.now), for tests of the TTL. */
  now?: () => number;
}

interface Entry {
  at: number;
  value: Promise<ClientConfig | null>;
}

/**
 * The registry in the platform bucket, read through the storage client with a per-instance cache: a found
 * client is trusted for `ttlMs`; a missing one is read again at its next request. Concurrent requests for a
 * client share one read. A read that fails (other than 404) is not cached and its error goes to the caller,
 * where core/classify.ts decides whether a retry can help.
 */
export function bucketRegistry(
  bucket: Bucket,
  product: string,
  options: BucketRegistryOptions = {},
): ClientRegistry {
  const ttlMs = options.ttlMs ?? REGISTRY_TTL_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Entry>();

  const read = async (id: string): Promise<ClientConfig | null> => {
    const name = registryObjectName(product, id);
    let bytes: Buffer;
    try {
      bytes = await downloadObject(bucket.file(name));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // A missing bucket is a platform misconfiguration, not an unknown client: say which.
      const [bucketExists] = await bucket.exists();
      if (!bucketExists) {
        throw new BatchlineError(
          `cannot read the client registry: the platform bucket gs://${bucket.name} does not exist ` +
            "(check the platform config's bucket)",
        );
      }
      return null;
    }
    return parseRegistryDocument(gsUri(bucket.name, name), bytes.toString("utf8"), product, id);
  };

  const find = (id: string): Promise<ClientConfig | null> => {
    const at = now();
    const cached = cache.get(id);
    if (cached !== undefined && at - cached.at < ttlMs) return cached.value;
    const value = read(id);
    const entry: Entry = { at, value };
    cache.set(id, entry);
    const forget = () => {
      if (cache.get(id) === entry) cache.delete(id);
    };
    value.then((config) => {
      if (config === null) forget();
    }, forget);
    return value;
  };

  return {
    find,
    async get(id) {
      const config = await find(id);
      if (config === null)
        throw new UnknownClientError(id, gsUri(bucket.name, registryObjectName(product, id)));
      return config;
    },
  };
}

/**
 * Writes a client's registry object (what its client stack deploys), so plan and notify find the client.
 * Used by the local cloud (`batchline local up`, `batchline clients add`) and the function tests.
 */
export async function writeRegistryObject(
  bucket: Bucket,
  product: string,
  client: ClientConfig,
): Promise<void> {
  await bucket.file(registryObjectName(product, client.id)).save(registryDocument(product, client), {
    resumable: false,
    contentType: "application/json",
  });
}

/** Deletes a client's registry object (what destroying its client stack does); absent is fine. */
export async function deleteRegistryObject(bucket: Bucket, product: string, client: string): Promise<void> {
  await bucket.file(registryObjectName(product, client)).delete({ ignoreNotFound: true });
}

/**
 * Makes the bucket's registry match a config, as deploying every client stack and destroying the rest would:
 * writes each configured client's object and deletes the objects of clients the config no longer has.
 * `batchline local up` does this at every start. Returns the clients removed.
 */
export async function syncRegistry(bucket: Bucket, config: BatchlineConfig): Promise<string[]> {
  const { product } = config.platform;
  const prefix = registryPrefix(product);
  const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
  const removed = files
    .map((f) => f.name.slice(prefix.length))
    .filter((rest) => rest.endsWith(".json") && !rest.includes("/"))
    .map((rest) => rest.slice(0, -".json".length))
    .filter((id) => !config.clients.has(id))
    .sort();
  await mapLimit([...config.clients.values()], 8, (client) => writeRegistryObject(bucket, product, client));
  await mapLimit(removed, 8, (id) => deleteRegistryObject(bucket, product, id));
  return removed;
}
