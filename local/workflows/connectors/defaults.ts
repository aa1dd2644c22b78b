import { registerPubsubConnectors } from "./pubsub.ts";
import { ConnectorRegistry } from "./registry.ts";
import { registerStorageConnectors } from "./storage.ts";

export interface ConnectorRegistryOptions {
  /** GCS JSON-API endpoint for the storage connector; defaults to STORAGE_EMULATOR_HOST, then localhost:4443. */
  storageEndpoint?: string;
  /** Pub/Sub emulator host for the pubsub connector; defaults to PUBSUB_EMULATOR_HOST, then localhost:8085. */
  pubsubEmulatorHost?: string;
  /** Leave out the built-in storage and pubsub handlers (register your own instead). */
  empty?: boolean;
}

/**
 * A registry with the built-in handlers (storage objects.get/list/insert/delete, pubsub topics.publish)
 * bound to the local emulators. Add more with `registry.register("googleapis.<svc>.<ver>.<res…>.<method>", h)`.
 */
export function createConnectorRegistry(options: ConnectorRegistryOptions = {}): ConnectorRegistry {
  const registry = new ConnectorRegistry();
  if (options.empty) return registry;
  registerStorageConnectors(
    registry,
    options.storageEndpoint ?? process.env.STORAGE_EMULATOR_HOST ?? "localhost:4443",
  );
  registerPubsubConnectors(
    registry,
    options.pubsubEmulatorHost ?? process.env.PUBSUB_EMULATOR_HOST ?? "localhost:8085",
  );
  return registry;
}
