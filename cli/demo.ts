import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Message } from "@google-cloud/pubsub";
import type { Command } from "commander";
import { loadConfig } from "../core/config/load.ts";
import { ConfigError } from "../core/errors.ts";
import { topicName } from "../core/ids.ts";
import { createLogger } from "../core/logger.ts";
import { type ResultMessageV1, resultMessageV1Schema } from "../core/messages.ts";
import { areaPrefix } from "../core/naming.ts";
import { type LocalCloud, readerSubscriptionName, startLocalCloud } from "../local/cloud.ts";
import { ExampleError, inputFiles, type PreparedExample, prepareExample } from "./example.ts";
import { configOrExit } from "./shared.ts";

interface DemoOptions {
  config: string;
  client: string;
  inputs: string;
  example?: string;
  twice?: boolean;
  verbose?: boolean;
  timeout: string;
}

interface ReceivedMessage {
  attributes: Record<string, string>;
  body: ResultMessageV1;
}

/** What one demo runs: a client, its config, the files it uploads. */
interface DemoPlan {
  client: string;
  configDir: string;
  localConfigFile?: string;
  inputsDir: string;
  files: string[];
  /** A container client's outputs are any files: list names and sizes, not JSONL records. */
  listOutputsByName: boolean;
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** `batchline demo` (what `npm start` runs): the whole pipeline on the local cloud, end to end. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "boot the local cloud, upload the example inputs, run the pipeline and print the client's message",
    )
    .option("--config <dir>", "config directory", "config")
    .option("--client <id>", "client to upload as", "demo")
    .option("--inputs <dir>", "folder whose .jsonl files are uploaded", "examples/inputs")
    .option(
      "--example <name>",
      "run an example client instead, e.g. python-client (examples/<name>: client.yaml, local.yaml, inputs/)",
    )
    .option("--twice", "deliver every upload event twice, to see deduplication at work")
    .option("--timeout <seconds>", "give up after this long", "300")
    .option("--verbose", "log every part's activity")
    .action(async (opts: DemoOptions) => {
      process.exitCode = await runDemo(opts);
    });
}

async function runDemo(opts: DemoOptions): Promise<number> {
  let example: PreparedExample | undefined;
  try {
    const plan = planDemo(opts, (e) => {
      example = e;
    });
    if (typeof plan === "number") return plan;
    return await runPlannedDemo(plan, opts);
  } finally {
    example?.cleanup();
  }
}

/** Step 1: which client, config and files; a number is the exit code of a bad request, already explained. */
function planDemo(opts: DemoOptions, keep: (example: PreparedExample) => void): DemoPlan | number {
  if (opts.example !== undefined) {
    let example: PreparedExample;
    try {
      example = prepareExample(opts.example, { configDir: opts.config });
      keep(example);
      // The project's config with the example's client must hold together (ids unique, files valid).
      loadConfig(example.configDir);
    } catch (err) {
      if (err instanceof ExampleError) {
        console.error(err.message);
        return 2;
      }
      if (err instanceof ConfigError) {
        console.error(`invalid config: ${err.message}`);
        return 2;
      }
      throw err;
    }
    const files = readInputs(example.inputsDir, undefined);
    if (typeof files === "number") return files;
    return {
      client: example.client,
      configDir: example.configDir,
      localConfigFile: example.localConfigFile,
      inputsDir: example.inputsDir,
      files,
      listOutputsByName: true,
    };
  }
  const config = configOrExit(opts.config);
  if (!config.clients.has(opts.client)) {
    console.error(`unknown client "${opts.client}" (known: ${[...config.clients.keys()].join(", ")})`);
    return 2;
  }
  const files = readInputs(opts.inputs, ".jsonl");
  if (typeof files === "number") return files;
  const job = config.clients.get(opts.client)?.job;
  return {
    client: opts.client,
    configDir: opts.config,
    inputsDir: opts.inputs,
    files,
    listOutputsByName: job?.container !== undefined,
  };
}

function readInputs(dir: string, extension: string | undefined): string[] | number {
  let files: string[];
  try {
    // The data files only: the folder also holds its README and git attributes.
    files = inputFiles(dir, extension);
  } catch (err) {
    console.error(`cannot read the inputs folder ${dir}: ${(err as Error).message}`);
    return 2;
  }
  if (files.length === 0) {
    console.error(`the inputs folder ${dir} has no ${extension ?? "data"} files to upload`);
    return 2;
  }
  return files;
}

async function runPlannedDemo(plan: DemoPlan, opts: DemoOptions): Promise<number> {
  const logger = createLogger({
    component: "demo",
    format: "pretty",
    level: opts.verbose ? "info" : "error",
  });
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  say(
    "Booting the local cloud: Pub/Sub emulator, GCS emulator, plan and notify functions, workflow engine, Batch, Eventarc, Scheduler…",
  );
  const cloud = await startLocalCloud({
    configDir: plan.configDir,
    localConfigFile: plan.localConfigFile,
    deliverTwice: opts.twice,
    schedules: false,
    logger,
  });
  const { platform } = cloud.config;
  const topic = topicName(platform.product, plan.client);
  say(`[${elapsed()}] up: gs://${platform.bucket}, topic ${topic}`);
  const [subscription] = await cloud.pubsub
    .topic(topic)
    .createSubscription(readerSubscriptionName(plan.client));
  const messages: ReceivedMessage[] = [];
  subscription.on("message", (message: Message) => {
    message.ack();
    const body = resultMessageV1Schema.parse(JSON.parse(message.data.toString("utf8")));
    messages.push({ attributes: message.attributes, body });
    say(`[${elapsed()}] message on the client's topic: run ${body.runId} ${body.status}`);
  });
  const stopWatching = watchProgress(cloud, elapsed);
  try {
    await uploadInputs(cloud, plan, elapsed);
    if (await pipelineTimedOut(cloud, Number(opts.timeout))) {
      console.error(`gave up after ${opts.timeout}s: the pipeline did not finish`);
      return 1;
    }
    await messagesArrived(cloud, messages);
    return await printOutcome(cloud, plan, messages, elapsed);
  } finally {
    stopWatching();
    await subscription.close().catch(() => undefined);
    await subscription.delete().catch(() => undefined);
    await cloud.stop();
  }
}

