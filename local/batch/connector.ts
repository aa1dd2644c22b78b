import {
  type ConnectorContext,
  type ConnectorHandler,
  type ConnectorRegistry,
  errorMap,
  googleOperation,
  longRunningConnector,
  type Value,
  type ValueMap,
  WorkflowError,
} from "../workflows/index.ts";

/**
 * The Workflows Batch connector (`googleapis.batch.v1.…`), spoken over HTTP to a Batch v1 REST endpoint —
 * the local one from `startBatchServer`, or any server with the same API. Arguments are the connector's
 * (docs, "Workflows > Connectors > Batch API"):
 *
 * - `projects.locations.jobs.create {parent, jobId, requestId, body}` waits, as the connector does, until the
 *   job is done: SUCCEEDED returns the job; FAILED (and CANCELLED) raise OperationError whose `operation` is
 *   the final job; `connector_params.skip_polling: true` returns the job as created. Polling follows
 *   `connector_params.polling_policy` and `timeout` (default 1800 s, then TimeoutError).
 * - `projects.locations.jobs.get {name}`, `projects.locations.jobs.list {parent, filter, orderBy, pageSize,
 *   pageToken}`, `projects.locations.jobs.taskGroups.tasks.get {name}`, `….tasks.list {parent, filter,
 *   pageSize, pageToken}`, `projects.locations.operations.get {name}`.
 * - `projects.locations.jobs.delete {name, reason, requestId}` waits for its long-running operation.
 *
 * API errors arrive as the engine's HttpError maps (`code`, `message`, `tags: ["HttpError"]`, `body` with the
 * Google error, `headers`), e.g. ALREADY_EXISTS as code 409.
 */

const PARENT = /^projects\/[^/]+\/locations\/[^/]+$/;
const JOB = /^projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+$/;
const GROUP = /^projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+\/taskGroups\/[^/]+$/;
const TASK = /^projects\/[^/]+\/locations\/[^/]+\/jobs\/[^/]+\/taskGroups\/[^/]+\/tasks\/[^/]+$/;
const OPERATION = /^projects\/[^/]+\/locations\/[^/]+\/operations\/[^/]+$/;

/** `localhost:8090`, `http://127.0.0.1:8090/` -> `http://127.0.0.1:8090` */
function normalizeEndpoint(endpoint: string): string {
  const withScheme = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  return withScheme.replace(/\/+$/, "");
}

function str(ctx: ConnectorContext, args: ValueMap, param: string, pattern?: RegExp, shape?: string): string {
  const v = args[param];
  if (typeof v !== "string") {
    throw typeError(ctx, `argument '${param}' must be a string`);
  }
  if (pattern && !pattern.test(v)) {
    throw valueError(ctx, `argument '${param}' must be ${shape}, got ${JSON.stringify(v)}`);
  }
  return v;
}

// Raised as the engine's own errors, so `except` sees the service's tags.
function typeError(ctx: ConnectorContext, message: string): WorkflowError {
  return new WorkflowError(errorMap("TypeError", `${ctx.name}: ${message}`));
}

function valueError(ctx: ConnectorContext, message: string): WorkflowError {
  return new WorkflowError(errorMap("ValueError", `${ctx.name}: ${message}`));
}

function query(args: ValueMap, names: readonly string[]): ValueMap {
  const q = Object.create(null) as ValueMap;
  for (const n of names) {
    const v = args[n];
    if (v !== undefined && v !== null) q[n] = v;
  }
  return q;
}

function jobState(job: ValueMap): string | undefined {
  const status = job.status;
  if (
    typeof status !== "object" ||
    status === null ||
    Array.isArray(status) ||
    status instanceof Uint8Array
  ) {
    return undefined;
  }
  const state = (status as ValueMap).state;
  return typeof state === "string" ? state : undefined;
}

/** The description of the job's last status event (for a FAILED job it names the failed task). */
function lastEvent(job: ValueMap): string | undefined {
  const status = job.status as ValueMap | undefined;
  const events = status?.statusEvents;
  if (!Array.isArray(events) || events.length === 0) return undefined;
  const last = events[events.length - 1] as ValueMap;
  return typeof last?.description === "string" ? last.description : undefined;
}

const FAILED_STATES = new Set(["FAILED", "CANCELLED"]);

