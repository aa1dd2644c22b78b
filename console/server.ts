import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeFailure } from "../cli/failure.ts";
import type { Logger } from "../core/logger.ts";
import { type ConsoleAssets, consoleAssets } from "./assets.ts";
import { LiveFeeds } from "./live.ts";
import { ConsoleProblem, type ConsoleSource } from "./source.ts";
import { MAX_UPLOAD_BYTES } from "./views.ts";

/** The header every action must carry: a cross-site form cannot set it, so no other page can act here. */
export const ACTION_HEADER = "x-batchline-console";

export interface ConsoleServerOptions {
  source: ConsoleSource;
  /** Loopback by default: the console has no login. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** How often a watched view is read again (default 1500 ms). */
  pollMs?: number;
  logger: Logger;
}

export interface ConsoleServer {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Paths the page itself handles (each is a real address a link or a bookmark can hold). */
const PAGES = [
  /^\/$/,
  /^\/runs$/,
  /^\/clients$/,
  /^\/runs\/[^/]+\/[^/]+$/,
  /^\/bucket$/,
  /^\/messages(\/[^/]+)?$/,
];

function send(res: ServerResponse, status: number, body: string | Buffer, type: string): void {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    // Everything is served from here: no CDN, no inline script.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'",
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), "application/json; charset=utf-8");
}

async function body(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ConsoleProblem(400, `the upload is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function segment(text: string | undefined): string {
  return decodeURIComponent(text ?? "");
}

/**
 * The JSON view at an API path (`/api/...` with its query), for a GET and for a live feed alike; undefined
 * when no view lives there.
 */
function view(source: ConsoleSource, url: URL): (() => Promise<unknown>) | undefined {
  const parts = url.pathname.split("/").slice(2);
  const [what, a, b] = parts;
  switch (what) {
    case "info":
      return async () => source.info();
    case "clients":
      return parts.length === 1 ? () => source.clients() : undefined;
    case "runs":
      if (parts.length === 1) return () => source.runs();
      return parts.length === 3 ? () => source.run(segment(a), segment(b)) : undefined;
    case "logs": {
      if (parts.length !== 3) return undefined;
      const raw = url.searchParams.get("task");
      if (raw !== null && !/^\d+$/.test(raw)) {
        return async () => {
          throw new ConsoleProblem(400, `task must be a task index (0, 1, ...), not ${JSON.stringify(raw)}`);
        };
      }
      return () => source.logs(segment(a), segment(b), raw === null ? undefined : Number(raw));
    }
    case "preview":
      return () => source.preview(url.searchParams.get("object") ?? "");
    case "bucket":
      return () => source.bucket(url.searchParams.get("prefix") ?? "");
    case "messages":
      return parts.length === 2 ? () => source.messages(segment(a)) : undefined;
    default:
      return undefined;
  }
}

/** Starts the console: the page, its assets, the JSON views, their live feeds and the actions. */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { source, logger } = options;
  const assets: ConsoleAssets = await consoleAssets();
  const describe = (err: unknown) => {
    if (err instanceof ConsoleProblem) return { status: err.status, message: err.message };
    logger.warn({ err }, "console: a read failed");
    return { status: 502, message: describeFailure(err) };
  };
  const feeds = new LiveFeeds(options.pollMs ?? 1500, describe);

  const act = async (req: IncomingMessage, url: URL): Promise<unknown> => {
    if (req.headers[ACTION_HEADER] !== "1") {
      throw new ConsoleProblem(403, `actions need the ${ACTION_HEADER} header (the console page sends it)`);
    }
    const m = /^\/api\/clients\/([^/]+)\/(upload|run|retry)$/.exec(url.pathname);
    if (!m) throw new ConsoleProblem(404, `no action at ${url.pathname}`);
    const client = segment(m[1]);
    if (m[2] === "upload") {
      const path = url.searchParams.get("path") ?? "";
      return source.upload(client, path, await body(req, MAX_UPLOAD_BYTES));
    }
    if (m[2] === "run") return source.startRun(client);
    let input: unknown;
    try {
      input = (JSON.parse((await body(req, 64 * 1024)).toString("utf8")) as { input?: unknown }).input;
    } catch {
      throw new ConsoleProblem(400, 'the body must be JSON: {"input": "<path under inputs/>"}');
    }
    if (typeof input !== "string" || input === "") {
      throw new ConsoleProblem(400, 'the body must name the input: {"input": "<path under inputs/>"}');
    }
    return source.retry(client, input);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://console");
    try {
      if (req.method === "POST" && url.pathname.startsWith("/api/")) {
        json(res, 200, await act(req, url));
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        json(res, 405, { error: `${req.method} is not allowed here` });
        return;
      }
      if (url.pathname === "/api/live") {
        const path = url.searchParams.get("path") ?? "";
        const target = new URL(path, "http://console");
        const read = path.startsWith("/api/") ? view(source, target) : undefined;
        if (!read) {
          json(res, 404, { error: `no view at ${JSON.stringify(path)}` });
          return;
        }
        feeds.subscribe(target.pathname + target.search, read, res);
        return;
      }
      if (url.pathname.startsWith("/api/")) {
        const read = view(source, url);
        if (!read) {
          json(res, 404, { error: `no view at ${url.pathname}` });
          return;
        }
        json(res, 200, await read());
        return;
      }
      const asset = assets.files.get(url.pathname);
      if (asset) {
        send(res, 200, asset.body, asset.type);
        return;
      }
      if (PAGES.some((p) => p.test(url.pathname))) {
        send(res, 200, assets.page, "text/html; charset=utf-8");
        return;
      }
      send(res, 404, "Not found. Start at /", "text/plain; charset=utf-8");
    } catch (err) {
      const problem = describe(err);
      if (!res.headersSent) json(res, problem.status, { error: problem.message });
      else res.end();
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/`,
    port,
    async close() {
      feeds.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
