import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { createLogger, type Logger } from "../../core/logger.ts";
import { FsBackend } from "./backend/fs.ts";
import { MemoryBackend } from "./backend/memory.ts";
import type { StorageBackend } from "./backend/types.ts";
import { HashService } from "./hashing.ts";
import { ChangeBus, type ChangeListener } from "./notifications/events.ts";
import type { PubsubNotifier } from "./notifications/pubsub.ts";
import { createGcsServer, createGcsTlsServer } from "./server.ts";
import { SessionTable } from "./sessions.ts";
import { Store } from "./store.ts";
import { ensureTlsMaterial } from "./tls.ts";

export interface GcsEmulatorOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks any free port. */
  port?: number;
  /** Where objects live; default "memory". */
  backend?: "memory" | "fs";
  /** Directory of the fs backend (required with it); a restart on the same directory sees the same data. */
  dir?: string;
  /** Deliver notificationConfigs to Google's Pub/Sub emulator at `emulatorHost` (host:port). */
  pubsub?: { emulatorHost: string; projectId?: string };
  logger?: Logger;
  /**
   * Also serve the same emulator over HTTPS (gsutil's JSON mode speaks nothing else). Its certificate
   * and the CA that signs it are generated in `dir` on first use and reused after; `port` 0 (the
   * default) picks any free port.
   */
  tls?: { dir: string; port?: number };
}

export interface GcsEmulator {
  /** http://127.0.0.1:PORT, to give the Node client as `apiEndpoint` or as STORAGE_EMULATOR_HOST. */
  url: string;
  port: number;
  /** https://127.0.0.1:PORT when `tls` was asked for. */
  httpsUrl?: string;
  httpsPort?: number;
  /** The CA certificate (PEM) HTTPS clients must trust, when `tls` was asked for. */
  caFile?: string;
  /** Calls `listener` for every object change (finalize, metadata update, delete, archive); returns unsubscribe. */
  onChange(listener: ChangeListener): () => void;
  /** Stops accepting requests, waits for notifications in flight, closes the backend. */
  stop(): Promise<void>;
}

/** Starts a Cloud Storage JSON API emulator that `@google-cloud/storage` can use unchanged. */
export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const log = options.logger ?? createLogger({ component: "gcs-emulator" });
  const host = options.host ?? "127.0.0.1";
  const backend = createBackend(options);
  const bus = new ChangeBus((err, event) => {
    log.warn(
      { err, eventType: event.eventType, bucket: event.bucket, object: event.object.name },
      "change listener failed",
    );
  });
  let baseUrl = "";
  let httpsBaseUrl = "";
  const store = new Store({ backend, bus, baseUrl: () => baseUrl, logger: log });
  const hashing = new HashService();
  const sessions = new SessionTable(backend, hashing);
  await sessions.restore(await store.open());

  // The Pub/Sub client (gRPC and its protos) is loaded only when notifications are to be delivered.
  let notifier: PubsubNotifier | undefined;
  if (options.pubsub) {
    const { PubsubNotifier } = await import("./notifications/pubsub.ts");
    notifier = new PubsubNotifier({
      emulatorHost: options.pubsub.emulatorHost,
      projectId: options.pubsub.projectId ?? "batchline-local",
      logger: log,
    });
  }
  if (notifier) bus.subscribe((event) => notifier.publish(store.notificationsOf(event.bucket), event));

  const deps = {
    store,
    sessions,
    notifier,
    hashing,
    log,
    baseUrl: () => baseUrl,
    httpsBaseUrl: () => httpsBaseUrl,
  };
  const tls = options.tls ? await ensureTlsMaterial(options.tls.dir) : undefined;
  const server = createGcsServer(deps);
  const servers: Server[] = [server];
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const port = await listen(server, options.port ?? 0, host);
  baseUrl = `http://${urlHost}:${port}`;
  let httpsPort: number | undefined;
  if (tls) {
    const tlsServer = createGcsTlsServer(deps, tls);
    servers.push(tlsServer);
    try {
      httpsPort = await listen(tlsServer, options.tls?.port ?? 0, host);
    } catch (err) {
      await closeServer(server);
      throw err;
    }
    httpsBaseUrl = `https://${urlHost}:${httpsPort}`;
    server.on("connect", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      tunnelToTls(req, socket, head, tlsServer, log),
    );
    if (tls.generated) log.info({ caFile: tls.caFile }, "generated the emulator's TLS certificate");
  }
  log.info(
    {
      url: baseUrl,
      ...(tls ? { httpsUrl: httpsBaseUrl, caFile: tls.caFile } : {}),
      backend: backend.kind,
      ...(options.dir ? { dir: options.dir } : {}),
    },
    "GCS emulator listening",
  );

  let stopping: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    ...(tls && httpsPort !== undefined ? { httpsUrl: httpsBaseUrl, httpsPort, caFile: tls.caFile } : {}),
    onChange: (listener) => bus.subscribe(listener),
    stop: () => {
      stopping ??= (async () => {
        await Promise.all(servers.map(closeServer));
        // Clients in this process keep pooled keep-alive sockets to us; give them a turn of the event
        // loop to see those closed, so a request right after stop() opens a new connection instead of
        // writing to a dead one ("socket hang up").
        await new Promise((resolve) => setTimeout(resolve, 10));
        await notifier?.close();
        await backend.close();
        await hashing.close();
        log.info({ url: baseUrl }, "GCS emulator stopped");
      })();
      return stopping;
    },
  };
}

/** Hosts a CONNECT may name: the emulator answers for itself only, never as a general proxy. */
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/**
 * `CONNECT localhost:443` on the HTTP port: the socket becomes a TLS connection to this emulator.
 * gsutil's XML mode (boto) formats a configured `gs_port` as a number but reads it as a string, so
 * its downloads fail on any port but the default; as a proxy, the emulator lets boto keep port 443.
 */
function tunnelToTls(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  tlsServer: Server,
  log: Logger,
): void {
  const target = req.url ?? "";
  const host = target.slice(0, target.lastIndexOf(":"));
  socket.on("error", (err) => log.debug({ err: String(err) }, "tunnel socket error"));
  if (!LOCAL_HOSTS.has(host.toLowerCase())) {
    socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
    return;
  }
  socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
  if (head.length > 0) socket.unshift(head);
  tlsServer.emit("connection", socket);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}

function createBackend(options: GcsEmulatorOptions): StorageBackend {
  const kind = options.backend ?? "memory";
  if (kind === "memory") return new MemoryBackend();
  if (kind === "fs") {
    if (!options.dir) throw new Error("the fs backend needs a directory (dir)");
    return new FsBackend(options.dir);
  }
  throw new Error(`unknown backend "${String(kind)}" (expected memory or fs)`);
}
