import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { BatchlineError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { killGroup, spawnGuarded, stopGroup } from "./process-guard.ts";
import { freePort } from "./pubsub/emulator.ts";

/** A Cloud Function served locally by functions-framework, as a process of its own (as in production). */
export interface LocalFunction {
  name: string;
  url: string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hookInstalled = false;

function frameworkMain(): string {
  const require = createRequire(import.meta.url);
  // The package exports only its index (build/src/index.js); its CLI, main.js, sits beside it.
  return join(dirname(require.resolve("@google-cloud/functions-framework")), "main.js");
}

/**
 * Starts `functions/<name>/index.ts` on functions-framework (HTTP signature) on a free loopback port, with
 * tsx so the TypeScript source runs as is, and waits until it answers.
 */
export async function startLocalFunction(options: {
  name: string;
  rootDir: string;
  env: Record<string, string>;
  logger?: Logger;
  startTimeoutMs?: number;
}): Promise<LocalFunction> {
  const port = await freePort();
  const source = resolve(options.rootDir, "functions", options.name, "index.ts");
  // Under the process guard, so a function never outlives the local cloud, even one killed by a signal.
  const child = spawnGuarded(
    process.execPath,
    [
      "--import",
      "tsx",
      frameworkMain(),
      `--target=${options.name}`,
      `--source=${source}`,
      "--signature-type=http",
    ],
    {
      cwd: options.rootDir,
      env: { ...process.env, ...options.env, PORT: String(port), BATCHLINE_LOG_FORMAT: "json" },
    },
  );
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (!hookInstalled) {
    hookInstalled = true;
    process.on("exit", () => {
      for (const c of live) killGroup(c, "SIGKILL");
    });
  }
  let tail = "";
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    tail = (tail + text).slice(-4000);
    for (const line of text.split("\n")) {
      if (line.trim() !== "") options.logger?.debug({ function: options.name }, line);
    }
  };
  child.stdout?.on("data", onOutput);
  child.stderr?.on("data", onOutput);

  const url = `http://127.0.0.1:${port}/`;
  // Resolves once the function's whole process group is gone, so its port no longer answers.
  const stop = () => stopGroup(child);

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new BatchlineError(
        `function ${options.name} exited with code ${child.exitCode} while starting:\n${tail}`,
      );
    }
    try {
      // The shell answers 405 to GET once it is serving.
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new BatchlineError(`function ${options.name} did not answer on ${url} in time:\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  return { name: options.name, url, stop };
}
