import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../core/logger.ts";
import { type Line, LineSplitter } from "../../worker/lines.ts";
import { resolveFrom } from "./config.ts";
import type { LocalJob } from "./jobs.ts";
import { openLog } from "./runner.ts";
import { GROUP } from "./spec.ts";

/** Cloud Logging keeps at most 256 KiB of one entry; a longer output line is cut there. */
const MAX_LINE_BYTES = 256 * 1024;

export interface TaskOutputForwarder {
  stdout: { push(chunk: Buffer): void };
  stderr: { push(chunk: Buffer): void };
  close(): Promise<void>;
}

/** Lines of one output stream, handed on as text once complete. */
function lineStream(emit: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  const splitter = new LineSplitter({ maxLineBytes: MAX_LINE_BYTES, keepPrefixBytes: MAX_LINE_BYTES });
  const take = (lines: Iterable<Line>) => {
    for (const l of lines) emit((l.kind === "line" ? l.bytes : l.prefix).toString("utf8"));
  };
  return {
    push: (chunk) => take(splitter.push(chunk)),
    end: () => take(splitter.end()),
  };
}

/**
 * Where task output goes besides the attempt's log file, per job.logsPolicy: CLOUD_LOGGING sends each line
 * to the logger (stdout as INFO, stderr as ERROR, as Batch does to Cloud Logging), PATH appends it to a file
 * under logsPath. Undefined when the job keeps its logs nowhere else.
 */
export async function forwardTaskOutput(
  job: LocalJob,
  index: number,
  attempt: number,
  rootDir: string,
  logger: Logger,
): Promise<TaskOutputForwarder | undefined> {
  const policy = job.spec.logsPolicy;
  if (policy?.destination === "PATH" && policy.logsPath) {
    const dir = resolveFrom(rootDir, policy.logsPath);
    await mkdir(dir, { recursive: true });
    const copy = await openLog(join(dir, `${job.uid}-${GROUP}-${index}-${attempt}.log`));
    const write = (line: string) => copy.write(Buffer.from(`${line}\n`));
    const stdout = lineStream(write);
    const stderr = lineStream(write);
    return {
      stdout,
      stderr,
      async close() {
        stdout.end();
        stderr.end();
        await copy.close();
      },
    };
  }
  if (policy?.destination !== "CLOUD_LOGGING") return undefined;
  const labels = {
    job: job.name,
    job_uid: job.uid,
    task_id: `task/${job.uid}-${GROUP}-${index}/${attempt}/0`,
    ...(job.spec.labels ?? {}),
  };
  const emit = (severity: "info" | "error") => (line: string) => {
    let fields: Record<string, unknown> = { ...labels, logName: "batch_task_logs" };
    let message = line;
    if (line.startsWith("{")) {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (typeof parsed.message === "string") message = parsed.message;
        fields = { ...fields, jsonPayload: parsed };
      } catch {
        // Not JSON after all: keep the text.
      }
    }
    logger[severity](fields, message);
  };
  const stdout = lineStream(emit("info"));
  const stderr = lineStream(emit("error"));
  return {
    stdout,
    stderr,
    async close() {
      stdout.end();
      stderr.end();
    },
  };
}
