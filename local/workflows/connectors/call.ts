import { raise, WorkflowError } from "../errors.ts";
import type { Exec } from "../runtime.ts";
import { argBool, argMap, argNumber, seconds } from "../stdlib/args.ts";
import { httpRequest } from "../stdlib/http.ts";
import { httpRetryable, IDEMPOTENT_CODES, NON_IDEMPOTENT_CODES } from "../stdlib/pure.ts";
import { isMap, newMap, type Value, type ValueMap } from "../values.ts";
import type { ConnectorContext, ConnectorHandler, ConnectorParams } from "./registry.ts";

const ONE_YEAR_SECONDS = 31_536_000;

function num(name: string, field: string, v: Value | undefined, fallback: number): number {
  return v === undefined || v === null ? fallback : seconds(argNumber(name, `connector_params.${field}`, v));
}

/** Reads `connector_params`, filling the documented defaults. */
export function connectorParams(
  name: string,
  handler: ConnectorHandler,
  raw: Value | undefined,
): ConnectorParams {
  const p = raw === undefined || raw === null ? newMap() : argMap(name, "connector_params", raw);
  const timeout = num(name, "timeout", p.timeout, 1800);
  if (!(timeout > 0) || timeout > ONE_YEAR_SECONDS) {
    raise(
      "ValueError",
      `${name}: connector_params.timeout must be between 1 and ${ONE_YEAR_SECONDS} seconds`,
    );
  }
  const pp =
    p.polling_policy === undefined
      ? newMap()
      : argMap(name, "connector_params.polling_policy", p.polling_policy);
  const retry = p.retry === undefined ? newMap() : argMap(name, "connector_params.retry", p.retry);
  const backoff =
    retry.backoff === undefined ? newMap() : argMap(name, "connector_params.retry.backoff", retry.backoff);
  const predicate = retry.predicate;
  if (
    predicate !== undefined &&
    !["idempotent", "non_idempotent", "always", "never"].includes(String(predicate))
  ) {
    raise(
      "ValueError",
      `${name}: connector_params.retry.predicate must be idempotent, non_idempotent, always or never`,
    );
  }
  return {
    timeout,
    pollingPolicy: {
      initialDelay: num(name, "polling_policy.initial_delay", pp.initial_delay, 1),
      multiplier: num(name, "polling_policy.multiplier", pp.multiplier, 1.25),
      maxDelay: num(name, "polling_policy.max_delay", pp.max_delay, 60),
    },
    skipPolling:
      p.skip_polling === undefined ? false : argBool(name, "connector_params.skip_polling", p.skip_polling),
    retry: {
      maxRetries: num(name, "retry.max_retries", retry.max_retries, 5),
      initialDelay: num(name, "retry.backoff.initial_delay", backoff.initial_delay, 1),
      maxDelay: num(name, "retry.backoff.max_delay", backoff.max_delay, 60),
      multiplier: num(name, "retry.backoff.multiplier", backoff.multiplier, 1.25),
      predicate:
        (predicate as ConnectorParams["retry"]["predicate"]) ??
        (handler.idempotent ? "idempotent" : "non_idempotent"),
    },
    scopes: p.scopes,
  };
}

function shouldRetry(policy: ConnectorParams["retry"], e: Value): boolean {
  switch (policy.predicate) {
    case "always":
      return true;
    case "never":
      return false;
    case "idempotent":
      return httpRetryable(e, IDEMPOTENT_CODES, true);
    default:
      return httpRetryable(e, NON_IDEMPOTENT_CODES, false);
  }
}

/** Runs one connector call step: deadline, retries of failed requests, then the handler's own logic. */
export async function callConnector(
  name: string,
  handler: ConnectorHandler,
  rawArgs: ValueMap,
  exec: Exec,
): Promise<Value> {
  const args = newMap();
  for (const k in rawArgs) if (k !== "connector_params") args[k] = rawArgs[k] as Value;
  const params = connectorParams(name, handler, rawArgs.connector_params);
  const deadline = exec.clock.now() + params.timeout * 1000;
  const timedOut = (): never =>
    raise("TimeoutError", `${name}: the call did not finish within ${params.timeout} seconds`);
  const ctx: ConnectorContext = {
    name,
    params,
    signal: exec.signal,
    now: () => exec.clock.now(),
    sleep: async (ms) => {
      if (exec.clock.now() + ms > deadline) timedOut();
      await exec.sleep(ms);
    },
    request: async (method, url, options = {}) => {
      const remaining = (deadline - exec.clock.now()) / 1000;
      if (remaining <= 0) timedOut();
      const res = await httpRequest(
        name,
        {
          method,
          url,
          timeout: Math.min(remaining, exec.limits.maxHttpTimeoutSeconds),
          body: options.body,
          headers: options.headers,
          query: options.query,
        },
        exec,
      );
      const m = res as ValueMap;
      return {
        code: Number(m.code),
        headers: isMap(m.headers) ? m.headers : newMap(),
        body: m.body as Value,
      };
    },
  };
  let delay = params.retry.initialDelay;
  for (let attempt = 0; ; attempt++) {
    try {
      return await handler.call(args, ctx);
    } catch (err) {
      if (
        !(err instanceof WorkflowError) ||
        attempt >= params.retry.maxRetries ||
        !shouldRetry(params.retry, err.value)
      ) {
        throw err;
      }
      await ctx.sleep(delay * 1000);
      delay = Math.min(delay * params.retry.multiplier, params.retry.maxDelay);
    }
  }
}
