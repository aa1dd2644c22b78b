import { Cron } from "croner";
import { readInputs } from "../cli/inputs.ts";
import { logLine } from "../cli/logs.ts";
import type { OperatorCloud } from "../cli/operate/cloud.ts";
import { executionOutcome } from "../cli/operate/executions.ts";
import { taskLogFilter } from "../cli/operate/log-filter.ts";
import { getJob, runContext } from "../cli/operate/run-context.ts";
import { UsageError } from "../cli/operate/usage.ts";
import { clearFailures, inputObjectName, type RetryOutcome } from "../cli/retry.ts";
import { type StartedRun, startManualRun } from "../cli/run.ts";
import { listRuns, scanExecutions } from "../cli/runs.ts";
import { type RunStatus, runStatus, type TaskStatus } from "../cli/status.ts";
import { topicName } from "../core/ids.ts";
import { type ResultMessageV1, resultMessageAttributes } from "../core/messages.ts";
import { areaPrefix, assertSafeObjectName } from "../core/naming.ts";
import { isNotFound } from "../functions/shared/errors.ts";
import { mapLimit } from "../functions/shared/limit.ts";
import type { TopicRecorder } from "./messages.ts";
import {
  type BucketView,
  type ClientView,
  INPUTS_SHOWN,
  type InfoView,
  type InputView,
  LOG_LINES,
  type LogsView,
  type MessagesView,
  PREVIEW_BYTES,
  type PreviewView,
  type RunsView,
  type RunView,
  type TimelineView,
} from "./views.ts";

/** A request the console cannot answer, with the HTTP status that says why. */
export class ConsoleProblem extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** Everything the console shows and does; the server only routes to it. */
export interface ConsoleSource {
  info(): InfoView;
  clients(): Promise<ClientView[]>;
  runs(): Promise<RunsView>;
  run(client: string, runId: string): Promise<RunView>;
  logs(client: string, runId: string, task: number | undefined): Promise<LogsView>;
  preview(object: string): Promise<PreviewView>;
  bucket(prefix: string): Promise<BucketView>;
  messages(client: string): Promise<MessagesView>;
  upload(client: string, path: string, contents: Buffer): Promise<{ object: string; generation: string }>;
  startRun(client: string): Promise<StartedRun>;
  retry(client: string, input: string): Promise<RetryOutcome>;
}

/** Runs per client the runs page reads. */
const RUNS_PER_CLIENT = 20;
/** Clients whose records are read at the same time. */
const CLIENTS_AT_ONCE = 4;
const LIVE_STATUSES = new Set(["RUNNING", "PLANNING"]);

/** Task display state from a Batch task state. */
function mark(state: string): string {
  if (state === "RUNNING") return "r";
  if (state === "SUCCEEDED") return "s";
  if (state === "FAILED") return "f";
  return "q";
}

/** The first move to RUNNING and the last move to an end state, from a task's status events. */
function taskTimes(task: TaskStatus): { start: number; end: number } {
  let start = -1;
  let end = -1;
  for (const e of task.events) {
    const at = e.time ? Date.parse(e.time) : Number.NaN;
    if (Number.isNaN(at)) continue;
    if (start < 0 && / to RUNNING\b/.test(e.description)) start = at;
    if (/ to (SUCCEEDED|FAILED)\b/.test(e.description)) end = at;
  }
  return { start, end };
}

/** The columns the timeline draws, from what `batchline status` reads. */
export function timelineOf(status: RunStatus, origin: number | null, now: number): TimelineView {
  const tasks = status.tasks;
  let states = "";
  const attempts: number[] = [];
  const start: number[] = [];
  const end: number[] = [];
  if (tasks.length === 0) {
    // No job to ask (not created yet, or deleted): the inputs' outcomes still say how each task ended.
    for (const input of status.inputs) {
      states += input.status === "SUCCEEDED" ? "s" : input.status === "FAILED" ? "f" : "q";
      attempts.push(0);
      start.push(-1);
      end.push(-1);
    }
    return { origin, now, states, attempts, start, end };
  }
  let base = origin;
  const times = tasks.map(taskTimes);
  if (base === null) {
    for (const t of times) if (t.start >= 0 && (base === null || t.start < base)) base = t.start;
  }
  tasks.forEach((task, i) => {
    const t = times[i] ?? { start: -1, end: -1 };
    states += mark(task.state);
    attempts.push(task.attempts);
    start.push(t.start >= 0 && base !== null ? t.start - base : -1);
    end.push(t.end >= 0 && base !== null ? t.end - base : -1);
  });
  return { origin: base, now, states, attempts, start, end };
}

