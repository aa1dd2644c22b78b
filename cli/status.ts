import type { Command } from "commander";
import { enumName, JOB_STATE_NAMES, TASK_STATE_NAMES } from "../functions/shared/google-enums.ts";
import { readShards } from "../functions/shared/manifest.ts";
import { type OperatorCloud, operatorCloud } from "./operate/cloud.ts";
import { timestampIso } from "./operate/executions.ts";
import { readTaskRecords } from "./operate/records.ts";
import { getJob, type RunContext, runContext } from "./operate/run-context.ts";
import { EXIT, guarded, operatorCommand } from "./operate/usage.ts";
import { clientOrExit, configOrExit } from "./shared.ts";

interface StatusEvent {
  time: string | null;
  description: string;
}

interface RawEvent {
  description?: string | null;
  eventTime?: unknown;
  taskState?: unknown;
}

function events(raw: RawEvent[] | null | undefined): StatusEvent[] {
  return (raw ?? []).map((e) => ({
    time: timestampIso(e.eventTime),
    description: String(e.description ?? ""),
  }));
}

export interface TaskStatus {
  index: number;
  state: string;
  /** Attempts started (each went to RUNNING). */
  attempts: number;
  events: StatusEvent[];
}

export interface InputStatus {
  index: number;
  object: string;
  generation: string;
  output: string;
  task: string | null;
  status: string;
  records: number | null;
  badRecords: number | null;
  errors: string | null;
  reason: string | null;
}

export interface RunStatus {
  runId: string;
  client: string;
  status: string;
  execution: {
    name: string;
    state: string;
    currentStep: string | null;
    startTime: string | null;
    endTime: string | null;
    error: string | null;
  } | null;
  job: { name: string; uid: string; state: string; events: StatusEvent[] } | null;
  tasks: TaskStatus[];
  inputs: InputStatus[];
  rejected: { object: string; generation: string; reason: string }[];
  failure: string | null;
}

/** Attempts a task started: status events that moved it to RUNNING. */
export function attemptsOf(raw: RawEvent[] | null | undefined): number {
  return (raw ?? []).filter(
    (e) =>
      enumName(e.taskState, TASK_STATE_NAMES) === "RUNNING" ||
      / to RUNNING\b/.test(String(e.description ?? "")),
  ).length;
}

export async function runStatus(cloud: OperatorCloud, client: string, ctx: RunContext): Promise<RunStatus> {
  const e = ctx.execution === "gone" ? null : ctx.execution;
  const job = await getJob(cloud, ctx.jobName);
  const tasks: TaskStatus[] = [];
  if (job) {
    const [list] = await cloud.batch.listTasks({ parent: `${ctx.jobName}/taskGroups/group0` });
    for (const t of list) {
      const raw = (t.status?.statusEvents ?? []) as RawEvent[];
      tasks.push({
        index: Number(
          String(t.name ?? "")
            .split("/")
            .pop(),
        ),
        state: enumName(t.status?.state, TASK_STATE_NAMES),
        attempts: attemptsOf(raw),
        events: events(raw),
      });
    }
    tasks.sort((a, b) => a.index - b.index);
  }
  const { product } = cloud.config.platform;
  const inputs: InputStatus[] = [];
  if (ctx.manifest) {
    const entries = await readShards(cloud.bucket, ctx.manifest);
    const records = ctx.summary ? null : await readTaskRecords(cloud.bucket, product, client, ctx.runId);
    const outcomes = new Map((ctx.summary?.inputs ?? []).map((i) => [i.index, i]));
    for (const input of entries) {
      const outcome = outcomes.get(input.index);
      const record = records?.get(input.index);
      const task = tasks.find((t) => t.index === input.index);
      inputs.push({
        index: input.index,
        object: input.object,
        generation: input.generation,
        output: outcome?.output ?? record?.output ?? input.output,
        task: task ? `${task.state}, ${task.attempts} attempt(s)` : null,
        status: outcome?.status ?? record?.status ?? "NO RECORD YET",
        records: outcome?.records ?? record?.records ?? null,
        badRecords: outcome?.badRecords ?? record?.badRecords ?? null,
        errors: outcome?.errors ?? record?.errors ?? null,
        reason: outcome?.reason ?? record?.error ?? null,
      });
    }
  }
  const jobState = job ? enumName(job.status?.state, JOB_STATE_NAMES) : null;
  const jobEvents = job ? events(job.status?.statusEvents as RawEvent[]) : [];
  const message = (ctx.summary?.message ?? null) as {
    status?: string;
    error?: { message?: string } | null;
  } | null;
  let status = message?.status ?? "RUNNING";
  if (!ctx.summary) {
    if (!ctx.manifest)
      status = e && (e.state === "ACTIVE" || e.state === "QUEUED") ? "PLANNING" : (e?.state ?? "UNKNOWN");
    else if (!e || (e.state !== "ACTIVE" && e.state !== "QUEUED")) status = "INTERRUPTED";
  }
  const failure =
    message?.error?.message ??
    e?.error ??
    (jobState === "FAILED" ? jobEvents.at(-1)?.description : undefined) ??
    (status === "INTERRUPTED"
      ? "its execution ended without a summary; the client's next run settles it"
      : null);
  return {
    runId: ctx.runId,
    client,
    status,
    execution: e
      ? {
          name: e.name,
          state: e.state,
          currentStep: e.currentStep,
          startTime: e.createTime,
          endTime: e.endTime,
          error: e.error,
        }
      : null,
    job: job
      ? { name: ctx.jobName, uid: String(job.uid ?? ""), state: jobState ?? "", events: jobEvents }
      : null,
    tasks,
    inputs,
    rejected: ctx.manifest?.rejected ?? [],
    failure,
  };
}

