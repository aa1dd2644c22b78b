import { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import type { BatchlineConfig } from "../../core/config/load.ts";
import { loadFunctionConfig } from "./config.ts";
import { bucketRegistry, type ClientRegistry } from "./registry.ts";

/** What plan and notify each build once per function instance. */
export interface InstanceClients {
  config: BatchlineConfig;
  storage: Storage;
  /** Clients come from their registry objects in the platform bucket, cached per instance (30 s). */
  registry: ClientRegistry;
  pubsub: PubSub;
}

/**
 * The config (loadFunctionConfig, from the function's own module URL) and the clients built on it. Storage and
 * Pub/Sub honour STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST, so the local cloud needs nothing else.
 */
export function instanceClients(moduleUrl: string): InstanceClients {
  const config = loadFunctionConfig(process.env, moduleUrl);
  const storage = new Storage({ projectId: config.platform.project });
  return {
    config,
    storage,
    registry: bucketRegistry(storage.bucket(config.platform.bucket), config.platform.product),
    pubsub: new PubSub({ projectId: config.platform.project }),
  };
}
