import { type ChildProcess, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { BatchlineError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { killGroup, spawnGuarded, stopGroup } from "../process-guard.ts";

/** Where gcloud's pubsub-emulator component keeps its launcher, relative to the SDK root. */
const LAUNCHER = join("platform", "pubsub-emulator", "bin", "cloud-pubsub-emulator");
const SDK_ROOTS = [
  "/usr/lib/google-cloud-sdk",
  "/usr/share/google-cloud-sdk",
  "/opt/google-cloud-sdk",
  join(homedir(), "google-cloud-sdk"),
];

export const INSTALL_HINT =
  "Google's Pub/Sub emulator was not found. Install it with `gcloud components install pubsub-emulator` " +
  "(or the `google-cloud-cli-pubsub-emulator` package from Google's Cloud SDK apt repository) and make sure " +
  "Java 11+ is on PATH, or point BATCHLINE_PUBSUB_EMULATOR at the `cloud-pubsub-emulator` launcher.";

export class PubsubEmulatorError extends BatchlineError {}

/** Finds the emulator launcher: BATCHLINE_PUBSUB_EMULATOR, the usual SDK roots, then `gcloud info`. */
export function findPubsubEmulator(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.BATCHLINE_PUBSUB_EMULATOR;
  if (explicit) {
    if (!existsSync(explicit)) {
      throw new PubsubEmulatorError(
        `BATCHLINE_PUBSUB_EMULATOR points at ${explicit}, which does not exist. ${INSTALL_HINT}`,
      );
    }
    return explicit;
  }
  for (const root of SDK_ROOTS) {
    const candidate = join(root, LAUNCHER);
    if (existsSync(candidate)) return candidate;
  }
  const info = spawnSync("gcloud", ["info", "--format=value(installation.sdk_root)"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  const root = info.status === 0 ? info.stdout.trim() : "";
  if (root && existsSync(join(root, LAUNCHER))) return join(root, LAUNCHER);
  throw new PubsubEmulatorError(INSTALL_HINT);
}

function assertJava(env: NodeJS.ProcessEnv): void {
  const java = env.JAVA_HOME ? join(env.JAVA_HOME, "bin", "java") : "java";
  const probe = spawnSync(java, ["-version"], { encoding: "utf8", timeout: 30_000 });
  if (probe.error || probe.status !== 0) {
    throw new PubsubEmulatorError(
      `The Pub/Sub emulator needs Java 11+, and \`${java} -version\` failed. ${INSTALL_HINT}`,
    );
  }
}

/** Asks the OS for a free loopback port. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface PubsubEmulatorOptions {
  host?: string;
  /** 0 or absent: any free port. */
  port?: number;
  /** Project id tools should use against the emulator; exported as PUBSUB_PROJECT_ID. */
  projectId?: string;
  /** Set PUBSUB_EMULATOR_HOST and PUBSUB_PROJECT_ID in this process's environment (default true). */
  exportEnv?: boolean;
  /** How long to wait for the emulator to answer (default 60 s: the JVM is slow to start on a busy machine). */
  startTimeoutMs?: number;
  /**
   * Start the emulator again, on the same port, if it dies, then call `onRestart` (the emulator keeps
   * everything in memory: the caller recreates its topics and subscriptions there).
   */
  supervise?: { onRestart?: () => Promise<void> };
  logger?: Logger;
}

export interface PubsubEmulator {
  /** `127.0.0.1:PORT`, the value of PUBSUB_EMULATOR_HOST. */
  host: string;
  port: number;
  projectId: string;
  /** The variables clients need to talk to this emulator. */
  env: { PUBSUB_EMULATOR_HOST: string; PUBSUB_PROJECT_ID: string };
  /** Process group of the emulator now (changes when a supervised emulator is restarted). */
  pid(): number | undefined;
  /** Times a supervised emulator died and was started again. */
  restarts(): number;
  /** Stops the emulator and everything it started; safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: send SIGKILL to every emulator group still running.
  process.on("exit", () => {
    for (const child of live) killGroup(child, "SIGKILL");
  });
}

/** Starts Google's Pub/Sub emulator on a loopback port and waits until it answers. */
export async function startPubsubEmulator(options: PubsubEmulatorOptions = {}): Promise<PubsubEmulator> {
  const launcher = findPubsubEmulator();
  assertJava(process.env);
  const host = options.host ?? "127.0.0.1";
  const port = options.port && options.port > 0 ? options.port : await freePort(host);
  const projectId = options.projectId ?? "batchline-local";
  const address = `${host}:${port}`;

  let stderrTail = "";
  let stopping = false;
  let restarts = 0;
  const spawnOnce = (): ChildProcess => {
    // Under the process guard: no emulator outlives the process that started it, however that process ends.
    const child = spawnGuarded(launcher, [`--host=${host}`, `--port=${port}`], {
      env: process.env,
      stdout: "ignore",
    });
    live.add(child);
    installExitHook();
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
      options.logger?.debug({ emulator: "pubsub" }, chunk.trimEnd());
    });
    child.once("exit", (code, signal) => {
      live.delete(child);
      child.stdin?.destroy();
      if (stopping || current !== child || options.supervise === undefined) return;
      const how = signal !== null ? `signal ${signal}` : `code ${code}`;
      options.logger?.warn(`Pub/Sub emulator exited (${how}); restarting it on ${address}`);
      void restart().catch((err: unknown) =>
        options.logger?.error({ err }, `the Pub/Sub emulator did not come back on ${address}`),
      );
    });
    return child;
  };
  const restart = async () => {
    await new Promise((r) => setTimeout(r, 200));
    if (stopping) return;
    restarts++;
    current = spawnOnce();
    await waitUntilAnswering(current);
    await options.supervise?.onRestart?.();
    options.logger?.warn(`Pub/Sub emulator serving again on ${address} (restart ${restarts})`);
  };
  const waitUntilAnswering = async (child: ChildProcess) => {
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    for (;;) {
      if (child.exitCode !== null) {
        throw new PubsubEmulatorError(
          `The Pub/Sub emulator exited with code ${child.exitCode} before answering on ${address}.\n${stderrTail}`,
        );
      }
      if (await answers(address)) return;
      if (Date.now() > deadline) {
        await stop();
        throw new PubsubEmulatorError(
          `The Pub/Sub emulator did not answer on ${address} in time.\n${stderrTail}`,
          { retryable: true },
        );
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  };

  let current = spawnOnce();
  // Resolves once the emulator's whole process group is gone.
  const stop = (): Promise<void> => {
    stopping = true;
    return stopGroup(current);
  };
  await waitUntilAnswering(current);

  const env = { PUBSUB_EMULATOR_HOST: address, PUBSUB_PROJECT_ID: projectId };
  if (options.exportEnv ?? true) Object.assign(process.env, env);
  options.logger?.info({ host: address }, "Pub/Sub emulator ready");
  return { host: address, port, projectId, env, pid: () => current.pid, restarts: () => restarts, stop };
}

async function answers(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
