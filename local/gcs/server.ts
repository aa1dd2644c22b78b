import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../../core/logger.ts";
import { GcsError, internal, methodNotAllowed, notFound } from "./errors.ts";
import { handleBucket, handleBuckets, handleStorageLayout } from "./handlers/buckets.ts";
import type { RequestContext } from "./handlers/context.ts";
import { handleNotification, handleNotifications } from "./handlers/notifications.ts";
import { handleCompose, handleMove, handleObject, handleObjects, handleRewrite } from "./handlers/objects.ts";
import { handleUpload } from "./handlers/uploads.ts";
import { handleXmlBucket, handleXmlObject, handleXmlService } from "./handlers/xml.ts";
import type { HashService } from "./hashing.ts";
import { sendError, sendJson } from "./http.ts";
import type { PubsubNotifier } from "./notifications/pubsub.ts";
import { parseRoute, type Route } from "./routes.ts";
import type { SessionTable } from "./sessions.ts";
import type { Store } from "./store.ts";

export interface ServerDeps {
  store: Store;
  sessions: SessionTable;
  notifier: PubsubNotifier | undefined;
  hashing: HashService;
  log: Logger;
  baseUrl: () => string;
  /** The HTTPS listener's base URL, for resources answered over TLS; empty without one. */
  httpsBaseUrl?: () => string;
}

/**
 * The HTTP server: keep-alive on (idle sockets kept longer than clients' agents keep them, so a reused
 * socket is never closed under a request), no overall request timeout (a 1 GiB upload may take a while),
 * and every response body streamed with backpressure.
 */
export function createGcsServer(deps: ServerDeps): Server {
  const server = createServer({ requestTimeout: 0, headersTimeout: 120_000 }, (req, res) => {
    void handle(req, res, deps);
  });
  server.keepAliveTimeout = 65_000;
  return server;
}

/** The same server over TLS (for clients that only speak HTTPS, such as gsutil's JSON mode). */
export function createGcsTlsServer(deps: ServerDeps, tls: { key: Buffer; cert: Buffer }): HttpsServer {
  const server = createHttpsServer(
    { key: tls.key, cert: tls.cert, requestTimeout: 0, headersTimeout: 120_000 },
    (req, res) => {
      void handle(req, res, deps);
    },
  );
  server.keepAliveTimeout = 65_000;
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: ServerDeps): Promise<void> {
  const started = performance.now();
  const url = originForm(req.url ?? "/");
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  res.on("finish", () => {
    deps.log.debug(
      { method: req.method, path, status: res.statusCode, ms: Math.round(performance.now() - started) },
      "request",
    );
  });
  try {
    const route = parseRoute(path);
    const ctx: RequestContext = {
      req,
      res,
      query,
      store: deps.store,
      sessions: deps.sessions,
      notifier: deps.notifier,
      hashing: deps.hashing,
      baseUrl:
        (req.socket as TLSSocket).encrypted && deps.httpsBaseUrl ? deps.httpsBaseUrl() : deps.baseUrl(),
      log: deps.log,
    };
    await dispatch(ctx, route);
  } catch (err) {
    const gcsErr = err instanceof GcsError ? err : internal(err instanceof Error ? err.message : String(err));
    if (!(err instanceof GcsError)) deps.log.error({ err, method: req.method, path }, "request failed");
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(res, gcsErr);
  }
}

/**
 * The path and query of a request target. HTTP/1.1 servers must also accept the absolute form
 * (`https://localhost/bkt/obj`), which clients send through a proxy (boto does, through the tunnel).
 */
function originForm(target: string): string {
  const m = /^https?:\/\/[^/?#]*/i.exec(target);
  if (!m) return target;
  const rest = target.slice(m[0].length);
  return rest === "" || rest.startsWith("?") ? `/${rest}` : rest;
}

async function dispatch(ctx: RequestContext, route: Route): Promise<void> {
  switch (route.kind) {
    case "health":
      sendJson(ctx.res, 200, { status: "ok", backend: ctx.store.backend.kind });
      return;
    case "buckets":
      return handleBuckets(ctx);
    case "bucket":
      return handleBucket(ctx, route.bucket);
    case "storageLayout":
      return handleStorageLayout(ctx, route.bucket);
    case "objects":
      return handleObjects(ctx, route.bucket);
    case "object":
      return handleObject(ctx, route.bucket, route.object);
    case "rewrite":
    case "copy":
      return handleRewrite(ctx, route);
    case "move":
      return handleMove(ctx, route);
    case "compose":
      return handleCompose(ctx, route.bucket, route.object);
    case "notifications":
      return handleNotifications(ctx, route.bucket);
    case "notification":
      return handleNotification(ctx, route.bucket, route.id);
    case "upload":
      return handleUpload(ctx, route.bucket);
    case "download":
      if (ctx.req.method !== "GET" && ctx.req.method !== "HEAD") throw methodNotAllowed();
      ctx.query.set("alt", "media");
      return handleObject(ctx, route.bucket, route.object);
    case "xml":
      return handleXmlObject(ctx, route.bucket, route.object);
    case "xmlBucket":
      return handleXmlBucket(ctx, route.bucket);
    case "xmlService":
      return handleXmlService(ctx);
    case "serviceAccount":
      sendJson(ctx.res, 200, {
        kind: "storage#serviceAccount",
        email_address: `service-0@gs-project-accounts.iam.gserviceaccount.com`,
      });
      return;
    case "unknown":
      throw notFound(`Not Found: ${ctx.req.method} ${ctx.req.url}`);
  }
}