export function batchConnectors(endpoint: string): Record<string, ConnectorHandler> {
  const base = normalizeEndpoint(endpoint);
  const get = async (ctx: ConnectorContext, path: string, q?: ValueMap): Promise<Value> =>
    (await ctx.request("GET", `${base}/v1/${path}`, q ? { query: q } : {})).body;

  return {
    "googleapis.batch.v1.projects.locations.jobs.create": longRunningConnector({
      idempotent: false,
      params: ["parent", "jobId", "requestId", "body"],
      required: ["parent", "body"],
      start: async (args, ctx) => {
        const parent = str(ctx, args, "parent", PARENT, "projects/PROJECT/locations/LOCATION");
        if (args.jobId !== undefined && args.jobId !== null) str(ctx, args, "jobId");
        const res = await ctx.request("POST", `${base}/v1/${parent}/jobs`, {
          query: query(args, ["jobId", "requestId"]),
          body: args.body as Value,
        });
        return res.body;
      },
      poll: (job, ctx) => get(ctx, String(job.name)),
      isDone: (job) => {
        const state = jobState(job);
        return state === "SUCCEEDED" || (state !== undefined && FAILED_STATES.has(state));
      },
      failure: (job) => {
        const state = jobState(job);
        if (state === undefined || !FAILED_STATES.has(state)) return undefined;
        const detail = lastEvent(job);
        const failure = Object.create(null) as ValueMap;
        failure.message = `job ${String(job.name)} ended in state ${state}${detail ? `: ${detail}` : ""}`;
        return failure;
      },
    }),
    "googleapis.batch.v1.projects.locations.jobs.get": {
      idempotent: true,
      params: ["name"],
      required: ["name"],
      call: (args, ctx) =>
        get(ctx, str(ctx, args, "name", JOB, "projects/PROJECT/locations/LOCATION/jobs/JOB")),
    },
    "googleapis.batch.v1.projects.locations.jobs.list": {
      idempotent: true,
      params: ["parent", "filter", "orderBy", "pageSize", "pageToken"],
      required: ["parent"],
      call: (args, ctx) =>
        get(
          ctx,
          `${str(ctx, args, "parent", PARENT, "projects/PROJECT/locations/LOCATION")}/jobs`,
          query(args, ["filter", "orderBy", "pageSize", "pageToken"]),
        ),
    },
    "googleapis.batch.v1.projects.locations.jobs.delete": googleOperation({
      idempotent: false,
      params: ["name", "reason", "requestId"],
      required: ["name"],
      start: async (args, ctx) => {
        const name = str(ctx, args, "name", JOB, "projects/PROJECT/locations/LOCATION/jobs/JOB");
        return (
          await ctx.request("DELETE", `${base}/v1/${name}`, { query: query(args, ["reason", "requestId"]) })
        ).body;
      },
      pollUrl: (name) => `${base}/v1/${name}`,
    }),
    "googleapis.batch.v1.projects.locations.jobs.taskGroups.tasks.get": {
      idempotent: true,
      params: ["name"],
      required: ["name"],
      call: (args, ctx) =>
        get(
          ctx,
          str(
            ctx,
            args,
            "name",
            TASK,
            "projects/PROJECT/locations/LOCATION/jobs/JOB/taskGroups/GROUP/tasks/TASK",
          ),
        ),
    },
    "googleapis.batch.v1.projects.locations.jobs.taskGroups.tasks.list": {
      idempotent: true,
      params: ["parent", "filter", "pageSize", "pageToken"],
      required: ["parent"],
      call: (args, ctx) =>
        get(
          ctx,
          `${str(ctx, args, "parent", GROUP, "projects/PROJECT/locations/LOCATION/jobs/JOB/taskGroups/GROUP")}/tasks`,
          query(args, ["filter", "pageSize", "pageToken"]),
        ),
    },
    "googleapis.batch.v1.projects.locations.operations.get": {
      idempotent: true,
      params: ["name"],
      required: ["name"],
      call: (args, ctx) =>
        get(
          ctx,
          str(ctx, args, "name", OPERATION, "projects/PROJECT/locations/LOCATION/operations/OPERATION"),
        ),
    },
  };
}

/** Registers the Batch connector methods, bound to a Batch v1 REST endpoint (e.g. `startBatchServer`'s url). */
export function registerBatchConnectors(registry: ConnectorRegistry, endpoint: string): ConnectorRegistry {
  for (const [name, handler] of Object.entries(batchConnectors(endpoint))) registry.register(name, handler);
  return registry;
}
