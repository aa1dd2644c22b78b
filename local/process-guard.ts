import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";

// Runs a command under a small shell guard: the guard holds our end of a stdin pipe on fd 3 and, when it closes
// because the starting process died without stopping the command (SIGKILL, a crash, death by a signal, when
// no 'exit' handler runs), kills the command. (sh gives background jobs /dev/null as stdin, hence fd 3.)
const GUARD =
  'exec 3<&0; "$0" "$@" </dev/null & pid=$!; { read -r _ <&3; kill -TERM "$pid" 2>/dev/null; } & wait "$pid"';

/**
 * Spawns `command args…` in a process group of its own (so stop can signal the whole tree) under the guard,
 * so the command never outlives this process. stdout and stderr are as `options.stdio` says; stdin is the
 * guard's pipe.
 */
export function spawnGuarded(
  command: string,
  args: readonly string[],
  options: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    stdout?: "pipe" | "ignore";
    stderr?: "pipe" | "ignore";
  } = {},
): ChildProcess {
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ["pipe", options.stdout ?? "pipe", options.stderr ?? "pipe"],
  };
  return spawn("sh", ["-c", GUARD, command, ...args], spawnOptions);
}

/** Signals the child's whole process group; quiet when it is already gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function groupAlive(child: ChildProcess): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the child's whole process group: SIGTERM, then SIGKILL after `graceMs`, and resolves only once no
 * process of the group is left (the guard exits before the command it guards has finished shutting down).
 */
export async function stopGroup(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (!groupAlive(child)) return;
  killGroup(child, "SIGTERM");
  // Closing our end of the guard's pipe also ends its reader, which would otherwise wait on it.
  child.stdin?.destroy();
  const deadline = Date.now() + graceMs;
  let killed = false;
  while (groupAlive(child)) {
    if (!killed && Date.now() > deadline) {
      killGroup(child, "SIGKILL");
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
