import type { Value, ValueMap } from "../values.ts";

/** `connector_params` of a call step (docs, "Connectors reference > Invoke a connector call"). */
export interface ConnectorParams {
  /** End-to-end seconds the call (all polling included) may take; default 1800, at most one year. */
  timeout: number;
  pollingPolicy: { initialDelay: number; multiplier: number; maxDelay: number };
  /** Return the first response of a long-running call without waiting for it to finish. */
  skipPolling: boolean;
  /** Retry policy for failed requests; defaults to the idempotent policy for reads, else non-idempotent. */
  retry: {
    maxRetries: number;
    initialDelay: number;
    maxDelay: number;
    multiplier: number;
    predicate?: "idempotent" | "non_idempotent" | "always" | "never";
  };
  scopes?: Value;
}

export interface ConnectorResponse {
  code: number;
  headers: ValueMap;
  body: Value;
}

/** What a handler gets besides its arguments: HTTP with the service's error mapping, a clock, the policy. */
export interface ConnectorContext {
  readonly name: string;
  readonly params: ConnectorParams;
  /** Aborts when the execution is cancelled. */
  readonly signal: AbortSignal;
  /**
   * One HTTP request. Non-2xx raises HttpError (with code, headers, body), a refused connection
   * ConnectionFailedError, a broken one ConnectionError, the call's deadline TimeoutError.
   */
  request(
    method: string,
    url: string,
    options?: { query?: ValueMap; body?: Value; headers?: ValueMap },
  ): Promise<ConnectorResponse>;
  /** Sleeps, raising TimeoutError instead when the call's deadline would pass first. */
  sleep(ms: number): Promise<void>;
  /** Milliseconds since the epoch (the execution's clock). */
  now(): number;
}

/**
 * A connector method, registered under its full name, e.g. `googleapis.storage.v1.objects.get`.
 * Register one with `registry.register(name, handler)`; long-running methods can be built with
 * `longRunningConnector(...)` from `long-running.ts`.
 */
export interface ConnectorHandler {
  /** Reads are retried with the idempotent policy, everything else with the non-idempotent one. */
  idempotent: boolean;
  /** Arguments the method takes (besides `connector_params`); deploy rejects others. Omit to accept any. */
  params?: readonly string[];
  /** Arguments that must be given. */
  required?: readonly string[];
  call(args: ValueMap, ctx: ConnectorContext): Promise<Value>;
}

/** Connector methods by full name. Deploy checks calls against it; executions dispatch through it. */
export class ConnectorRegistry {
  private readonly handlers = new Map<string, ConnectorHandler>();

  register(name: string, handler: ConnectorHandler): this {
    if (!/^googleapis\.[a-z0-9_]+\.v[0-9a-z]+(\.[A-Za-z0-9_]+)+$/.test(name)) {
      throw new Error(
        `connector name ${JSON.stringify(name)} is not googleapis.<service>.<version>.<resource…>.<method>`,
      );
    }
    this.handlers.set(name, handler);
    return this;
  }

  get(name: string): ConnectorHandler | undefined {
    return this.handlers.get(name);
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }
}
