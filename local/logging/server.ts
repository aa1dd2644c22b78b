import { createServer, type IncomingMessage } from "node:http";
import type { Logger } from "../../core/logger.ts";
import { invalidArgument, notFound } from "../batch/errors.ts";
import type { LocalBatch } from "../batch/index.ts";
import { type LocalApiServer, listen, readJsonBody, sendError, sendJson } from "../google-api.ts";
import { TaskLogEntries } from "./entries.ts";
import { entryMatches, type FilterableEntry, parseLogFilter, SEVERITY } from "./filter.ts";

/**
 * A Cloud Logging v2 `entries.list` endpoint over the local Batch's task logs, so that `@google-cloud/logging`
 * (REST transport) and any other client of the API read local task logs exactly as they read Batch's on GCP:
 *   POST /v2/entries:list   body: {resourceNames, filter, orderBy, pageSize, pageToken}
 * Resource names are `projects/P`; the filter is the subset in ./filter.ts; `orderBy` is `timestamp asc`
 * (the default) or `timestamp desc`; pages hold at most 1000 entries (50 by default), as the API's do.
 * `$alt=json;enum-encoding=int`, which the client libraries send, makes severities numbers.
 */

/** A local API server on a loopback port (`url` is `http://127.0.0.1:PORT`). */
export type LoggingServer = LocalApiServer;

const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;
const REQUEST_FIELDS = new Map(
  ["resourceNames", "filter", "orderBy", "pageSize", "pageToken"].flatMap((f) => [
    [f, f],
    [f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), f],
  ]),
);

interface ListRequest {
  resourceNames: string[];
  filter: string;
  orderBy: "asc" | "desc";
  pageSize: number;
  pageToken?: string;
}

function parseRequest(body: unknown): ListRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalidArgument("Invalid JSON payload received. Expected an object.");
  }
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const name = REQUEST_FIELDS.get(key);
    if (!name)
      throw invalidArgument(`Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
    fields[name] = value;
  }
  const names = fields.resourceNames ?? [];
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== "string")) {
    throw invalidArgument("resource_names: at least one resource name is required, e.g. projects/PROJECT");
  }
  for (const n of names as string[]) {
    if (!/^projects\/[^/]+$/.test(n)) {
      throw invalidArgument(
        `resource_names: "${n}" is not supported by the local endpoint; name a project, projects/PROJECT`,
      );
    }
  }
  const order = String(fields.orderBy ?? "timestamp asc")
    .trim()
    .toLowerCase();
  if (!/^timestamp(\s+(asc|desc))?$/.test(order)) {
    throw invalidArgument(
      `order_by: only "timestamp asc" and "timestamp desc" are supported, got "${order}"`,
    );
  }
  const size = fields.pageSize === undefined ? 0 : Number(fields.pageSize);
  if (!Number.isInteger(size) || size < 0)
    throw invalidArgument(`page_size: "${fields.pageSize}" is invalid`);
  const request: ListRequest = {
    resourceNames: names as string[],
    filter: typeof fields.filter === "string" ? fields.filter : "",
    orderBy: order.endsWith("desc") ? "desc" : "asc",
    pageSize: Math.min(size || DEFAULT_PAGE, MAX_PAGE),
  };
  if (typeof fields.pageToken === "string" && fields.pageToken !== "") request.pageToken = fields.pageToken;
  return request;
}

function sortKey(e: FilterableEntry): string {
  return `${e.timestamp}\u0000${e.insertId}`;
}

/** Lists entries as entries.list does: filtered, ordered by time (then insertId), a page at a time. */
export async function listEntries(
  source: TaskLogEntries,
  request: ListRequest,
): Promise<{ entries: FilterableEntry[]; nextPageToken?: string }> {
  const filter = parseLogFilter(request.filter);
  const query = JSON.stringify([request.resourceNames, request.filter, request.orderBy]);
  let after: string | undefined;
  if (request.pageToken !== undefined) {
    let token: unknown;
    try {
      token = JSON.parse(Buffer.from(request.pageToken, "base64url").toString("utf8"));
    } catch {
      token = undefined;
    }
    const t = token as { after?: unknown; query?: unknown } | undefined;
    if (typeof t?.after !== "string" || t.query !== query) {
      throw invalidArgument(`page_token: "${request.pageToken}" does not belong to this query`);
    }
    after = t.after;
  }
  const all: FilterableEntry[] = [];
  for (const name of request.resourceNames) {
    const project = name.slice("projects/".length);
    for (const e of await source.entries(project)) if (entryMatches(filter, e)) all.push(e);
  }
  const sign = request.orderBy === "asc" ? 1 : -1;
  all.sort((a, b) => sign * (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  const start =
    after === undefined
      ? 0
      : all.findIndex((e) => sign * (sortKey(e) > after ? 1 : sortKey(e) < after ? -1 : 0) > 0);
  const from = start < 0 ? all.length : start;
  const page = all.slice(from, from + request.pageSize);
  const last = page[page.length - 1];
  return from + request.pageSize < all.length && last
    ? {
        entries: page,
        nextPageToken: Buffer.from(JSON.stringify({ after: sortKey(last), query })).toString("base64url"),
      }
    : { entries: page };
}

/** Serves the task logs of `batch` as Cloud Logging's entries.list on a loopback port (0: any free port). */
export function startLoggingServer(
  batch: LocalBatch,
  options: { host?: string; port?: number; logger?: Logger } = {},
): Promise<LoggingServer> {
  const host = options.host ?? "127.0.0.1";
  const source = new TaskLogEntries(batch);
  const handle = async (req: IncomingMessage): Promise<unknown> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "POST" || url.pathname !== "/v2/entries:list") {
      throw notFound(
        `No method ${req.method} ${url.pathname} in the local Cloud Logging v2 API (entries:list only).`,
      );
    }
    const result = await listEntries(source, parseRequest(await readJsonBody(req)));
    const numeric = /enum-encoding=int/.test(url.searchParams.get("$alt") ?? "");
    if (!numeric) return result;
    return { ...result, entries: result.entries.map((e) => ({ ...e, severity: SEVERITY[e.severity] ?? 0 })) };
  };
  const server = createServer((req, res) => {
    handle(req)
      .then((body) => sendJson(res, 200, body, 0))
      .catch((err: unknown) => {
        sendError(res, err, options.logger, "local logging server");
      });
  });
  return listen(server, host, options.port);
}
