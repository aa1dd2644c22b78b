import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../../../core/logger.ts";
import type { HashService } from "../hashing.ts";
import type { PubsubNotifier } from "../notifications/pubsub.ts";
import type { SessionTable } from "../sessions.ts";
import type { Store } from "../store.ts";

/** Everything a handler needs for one request. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  store: Store;
  sessions: SessionTable;
  notifier: PubsubNotifier | undefined;
  hashing: HashService;
  /** The emulator's own base URL, for selfLink/mediaLink. */
  baseUrl: string;
  log: Logger;
}

/**
 * `http(s)://host:port` as this request reached the emulator (its scheme and Host header), else the
 * emulator's own.
 */
export function requestOrigin(ctx: RequestContext): string {
  const host = ctx.req.headers.host;
  const scheme = (ctx.req.socket as TLSSocket).encrypted ? "https" : "http";
  return host ? `${scheme}://${host}` : ctx.baseUrl;
}

/** Query parameters that are booleans in the JSON API ("true"/"false"). */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v !== null && v.toLowerCase() === "true";
}
