import { registerBatchConnectors } from "./batch/index.ts";
import { type ConnectorRegistry, createConnectorRegistry } from "./workflows/index.ts";

/** Where the local cloud's services listen, for the connectors the pipeline workflow calls. */
export interface LocalEndpoints {
  storageEndpoint: string;
  pubsubEmulatorHost: string;
  batchEndpoint: string;
}

/**
 * Every connector the local cloud offers: storage and pubsub (the engine's own) and Batch (local/batch).
 * The one registry both the local cloud and the repository's deploy check use, so a workflow that deploys
 * in the test also deploys in `npm start`.
 */
export function localConnectors(endpoints: LocalEndpoints): ConnectorRegistry {
  const registry = createConnectorRegistry({
    storageEndpoint: endpoints.storageEndpoint,
    pubsubEmulatorHost: endpoints.pubsubEmulatorHost,
  });
  return registerBatchConnectors(registry, endpoints.batchEndpoint);
}
