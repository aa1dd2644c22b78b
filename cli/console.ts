import type { Command } from "commander";
import type { RunningConsole } from "../console/start.ts";
import { createLogger } from "../core/logger.ts";
import { parsePort, untilSignal } from "./local.ts";
import { EXIT, guarded, operatorCommand, wholeNumber } from "./operate/usage.ts";
import { configOrExit } from "./shared.ts";

interface ConsoleOptions {
  config: string;
  port: string;
  host: string;
  refresh: string;
}

/**
 * `batchline console`: the web console, read-only, against GCP through the official clients and Application
 * Default Credentials (or the local cloud, when its variables are exported). `batchline local up` serves the
 * same console with actions.
 */
export function registerConsoleCommand(program: Command): void {
  operatorCommand(
    program
      .command("console")
      .description(
        "serve the web console (read-only) for GCP, with Application Default Credentials, until Ctrl-C",
      )
      .option("--config <dir>", "config directory", "config")
      .option("--port <n>", "port to listen on (0 picks a free one)", "8686")
      .option(
        "--host <address>",
        "address to listen on (the console has no login: keep it on loopback)",
        "127.0.0.1",
      )
      .option("--refresh <seconds>", "seconds between reads of an open page's data", "5"),
  ).action(
    guarded(async (opts: ConsoleOptions) => {
      const port = parsePort("--port", opts.port);
      const pollMs = wholeNumber("--refresh", opts.refresh, 1) * 1000;
      const config = configOrExit(opts.config);
      const logger = createLogger({ component: "console", format: "pretty", level: "warn" });
      let running: RunningConsole;
      try {
        // Loaded here: the console's modules (esbuild among them) are not every command's to pay for.
        const { startReadOnlyConsole } = await import("../console/start.ts");
        running = await startReadOnlyConsole(config, process.env, { host: opts.host, port, pollMs, logger });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        console.error(
          e.code === "EADDRINUSE"
            ? `cannot start the console: port ${port} on ${opts.host} is already in use (try --port 0)`
            : `cannot start the console: ${e.message}`,
        );
        return EXIT.FAILED;
      }
      const stopped = untilSignal();
      console.log(`Console: ${running.url} (read-only; ${config.platform.bucket} on ${running.target})`);
      const signal = await stopped;
      console.error(`${signal}: stopping the console`);
      await running.stop();
      // The official clients may hold sockets open a while after close: do not wait for them.
      process.exit(EXIT.OK);
    }),
  );
}
