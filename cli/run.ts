import type { Command } from "commander";
import { runId as computeRunId } from "../core/ids.ts";
import { type OperatorCloud, operatorCloud } from "./operate/cloud.ts";
import { type ExecutionView, executionView } from "./operate/executions.ts";
import { getExecution, readRunRecords } from "./operate/records.ts";
import { EXIT, guarded, operatorCommand, wholeNumber } from "./operate/usage.ts";
import { clientOrExit, configOrExit } from "./shared.ts";

export interface StartedRun {
  execution: string;
  runId: string;
}

/** Starts a manual run of `client`: an execution of the workflow with `{"client": C, "trigger": "manual"}`. */
export async function startManualRun(cloud: OperatorCloud, client: string): Promise<StartedRun> {
  const [created] = await cloud.executions.createExecution({
    parent: cloud.workflow,
    execution: { argument: JSON.stringify({ client, trigger: "manual" }) },
  });
  const e = executionView(created as Parameters<typeof executionView>[0]);
  // The workflow keys a manual run by its execution id, so the run id is known before plan runs.
  const runId = computeRunId({
    product: cloud.config.platform.product,
    client,
    trigger: "manual",
    key: e.id,
  });
  return { execution: e.name, runId };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Follows an execution until it ends, printing each change of state or step, then prints the outcome: the
 * client's message, "nothing to do", or the execution's error. Returns the exit code.
 */
export async function followRun(
  cloud: OperatorCloud,
  client: string,
  started: StartedRun,
  options: { pollMs: number; json: boolean },
): Promise<number> {
  const say = (line: string) => (options.json ? console.error(line) : console.log(line));
  let last = "";
  let e: ExecutionView | "gone";
  for (;;) {
    e = await getExecution(cloud, started.execution);
    if (e === "gone") {
      console.error(`execution ${started.execution} no longer exists`);
      return EXIT.FAILED;
    }
    const label = e.state === "ACTIVE" && e.currentStep ? `ACTIVE at ${e.currentStep}` : e.state;
    if (label !== last) {
      say(`${new Date().toISOString()} ${label}`);
      last = label;
    }
    if (e.state !== "ACTIVE" && e.state !== "QUEUED") break;
    await sleep(options.pollMs);
  }
  if (e.state !== "SUCCEEDED") {
    console.error(`execution ${e.state}: ${e.error ?? "no error given"}`);
    return EXIT.FAILED;
  }
  const result = (e.result ?? {}) as { status?: unknown; runId?: unknown };
  if (result.status === "NOTHING_TO_DO") {
    say(`nothing to do: client ${client} has no pending inputs`);
    if (options.json) console.log(JSON.stringify({ ...started, status: "NOTHING_TO_DO", message: null }));
    return EXIT.OK;
  }
  const { product } = cloud.config.platform;
  const { summary } = await readRunRecords(cloud.bucket, product, client, started.runId);
  if (!summary) {
    console.error(
      `run ${started.runId} ended without a summary (execution result: ${JSON.stringify(e.result)})`,
    );
    return EXIT.FAILED;
  }
  const status = (summary.message as { status?: unknown }).status;
  if (options.json) console.log(JSON.stringify({ ...started, status, message: summary.message }, null, 2));
  else console.log(JSON.stringify(summary.message, null, 2));
  return status === "SUCCEEDED" ? EXIT.OK : EXIT.FAILED;
}

interface RunOptions {
  client: string;
  config: string;
  wait?: boolean;
  poll: string;
  json?: boolean;
}

/** `batchline run --client C [--wait]`: start a manual run; with --wait, follow it to its message. */
export function registerRunCommand(program: Command): void {
  operatorCommand(
    program
      .command("run")
      .description("start a manual run of a client (its pending inputs); --wait follows it to its message")
      .requiredOption("--client <id>", "client id")
      .option("--config <dir>", "config directory", "config")
      .option("--wait", "follow the execution and print the client's message; exit 0 SUCCEEDED, 1 FAILED")
      .option("--poll <seconds>", "seconds between looks at the execution with --wait", "2")
      .option("--json", "print JSON"),
  ).action(
    guarded(async (opts: RunOptions) => {
      const pollMs = wholeNumber("--poll", opts.poll, 1) * 1000;
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const cloud = operatorCloud(config);
      try {
        const started = await startManualRun(cloud, client.id);
        if (opts.json && !opts.wait) console.log(JSON.stringify(started, null, 2));
        else {
          const say = opts.json ? console.error : console.log;
          say(`execution ${started.execution}`);
          say(`run ${started.runId}`);
        }
        if (!opts.wait) return EXIT.OK;
        return await followRun(cloud, client.id, started, { pollMs, json: Boolean(opts.json) });
      } finally {
        await cloud.close();
      }
    }),
  );
}