export function countsOf(timeline: TimelineView): RunView["counts"] {
  const counts = { queued: 0, running: 0, retried: 0, succeeded: 0, failed: 0 };
  for (let i = 0; i < timeline.states.length; i++) {
    const s = timeline.states[i];
    if (s === "q") counts.queued++;
    else if (s === "r") counts.running++;
    else if (s === "s") counts.succeeded++;
    else counts.failed++;
    if ((timeline.attempts[i] ?? 0) > 1) counts.retried++;
  }
  return counts;
}

/** Failed inputs first, then those with bad records, then by index; at most INPUTS_SHOWN. */
function inputsWorthSeeing(status: RunStatus, errorsOf: Map<number, string | null>): InputView[] {
  const rank = (i: RunStatus["inputs"][number]) =>
    i.status === "FAILED" ? 0 : (i.badRecords ?? 0) > 0 ? 1 : 2;
  return [...status.inputs]
    .sort((a, b) => rank(a) - rank(b) || a.index - b.index)
    .slice(0, INPUTS_SHOWN)
    .map((i) => ({
      index: i.index,
      object: i.object,
      generation: i.generation,
      output: i.output,
      errors: errorsOf.get(i.index) ?? null,
      status: i.status,
      records: i.records,
      badRecords: i.badRecords,
      reason: i.reason,
    }));
}

export interface OperatorSourceOptions {
  cloud: OperatorCloud;
  /** On the local cloud: its topic recorder, and actions are allowed. Null against GCP (read-only). */
  local: { recorder: TopicRecorder } | null;
  now?: () => Date;
}

/**
 * The console's data, read through the same functions as the operator commands (`runs`, `status`, `logs`,
 * `inputs`, `retry`, `run`), so the page and the CLI never disagree.
 */
