// Package edge of the local Google Cloud Batch: the service, its REST server, the Workflows connector, config.
export {
  type BatchLocalConfig,
  batchLocalSchema,
  type ImageMapping,
  loadBatchLocalConfig,
  parseBatchLocalConfig,
  resolveImage,
} from "./config.ts";
export { batchConnectors, registerBatchConnectors } from "./connector.ts";
export { BatchApiError, type CanonicalStatus, type GoogleApiErrorBody } from "./errors.ts";
export { killAllTaskProcesses, liveTaskGroups } from "./process.ts";
export {
  localSecretResolver,
  type SecretResolver,
  SecretUnavailableError,
  staticSecretResolver,
} from "./secrets.ts";
export { type BatchServer, startBatchServer } from "./server.ts";
export {
  type JobEvent,
  type ListOptions,
  LocalBatch,
  type LocalBatchOptions,
  type Operation,
  type TaskEvent,
} from "./service.ts";
export type { JobJson } from "./spec.ts";
export { EXIT_CODES, type JobState, type StatusEvent, type TaskState } from "./status.ts";
