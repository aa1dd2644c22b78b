import { open, stat } from "node:fs/promises";
import { BatchApiError } from "../batch/errors.ts";
import type { JobJson, LocalBatch } from "../batch/index.ts";
import { type FilterableEntry, SEVERITY } from "./filter.ts";

/** The log Batch writes task output to: `projects/P/logs/batch_task_logs`. */
export const TASK_LOG_ID = "batch_task_logs";

/** The task group every local job has (Batch names its only group `group0`). */
const GROUP = "group0";

/** Structured-logging fields Cloud Logging lifts out of a JSON line instead of keeping in jsonPayload. */
const SPECIAL = ["severity", "time", "timestamp", "logging.googleapis.com/labels"];

/** What has been read of one attempt's log file. */
interface FileState {
  offset: number;
  /** Bytes of a line whose end has not been written yet. */
  partial: Buffer;
  entries: FilterableEntry[];
}

/** Batch's task_id label: `task/<job uid>-group0-<index>/<attempt>/0`. */
export function taskIdLabel(jobUid: string, index: number, attempt: number): string {
  return `task/${jobUid}-${GROUP}-${index}/${attempt}/0`;
}

/**
 * One line of task output as the LogEntry Cloud Logging would hold: a JSON object line becomes jsonPayload,
 * with its `severity`, `time` and `logging.googleapis.com/labels` taken as the entry's own (Cloud Logging's
 * structured-logging fields); any other line is textPayload with severity DEFAULT (the local log file
 * interleaves stdout and stderr, so which stream a line came from is not known).
 */
export function lineEntry(
  line: string,
  base: { logName: string; labels: Record<string, string>; insertId: string; seenAt: string },
): FilterableEntry {
  const entry: FilterableEntry = {
    logName: base.logName,
    timestamp: base.seenAt,
    receiveTimestamp: base.seenAt,
    severity: "DEFAULT",
    insertId: base.insertId,
    labels: { ...base.labels },
  };
  let parsed: unknown;
  if (line.startsWith("{")) {
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    entry.textPayload = line;
    return entry;
  }
  const json = parsed as Record<string, unknown>;
  const severity = typeof json.severity === "string" ? json.severity.toUpperCase() : undefined;
  if (severity !== undefined && severity in SEVERITY) entry.severity = severity;
  const time = typeof json.time === "string" ? json.time : json.timestamp;
  if (typeof time === "string" && !Number.isNaN(Date.parse(time))) {
    entry.timestamp = new Date(Date.parse(time)).toISOString();
  }
  const labels = json["logging.googleapis.com/labels"];
  if (labels !== null && typeof labels === "object") {
    // Batch's own labels win over the ones a line asks for.
    const own: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels as Record<string, unknown>)) own[k] = String(v);
    entry.labels = { ...own, ...base.labels };
  }
  entry.jsonPayload = Object.fromEntries(Object.entries(json).filter(([k]) => !SPECIAL.includes(k)));
  return entry;
}

function isNotFound(err: unknown): boolean {
  return err instanceof BatchApiError && err.status === "NOT_FOUND";
}

/**
 * The task logs of a LocalBatch as Cloud Logging entries. Each attempt's log file is read incrementally and
 * remembered, so an entry keeps its timestamp and insertId from one request to the next; a line without a
 * `time` of its own is stamped with the file's modification time when it was first read (no earlier than
 * when it was written). Only jobs with `logsPolicy.destination: CLOUD_LOGGING` have entries, as on Batch.
 */
export class TaskLogEntries {
  private readonly files = new Map<string, FileState>();

  constructor(private readonly batch: LocalBatch) {}

  /** Every entry of the jobs of `project`, in no particular order. */
  async entries(project: string): Promise<FilterableEntry[]> {
    const out: FilterableEntry[] = [];
    const { jobs } = this.batch.listJobs(`projects/${project}/locations/-`);
    for (const job of jobs) {
      if (job.logsPolicy?.destination !== "CLOUD_LOGGING") continue;
      out.push(...(await this.jobEntries(project, job)));
    }
    return out;
  }

  private async jobEntries(project: string, job: JobJson): Promise<FilterableEntry[]> {
    const name = String(job.name);
    const uid = String(job.uid);
    const taskCount = Number(job.taskGroups?.[0]?.taskCount ?? 0);
    const state = String((job.status as { state?: string } | undefined)?.state ?? "");
    const ended = ["SUCCEEDED", "FAILED", "CANCELLED", "DELETION_IN_PROGRESS"].includes(state);
    const out: FilterableEntry[] = [];
    for (let index = 0; index < taskCount; index++) {
      for (let attempt = 0; ; attempt++) {
        let path: string;
        try {
          path = this.batch.taskLogPath(name, index, attempt);
        } catch (err) {
          if (isNotFound(err)) break;
          throw err;
        }
        let later = true;
        try {
          this.batch.taskLogPath(name, index, attempt + 1);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          later = false;
        }
        const labels: Record<string, string> = {
          ...((job.labels as Record<string, string> | undefined) ?? {}),
          job_uid: uid,
          task_id: taskIdLabel(uid, index, attempt),
        };
        const insertPrefix = `${uid.slice(-12)}-${String(index).padStart(6, "0")}-${String(attempt).padStart(2, "0")}`;
        out.push(
          ...(await this.read(path, {
            logName: `projects/${project}/logs/${TASK_LOG_ID}`,
            labels,
            insertPrefix,
            finished: ended || later,
          })),
        );
      }
    }
    return out;
  }

  private async read(
    path: string,
    how: { logName: string; labels: Record<string, string>; insertPrefix: string; finished: boolean },
  ): Promise<FilterableEntry[]> {
    let state = this.files.get(path);
    if (!state) {
      state = { offset: 0, partial: Buffer.alloc(0), entries: [] };
      this.files.set(path, state);
    }
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      return state.entries;
    }
    const seenAt = info.mtime.toISOString();
    if (info.size > state.offset) {
      const handle = await open(path, "r");
      try {
        const chunk = Buffer.alloc(info.size - state.offset);
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, state.offset);
        state.offset += bytesRead;
        state.partial = Buffer.concat([state.partial, chunk.subarray(0, bytesRead)]);
      } finally {
        await handle.close();
      }
    }
    let newline = state.partial.indexOf(0x0a);
    const add = (bytes: Buffer) => {
      const line = bytes.toString("utf8").replace(/\r$/, "");
      const insertId = `${how.insertPrefix}-${String(state.entries.length).padStart(8, "0")}`;
      state.entries.push(lineEntry(line, { logName: how.logName, labels: how.labels, insertId, seenAt }));
    };
    while (newline >= 0) {
      add(state.partial.subarray(0, newline));
      state.partial = state.partial.subarray(newline + 1);
      newline = state.partial.indexOf(0x0a);
    }
    if (how.finished && state.partial.length > 0) {
      add(state.partial);
      state.partial = Buffer.alloc(0);
    }
    return state.entries;
  }
}