export function operatorSource(options: OperatorSourceOptions): ConsoleSource {
  const { cloud, local } = options;
  const now = options.now ?? (() => new Date());
  const { platform } = cloud.config;
  const clientOf = (id: string) => {
    const client = cloud.config.clients.get(id);
    if (!client) throw new ConsoleProblem(404, `unknown client "${id}"`);
    return client;
  };
  const requireLocal = (what: string) => {
    if (!local)
      throw new ConsoleProblem(
        403,
        `${what} is only available on the local cloud (this console is read-only)`,
      );
    return local;
  };
  const asProblem = (err: unknown): never => {
    if (err instanceof UsageError) throw new ConsoleProblem(404, err.message);
    throw err;
  };
  /** Job uids by run, once known: the logs of a live run are read every few seconds. */
  const jobUids = new Map<string, string>();

  return {
    info() {
      return {
        target: cloud.target,
        readOnly: local === null,
        local: local !== null,
        bucket: platform.bucket,
        clients: [...cloud.config.clients.keys()],
        note:
          local === null
            ? `Read-only: this console reads ${cloud.target} through the official clients; upload, run and retry with the CLI (batchline run, batchline retry).`
            : null,
      };
    },

    async clients() {
      const at = now();
      const scan = await scanExecutions(cloud);
      return mapLimit(
        [...cloud.config.clients.values()],
        CLIENTS_AT_ONCE,
        async (client): Promise<ClientView> => {
          const [{ rows }, inputs] = await Promise.all([
            listRuns(cloud, client.id, 1, at, scan),
            readInputs(cloud, client, at),
          ]);
          const counts: Record<string, number> = {};
          for (const row of inputs) counts[row.state] = (counts[row.state] ?? 0) + 1;
          const last = rows[0];
          const schedule = client.schedule
            ? {
                cron: client.schedule.cron,
                timeZone: client.schedule.timeZone,
                mode: client.schedule.mode,
                nextRun:
                  new Cron(client.schedule.cron, { timezone: client.schedule.timeZone, paused: true })
                    .nextRun(at)
                    ?.toISOString() ?? null,
              }
            : null;
          return {
            id: client.id,
            displayName: client.displayName ?? null,
            config: client,
            schedule,
            lastRun: last ? { client: client.id, ...last } : null,
            inputs: counts,
            topic: topicName(platform.product, client.id),
          };
        },
      );
    },

    async runs() {
      const at = now();
      const runs: RunsView["runs"] = [];
      const nothingToDo: Record<string, number> = {};
      // One read of the executions for every client, then each client's records.
      const scan = await scanExecutions(cloud);
      const clients = [...cloud.config.clients.keys()];
      const lists = await mapLimit(clients, CLIENTS_AT_ONCE, (client) =>
        listRuns(cloud, client, RUNS_PER_CLIENT, at, scan),
      );
      for (const [i, listed] of lists.entries()) {
        const client = clients[i] as string;
        nothingToDo[client] = listed.nothingToDo;
        for (const r of listed.rows) {
          runs.push({
            client,
            runId: r.runId,
            trigger: r.trigger,
            plannedAt: r.plannedAt,
            startedAt: r.startedAt,
            inputs: r.inputs,
            status: r.status,
            detail: r.detail,
            error: r.error,
          });
        }
      }
      const time = (r: RunsView["runs"][number]) => r.plannedAt ?? r.startedAt ?? "";
      runs.sort((a, b) => time(b).localeCompare(time(a)));
      return { runs, nothingToDo };
    },

    async run(client, runId) {
      clientOf(client);
      const ctx = await runContext(cloud, client, runId).catch(asProblem);
      const status = await runStatus(cloud, client, ctx);
      const plannedAt = ctx.manifest?.plannedAt ?? null;
      const startTime = status.execution?.startTime ?? null;
      const origin = plannedAt ? Date.parse(plannedAt) : startTime ? Date.parse(startTime) : null;
      const timeline = timelineOf(status, origin, now().getTime());
      const errorsOf = new Map((ctx.summary?.inputs ?? []).map((i) => [i.index, i.errors]));
      let message: RunView["message"] = null;
      if (ctx.summary?.message) {
        const received = local?.recorder.byRun(client, runId);
        let attributes: Record<string, string> | null = received?.attributes ?? null;
        if (!attributes) {
          try {
            attributes = resultMessageAttributes(ctx.summary.message as ResultMessageV1);
          } catch {
            attributes = null;
          }
        }
        message = {
          body: received ? JSON.parse(received.data) : ctx.summary.message,
          messageId: received?.messageId ?? ctx.summary.messageId,
          attributes,
        };
      }
      // An execution that ended without planning anything (its inputs were taken by another run, or its event
      // was not for an input) is not a run: say so instead of showing an empty run forever.
      const e = ctx.execution === "gone" ? null : ctx.execution;
      const outcome = !ctx.manifest && e ? executionOutcome(e) : "none";
      const idle = outcome === "nothing-to-do" || outcome === "ignored";
      return {
        client,
        runId,
        status: idle ? "NOTHING_TO_DO" : status.status,
        failure: status.failure,
        trigger: ctx.manifest?.trigger.type ?? null,
        plannedAt,
        execution: status.execution
          ? {
              name: status.execution.name,
              state: status.execution.state,
              currentStep: status.execution.currentStep,
              startTime: status.execution.startTime,
              endTime: status.execution.endTime,
            }
          : null,
        job: status.job ? { name: status.job.name, state: status.job.state } : null,
        timeline,
        counts: countsOf(timeline),
        inputs: inputsWorthSeeing(status, errorsOf),
        inputCount: status.inputs.length,
        rejected: status.rejected,
        message,
        live: !idle && LIVE_STATUSES.has(status.status),
        note: idle
          ? outcome === "ignored"
            ? "This execution's event was not for an input: it started no run."
            : "This execution found nothing to do (another run had taken its inputs): it started no run."
          : !ctx.manifest && LIVE_STATUSES.has(status.status)
            ? "Planning: the tasks appear once the run is planned."
            : null,
      };
    },

    async logs(client, runId, task) {
      clientOf(client);
      let uid = jobUids.get(runId);
      if (!uid) {
        const ctx = await runContext(cloud, client, runId).catch(asProblem);
        const job = await getJob(cloud, ctx.jobName);
        if (!job) {
          return {
            lines: [],
            truncated: false,
            note: `no Batch job ${ctx.jobId} (not created yet, or deleted)`,
          };
        }
        uid = String(job.uid ?? "");
        jobUids.set(runId, uid);
      }
      // The newest lines only: a page of LOG_LINES + 1, newest first, shown oldest first.
      const logging = await cloud.logging();
      const [entries] = await logging.getEntries({
        filter: taskLogFilter({
          project: platform.project,
          jobUid: uid,
          ...(task === undefined ? {} : { task }),
        }),
        orderBy: "timestamp desc",
        pageSize: LOG_LINES + 1,
        autoPaginate: false,
      });
      const lines = entries.slice(0, LOG_LINES).map(logLine).reverse();
      return {
        lines: lines.map((l) => ({
          timestamp: l.timestamp,
          severity: l.severity,
          task: l.task,
          attempt: l.attempt,
          message: l.message,
        })),
        truncated: entries.length > LOG_LINES,
        note: null,
      };
    },

    async preview(object) {
      if (!object.startsWith(`${platform.product}/`)) {
        throw new ConsoleProblem(400, `${object} is not under the product's prefix ${platform.product}/`);
      }
      const file = cloud.bucket.file(object);
      try {
        const [metadata] = await file.getMetadata();
        const size = Number(metadata.size ?? 0);
        const [bytes] =
          size === 0
            ? [Buffer.alloc(0)]
            : await file.download({ start: 0, end: Math.min(size, PREVIEW_BYTES) - 1 });
        return {
          object,
          size,
          contentType: metadata.contentType ?? null,
          text: bytes.toString("utf8"),
          truncated: size > PREVIEW_BYTES,
        };
      } catch (err) {
        if (isNotFound(err)) throw new ConsoleProblem(404, `no object gs://${platform.bucket}/${object}`);
        throw err;
      }
    },

    async bucket(prefix) {
      requireLocal("The bucket browser");
      const [files, , response] = await cloud.bucket.getFiles({
        prefix,
        delimiter: "/",
        autoPaginate: false,
        maxResults: 500,
      });
      const raw = response as { prefixes?: string[]; nextPageToken?: string } | undefined;
      return {
        bucket: platform.bucket,
        prefix,
        prefixes: raw?.prefixes ?? [],
        objects: files.map((f) => ({
          name: f.name,
          size: Number(f.metadata.size ?? 0),
          updated: f.metadata.updated ? String(f.metadata.updated) : null,
          generation: String(f.metadata.generation ?? ""),
        })),
        truncated: Boolean(raw?.nextPageToken),
      };
    },

    async messages(client) {
      clientOf(client);
      const { recorder } = requireLocal("A topic's recent messages");
      return {
        client,
        topic: topicName(platform.product, client),
        source: "a pull subscription the console made on the Pub/Sub emulator when it started",
        gap: recorder.gap(client),
        messages: recorder.messages(client),
      };
    },

    async upload(client, path, contents) {
      clientOf(client);
      requireLocal("Uploading");
      const clean = path.replace(/^\/+/, "");
      if (clean === "") throw new ConsoleProblem(400, "the file has no name");
      const name = `${areaPrefix(platform.product, client, "inputs")}${clean}`;
      try {
        assertSafeObjectName(name);
      } catch (err) {
        throw new ConsoleProblem(400, (err as Error).message);
      }
      const file = cloud.bucket.file(name);
      await file.save(contents, { resumable: false });
      const [metadata] = await file.getMetadata();
      return { object: name, generation: String(metadata.generation) };
    },

    async startRun(client) {
      clientOf(client);
      requireLocal("Starting a run");
      return startManualRun(cloud, client);
    },

    async retry(client, input) {
      const config = clientOf(client);
      requireLocal("Retrying an input");
      const object = inputObjectName(input, platform.bucket, areaPrefix(platform.product, client, "inputs"));
      const at = now();
      const row = (await readInputs(cloud, config, at)).find((r) => r.object === object);
      if (!row) throw new ConsoleProblem(404, `not an input of client ${client}: ${input}`);
      return clearFailures(cloud.bucket, row, at);
    },
  };
}