function printStatus(s: RunStatus, ctx: RunContext): void {
  console.log(`run ${s.runId} (client ${s.client}): ${s.status}`);
  if (s.failure) console.log(`failure: ${s.failure}`);
  if (s.execution) {
    const at =
      s.execution.currentStep && s.execution.state === "ACTIVE" ? `, at ${s.execution.currentStep}` : "";
    console.log(`execution ${s.execution.name}: ${s.execution.state}${at}`);
    console.log(
      `  started ${s.execution.startTime ?? "?"}${s.execution.endTime ? `, ended ${s.execution.endTime}` : ""}`,
    );
  } else {
    console.log(ctx.execution === "gone" ? "execution: no longer exists" : "execution: unknown");
  }
  if (s.job) {
    console.log(`job ${s.job.name} (uid ${s.job.uid}): ${s.job.state}`);
    for (const ev of s.job.events) console.log(`  ${ev.time ?? ""} ${ev.description}`);
  } else {
    console.log(`job ${ctx.jobName}: none (never created, or deleted)`);
  }
  if (s.tasks.length > 0) {
    console.log("tasks:");
    for (const t of s.tasks) {
      console.log(`  task ${t.index}: ${t.state}, ${t.attempts} attempt(s)`);
      for (const ev of t.events) console.log(`    ${ev.time ?? ""} ${ev.description}`);
    }
  }
  if (s.inputs.length > 0) {
    console.log("inputs:");
    for (const i of s.inputs) {
      const counts = i.records === null ? "" : `, ${i.records} record(s), ${i.badRecords ?? 0} bad`;
      console.log(`  [${i.index}] ${i.object}#${i.generation} -> ${i.output}: ${i.status}${counts}`);
      if (i.errors) console.log(`      bad records: ${i.errors}`);
      if (i.reason) console.log(`      reason: ${i.reason}`);
    }
  }
  for (const r of s.rejected) console.log(`  refused ${r.object}#${r.generation}: ${r.reason}`);
}

/** `batchline status RUN --client C`: everything about one run. */
export function registerStatusCommand(program: Command): void {
  operatorCommand(
    program
      .command("status")
      .description("show one run: its execution, Batch job, tasks and attempts, each input and its output")
      .argument("<run>", "run id, as batchline runs shows it")
      .requiredOption("--client <id>", "client id")
      .option("--config <dir>", "config directory", "config")
      .option("--json", "print JSON"),
  ).action(
    guarded(async (run: string, opts: { client: string; config: string; json?: boolean }) => {
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const cloud = operatorCloud(config);
      try {
        const ctx = await runContext(cloud, client.id, run);
        const status = await runStatus(cloud, client.id, ctx);
        if (opts.json) console.log(JSON.stringify(status, null, 2));
        else printStatus(status, ctx);
        return EXIT.OK;
      } finally {
        await cloud.close();
      }
    }),
  );
}
