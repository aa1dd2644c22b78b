import { resolve } from "node:path";
import type { Command } from "commander";
import { createLogger } from "../core/logger.ts";
import { type GcsEmulator, startGcsEmulator } from "../local/gcs/index.ts";

/**
 * The `local` command group (the local cloud, one subcommand per emulated service). Returns the group,
 * creating it on first use, so each service's module adds its subcommand with
 * `localCommandGroup(program).command("<service>")`.
 */
export function localCommandGroup(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === "local");
  if (existing) return existing;
  return program.command("local").description("run the local cloud's emulated services");
}

/**
 * Resolves on the first SIGINT or SIGTERM, so the caller can shut down cleanly; a second signal during that
 * shutdown exits at once. The handlers stay installed: other parts (local Batch) re-raise a signal when no
 * listener is left, which would kill the process before its cleanup.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const on = (signal: NodeJS.Signals) => {
      if (received) {
        console.error(`${signal} again: exiting without waiting`);
        process.exit(130);
      }
      received = true;
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

interface GcsOptions {
  host: string;
  port: string;
  backend: string;
  dir: string;
  pubsubEmulatorHost?: string;
  pubsubProject: string;
  tls?: boolean;
  tlsPort: string;
  tlsDir: string;
}

/** A port option (0–65535), or a one-line error and exit 2. Also for `local up --tls-port`. */
export function parsePort(flag: string, raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid ${flag} ${JSON.stringify(raw)}: expected an integer from 0 to 65535`);
    process.exit(2);
  }
  return port;
}

export function registerLocalCommands(program: Command): void {
  localCommandGroup(program)
    .command("gcs")
    .description("run the Cloud Storage emulator (JSON and XML APIs) until Ctrl-C")
    .option("--port <n>", "port to listen on (0 picks a free one)", "4443")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--backend <kind>", "where objects live: memory or fs", "memory")
    .option("--dir <dir>", "directory of the fs backend", ".batchline/gcs")
    .option(
      "--pubsub-emulator-host <host:port>",
      "deliver bucket notifications to this Pub/Sub emulator",
      process.env.PUBSUB_EMULATOR_HOST,
    )
    .option(
      "--pubsub-project <id>",
      "project of the Pub/Sub client",
      process.env.PUBSUB_PROJECT_ID ?? "batchline-local",
    )
    .option("--tls", "also serve HTTPS (for gsutil's JSON mode), with a certificate made on first use")
    .option("--tls-port <n>", "HTTPS port with --tls (0 picks a free one)", "4444")
    .option("--tls-dir <dir>", "where the TLS certificate and its CA are kept", ".batchline/tls")
    .action(async (opts: GcsOptions) => {
      const port = parsePort("--port", opts.port);
      const tlsPort = parsePort("--tls-port", opts.tlsPort);
      if (opts.backend !== "memory" && opts.backend !== "fs") {
        console.error(`invalid --backend ${JSON.stringify(opts.backend)}: expected memory or fs`);
        process.exit(2);
      }
      let emulator: GcsEmulator;
      try {
        emulator = await startGcsEmulator({
          host: opts.host,
          port,
          backend: opts.backend,
          dir: opts.dir,
          ...(opts.pubsubEmulatorHost
            ? { pubsub: { emulatorHost: opts.pubsubEmulatorHost, projectId: opts.pubsubProject } }
            : {}),
          ...(opts.tls ? { tls: { dir: opts.tlsDir, port: tlsPort } } : {}),
          logger: createLogger({ component: "gcs-emulator", format: "pretty" }),
        });
      } catch (err) {
        console.error(`cannot start the GCS emulator: ${startError(err)}`);
        process.exit(1);
      }
      // Listen for the signal before saying we are up: whoever reads the line may signal at once.
      const stopped = untilSignal();
      const where = opts.backend === "fs" ? `fs backend in ${opts.dir}` : "memory backend";
      console.log(`GCS emulator on ${emulator.url} (${where})`);
      console.log(`export STORAGE_EMULATOR_HOST=${emulator.url}`);
      if (emulator.httpsUrl && emulator.caFile) {
        console.log(`HTTPS on ${emulator.httpsUrl}; its CA certificate: ${resolve(emulator.caFile)}`);
      }
      const signal = await stopped;
      console.error(`${signal}: stopping`);
      await emulator.stop();
    });
}

/** A one-line reason the emulator could not start (port taken, no openssl, ...), never a stack trace. */
function startError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e.code === "EADDRINUSE") return `port ${e.port ?? ""} on ${e.address ?? ""} is already in use`;
  if (e.code === "EACCES") return `no permission to listen on port ${e.port ?? ""}`;
  return err instanceof Error ? err.message : String(err);
}
