import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Message } from "@google-cloud/pubsub";
import type { Command } from "commander";
import { topicName } from "../core/ids.ts";
import { createLogger } from "../core/logger.ts";
import { type ResultMessageV1, resultMessageV1Schema } from "../core/messages.ts";
import { areaPrefix } from "../core/naming.ts";
import { readerSubscriptionName, startLocalCloud } from "../local/cloud.ts";
import { configOrExit } from "./shared.ts";

interface DemoOptions {
  config: string;
  client: string;
  inputs: string;
  twice?: boolean;
  verbose?: boolean;
  timeout: string;
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
    .option("--twice", "deliver every upload event twice, to see deduplication at work")
    .option("--timeout <seconds>", "give up after this long", "300")
    .option("--verbose", "log every part's activity")
    .action(async (opts: DemoOptions) => {
      process.exitCode = await runDemo(opts);
    });
}

async function runDemo(opts: DemoOptions): Promise<number> {
  const config = configOrExit(opts.config);
  if (!config.clients.has(opts.client)) {
    console.error(`unknown client "${opts.client}" (known: ${[...config.clients.keys()].join(", ")})`);
    return 2;
  }
  let files: string[];
  try {
    // The data files only: the folder also holds its README and git attributes.
    files = readdirSync(opts.inputs)
      .filter((f) => f.endsWith(".jsonl") && statSync(join(opts.inputs, f)).isFile())
      .sort();
  } catch (err) {
    console.error(`cannot read the inputs folder ${opts.inputs}: ${(err as Error).message}`);
    return 2;
  }
  if (files.length === 0) {
    console.error(`the inputs folder ${opts.inputs} has no .jsonl files to upload`);
    return 2;
  }

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
    configDir: opts.config,
    deliverTwice: opts.twice,
    schedules: false,
    logger,
  });
  const { platform } = cloud.config;
  say(`[${elapsed()}] up: gs://${platform.bucket}, topic ${topicName(platform.product, opts.client)}`);

  const subscriptionName = readerSubscriptionName(opts.client);
  const [subscription] = await cloud.pubsub
    .topic(topicName(platform.product, opts.client))
    .createSubscription(subscriptionName);
  const messages: Array<{ attributes: Record<string, string>; body: ResultMessageV1 }> = [];
  subscription.on("message", (message: Message) => {
    message.ack();
    const body = resultMessageV1Schema.parse(JSON.parse(message.data.toString("utf8")));
    messages.push({ attributes: message.attributes, body });
    say(`[${elapsed()}] message on the client's topic: run ${body.runId} ${body.status}`);
  });

  // Live progress: workflow steps per execution, and task counts per job.
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

  let failed = false;
  try {
    for (const file of files) {
      const up = await cloud.upload(opts.client, file, readFileSync(join(opts.inputs, file)));
      say(`[${elapsed()}] uploaded gs://${platform.bucket}/${up.object} (generation ${up.generation})`);
    }
    const deadline = Date.now() + Number(opts.timeout) * 1000;
    const idle = cloud.idle();
    const timedOut = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), Math.max(0, deadline - Date.now())).unref()),
    ]);
    if (timedOut) {
      console.error(`gave up after ${opts.timeout}s: the pipeline did not finish`);
      return 1;
    }
    // The message is published before the execution ends; give the subscriber a moment to receive it.
    const runs = cloud
      .executions()
      .filter((e) => e.state === "SUCCEEDED" && JSON.parse(e.result ?? "{}").runId);
    const waitUntil = Date.now() + 10_000;
    while (messages.length < runs.length && Date.now() < waitUntil)
      await new Promise((r) => setTimeout(r, 100));

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
      say(
        `Message on ${topicName(platform.product, opts.client)} (attributes ${JSON.stringify(attributes)}):`,
      );
      say(JSON.stringify(body, null, 2));
      if (body.status !== "SUCCEEDED") failed = true;
    }
    say("");
    say(`Outputs (gs://${platform.bucket}/${areaPrefix(platform.product, opts.client, "outputs")}):`);
    const [outputs] = await cloud.storage
      .bucket(platform.bucket)
      .getFiles({ prefix: areaPrefix(platform.product, opts.client, "outputs") });
    for (const output of outputs) {
      const [contents] = await output.download();
      const lines = contents.toString("utf8").split("\n").filter(Boolean);
      say(`  gs://${platform.bucket}/${output.name} (${lines.length} records)`);
      for (const line of lines.slice(0, 2))
        say(`    ${line.length > 100 ? `${line.slice(0, 97)}...` : line}`);
    }
    const [errors] = await cloud.storage
      .bucket(platform.bucket)
      .getFiles({ prefix: areaPrefix(platform.product, opts.client, "errors") });
    for (const error of errors) {
      const [contents] = await error.download();
      say(`  bad records: gs://${platform.bucket}/${error.name}`);
      for (const line of contents.toString("utf8").split("\n").filter(Boolean).slice(0, 2))
        say(`    ${line}`);
    }
    say("");
    say(failed ? `The run FAILED (${elapsed()}).` : `Done: every input processed, SUCCEEDED (${elapsed()}).`);
    return failed ? 1 : 0;
  } finally {
    clearInterval(watcher);
    stopTasks();
    await subscription.close().catch(() => undefined);
    await subscription.delete().catch(() => undefined);
    await cloud.stop();
  }
}
