import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../core/logger.ts";
import { BatchApiError, invalidArgument, notFound } from "./batch/errors.ts";

/**
 * What the local cloud's Google API servers (Batch, Workflow Executions, Cloud Logging) share: query
 * parameters as Google's front end binds them, JSON bodies, Google API error bodies, and a loopback listener.
 */

/** A local API server on a loopback port. */
export interface LocalApiServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Query parameters every method takes (system parameters). */
const SYSTEM_PARAMS = new Set([
  "$alt",
  "alt",
  "prettyPrint",
  "$prettyPrint",
  "key",
  "fields",
  "$fields",
  "access_token",
  "quotaUser",
]);

export type Params = Map<string, string>;

export function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * A method's query parameters by their camelCase names (camelCase or snake_case may be sent); an unknown one
 * is refused as the front end refuses it.
 */
export function queryParams(url: URL, allowed: readonly string[]): Params {
  const byName = new Map<string, string>();
  for (const a of allowed) {
    byName.set(a, a);
    byName.set(snakeCase(a), a);
  }
  const out: Params = new Map();
  for (const [key, value] of url.searchParams) {
    if (SYSTEM_PARAMS.has(key)) continue;
    const canonical = byName.get(key);
    if (!canonical) {
      throw invalidArgument(
        `Invalid JSON payload received. Unknown name "${key}": Cannot bind query parameter. Field '${key}' could not be found in request message.`,
        [{ field: key, description: `Unknown query parameter "${key}"` }],
      );
    }
    out.set(canonical, value);
  }
  return out;
}

/** An int32 query parameter; `field` is how the error names it. */
export function intParam(p: Params, name: string, field = name): number | undefined {
  const v = p.get(name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalidArgument(`Invalid value at '${field}' (TYPE_INT32), "${v}"`);
  return Number(v);
}

/** The request body as JSON; an empty body is `{}`. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`Invalid JSON payload received. ${(err as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, indent = 2): void {
  const text = JSON.stringify(body, null, indent);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** Answers with the Google API error body of `err`; anything not an API error is INTERNAL, and logged. */
export function sendError(res: ServerResponse, err: unknown, logger: Logger | undefined, what: string): void {
  const error =
    err instanceof BatchApiError
      ? err
      : new BatchApiError("INTERNAL", `Internal error: ${(err as Error).message}`, { cause: err });
  if (error.status === "INTERNAL") logger?.error({ err }, `${what}: internal error`);
  sendJson(res, error.code, error.toJSON());
}

/** Listens on `host:port` (0: any free port); close() ends open connections too. */
export function listen(server: Server, host: string, port = 0): Promise<LocalApiServer> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const bound = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${host}:${bound}`,
        port: bound,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/** One REST method of a local API: its HTTP method, a path pattern whose groups are path segments, and what runs it. */
export interface ApiRoute<Target, Reply> {
  method: string;
  pattern: RegExp;
  run(target: Target, seg: string[], url: URL, req: IncomingMessage): Promise<Reply> | Reply;
}

/**
 * Runs the first route matching the request's method and path, with the path segments decoded. A request no
 * route matches gets NOT_FOUND, naming the method, the path and `api`.
 */
export async function dispatch<Target, Reply>(
  routes: readonly ApiRoute<Target, Reply>[],
  target: Target,
  req: IncomingMessage,
  api: string,
): Promise<Reply> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = req.method ?? "GET";
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(url.pathname);
    if (m)
      return route.run(
        target,
        m.slice(1).map((s) => decodeURIComponent(s)),
        url,
        req,
      );
  }
  throw notFound(`No method ${method} ${url.pathname} in ${api}.`);
}
