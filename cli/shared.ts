import { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { type BatchlineConfig, loadConfig } from "../core/config/load.ts";
import type { ClientConfig } from "../core/config/schema.ts";
import { ConfigError } from "../core/errors.ts";

/** Loads config, or prints the problem and exits 2: commands never show a stack trace for bad config. */
export function configOrExit(dir: string): BatchlineConfig {
  try {
    return loadConfig(dir);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`invalid config: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

export function clientOrExit(config: BatchlineConfig, id: string): ClientConfig {
  const client = config.clients.get(id);
  if (!client) {
    const known = [...config.clients.keys()].join(", ") || "none";
    console.error(`unknown client "${id}" (known clients: ${known}; add one with \`batchline clients add\`)`);
    process.exit(2);
  }
  return client;
}

/** Clients for the local cloud when its variables are set, else for GCP with application default credentials. */
export function cloudClients(
  config: BatchlineConfig,
  env: NodeJS.ProcessEnv = process.env,
): { storage: Storage; pubsub: PubSub; target: string } {
  const storageHost = env.STORAGE_EMULATOR_HOST;
  const pubsubHost = env.PUBSUB_EMULATOR_HOST;
  // Against the local cloud there is no metadata server to find; do not let the auth library probe for one.
  if (storageHost || pubsubHost) process.env.METADATA_SERVER_DETECTION ??= "none";
  const projectId = env.PUBSUB_PROJECT_ID ?? config.platform.project;
  const storage = storageHost
    ? new Storage({ apiEndpoint: storageHost, projectId })
    : new Storage({ projectId: config.platform.project });
  const pubsub = new PubSub({ projectId });
  const target =
    storageHost || pubsubHost
      ? `local cloud (storage ${storageHost ?? "GCP"}, pubsub ${pubsubHost ?? "GCP"})`
      : `GCP project ${config.platform.project}`;
  return { storage, pubsub, target };
}
