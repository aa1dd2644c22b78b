import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type PreparedExample, prepareExample } from "../../cli/example.ts";
import { createLogger } from "../../core/logger.ts";
import { areaPrefix } from "../../core/naming.ts";
import { taskRecordSchema } from "../../core/runs.ts";
import { EXIT_BAD_INPUT } from "../../core/workload.ts";
import type { TaskEvent } from "../../local/batch/index.ts";
import { type LocalCloud, startLocalCloud } from "../../local/cloud.ts";
import { Inbox, type Received } from "./support.ts";

// The python-client example (examples/python-client) on the local cloud: its own container image, through
// the local Batch's image map, under the task contract. Good inputs give output objects; an input the script
// rejects (exit 3) fails at once; a crash is retried, then reported; both are named in the one message.
const CLIENT = "python-client";
let example: PreparedExample;
let cloud: LocalCloud;
const inbox = new Inbox();
const taskEvents: TaskEvent[] = [];

// A second container client whose image the local image map does not know.
const UNMAPPED = "unmapped";
const UNMAPPED_IMAGE = "europe-west2-docker.pkg.dev/batchline-demo/clients/not-mapped:3";

beforeAll(async () => {
  example = prepareExample("python-client");
  writeFileSync(
    join(example.configDir, "clients", `${UNMAPPED}.yaml`),
    `id: ${UNMAPPED}\njob:\n  container: { imageUri: "${UNMAPPED_IMAGE}" }\n  maxRetryCount: 0\n`,
  );
  cloud = await startLocalCloud({
    configDir: example.configDir,
    localConfigFile: example.localConfigFile,
    pubsubEmulatorHost: inject("pubsubEmulatorHost"),
    schedules: false,
    logger: createLogger({ component: "e2e", level: process.env.BATCHLINE_E2E_LOG ?? "error" }),
  });
  cloud.batch.onTaskEvent((e) => taskEvents.push(e));
  await inbox.watch(cloud, [CLIENT, UNMAPPED]);
});

afterAll(async () => {
  await inbox.close();
  await cloud?.stop();
  example?.cleanup();
});

async function read(name: string): Promise<Buffer> {
  const [bytes] = await cloud.storage.bucket(cloud.config.platform.bucket).file(name).download();
  return bytes;
}

async function names(prefix: string): Promise<string[]> {
  const [files] = await cloud.storage.bucket(cloud.config.platform.bucket).getFiles({ prefix });
  return files.map((f) => f.name).sort();
}