/** Live progress: workflow steps per execution, and task counts per job. Returns the stop function. */
function watchProgress(cloud: LocalCloud, elapsed: () => string): () => void {
  const seenSteps = new Map<string, string>();
  const watcher = setInterval(() => {
    for (const execution of cloud.executions()) {
      const step = execution.status.currentSteps.at(-1)?.step ?? execution.state;
      const label = execution.state === "ACTIVE" ? step : execution.state;
      if (seenSteps.get(execution.id) !== label) {
        seenSteps.set(execution.id, label);
        say(`[${elapsed()}] execution ${execution.id.slice(0, 8)}: ${label}`);
      }
    }
  }, 100);
  const stopTasks = cloud.batch.onTaskEvent((e) => {
    if (e.state === "SUCCEEDED" || e.state === "FAILED") {
      const done = (e.counts.SUCCEEDED ?? 0) + (e.counts.FAILED ?? 0);
      say(
        `[${elapsed()}] job ${e.job.split("/").pop()}: tasks ${done}/${e.taskCount} done (task ${e.index} ${e.state})`,
      );
    }
  });
  return () => {
    clearInterval(watcher);
    stopTasks();
  };
}

async function uploadInputs(cloud: LocalCloud, plan: DemoPlan, elapsed: () => string): Promise<void> {
  for (const file of plan.files) {
    const up = await cloud.upload(plan.client, file, readFileSync(join(plan.inputsDir, file)));
    say(
      `[${elapsed()}] uploaded gs://${cloud.config.platform.bucket}/${up.object} (generation ${up.generation})`,
    );
  }
}

/** Waits for the pipeline to go idle; true when the timeout came first. */
async function pipelineTimedOut(cloud: LocalCloud, timeoutSeconds: number): Promise<boolean> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return Promise.race([
    cloud.idle().then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), Math.max(0, deadline - Date.now())).unref()),
  ]);
}

/** The message is published before the execution ends; give the subscriber a moment to receive it. */
async function messagesArrived(cloud: LocalCloud, messages: ReceivedMessage[]): Promise<void> {
  const runs = cloud
    .executions()
    .filter((e) => e.state === "SUCCEEDED" && JSON.parse(e.result ?? "{}").runId);
  const waitUntil = Date.now() + 10_000;
  while (messages.length < runs.length && Date.now() < waitUntil)
    await new Promise((r) => setTimeout(r, 100));
}

/** Prints executions that failed, every message, the outputs and bad records; the exit code. */
async function printOutcome(
  cloud: LocalCloud,
  plan: DemoPlan,
  messages: ReceivedMessage[],
  elapsed: () => string,
): Promise<number> {
  const { platform } = cloud.config;
  const bucket = cloud.storage.bucket(platform.bucket);
  let failed = false;
  say("");
  for (const execution of cloud.executions()) {
    if (execution.state !== "SUCCEEDED") {
      failed = true;
      say(`execution ${execution.id} ${execution.state}: ${execution.error?.payload ?? ""}`);
    }
  }
  if (messages.length === 0) {
    console.error("no message arrived on the client's topic");
    return 1;
  }
  for (const { attributes, body } of messages) {
    say(`Message on ${topicName(platform.product, plan.client)} (attributes ${JSON.stringify(attributes)}):`);
    say(JSON.stringify(body, null, 2));
    if (body.status !== "SUCCEEDED") failed = true;
  }
  say("");
  const outputsPrefix = areaPrefix(platform.product, plan.client, "outputs");
  say(`Outputs (gs://${platform.bucket}/${outputsPrefix}):`);
  const [outputs] = await bucket.getFiles({ prefix: outputsPrefix });
  for (const output of outputs) {
    const [contents] = await output.download();
    if (plan.listOutputsByName) {
      say(`  gs://${platform.bucket}/${output.name} (${contents.length} bytes)`);
      continue;
    }
    const lines = contents.toString("utf8").split("\n").filter(Boolean);
    say(`  gs://${platform.bucket}/${output.name} (${lines.length} records)`);
    for (const line of lines.slice(0, 2)) say(`    ${line.length > 100 ? `${line.slice(0, 97)}...` : line}`);
  }
  const [errors] = await bucket.getFiles({ prefix: areaPrefix(platform.product, plan.client, "errors") });
  for (const error of errors) {
    const [contents] = await error.download();
    say(`  bad records: gs://${platform.bucket}/${error.name}`);
    for (const line of contents.toString("utf8").split("\n").filter(Boolean).slice(0, 2)) say(`    ${line}`);
  }
  say("");
  say(failed ? `The run FAILED (${elapsed()}).` : `Done: every input processed, SUCCEEDED (${elapsed()}).`);
  return failed ? 1 : 0;
}
