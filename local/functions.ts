import type { ChildProcess } from "node:child_process";
import { constants as osConstants } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BatchlineError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { killGroup, spawnGuarded, stopGroup } from "./process-guard.ts";
import { freePort } from "./pubsub/emulator.ts";

/** A Cloud Function served locally by functions-framework, as a process of its own (as in production). */
export interface LocalFunction {
  name: string;
  url: string;
  /** Process group of the serving process (changes when it is restarted). */
  pid(): number | undefined;
  /** Times the function died and was started again. */
  restarts(): number;
  stop(): Promise<void>;
}

/** Something that happened to a supervised function, for whoever shows the local cloud to a person. */
export interface FunctionEvent {
  function: string;
  kind: "exited" | "restarted" | "gave-up";
  detail: string;
}

const live = new Set<ChildProcess>();
let hookInstalled = false;

/** A function that keeps dying this soon after starting is given up on (it would only spin). */
const CRASH_LOOP_MS = 3_000;
const CRASH_LOOP_LIMIT = 5;

/**
 * Starts `functions/<name>/index.ts` on functions-framework (HTTP signature) on a free loopback port, with
 * tsx so the TypeScript source runs as is, and waits until it answers. Supervised as Cloud Functions are:
 * if the process dies (a crash, a SIGKILL, out of memory) it is started again on the same port, so the
 * caller's retries reach it (the workflow's http.default_retry covers the second or two this takes).
 */
export async function startLocalFunction(options: {
  name: string;
  rootDir: string;
  env: Record<string, string>;
  logger?: Logger;
  startTimeoutMs?: number;
  onEvent?: (event: FunctionEvent) => void;
}): Promise<LocalFunction> {
  const { name, logger } = options;
  const port = await freePort();
  const source = resolve(options.rootDir, "functions", name, "index.ts");
  const url = `http://127.0.0.1:${port}/`;
  let tail = "";
  let stopping = false;
  let restarts = 0;
  let quickDeaths = 0;
  const tell = (event: FunctionEvent) => {
    const line = `function ${name}: ${event.detail}`;
    if (event.kind === "gave-up") logger?.error(line);
    else logger?.warn(line);
    options.onEvent?.(event);
  };

  const spawnOnce = (): ChildProcess => {
    // Under the process guard, so a function never outlives the local cloud, even one killed by a signal.
    const child = spawnGuarded(
      process.execPath,
      ["--import", "tsx", hostScript(), `--target=${name}`, `--source=${source}`, `--port=${port}`],
      {
        cwd: options.rootDir,
        env: { ...process.env, ...options.env, PORT: String(port), BATCHLINE_LOG_FORMAT: "json" },
      },
    );
    live.add(child);
    installExitHook();
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) {
        if (line.trim() !== "") logger?.debug({ function: name }, line);
      }
    };
    child.stdout?.on("data", onOutput);
    child.stderr?.on("data", onOutput);
    const startedAt = Date.now();
    child.once("exit", (code, signal) => {
      live.delete(child);
      // Ends the guard's pipe reader, which outlives a guard whose command died.
      child.stdin?.destroy();
      if (stopping || current !== child) return;
      const how = describeExit(code, signal);
      quickDeaths = Date.now() - startedAt < CRASH_LOOP_MS ? quickDeaths + 1 : 0;
      if (quickDeaths >= CRASH_LOOP_LIMIT) {
        tell({
          function: name,
          kind: "gave-up",
          detail: `exited (${how}) ${quickDeaths} times in a row right after starting; not restarting it. Last output:\n${tail}`,
        });
        return;
      }
      tell({ function: name, kind: "exited", detail: `exited (${how}); restarting it on ${url}` });
      const delay = Math.min(5_000, 100 * 2 ** quickDeaths);
      setTimeout(() => {
        if (stopping) return;
        restarts++;
        current = spawnOnce();
        void waitUntilServing(current, url, options.startTimeoutMs ?? 60_000, () => tail).then(
          () =>
            tell({
              function: name,
              kind: "restarted",
              detail: `serving again on ${url} (restart ${restarts})`,
            }),
          (err: unknown) => logger?.error({ function: name, err }, `function ${name} did not come back`),
        );
      }, delay);
    });
    return child;
  };

  let current = spawnOnce();
  const stop = async () => {
    stopping = true;
    // Resolves once the function's whole process group is gone, so its port no longer answers.
    await stopGroup(current);
  };
  try {
    await waitUntilServing(current, url, options.startTimeoutMs ?? 60_000, () => tail);
  } catch (err) {
    await stop();
    throw err;
  }
  return { name, url, pid: () => current.pid, restarts: () => restarts, stop };
}

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on("exit", () => {
    for (const c of live) killGroup(c, "SIGKILL");
  });
}

/** The loopback-only host for one function (local/function-host.ts). */
function hostScript(): string {
  return fileURLToPath(new URL("./function-host.ts", import.meta.url));
}

async function waitUntilServing(
  child: ChildProcess,
  url: string,
  timeoutMs: number,
  tail: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new BatchlineError(
        `function at ${url} exited (${child.signalCode ?? `code ${child.exitCode}`}) while starting:\n${tail()}`,
      );
    }
    try {
      // The shell answers 405 to GET once it is serving.
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new BatchlineError(`function at ${url} did not answer in time:\n${tail()}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

/**
 * How a serving process ended. The guard shell reports a command killed by signal N as code 128 + N (e.g.
 * 137 for SIGKILL), so that is named as the signal.
 */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `killed by ${signal}`;
  if (code !== null && code > 128) {
    const name = Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
    if (name !== undefined) return `killed by ${name}`;
  }
  return `exit code ${code}`;
}
