import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { Storage } from "@google-cloud/storage";
import type { Command } from "commander";
import { BatchlineError } from "../core/errors.ts";
import { createLogger } from "../core/logger.ts";
import { areaPrefix } from "../core/naming.ts";
import { startLocalCloud } from "../local/cloud.ts";
import { type UploadResult, uploadInput } from "../local/upload.ts";
import { localCommandGroup, parsePort, untilSignal } from "./local.ts";
import { clientOrExit, configOrExit } from "./shared.ts";

interface UpOptions {
  config: string;
  local?: string;
  backend: string;
  dir: string;
  pubsubEmulatorHost?: string;
  tls?: boolean;
  tlsPort: string;
  tlsDir: string;
  twice?: boolean;
  verbose?: boolean;
  consolePort: string;
}

/** `batchline local up` and `batchline local upload`. */
export function registerLocalCloudCommands(program: Command): void {
  const local = localCommandGroup(program);

  local
    .command("up")
    .description("run the whole local cloud until Ctrl-C and print the variables that point tools at it")
    .option("--config <dir>", "config directory", "config")
    .option("--backend <kind>", "where objects live: memory or fs", "fs")
    .option("--dir <dir>", "directory of the fs backend (kept across restarts)", ".batchline/gcs")
    .option("--local <file>", "local-only settings: the Batch image map (default config/local.yaml)")
    .option(
      "--pubsub-emulator-host <host:port>",
      "use this running Pub/Sub emulator instead of starting one (its topics then outlive this local cloud)",
    )
    .option("--tls", "also serve Cloud Storage over HTTPS (for gsutil), with a certificate made on first use")
    .option("--tls-port <n>", "HTTPS port with --tls (0 picks a free one)", "4444")
    .option("--tls-dir <dir>", "where the TLS certificate and its CA are kept", ".batchline/tls")
    .option("--twice", "deliver every upload event twice, to see deduplication at work")
    .option("--verbose", "log every part's activity")
    .option("--console-port <n>", "port of the web console on 127.0.0.1 (0 picks a free one)", "0")
    .action(async (opts: UpOptions) => {
      if (opts.backend !== "memory" && opts.backend !== "fs") {
        console.error(`invalid --backend ${JSON.stringify(opts.backend)}: expected memory or fs`);
        process.exit(2);
      }
      configOrExit(opts.config);
      const tlsPort = parsePort("--tls-port", opts.tlsPort);
      const consolePort = parsePort("--console-port", opts.consolePort);
      const logger = createLogger({
        component: "local",
        format: "pretty",
        level: opts.verbose ? "info" : "warn",
      });
      const cloud = await startLocalCloud({
        configDir: opts.config,
        ...(opts.local === undefined ? {} : { localConfigFile: opts.local }),
        ...(opts.pubsubEmulatorHost === undefined ? {} : { pubsubEmulatorHost: opts.pubsubEmulatorHost }),
        ...(opts.tls ? { storageTls: { dir: opts.tlsDir, port: tlsPort } } : {}),
        storage: opts.backend === "fs" ? { backend: "fs", dir: opts.dir } : { backend: "memory" },
        deliverTwice: opts.twice,
        logger,
      });
      console.log(
        `local cloud is up (bucket gs://${cloud.config.platform.bucket}, workflow ${cloud.workflowId})`,
      );
      for (const [name, value] of Object.entries(cloud.env)) console.log(`export ${name}=${value}`);
      if (cloud.storageTls) {
        console.log(
          `# Cloud Storage over HTTPS: ${cloud.storageTls.httpsUrl}; its CA certificate: ${resolve(cloud.storageTls.caFile)}`,
        );
      }
      console.log("");
      for (const client of cloud.config.clients.values()) {
        const schedule = cloud.scheduler.jobs.find((j) => j.client === client.id);
        console.log(
          `client ${client.id}: upload to gs://${cloud.config.platform.bucket}/${areaPrefix(cloud.config.platform.product, client.id, "inputs")}` +
            (schedule ? `; next scheduled run ${schedule.nextRun()?.toISOString() ?? "never"}` : ""),
        );
      }
      console.log(
        "\nwith those exported: batchline local upload FILE --client C; batchline runs --client C; batchline tail --client C",
      );
      const stopped = untilSignal();
      // The console is a window on the local cloud, not part of it: if it cannot start, the cloud stays up.
      const webConsole = await import("../console/start.ts")
        .then(({ startLocalConsole }) => startLocalConsole(cloud, { port: consolePort, logger }))
        .catch((err: Error) => {
          console.error(`the console did not start: ${err.message}`);
          return null;
        });
      if (webConsole) console.log(`Console: ${webConsole.url}`);
      const signal = await stopped;
      console.error(`${signal}: stopping the local cloud`);
      await webConsole?.stop();
      await cloud.stop();
      process.exit(0);
    });

  local
    .command("upload")
    .description("upload a file to a client's inputs on the running local cloud (batchline local up)")
    .argument("<file>", "file to upload")
    .requiredOption("--client <id>", "client id")
    .option("--as <path>", "path under the client's inputs/ (default: the file's name)")
    .option("--config <dir>", "config directory", "config")
    .action(async (file: string, opts: { client: string; as?: string; config: string }) => {
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const endpoint = process.env.STORAGE_EMULATOR_HOST;
      if (!endpoint) {
        console.error(
          "STORAGE_EMULATOR_HOST is not set: start `batchline local up` and export what it prints",
        );
        process.exit(2);
      }
      let contents: Buffer;
      try {
        contents = readFileSync(file);
      } catch (err) {
        console.error(`cannot read ${file}: ${(err as Error).message}`);
        process.exit(2);
      }
      const bucket = new Storage({ apiEndpoint: endpoint, projectId: config.platform.project }).bucket(
        config.platform.bucket,
      );
      let uploaded: UploadResult;
      try {
        uploaded = await uploadInput(bucket, config, client.id, opts.as ?? basename(file), contents);
      } catch (err) {
        if (!(err instanceof BatchlineError)) throw err;
        console.error(err.message);
        process.exit(2);
      }
      console.log(
        `uploaded gs://${config.platform.bucket}/${uploaded.object} (generation ${uploaded.generation}, ${contents.length} bytes)`,
      );
    });
}
