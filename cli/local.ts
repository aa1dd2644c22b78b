import type { Command } from "commander";
import { createLogger } from "../core/logger.ts";
import { startGcsEmulator } from "../local/gcs/index.ts";

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
}

export function registerLocalCommands(program: Command): void {
  localCommandGroup(program)
    .command("gcs")
    .description("run the Cloud Storage emulator (JSON API) until Ctrl-C")
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
    .action(async (opts: GcsOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        console.error(`invalid --port ${JSON.stringify(opts.port)}: expected an integer from 0 to 65535`);
        process.exit(2);
      }
      if (opts.backend !== "memory" && opts.backend !== "fs") {
        console.error(`invalid --backend ${JSON.stringify(opts.backend)}: expected memory or fs`);
        process.exit(2);
      }
      const emulator = await startGcsEmulator({
        host: opts.host,
        port,
        backend: opts.backend,
        dir: opts.dir,
        ...(opts.pubsubEmulatorHost
          ? { pubsub: { emulatorHost: opts.pubsubEmulatorHost, projectId: opts.pubsubProject } }
          : {}),
        logger: createLogger({ component: "gcs-emulator", format: "pretty" }),
      });
      // Listen for the signal before saying we are up: whoever reads the line may signal at once.
      const stopped = untilSignal();
      const where = opts.backend === "fs" ? `fs backend in ${opts.dir}` : "memory backend";
      console.log(`GCS emulator on ${emulator.url} (${where})`);
      console.log(`export STORAGE_EMULATOR_HOST=${emulator.url}`);
      const signal = await stopped;
      console.error(`${signal}: stopping`);
      await emulator.stop();
    });
}