describe("a client's own container, end to end on the local cloud", () => {
  let message: Received["body"];
  const outputs = areaPrefix("demo", CLIENT, "outputs");

  it("runs every input through the image and sends one message naming the bad and the crashed input", async () => {
    await cloud.upload(CLIENT, "north.csv", "item,value\napples,12\npears,7.5\n");
    await cloud.upload(CLIENT, "south.csv", "item,value\nfigs,4\n");
    const bad = await cloud.upload(CLIENT, "bad.csv", "item,value\napples,12\nplums,lots\n");
    // A header and no rows: main.py divides by zero, an uncaught exception (exit 1).
    const crash = await cloud.upload(CLIENT, "empty.csv", "item,value\n");
    await cloud.idle();

    const [received] = await inbox.next(CLIENT, 1, 60_000);
    expect(await inbox.untaken(CLIENT)).toEqual([]);
    message = received?.body as Received["body"];
    expect(message.status).toBe("FAILED");
    expect(message.counts).toMatchObject({ inputs: 4, succeeded: 2, failed: 2 });
    const failed = new Map(message.failedInputs.map((f) => [f.object, f.reason]));
    expect([...failed.keys()].sort()).toEqual([bad.object, crash.object].sort());
    expect(failed.get(bad.object)).toBe(
      "europe-west2-docker.pkg.dev/batchline-demo/clients/python-client:1.0 failed on attempt 0: bad input: line 3: value 'lots' is not a number",
    );
    expect(failed.get(crash.object)).toBe(
      "europe-west2-docker.pkg.dev/batchline-demo/clients/python-client:1.0 failed on attempt 1 without writing BATCHLINE_ERROR_FILE (a non-zero exit, or the image could not start); see the task's status and logs",
    );
  });

  it("fails the bad input at once with the bad-input code, and retries the crash before reporting it", async () => {
    const failures = taskEvents.filter((e) => e.state === "FAILED");
    const exitCodes = failures.map((e) => e.event.taskExecution?.exitCode).sort();
    // Bad input: one attempt (FAIL_TASK on 3). Crash: attempt 0 and attempt 1 (maxRetryCount 1), exit 1.
    expect(exitCodes).toEqual([1, 1, EXIT_BAD_INPUT]);
    const records = await Promise.all(
      message.failedInputs.map(async (f) => {
        const runTasks = await names(`${areaPrefix("demo", CLIENT, "runs")}${message.runId}/tasks/`);
        for (const name of runTasks) {
          const record = taskRecordSchema.parse(JSON.parse((await read(name)).toString("utf8")));
          if (record.input.object === f.object) return record;
        }
        throw new Error(`no task record for ${f.object}`);
      }),
    );
    expect(records.map((r) => [r.input.object.split("/").pop(), r.status, r.attempt]).sort()).toEqual([
      ["bad.csv", "FAILED", 0],
      ["empty.csv", "FAILED", 1],
    ]);
  });

  it("leaves every file the good inputs' containers wrote as an output object, with provenance", async () => {
    expect(await names(outputs)).toEqual([
      `${outputs}north.csv/scored.csv`,
      `${outputs}north.csv/summary.json`,
      `${outputs}south.csv/scored.csv`,
      `${outputs}south.csv/summary.json`,
    ]);
    // The variables reached the script: the input's URI (from the env file) and the client's own SCORE_FACTOR.
    const summary = JSON.parse((await read(`${outputs}north.csv/summary.json`)).toString("utf8"));
    expect(summary).toEqual({
      input: `gs://${cloud.config.platform.bucket}/demo/${CLIENT}/inputs/north.csv`,
      count: 2,
      total: 19.5,
      mean: 9.75,
    });
    expect((await read(`${outputs}north.csv/scored.csv`)).toString("utf8")).toBe(
      "item,value,score\r\napples,12.0,24.0\r\npears,7.5,15.0\r\n",
    );
    const [meta] = await cloud.storage
      .bucket(cloud.config.platform.bucket)
      .file(`${outputs}south.csv/scored.csv`)
      .getMetadata();
    expect(meta.metadata).toMatchObject({
      batchlineInputObject: `demo/${CLIENT}/inputs/south.csv`,
      batchlineRunId: message.runId,
      batchlineProcessor: "container",
      batchlineImage: "europe-west2-docker.pkg.dev/batchline-demo/clients/python-client:1.0",
    });
    // Staged copies are gone once the outputs are in place.
    expect(await names(`${areaPrefix("demo", CLIENT, "runs")}${message.runId}/staging/`)).toEqual([]);
  });
});

describe("an image the local Batch has no mapping for", () => {
  it("fails its task naming the image and the setting to add, and the run's message names the input", async () => {
    const up = await cloud.upload(UNMAPPED, "a.csv", "item,value\nx,1\n");
    await cloud.idle();
    const [received] = await inbox.next(UNMAPPED, 1, 60_000);
    expect(received?.body.status).toBe("FAILED");
    expect(received?.body.failedInputs.map((f) => [f.object, f.reason])).toEqual([
      [
        up.object,
        `${UNMAPPED_IMAGE} failed on attempt 0 without writing BATCHLINE_ERROR_FILE (a non-zero exit, or the image could not start); see the task's status and logs`,
      ],
    ]);
    const failed = taskEvents.filter((e) => e.job.includes(`-${UNMAPPED}-`) && e.state === "FAILED");
    expect(failed).toHaveLength(1);
    expect(failed[0]?.event.description).toContain(
      `container image "${UNMAPPED_IMAGE}" having no local mapping (add it under batch.images in ${example.localConfigFile})`,
    );
    expect(failed[0]?.event.taskExecution?.exitCode).toBe(125);
  });
});

describe("every job, container or built-in", () => {
  it("runs as its client's own worker account, with the client's labels on the job and its VMs", async () => {
    await cloud.upload("demo", "one.jsonl", '{"text":"a"}\n');
    await cloud.idle();
    const { platform } = cloud.config;
    const { jobs } = cloud.batch.listJobs(`projects/${platform.project}/locations/${platform.region}`);
    const byClient = new Map(jobs.map((j) => [j.labels?.["batchline-client"], j]));
    for (const client of ["demo", CLIENT, UNMAPPED]) {
      const job = byClient.get(client);
      expect(job, client).toBeDefined();
      expect(job?.allocationPolicy?.serviceAccount).toEqual({
        email: `blw-demo-${client}@${platform.project}.iam.gserviceaccount.com`,
      });
      expect(job?.allocationPolicy?.labels).toEqual({
        "batchline-product": "demo",
        "batchline-client": client,
      });
      expect(job?.labels).toMatchObject({ "batchline-product": "demo", "batchline-trigger": "event" });
    }
  });
});
