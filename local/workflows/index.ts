// Package edge of the local Cloud Workflows engine: parse/deploy, run, the engine with executions, connectors.
export { type ParseOptions, parseWorkflow, type WorkflowProgram } from "./compile/program.ts";
export { callConnector, connectorParams } from "./connectors/call.ts";
export { type ConnectorRegistryOptions, createConnectorRegistry } from "./connectors/defaults.ts";
export {
  googleOperation,
  type LongRunningConnector,
  longRunningConnector,
  pollUntilDone,
} from "./connectors/long-running.ts";
export { pubsubConnectors, registerPubsubConnectors } from "./connectors/pubsub.ts";
export {
  type ConnectorContext,
  type ConnectorHandler,
  type ConnectorParams,
  ConnectorRegistry,
  type ConnectorResponse,
} from "./connectors/registry.ts";
export { registerStorageConnectors, storageConnectors } from "./connectors/storage.ts";
export {
  type DeployedWorkflow,
  type Execution,
  type ExecutionState,
  NotFoundError,
  WorkflowEngine,
  type WorkflowEngineOptions,
} from "./engine.ts";
export {
  type DeployProblem,
  type ErrorTag,
  errorMap,
  formatDeployProblem,
  WorkflowDeployError,
  WorkflowError,
} from "./errors.ts";
export { DEFAULT_LIMITS, type RuntimeLimits } from "./limits.ts";
export {
  ExecutionArgumentError,
  type ExecutionRecord,
  type RunOptions,
  runWorkflow,
  startExecution,
} from "./run.ts";
export type { Clock, LogEntry } from "./runtime.ts";
export { startWorkflowsServer, type WorkflowsServer } from "./server.ts";
export { fromPlain, parseJsonText, toJsonText, toPlain, type Value, type ValueMap } from "./values.ts";
