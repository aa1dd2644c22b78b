import { mkdir, readFile } from "node:fs/promises";
import { isAbsolute, join, posix } from "node:path";
import { EXIT_CODES } from "./status.ts";

/**
 * Container volumes and `--env-file`, locally. There are no containers here, so a task's processes see the
 * machine's own file system; what Batch would bind-mount is stood in for by path translation:
 *
 * - each task attempt has its own "VM disk", a directory under the attempt's scratch directory: a VM path
 *   such as `/mnt/disks/x` is `<attempt>/vm/mnt/disks/x` (on Batch a retry may land on another VM too);
 * - a container volume `HOST:CONTAINER[:ro|rw]` makes CONTAINER in the runnable's command, entrypoint and
 *   variable values (an argument or value that is CONTAINER or starts with `CONTAINER/`) mean HOST's stand-in;
 * - `--env-file PATH` in `container.options` reads PATH (a VM path) when the runnable starts, as
 *   `docker run` does; other docker options do not apply locally and are ignored.
 */

export class VmPathError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly reason: string,
  ) {
    super(message);
  }
}

export interface ContainerView {
  /** Rewrites a container path (or any text starting with one) to the local stand-in. */
  translate(text: string): string;
  /** Variables from `--env-file`, in file order, values translated. */
  envFile: Record<string, string>;
}

/** The local stand-in of a VM path, for this attempt. */
export function vmPath(vmRoot: string, path: string): string {
  return join(vmRoot, posix.normalize(path));
}

function parseVolume(spec: string): { host: string; container: string } | undefined {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3) return undefined;
  const [host, container] = parts as [string, string];
  if (!host.startsWith("/") || !container.startsWith("/")) return undefined;
  return { host, container: posix.normalize(container).replace(/\/$/, "") || "/" };
}

/** `--env-file X`, `--env-file=X` in a docker options string. */
function envFilesIn(options: string | undefined): string[] {
  const tokens = (options ?? "").trim().split(/\s+/).filter(Boolean);
  const files: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    if (t === "--env-file" && tokens[i + 1] !== undefined) files.push(tokens[++i] as string);
    else if (t.startsWith("--env-file=")) files.push(t.slice("--env-file=".length));
  }
  return files;
}

/** docker's env-file format: NAME=VALUE per line, taken literally; `#` lines and blank lines skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const eq = line.indexOf("=");
    // A bare NAME takes the host's value in docker; the local Batch passes no host variables that way.
    if (eq <= 0) continue;
    out[line.slice(0, eq).trimStart()] = line.slice(eq + 1);
  }
  return out;
}

export async function containerView(
  vmRoot: string,
  container: { volumes?: string[]; options?: string },
): Promise<ContainerView> {
  const mounts: { container: string; local: string }[] = [];
  for (const spec of container.volumes ?? []) {
    const v = parseVolume(spec);
    if (!v) {
      throw new VmPathError(
        `volume "${spec}" is not HOST_PATH:CONTAINER_PATH[:ro|rw]`,
        125,
        `container volume "${spec}" not being HOST_PATH:CONTAINER_PATH`,
      );
    }
    const local = vmPath(vmRoot, v.host);
    // docker creates a missing host directory of a bind mount.
    await mkdir(local, { recursive: true });
    mounts.push({ container: v.container, local });
  }
  mounts.sort((a, b) => b.container.length - a.container.length);
  const translate = (text: string): string => {
    for (const m of mounts) {
      if (text === m.container) return m.local;
      if (m.container === "/" ? text.startsWith("/") : text.startsWith(`${m.container}/`)) {
        return join(m.local, text.slice(m.container.length));
      }
    }
    return text;
  };
  const envFile: Record<string, string> = {};
  for (const file of envFilesIn(container.options)) {
    const local = isAbsolute(file) ? vmPath(vmRoot, file) : file;
    let text: string;
    try {
      text = await readFile(local, "utf8");
    } catch (err) {
      throw new VmPathError(
        `--env-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        EXIT_CODES.IMAGE_UNAVAILABLE,
        `env file ${file} not being readable (${(err as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
    for (const [k, v] of Object.entries(parseEnvFile(text))) envFile[k] = translate(v);
  }
  return { translate, envFile };
}
