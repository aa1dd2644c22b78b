import { raise } from "../errors.ts";
import { isMap, type Value, type ValueMap } from "../values.ts";
import type { ConnectorContext, ConnectorHandler } from "./registry.ts";

/**
 * A connector method that starts long-running work and is done only when that work is (docs, "Understand
 * connectors > Long-running operations"): the call blocks, polling with `connector_params.polling_policy`
 * (default: 1 s initial delay, ×1.25, at most 60 s) until done or `connector_params.timeout` (default 1800 s).
 * A failed operation raises OperationError carrying the `operation`; a poll answer that is not an
 * object raises ResponseTypeError; `skip_polling: true` returns the first answer at once.
 *
 * Google's long-running `Operation` shape is covered by `googleOperation(...)`; resources with their own
 * state field (a Batch job: `status.state` SUCCEEDED/FAILED) implement the interface directly, e.g.
 *
 * ```ts
 * registry.register("googleapis.batch.v1.projects.locations.jobs.create", longRunningConnector({
 *   idempotent: false,
 *   params: ["parent", "jobId", "body"],
 *   start: (args, ctx) => ctx.request("POST", `${base}/v1/${args.parent}/jobs`, { query: { job_id: args.jobId }, body: args.body }).then((r) => r.body),
 *   poll: (job, ctx) => ctx.request("GET", `${base}/v1/${(job as ValueMap).name}`).then((r) => r.body),
 *   isDone: (job) => ["SUCCEEDED", "FAILED"].includes(state(job)),
 *   failure: (job) => (state(job) === "FAILED" ? job : undefined),
 * }));
 * ```
 */
export interface LongRunningConnector {
  idempotent: boolean;
  params?: readonly string[];
  required?: readonly string[];
  /** Sends the request that starts the work; returns the first operation/resource object. */
  start(args: ValueMap, ctx: ConnectorContext): Promise<Value>;
  /** Reads the operation/resource again. */
  poll(operation: ValueMap, ctx: ConnectorContext): Promise<Value>;
  /** True once the work has finished, well or badly. */
  isDone(operation: ValueMap): boolean;
  /** The error detail when it finished badly; undefined when it succeeded. */
  failure(operation: ValueMap): Value | undefined;
  /** What the call step gets when it succeeded; defaults to the operation itself. */
  result?(operation: ValueMap): Value;
}

function asOperation(v: Value, name: string): ValueMap {
  if (!isMap(v)) raise("ResponseTypeError", `${name}: expected an operation object in the response`);
  return v as ValueMap;
}

/** Polls until `lro.isDone`, honouring the call's polling policy and deadline (via `ctx.sleep`). */
export async function pollUntilDone(
  first: Value,
  lro: LongRunningConnector,
  ctx: ConnectorContext,
): Promise<Value> {
  let op = asOperation(first, ctx.name);
  const { initialDelay, multiplier, maxDelay } = ctx.params.pollingPolicy;
  let delay = initialDelay;
  while (!lro.isDone(op)) {
    await ctx.sleep(delay * 1000);
    delay = Math.min(delay * multiplier, maxDelay);
    op = asOperation(await lro.poll(op, ctx), ctx.name);
  }
  const failure = lro.failure(op);
  if (failure !== undefined) {
    const detail = isMap(failure) && typeof failure.message === "string" ? `: ${failure.message}` : "";
    raise("OperationError", `${ctx.name}: the long-running operation failed${detail}`, { operation: op });
  }
  return lro.result ? lro.result(op) : op;
}

/** Wraps a long-running method as a registrable handler. */
export function longRunningConnector(lro: LongRunningConnector): ConnectorHandler {
  return {
    idempotent: lro.idempotent,
    params: lro.params,
    required: lro.required,
    call: async (args, ctx) => {
      const first = await lro.start(args, ctx);
      if (ctx.params.skipPolling) return first;
      return pollUntilDone(first, lro, ctx);
    },
  };
}

/** Adapter for `google.longrunning.Operation` ({name, done, error, response}) polled at `pollUrl(name)`. */
export function googleOperation(
  options: Pick<LongRunningConnector, "idempotent" | "params" | "required" | "start"> & {
    pollUrl: (name: string) => string;
  },
): ConnectorHandler {
  return longRunningConnector({
    ...options,
    poll: async (op, ctx) => (await ctx.request("GET", options.pollUrl(String(op.name)))).body,
    isDone: (op) => op.done === true,
    failure: (op) => (op.error === undefined || op.error === null ? undefined : op.error),
    result: (op) => (op.response === undefined ? op : op.response),
  });
}
