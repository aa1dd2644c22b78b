import type { Manifest, OpenRun, Summary } from "../../core/runs.ts";
import { type ExecutionView, executionOutcome, executionRun } from "./executions.ts";

/** One row of `batchline runs`. */
export interface RunRow {
  runId: string;
  trigger: string;
  /** When plan wrote the manifest; null when the run never got that far. */
  plannedAt: string | null;
  /** When its execution started, when known. */
  startedAt: string | null;
  inputs: number | null;
  /** SUCCEEDED, FAILED (the message's), RUNNING, INTERRUPTED, PLANNING, CANCELLED */
  status: string;
  detail: string;
  execution: string | null;
  error: string | null;
}

/** A run with records in storage: its manifest, summary and open marker, and what its execution is doing. */
export interface RecordedRun {
  manifest: Manifest;
  summary: Summary | null;
  open: OpenRun | null;
  /** Its execution, when one is named and the Executions API answered; "gone" when it no longer exists. */
  execution: ExecutionView | "gone" | null;
}

const LIVE = new Set(["ACTIVE", "QUEUED"]);

function messageStatus(summary: Summary): string {
  const status = (summary.message as { status?: unknown } | null)?.status;
  return typeof status === "string" ? status : "UNKNOWN";
}

function messageError(summary: Summary): string | null {
  const error = (summary.message as { error?: { message?: unknown } | null } | null)?.error;
  return typeof error?.message === "string" ? error.message : null;
}

/** The row of a run that has a manifest. */
export function recordedRow(run: RecordedRun, now: Date): RunRow {
  const { manifest, summary, open } = run;
  const exec = run.execution === "gone" ? null : run.execution;
  const row: RunRow = {
    runId: manifest.runId,
    trigger: manifest.trigger.type,
    plannedAt: manifest.plannedAt,
    startedAt: exec?.createTime ?? null,
    inputs: manifest.inputCount,
    status: "RUNNING",
    detail: "",
    execution: manifest.execution ?? open?.execution ?? exec?.name ?? null,
    error: null,
  };
  if (summary) {
    const failed = summary.inputs.filter((i) => i.status === "FAILED").length;
    row.status = messageStatus(summary);
    row.error = messageError(summary);
    row.detail =
      `${summary.inputs.length - failed} ok, ${failed} failed, job ${summary.jobState ?? "none"}` +
      (summary.recovered ? "; settled by a later plan (its execution ended without notify)" : "");
    return row;
  }
  if (exec && LIVE.has(exec.state)) {
    row.detail = `${manifest.taskCount} task(s)${exec.currentStep ? `, at ${exec.currentStep}` : ""}`;
    return row;
  }
  if (run.execution === "gone" || (exec && !LIVE.has(exec.state))) {
    row.status = "INTERRUPTED";
    row.error = exec?.error ?? null;
    row.detail =
      `its execution ${run.execution === "gone" ? "no longer exists" : `ended ${exec?.state}`} without a summary; ` +
      "the client's next run settles it";
    return row;
  }
  // No execution to ask: the open marker's lease decides, as it does for plan's recovery.
  if (open && Date.parse(open.leaseExpiresAt) > now.getTime()) {
    row.detail = `${manifest.taskCount} task(s); execution unknown, lease until ${open.leaseExpiresAt}`;
    return row;
  }
  row.status = "INTERRUPTED";
  row.detail = "no summary, and no live execution or lease; the client's next run settles it";
  return row;
}

/** The row of an execution that left no manifest (it failed before planning, or is still on its way). */
export function executionRow(e: ExecutionView, product: string, bucket: string): RunRow | null {
  const run = executionRun(e, product, bucket);
  if (!run) return null;
  const outcome = executionOutcome(e);
  if (e.state === "SUCCEEDED" && (outcome === "nothing-to-do" || outcome === "ignored")) return null;
  const row: RunRow = {
    runId: run.runId,
    trigger: run.trigger,
    plannedAt: null,
    startedAt: e.createTime,
    inputs: null,
    status: e.state,
    detail: "",
    execution: e.name,
    error: e.error,
  };
  if (LIVE.has(e.state)) {
    row.status = "PLANNING";
    row.detail = e.currentStep ? `at ${e.currentStep}` : "starting";
  } else if (e.state === "FAILED") {
    row.detail = `failed before planning: ${e.error ?? "no error given"}`;
  } else if (e.state === "SUCCEEDED") {
    const status = (e.result as { status?: unknown } | null)?.status;
    row.status = typeof status === "string" ? status : "SUCCEEDED";
    row.detail = "its run records are gone (runs/ retention)";
  } else {
    row.detail = `execution ${e.state.toLowerCase()} before planning`;
  }
  return row;
}

function sortTime(r: RunRow): string {
  return r.plannedAt ?? r.startedAt ?? "";
}

/**
 * The client's runs, newest first: every recorded run, and every execution of the client that has no
 * manifest (executions that had nothing to do, or whose event was ignored, are not runs and are counted
 * apart).
 */
export function mergeRuns(options: {
  recorded: RecordedRun[];
  executions: ExecutionView[];
  client: string;
  product: string;
  bucket: string;
  now: Date;
  limit: number;
}): { rows: RunRow[]; nothingToDo: number } {
  const rows = new Map<string, RunRow>();
  for (const run of options.recorded) rows.set(run.manifest.runId, recordedRow(run, options.now));
  let nothingToDo = 0;
  for (const e of options.executions) {
    if (executionRun(e, options.product, options.bucket)?.client !== options.client) continue;
    const row = executionRow(e, options.product, options.bucket);
    if (!row) {
      nothingToDo++;
      continue;
    }
    const known = rows.get(row.runId);
    if (known) {
      known.startedAt ??= row.startedAt;
      known.execution ??= row.execution;
      continue;
    }
    rows.set(row.runId, row);
  }
  const sorted = [...rows.values()].sort((a, b) => sortTime(b).localeCompare(sortTime(a)));
  return { rows: sorted.slice(0, options.limit), nothingToDo };
}
