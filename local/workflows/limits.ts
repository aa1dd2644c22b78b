/**
 * The service's system limits (docs, "Quotas and limits > Resource limits" and "Parallel steps"). Runtime
 * limits can be changed per execution through `RunOptions.limits` (the benchmark raises `maxSteps`);
 * deploy-time limits are fixed, as in the service.
 */
export interface RuntimeLimits {
  /** Cumulative size of all variables, arguments and events in one execution (ResourceLimitError). */
  memoryBytes: number;
  /** Turn variable memory accounting off (for measuring its cost only; the service always counts). */
  accountMemory: boolean;
  /** Steps executed in one execution (ResourceLimitError). */
  maxSteps: number;
  /** Depth of the call stack of subworkflows, `main` included (RecursionError). */
  maxCallDepth: number;
  /** How deep parallel steps may nest, counting through subworkflow calls (ParallelNestingError). */
  maxParallelDepth: number;
  /** Longest string a variable may hold (ResourceLimitError). */
  maxStringLength: number;
  /** Largest HTTP response body accepted (ResourceLimitError). */
  maxHttpResponseBytes: number;
  /** Default and highest HTTP timeout, in seconds. */
  defaultHttpTimeoutSeconds: number;
  maxHttpTimeoutSeconds: number;
  /** Branches and iterations of one parallel step running at once. */
  maxConcurrentBranches: number;
  /** Unhandled branch errors one execution may collect under `continueAll`. */
  maxUnhandledBranchErrors: number;
}

export const DEFAULT_LIMITS: Readonly<RuntimeLimits> = Object.freeze({
  memoryBytes: 512 * 1024,
  accountMemory: true,
  maxSteps: 100_000,
  maxCallDepth: 20,
  maxParallelDepth: 2,
  maxStringLength: 256 * 1024,
  maxHttpResponseBytes: 2 * 1024 * 1024,
  defaultHttpTimeoutSeconds: 300,
  maxHttpTimeoutSeconds: 1800,
  maxConcurrentBranches: 20,
  maxUnhandledBranchErrors: 100,
});

/** Deploy-time limits. */
export const MAX_SOURCE_BYTES = 128 * 1024;
export const MAX_ASSIGNMENTS_PER_STEP = 50;
export const MAX_SWITCH_CONDITIONS = 50;
export const MAX_PARALLEL_BRANCHES = 10;
/** Longest `${…}` expression, in characters. */
export const MAX_EXPRESSION_LENGTH = 400;
/** Largest execution argument, in bytes of JSON (the Executions API rejects larger ones). */
export const MAX_ARGUMENT_BYTES = 32 * 1024;
