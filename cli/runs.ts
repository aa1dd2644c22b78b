import type { Command } from "commander";
import { mapLimit } from "../functions/shared/limit.ts";
import { type OperatorCloud, operatorCloud } from "./operate/cloud.ts";
import { type ExecutionView, isClientExecution } from "./operate/executions.ts";
import { executionPages, getExecution, newestManifests, readRunRecords } from "./operate/records.ts";
import { mergeRuns, type RecordedRun, type RunRow } from "./operate/runs-merge.ts";
import { EXIT, guarded, operatorCommand, printTable, wholeNumber } from "./operate/usage.ts";
import { clientOrExit, configOrExit } from "./shared.ts";

/** Executions read at most when looking for a client's executions (10 pages of 100, newest first). */
const MAX_EXECUTION_PAGES = 10;

interface RunsOptions {
  client: string;
  config: string;
  limit: string;
  json?: boolean;
}

/** The workflow's newest executions, read once for several clients (the console's runs page). */
export interface ExecutionScan {
  executions: ExecutionView[];
  /** True when every execution was read (the last page was not full). */
  exhausted: boolean;
}

/** Reads the newest MAX_EXECUTION_PAGES pages of executions. */
export async function scanExecutions(cloud: OperatorCloud): Promise<ExecutionScan> {
  const executions: ExecutionView[] = [];
  let exhausted = false;
  for await (const page of executionPages(cloud, MAX_EXECUTION_PAGES)) {
    executions.push(...page);
    if (page.length < 100) exhausted = true;
  }
  return { executions, exhausted };
}

/**
 * The client's newest `limit` runs: its newest manifests (with summaries, open markers and, for a run without
 * a summary, its execution's state) merged with its newest executions (those that failed before planning).
 * With `scan`, the executions come from it instead of being read for this client alone.
 */
export async function listRuns(
  cloud: OperatorCloud,
  client: string,
  limit: number,
  now: Date,
  scan?: ExecutionScan,
): Promise<{ rows: RunRow[]; nothingToDo: number; scanned: number; truncated: boolean }> {
  const { product, bucket } = cloud.config.platform;
  const manifests = await newestManifests(cloud.bucket, product, client, limit);
  const executions: ExecutionView[] = [];
  let scanned = 0;
  let pages = 0;
  let exhausted = false;
  if (scan) {
    executions.push(...scan.executions.filter((e) => isClientExecution(e, product, bucket, client)));
    scanned = scan.executions.length;
    pages = MAX_EXECUTION_PAGES;
    exhausted = scan.exhausted;
  } else {
    for await (const page of executionPages(cloud, MAX_EXECUTION_PAGES)) {
      pages++;
      scanned += page.length;
      executions.push(...page.filter((e) => isClientExecution(e, product, bucket, client)));
      if (executions.length >= limit) break;
      if (page.length < 100) exhausted = true;
    }
  }
  const byName = new Map(executions.map((e) => [e.name, e]));
  const recorded = await mapLimit(manifests, 8, async (manifest): Promise<RecordedRun> => {
    const records = await readRunRecords(cloud.bucket, product, client, manifest.runId);
    const name = manifest.execution ?? records.open?.execution ?? null;
    let execution: RecordedRun["execution"] = null;
    if (name) execution = byName.get(name) ?? (records.summary ? null : await getExecution(cloud, name));
    return { manifest, summary: records.summary, open: records.open, execution };
  });
  const merged = mergeRuns({ recorded, executions, client, product, bucket, now, limit });
  const truncated = !exhausted && pages >= MAX_EXECUTION_PAGES && executions.length < limit;
  return { ...merged, scanned, truncated };
}

/** `batchline runs --client C`: the client's runs, newest first, with their status. */
export function registerRunsCommand(program: Command): void {
  operatorCommand(
    program
      .command("runs")
      .description("list a client's runs and their status, incl. runs that failed before planning")
      .requiredOption("--client <id>", "client id")
      .option("--config <dir>", "config directory", "config")
      .option("--limit <n>", "show at most this many runs (and read only those)", "20")
      .option("--json", "print JSON instead of a table"),
  ).action(
    guarded(async (opts: RunsOptions) => {
      const limit = wholeNumber("--limit", opts.limit, 1);
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const cloud = operatorCloud(config);
      try {
        const { rows, nothingToDo, truncated, scanned } = await listRuns(cloud, client.id, limit, new Date());
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return EXIT.OK;
        }
        if (rows.length === 0) {
          console.log(`no runs for client ${client.id} on ${cloud.target}`);
        } else {
          printTable(
            ["RUN", "TRIGGER", "STARTED", "INPUTS", "STATUS", "DETAIL"],
            rows.map((r) => [
              r.runId,
              r.trigger,
              r.plannedAt ?? r.startedAt ?? "-",
              r.inputs === null ? "-" : String(r.inputs),
              r.status,
              r.detail,
            ]),
          );
        }
        if (nothingToDo > 0)
          console.log(`(${nothingToDo} execution(s) of ${client.id} had nothing to do; not shown)`);
        if (truncated) console.log(`(looked at the newest ${scanned} executions only)`);
        return EXIT.OK;
      } finally {
        await cloud.close();
      }
    }),
  );
}
