import { open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BatchLocalConfig, type ImageMapping, resolveFrom, resolveImage } from "./config.ts";
import { type SpawnedTree, spawnTree } from "./process.ts";
import { durationMs } from "./schema.ts";
import type { SecretResolver } from "./secrets.ts";
import type { EnvironmentJson, RunnableJson, TaskGroupJson } from "./spec.ts";
import { EXIT_CODES } from "./status.ts";
import { containerView, VmPathError } from "./vm-paths.ts";

/**
 * One attempt of one task: its runnables in order, as the Batch agent runs them on a VM.
 * - A runnable that exits non-zero fails the task, unless it has `ignoreExitStatus`; after a failure only
 *   `alwaysRun` runnables still run. The task's exit code is the first failing runnable's.
 * - `background` runnables are started and not waited for; they are killed a short time after the last
 *   foreground runnable ends, and how they end does not count.
 * - `maxRunDuration` limits the whole attempt and a runnable's `timeout` that runnable: either one kills the
 *   running process tree (SIGTERM, then SIGKILL after the grace period) and fails the task with exit code
 *   50005; no further runnable runs, not even `alwaysRun` ones.
 */

export interface AttemptSettings {
  config: BatchLocalConfig;
  /** The config file's name, for messages about the image map. */
  configFile: string;
  rootDir: string;
  secrets: SecretResolver;
  /** Host variables every task process inherits (PATH, HOME, …). */
  baseEnv: Record<string, string>;
  killGraceMs: number;
}

export interface AttemptInput {
  group: TaskGroupJson;
  index: number;
  taskCount: number;
  attempt: number;
  /** Scratch directory of this attempt (scripts are written and run here). */
  workDir: string;
  hostsFile?: string;
  /** Where stdout and stderr of every runnable go, interleaved. */
  output: (chunk: Buffer, stream: "stdout" | "stderr") => void;
  /** Called once, when the first runnable has started. */
  onRunning: () => void;
  /** Aborting kills the attempt's processes (job deleted or cancelled). */
  signal: AbortSignal;
  /** SIGKILL at once on abort (deletion) instead of SIGTERM and the grace period (cancellation). */
  killAtOnce: () => boolean;
}

export interface AttemptResult {
  exitCode: number;
  /** Why Batch ended the task, when it was not the runnables' own exit status. */
  reason?: string;
  aborted: boolean;
}

class TaskSetupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly reason: string,
  ) {
    super(message);
  }
}

function note(input: AttemptInput, text: string): void {
  input.output(Buffer.from(`[local batch] ${text}\n`), "stderr");
}

async function secretValues(
  env: EnvironmentJson | undefined,
  secrets: SecretResolver,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, ref] of Object.entries(env?.secretVariables ?? {})) {
    try {
      out[name] = await secrets.resolve(ref);
    } catch (err) {
      throw new TaskSetupError(
        (err as Error).message,
        EXIT_CODES.GENERIC_FAILURE,
        `secret variable ${name} could not be read (${(err as Error).message})`,
      );
    }
  }
  return out;
}

/** Environment of one runnable: task group, then per-task, then the runnable's own, then Batch's variables. */
async function runnableEnv(
  settings: AttemptSettings,
  input: AttemptInput,
  runnable: RunnableJson,
  image: ImageMapping | undefined,
): Promise<Record<string, string>> {
  const spec = input.group.taskSpec ?? {};
  const perTask = input.group.taskEnvironments?.[input.index];
  const env: Record<string, string> = {
    ...settings.baseEnv,
    ...settings.config.env,
    ...(image?.env ?? {}),
    ...(spec.environments ?? {}),
    ...(spec.environment?.variables ?? {}),
    ...(await secretValues(spec.environment, settings.secrets)),
    ...(perTask?.variables ?? {}),
    ...(await secretValues(perTask, settings.secrets)),
    ...(runnable.environment?.variables ?? {}),
    ...(await secretValues(runnable.environment, settings.secrets)),
    BATCH_TASK_INDEX: String(input.index),
    BATCH_TASK_COUNT: String(input.taskCount),
    BATCH_TASK_RETRY_ATTEMPT: String(input.attempt),
  };
  if (input.hostsFile) env.BATCH_HOSTS_FILE = input.hostsFile;
  return env;
}

