import type { Entry } from "@google-cloud/logging";
import type { Command } from "commander";
import { enumName, FINAL_JOB_STATES, JOB_STATE_NAMES } from "../functions/shared/google-enums.ts";
import { type OperatorCloud, operatorCloud } from "./operate/cloud.ts";
import { timestampIso } from "./operate/executions.ts";
import { parseTaskId, taskLogFilter } from "./operate/log-filter.ts";
import { getExecution } from "./operate/records.ts";
import { getJob, runContext } from "./operate/run-context.ts";
import { EXIT, guarded, operatorCommand, UsageError, wholeNumber } from "./operate/usage.ts";
import { clientOrExit, configOrExit } from "./shared.ts";

const LIVE = new Set(["ACTIVE", "QUEUED"]);
const SEVERITIES: Record<number, string> = {
  0: "DEFAULT",
  100: "DEBUG",
  200: "INFO",
  300: "NOTICE",
  400: "WARNING",
  500: "ERROR",
  600: "CRITICAL",
  700: "ALERT",
  800: "EMERGENCY",
};

/** One task log line as `logs` prints it. */
export interface LogLine {
  insertId: string;
  timestamp: string | null;
  severity: string;
  task: number | null;
  attempt: number | null;
  message: string;
}

/** The text of an entry: a text payload, a structured payload's `message`, or the payload as JSON. */
export function logLine(entry: Pick<Entry, "metadata" | "data">): LogLine {
  const m = entry.metadata;
  const labels = (m.labels ?? {}) as Record<string, string>;
  const task = parseTaskId(labels.task_id);
  const data = entry.data as unknown;
  const message =
    typeof data === "string"
      ? data
      : data !== null &&
          typeof data === "object" &&
          typeof (data as { message?: unknown }).message === "string"
        ? (data as { message: string }).message
        : JSON.stringify(data);
  return {
    insertId: String(m.insertId ?? ""),
    timestamp: timestampIso(m.timestamp),
    severity: enumName(m.severity, SEVERITIES),
    task: task?.index ?? null,
    attempt: task?.attempt ?? null,
    message,
  };
}

/** A run's task log lines that match `filter`, oldest first. */
export async function fetchLines(cloud: OperatorCloud, filter: string): Promise<LogLine[]> {
  const logging = await cloud.logging();
  const [entries] = await logging.getEntries({
    filter,
    orderBy: "timestamp asc",
    pageSize: 1000,
    autoPaginate: true,
  });
  return entries.map(logLine);
}

/** How far --follow looks back from the newest line printed, for lines that arrive late. */
const FOLLOW_LOOKBACK_MS = 60_000;

function lookback(time: string | undefined): string | undefined {
  return time === undefined ? undefined : new Date(Date.parse(time) - FOLLOW_LOOKBACK_MS).toISOString();
}

interface LogsOptions {
  client: string;
  config: string;
  task?: string;
  follow?: boolean;
  poll: string;
  json?: boolean;
}

/** `batchline logs RUN --client C [--task N] [--follow]`: the run's task logs, from Cloud Logging. */
export function registerLogsCommand(program: Command): void {
  operatorCommand(
    program
      .command("logs")
      .description(
        "print a run's task logs (Cloud Logging's batch_task_logs; on the local cloud, its logging endpoint)",
      )
      .argument("<run>", "run id, as batchline runs shows it")
      .requiredOption("--client <id>", "client id")
      .option("--config <dir>", "config directory", "config")
      .option("--task <n>", "only this task (its index in the run)")
      .option("--follow", "keep printing new lines until the job ends")
      .option("--poll <seconds>", "seconds between looks for new lines with --follow", "2")
      .option("--json", "print one JSON object per line"),
  ).action(
    guarded(async (run: string, opts: LogsOptions) => {
      const task = opts.task === undefined ? undefined : wholeNumber("--task", opts.task);
      const pollMs = wholeNumber("--poll", opts.poll, 1) * 1000;
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const cloud = operatorCloud(config);
      try {
        const ctx = await runContext(cloud, client.id, run);
        let job = await getJob(cloud, ctx.jobName);
        // Following a run that is still planning: wait for its job while its execution is alive.
        let execution = ctx.execution;
        while (
          !job &&
          opts.follow &&
          execution !== null &&
          execution !== "gone" &&
          LIVE.has(execution.state)
        ) {
          await new Promise((r) => setTimeout(r, pollMs));
          job = await getJob(cloud, ctx.jobName);
          execution = await getExecution(cloud, execution.name);
        }
        if (!job) {
          console.error(
            `run ${ctx.runId} has no Batch job ${ctx.jobName} (never created, or deleted): no task logs`,
          );
          return EXIT.FAILED;
        }
        const taskCount = Number(job.taskGroups?.[0]?.taskCount ?? 0);
        if (task !== undefined && task >= taskCount) {
          throw new UsageError(
            `invalid --task ${task}: run ${ctx.runId} has ${taskCount} task(s), 0 to ${taskCount - 1}`,
          );
        }
        const jobUid = String(job.uid ?? "");
        const since = timestampIso(job.createTime) ?? undefined;
        const seen = new Set<string>();
        let last = since;
        const print = (lines: LogLine[]) => {
          for (const line of lines) {
            if (seen.has(line.insertId)) continue;
            seen.add(line.insertId);
            if (line.timestamp && (!last || line.timestamp > last)) last = line.timestamp;
            if (opts.json) console.log(JSON.stringify(line));
            else
              console.log(
                `task ${line.task ?? "?"}.${line.attempt ?? "?"} ${line.timestamp ?? ""} ${line.severity} ${line.message}`,
              );
          }
        };
        const filter = (from: string | undefined) =>
          taskLogFilter({ project: config.platform.project, jobUid, task, ...(from ? { since: from } : {}) });
        print(await fetchLines(cloud, filter(since)));
        if (!opts.follow) return EXIT.OK;
        for (;;) {
          const state = enumName(job.status?.state, JOB_STATE_NAMES);
          // Lines stamped before the newest one printed may still arrive (another task's, or late ingestion):
          // look back a while and drop the ones already printed.
          print(await fetchLines(cloud, filter(lookback(last))));
          if (FINAL_JOB_STATES.has(state)) return EXIT.OK;
          await new Promise((r) => setTimeout(r, pollMs));
          const next = await getJob(cloud, ctx.jobName);
          if (!next) {
            // Deleted: nothing more will be written.
            print(await fetchLines(cloud, filter(lookback(last))));
            return EXIT.OK;
          }
          job = next;
        }
      } finally {
        await cloud.close();
      }
    }),
  );
}
