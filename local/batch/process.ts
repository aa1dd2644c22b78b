import { type ChildProcess, spawn } from "node:child_process";

/**
 * Task processes, each in its own process group so a task's whole tree can be signalled at once, and so
 * nothing a task started outlives it or us.
 *
 * Every command runs under a small `sh` guard that is the group leader:
 * - it holds our stdin pipe on fd 3; if this Node process dies in any way (even SIGKILL), the pipe closes and
 *   the guard kills the whole group, so no task is orphaned;
 * - it traps TERM/INT (a trap, not an ignore, so the command still gets the default action) and keeps
 *   waiting, so a SIGTERM to the group reaches the command and the guard reports the command's own exit
 *   status (128+n when a signal ended it), as `docker run` does.
 * After the command exits, the rest of its group (background children, the guard's watcher) is SIGKILLed.
 */
const GUARD = [
  "trap ':' TERM INT HUP",
  "exec 3<&0",
  '"$0" "$@" </dev/null 3<&- & pid=$!',
  "{ read -r _ <&3; kill -s KILL 0; } >/dev/null 2>&1 &",
  'while :; do wait "$pid"; st=$?; kill -0 "$pid" 2>/dev/null || exit "$st"; done',
].join("\n");

export interface ExitStatus {
  /** Exit code of the command; 128+n when signal n ended it. */
  code: number;
}

export interface SpawnedTree {
  readonly pid: number;
  /** Resolves when the command has exited and its group has been cleared. */
  readonly exited: Promise<ExitStatus>;
  /** Signals the whole group; no-op once it is gone. */
  signal(signal: NodeJS.Signals): void;
}

export interface SpawnTreeOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Output as it arrives, stdout and stderr interleaved in arrival order. */
  onOutput: (chunk: Buffer, stream: "stdout" | "stderr") => void;
}

const live = new Set<number>();
let hooksInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}

/** SIGKILLs every task group still alive; what the exit and signal hooks call. */
export function killAllTaskProcesses(): void {
  for (const pgid of live) killGroup(pgid, "SIGKILL");
}

/** Number of task process groups still alive (for tests that assert nothing was left behind). */
export function liveTaskGroups(): number {
  return live.size;
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous; SIGKILL is.
  process.on("exit", killAllTaskProcesses);
  // Ctrl-C / kill: clear the task groups, then let the signal do what it would have done without us.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      killAllTaskProcesses();
      process.removeListener(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** Starts `argv` in a new process group under the guard. */
export function spawnTree(argv: readonly string[], options: SpawnTreeOptions): SpawnedTree {
  if (argv.length === 0) throw new Error("spawnTree: empty command");
  installHooks();
  const child: ChildProcess = spawn("sh", ["-c", GUARD, ...argv], {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const pid = child.pid;
  const exited = new Promise<ExitStatus>((resolve) => {
    let spawnError: Error | undefined;
    child.once("error", (err) => {
      spawnError = err;
    });
    child.stdout?.on("data", (chunk: Buffer) => options.onOutput(chunk, "stdout"));
    child.stderr?.on("data", (chunk: Buffer) => options.onOutput(chunk, "stderr"));
    let status: ExitStatus = { code: 1 };
    // The guard exited: clear its group at once (stray background children still hold the output pipes),
    // then 'close' fires when the pipes are drained, so no output is lost and nothing is left running.
    child.once("exit", (code, signal) => {
      status = { code: code ?? 128 + signalNumber(signal) };
      if (pid !== undefined) killGroup(pid, "SIGKILL");
    });
    child.once("close", () => {
      if (pid !== undefined) live.delete(pid);
      child.stdin?.destroy();
      if (spawnError) {
        options.onOutput(Buffer.from(`failed to start: ${spawnError.message}\n`), "stderr");
        resolve({ code: 127 });
        return;
      }
      resolve(status);
    });
  });
  if (pid !== undefined) live.add(pid);
  // The guard only ever reads EOF from this pipe; an EPIPE on it must not crash us.
  child.stdin?.on("error", () => {});
  return {
    pid: pid ?? -1,
    exited,
    signal(signal: NodeJS.Signals) {
      if (pid !== undefined && live.has(pid)) killGroup(pid, signal);
    },
  };
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (SIGNALS[signal] ?? 1) : 1;
}