/** `#!/usr/bin/env python3` -> ["/usr/bin/env", "python3"]; no shebang -> the default `/bin/sh`. */
function interpreter(firstLine: string): string[] {
  if (!firstLine.startsWith("#!")) return ["sh"];
  const parts = firstLine.slice(2).trim().split(/\s+/).filter(Boolean);
  // Linux passes everything after the interpreter as one argument.
  return parts.length <= 1 ? parts : [parts[0] as string, parts.slice(1).join(" ")];
}

async function scriptCommand(
  settings: AttemptSettings,
  input: AttemptInput,
  script: NonNullable<RunnableJson["script"]>,
  ordinal: number,
): Promise<string[]> {
  if (script.text !== undefined && script.text !== "") {
    const file = join(input.workDir, `runnable-${ordinal}.sh`);
    await writeFile(file, script.text, { mode: 0o755 });
    return [...interpreter(script.text.split("\n", 1)[0] ?? ""), file];
  }
  const path = resolveFrom(settings.rootDir, script.path as string);
  let head: string;
  try {
    head = (await readFile(path, "utf8")).split("\n", 1)[0] ?? "";
  } catch (err) {
    throw new TaskSetupError(
      (err as Error).message,
      127,
      `script path ${script.path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return [...interpreter(head), path];
}

/**
 * `docker run` semantics over the image map: the mapping's `command` is the image's ENTRYPOINT and `args` its
 * CMD. `container.entrypoint` replaces the ENTRYPOINT (and, as with `docker run --entrypoint`, drops the
 * CMD); `container.commands` replace the CMD and are appended to the entrypoint as arguments.
 */
export function containerCommand(
  mapping: ImageMapping,
  container: NonNullable<RunnableJson["container"]>,
): string[] {
  const commands = container.commands ?? [];
  if (container.entrypoint) return [container.entrypoint, ...commands];
  return [...mapping.command, ...(commands.length > 0 ? commands : mapping.args)];
}

interface Running {
  tree: SpawnedTree;
  background: boolean;
}

/** Ends a process tree: SIGTERM, then SIGKILL once the grace period is over (or at once). */
async function stop(tree: SpawnedTree, graceMs: number, atOnce: boolean): Promise<void> {
  if (atOnce) {
    tree.signal("SIGKILL");
  } else {
    tree.signal("SIGTERM");
    const timer = setTimeout(() => tree.signal("SIGKILL"), graceMs);
    await tree.exited;
    clearTimeout(timer);
  }
  await tree.exited;
}

export async function runAttempt(settings: AttemptSettings, input: AttemptInput): Promise<AttemptResult> {
  const spec = input.group.taskSpec ?? {};
  const runnables = spec.runnables ?? [];
  const started = Date.now();
  const taskDeadline =
    spec.maxRunDuration !== undefined ? started + durationMs(spec.maxRunDuration) : Infinity;
  const background: Running[] = [];
  let failure: { exitCode: number; reason?: string } | undefined;
  let timedOut = false;
  let announced = false;
  const running = new Set<Running>();

  const onAbort = () => {
    for (const r of running) void stop(r.tree, settings.killGraceMs, input.killAtOnce());
  };
  input.signal.addEventListener("abort", onAbort);
  try {
    for (const [i, runnable] of runnables.entries()) {
      if (input.signal.aborted) break;
      if (timedOut) break;
      if (failure && !runnable.alwaysRun) continue;
      if (Date.now() >= taskDeadline) {
        timedOut = true;
        break;
      }
      let argv: string[];
      let cwd = input.workDir;
      let env: Record<string, string>;
      try {
        if (runnable.container) {
          const imageUri = runnable.container.imageUri as string;
          const found = resolveImage(settings.config.images, imageUri);
          if (!found) {
            throw new TaskSetupError(
              `container image "${imageUri}" has no local mapping`,
              EXIT_CODES.IMAGE_UNAVAILABLE,
              `container image "${imageUri}" having no local mapping (add it under batch.images in ${settings.configFile})`,
            );
          }
          const view = await containerView(join(input.workDir, "vm"), runnable.container).catch((err) => {
            if (err instanceof VmPathError) throw new TaskSetupError(err.message, err.exitCode, err.reason);
            throw err;
          });
          const c = runnable.container;
          argv = containerCommand(found.mapping, {
            ...c,
            ...(c.entrypoint !== undefined ? { entrypoint: view.translate(c.entrypoint) } : {}),
            ...(c.commands !== undefined ? { commands: c.commands.map(view.translate) } : {}),
          });
          cwd = resolveFrom(settings.rootDir, found.mapping.cwd);
          const own = await runnableEnv(settings, input, runnable, found.mapping);
          // docker: variables given with -e (the job's) win over the env file's.
          env = { ...view.envFile };
          for (const [k, v] of Object.entries(own)) env[k] = view.translate(v);
        } else {
          argv = await scriptCommand(settings, input, runnable.script ?? {}, i);
          env = await runnableEnv(settings, input, runnable, undefined);
        }
      } catch (err) {
        if (!(err instanceof TaskSetupError)) throw err;
        note(input, `runnable ${i}: ${err.message}`);
        if (!announced) {
          announced = true;
          input.onRunning();
        }
        if (!failure) failure = { exitCode: err.exitCode, reason: err.reason };
        continue;
      }
      const label = runnable.displayName ? `${runnable.displayName} (runnable ${i})` : `runnable ${i}`;
      const tree = spawnTree(argv, { cwd, env, onOutput: input.output });
      const entry: Running = { tree, background: runnable.background === true };
      running.add(entry);
      void tree.exited.then(() => running.delete(entry));
      // Aborted while the command was being prepared: the abort listener has run already, stop this one too.
      if (input.signal.aborted) void stop(tree, settings.killGraceMs, input.killAtOnce());
      if (!announced) {
        announced = true;
        input.onRunning();
      }
      if (entry.background) {
        background.push(entry);
        continue;
      }
      const runnableDeadline =
        runnable.timeout !== undefined ? Date.now() + durationMs(runnable.timeout) : Infinity;
      const deadline = Math.min(taskDeadline, runnableDeadline);
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<"timeout">((resolve) => {
        if (deadline !== Infinity)
          timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
      });
      const outcome = await Promise.race([tree.exited, expired]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        timedOut = true;
        note(
          input,
          `${label} ran over ${deadline === runnableDeadline ? `its timeout ${runnable.timeout}` : `maxRunDuration ${spec.maxRunDuration}`}; stopping it`,
        );
        await stop(tree, settings.killGraceMs, false);
        break;
      }
      if (input.signal.aborted) break;
      if (outcome.code !== 0 && !runnable.ignoreExitStatus && !failure) {
        failure = { exitCode: outcome.code };
      }
    }
  } finally {
    input.signal.removeEventListener("abort", onAbort);
    // Background runnables end with the task; how they end does not count.
    await Promise.all(
      background.map((b) => stop(b.tree, settings.killGraceMs, input.signal.aborted && input.killAtOnce())),
    );
    await Promise.all([...running].map((r) => stop(r.tree, settings.killGraceMs, true)));
  }
  if (input.signal.aborted) return { exitCode: EXIT_CODES.GENERIC_FAILURE, aborted: true };
  if (timedOut)
    return { exitCode: EXIT_CODES.TIMEOUT, reason: "task runs over the maximum runtime", aborted: false };
  if (failure) return { ...failure, aborted: false };
  return { exitCode: 0, aborted: false };
}

/** Opens an append-only log file for one attempt. */
export async function openLog(file: string): Promise<{ write(chunk: Buffer): void; close(): Promise<void> }> {
  const handle = await open(file, "a");
  let chain: Promise<unknown> = Promise.resolve();
  return {
    write(chunk: Buffer) {
      chain = chain.then(() => handle.write(chunk));
    },
    async close() {
      await chain;
      await handle.close();
    },
  };
}
