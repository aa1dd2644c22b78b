import type { PubSub } from "@google-cloud/pubsub";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import type { BatchlineConfig } from "../../../core/config/load.ts";
import { MAX_FAILED_INPUTS_IN_MESSAGE, resultMessageV1Schema } from "../../../core/messages.ts";
import { claimMetadataSchema, type ManifestInput } from "../../../core/runs.ts";
import { type NotifyDeps, notify, notifyStageFailure } from "../../../functions/notify/notify.ts";
import type { RetryPolicy } from "../../../functions/notify/publish.ts";
import type { NotifyRequest } from "../../../functions/notify/request.ts";
import { type PlannedRun, plan } from "../../../functions/plan/plan.ts";
import { claimNameFor } from "../../../functions/shared/claims.ts";
import { BadRequestError } from "../../../functions/shared/errors.ts";
import { UnknownClientError } from "../../../functions/shared/registry.ts";
import { testConfig } from "../../fixtures/functions/config.ts";
import {
  type Gcs,
  type Inbox,
  names,
  pubsubFor,
  putClaim,
  putJson,
  readClaimState,
  readManifest,
  readSummary,
  registryOf,
  startGcs,
  subscribe,
  taskRecord,
  uploadPending,
} from "../../fixtures/functions/harness.ts";
import { memoryLogger } from "../../fixtures/functions/logger.ts";

const BUCKET = "batchline-test-bucket";
const PLANNED = new Date("2026-11-21T10:00:00.000Z");
const FINISHED = new Date("2026-11-21T10:05:00.000Z");
const INPUTS = "shop/acme/inputs/";
// A Pub/Sub project of this file's own, so no other test file's messages reach these subscriptions.
const PROJECT = "fn-notify-test";
const fastRetry: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 10,
  maxDelayMs: 20,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

let pubsub: PubSub;
let gcs: Gcs;
let inbox: Inbox | undefined;
let subscriptions = 0;

beforeAll(() => {
  pubsub = pubsubFor(inject("pubsubEmulatorHost"), PROJECT);
});
afterAll(async () => {
  await pubsub.close();
});
beforeEach(async () => {
  gcs = await startGcs(BUCKET);
});
afterEach(async () => {
  await inbox?.close();
  inbox = undefined;
  await gcs.stop();
});

async function listen(client = "acme"): Promise<Inbox> {
  inbox = await subscribe(
    pubsub,
    `batch-shop-${client}-outputs`,
    `notify-test-${process.pid}-${++subscriptions}`,
  );
  return inbox;
}

function notifyDeps(config: BatchlineConfig = testConfig()): NotifyDeps {
  return {
    storage: gcs.storage,
    pubsub,
    config,
    registry: registryOf(gcs.bucket, config),
    now: () => FINISHED,
    logger: memoryLogger("notify").logger,
    publishRetry: fastRetry,
  };
}

/** Plans a run over `files` (path → content) the way the workflow would before the job. */
async function planRun(
  files: Record<string, string>,
  client = "acme",
  runKey = "e-1",
): Promise<{ run: PlannedRun; inputs: ManifestInput[] }> {
  await uploadPending(
    gcs.bucket,
    Object.fromEntries(Object.entries(files).map(([p, c]) => [`shop/${client}/inputs/${p}`, c])),
  );
  const trigger =
    client === "nightly"
      ? { type: "schedule" as const }
      : { type: "event" as const, object: `shop/${client}/inputs/x`, eventId: runKey };
  const response = await plan(
    { client, trigger, runKey },
    {
      storage: gcs.storage,
      config: testConfig(),
      registry: registryOf(gcs.bucket, testConfig()),
      now: () => PLANNED,
      logger: memoryLogger("plan").logger,
    },
  );
  if (response.runId === null) throw new Error("nothing planned");
  const run = response as PlannedRun;
  const { inputs } = await readManifest(gcs.bucket, run.manifestUri.replace(`gs://${BUCKET}/`, ""));
  return { run, inputs };
}

function request(run: PlannedRun, fields: Partial<NotifyRequest> = {}): NotifyRequest {
  return {
    client: run.manifestUri.split("/")[4] ?? "acme",
    runId: run.runId,
    manifestUri: run.manifestUri,
    jobId: run.jobId,
    jobState: "SUCCEEDED",
    jobError: null,
    ...fields,
  };
}

async function record(
  run: PlannedRun,
  input: ManifestInput,
  fields: Parameters<typeof taskRecord>[2] = {},
): Promise<void> {
  await putJson(
    gcs.bucket,
    `shop/acme/runs/${run.runId}/tasks/${input.index}.json`,
    taskRecord(run.runId, input, fields),
  );
}

async function claimOf(client: string, input: string) {
  const state = await readClaimState(gcs.bucket, claimNameFor("shop", client, input));
  return state === null ? null : claimMetadataSchema.parse(state.claim);
}

const summaryName = (run: PlannedRun) => `shop/acme/runs/${run.runId}/summary.json`;

describe("notify", () => {
  it("publishes SUCCEEDED with its attributes when every task succeeded, and writes the summary", async () => {
    const box = await listen();
    const { run, inputs } = await planRun({ "a.jsonl": "a\n", "b.jsonl": "b\n" });
    for (const input of inputs)
      await record(run, input, { startedAt: `2026-11-21T10:0${input.index + 1}:00.000Z` });

    const response = await notify(request(run), notifyDeps());

    await box.waitFor(1);
    const [received] = box.messages;
    expect(received?.attributes).toEqual({
      schemaVersion: "1",
      status: "SUCCEEDED",
      client: "acme",
      product: "shop",
      runId: run.runId,
      trigger: "event",
    });
    const message = resultMessageV1Schema.parse(received?.data);
    expect(message).toMatchObject({
      status: "SUCCEEDED",
      runId: run.runId,
      jobId: run.jobId,
      counts: { inputs: 2, succeeded: 2, failed: 0, records: 20, badRecords: 2 },
      failedInputs: [],
      error: null,
      locations: {
        outputs: `gs://${BUCKET}/shop/acme/outputs/`,
        summary: `gs://${BUCKET}/${summaryName(run)}`,
        errors: `gs://${BUCKET}/shop/acme/errors/${run.runId}/`,
      },
      timings: {
        plannedAt: PLANNED.toISOString(),
        startedAt: "2026-11-21T10:01:00.000Z",
        finishedAt: FINISHED.toISOString(),
        durationMs: 300_000,
      },
    });
    expect(response).toEqual({
      runId: run.runId,
      status: "SUCCEEDED",
      messageId: received?.id,
      summaryUri: `gs://${BUCKET}/${summaryName(run)}`,
      counts: message.counts,
    });
    const summary = await readSummary(gcs.bucket, summaryName(run));
    expect(summary).toMatchObject({
      runId: run.runId,
      jobState: "SUCCEEDED",
      messageId: received?.id,
      message,
    });
    expect(summary.inputs.map((i) => [i.object, i.status, i.output])).toEqual([
      [`${INPUTS}a.jsonl`, "SUCCEEDED", "shop/acme/outputs/a.jsonl"],
      [`${INPUTS}b.jsonl`, "SUCCEEDED", "shop/acme/outputs/b.jsonl"],
    ]);
    expect(await claimOf("acme", `${INPUTS}a.jsonl`)).toMatchObject({ state: "succeeded", runId: run.runId });
  });

  it("fails the run for a failed task and a task that left no record, with their reasons", async () => {
    const box = await listen();
    const { run, inputs } = await planRun({ "a.jsonl": "a\n", "b.jsonl": "b\n", "c.jsonl": "c\n" });
    const [a, b] = inputs as [ManifestInput, ManifestInput, ManifestInput];
    await record(run, a);
    await record(run, b, {
      status: "FAILED",
      error: "line 3 is not JSON",
      retryable: false,
      records: 2,
      output: null,
    });

    const response = await notify(request(run, { jobState: "FAILED" }), notifyDeps());

    await box.waitFor(1);
    const message = resultMessageV1Schema.parse(box.messages[0]?.data);
    expect(box.messages[0]?.attributes.status).toBe("FAILED");
    expect(response.status).toBe("FAILED");
    expect(message.counts).toEqual({ inputs: 3, succeeded: 1, failed: 2, records: 12, badRecords: 2 });
    expect(message.failedInputs).toEqual([
      {
        object: `${INPUTS}b.jsonl`,
        generation: b.generation,
        reason: "line 3 is not JSON",
        failures: 1,
        poison: false,
      },
      {
        object: `${INPUTS}c.jsonl`,
        generation: inputs[2]?.generation,
        reason: "task 2 left no record (crashed, preempted or never started; job state FAILED)",
        failures: 1,
        poison: false,
      },
    ]);
    expect(await claimOf("acme", `${INPUTS}b.jsonl`)).toMatchObject({
      state: "failed",
      failures: "1",
      reason: "line 3 is not JSON",
    });
    expect(await claimOf("acme", `${INPUTS}a.jsonl`)).toMatchObject({ state: "succeeded" });
    // Pending again below the threshold: in the index, so the client's next event run retries them.
    expect(await names(gcs.bucket, "shop/acme/pending/")).toEqual([
      "shop/acme/pending/b.jsonl",
      "shop/acme/pending/c.jsonl",
    ]);
  });

  it("poisons an input on the failure that reaches maxInputFailures", async () => {
    const box = await listen();
    const gens = await uploadPending(gcs.bucket, { [`${INPUTS}bad.jsonl`]: "x\n" });
    await putClaim(gcs.bucket, "shop/acme/claims/bad.jsonl", {
      state: "failed",
      inputGeneration: gens[`${INPUTS}bad.jsonl`] ?? "",
      runId: "ev-00000000000000aa",
      failures: "2",
      leaseExpiresAt: PLANNED.toISOString(),
      reason: "earlier",
    });
    const { run, inputs } = await planRun({});
    expect(inputs).toHaveLength(1);
    await record(run, inputs[0] as ManifestInput, { status: "FAILED", error: "still broken" });

    await notify(request(run, { jobState: "FAILED" }), notifyDeps());

    await box.waitFor(1);
    expect(resultMessageV1Schema.parse(box.messages[0]?.data).failedInputs).toEqual([
      {
        object: `${INPUTS}bad.jsonl`,
        generation: gens[`${INPUTS}bad.jsonl`],
        reason: "still broken",
        failures: 3,
        poison: true,
      },
    ]);
    expect(await claimOf("acme", `${INPUTS}bad.jsonl`)).toMatchObject({
      state: "poison",
      failures: "3",
      reason: "still broken",
    });
    expect(await names(gcs.bucket, "shop/acme/pending/")).toEqual([]);
  });

  it("fails every input with the job's error when the job never started", async () => {
    const box = await listen();
    const { run } = await planRun({ "a.jsonl": "a\n", "b.jsonl": "b\n" });
    const jobError = { message: `job ${run.jobId} could not be created: quota exceeded`, code: "429" };

    const response = await notify(request(run, { jobId: null, jobState: null, jobError }), notifyDeps());

    await box.waitFor(1);
    const message = resultMessageV1Schema.parse(box.messages[0]?.data);
    expect(response.status).toBe("FAILED");
    expect(message).toMatchObject({
      status: "FAILED",
      jobId: null,
      error: jobError,
      counts: { failed: 2, succeeded: 0 },
    });
    expect(message.timings.startedAt).toBeNull();
    expect(message.failedInputs.map((f) => f.reason)).toEqual([jobError.message, jobError.message]);
    expect(await claimOf("acme", `${INPUTS}a.jsonl`)).toMatchObject({ state: "failed", failures: "1" });
  });

  it("answers a second call with the same summary and publishes nothing more", async () => {
    const box = await listen();
    const { run, inputs } = await planRun({ "a.jsonl": "a\n" });
    await record(run, inputs[0] as ManifestInput);
    const first = await notify(request(run), notifyDeps());
    await box.waitFor(1);
    const summary = await readSummary(gcs.bucket, summaryName(run));

    const second = await notify(request(run, { jobState: "FAILED" }), {
      ...notifyDeps(),
      now: () => new Date("2026-11-21T11:00:00.000Z"),
    });

    expect(second).toEqual(first);
    expect(await readSummary(gcs.bucket, summaryName(run))).toEqual(summary);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(box.messages).toHaveLength(1);
  });

  it("counts a failure once when notify is retried after settling the claims but before the summary", async () => {
    await listen();
    const { run, inputs } = await planRun({ "a.jsonl": "a\n", "b.jsonl": "b\n" });
    await record(run, inputs[0] as ManifestInput, { status: "FAILED", error: "exit 1" });
    await notify(request(run, { jobState: "FAILED" }), notifyDeps());
    const first = await readSummary(gcs.bucket, summaryName(run));
    // As if that call had died just before writing its summary.
    await gcs.bucket.file(summaryName(run)).delete();

    await notify(request(run, { jobState: "FAILED" }), notifyDeps());

    expect((await readSummary(gcs.bucket, summaryName(run))).inputs).toEqual(first.inputs);
    expect(await claimOf("acme", `${INPUTS}a.jsonl`)).toMatchObject({ state: "failed", failures: "1" });
  });

  it("settles each claim once when two notify calls race", async () => {
    const box = await listen();
    const { run, inputs } = await planRun({ "a.jsonl": "a\n", "b.jsonl": "b\n", "c.jsonl": "c\n" });
    await record(run, inputs[0] as ManifestInput, { status: "FAILED", error: "exit 1" });

    const answers = await Promise.all(
      [1, 2, 3].map(() => notify(request(run, { jobState: "FAILED" }), notifyDeps())),
    );

    const summary = await readSummary(gcs.bucket, summaryName(run));
    for (const answer of answers)
      expect(answer.counts).toEqual({ inputs: 3, succeeded: 0, failed: 3, records: 10, badRecords: 1 });
    expect(summary.inputs.map((i) => i.failures)).toEqual([1, 1, 1]);
    for (const input of inputs)
      expect(await claimOf("acme", input.object)).toMatchObject({ state: "failed", failures: "1" });
    await box.waitFor(1);
    // Pub/Sub is at-least-once: racing calls may each publish, but always the one stored message.
    for (const m of box.messages) expect(m.data).toEqual(summary.message);
    expect(answers.map((a) => a.messageId)).toContain(summary.messageId);
  });

  it("reports a missing topic by name, then publishes the stored message once the topic exists", async () => {
    const { run, inputs } = await planRun({ "a.jsonl": "a\n" }, "acme", "e-topic");
    await record(run, inputs[0] as ManifestInput);
    const topic = pubsub.topic("batch-shop-acme-outputs");
    if ((await topic.exists())[0]) await topic.delete();

    const failing = notify(request(run), notifyDeps());
    await expect(failing).rejects.toThrow(/Pub\/Sub topic "batch-shop-acme-outputs" .*does not exist/);
    await expect(failing).rejects.toMatchObject({ retryable: false });
    // The summary was written before publishing: the message content is fixed now.
    const stored = await readSummary(gcs.bucket, summaryName(run));
    expect(stored.messageId).toBeNull();
    expect(await claimOf("acme", `${INPUTS}a.jsonl`)).toMatchObject({ state: "succeeded" });

    const box = await listen();
    const later = await notify(request(run), {
      ...notifyDeps(),
      now: () => new Date("2026-11-21T12:00:00.000Z"),
    });
    await box.waitFor(1);
    expect(box.messages[0]?.data).toEqual(stored.message);
    expect(later.messageId).toBe(box.messages[0]?.id);
    expect((await readSummary(gcs.bucket, summaryName(run))).messageId).toBe(later.messageId);
  });

  it("lists at most 100 failed inputs and counts the rest", async () => {
    const box = await listen();
    const files = Object.fromEntries(
      Array.from({ length: 130 }, (_, i) => [`f${String(i).padStart(3, "0")}.jsonl`, "x\n"]),
    );
    const { run } = await planRun(files);

    const response = await notify(request(run, { jobState: "FAILED" }), notifyDeps());

    await box.waitFor(1);
    const message = resultMessageV1Schema.parse(box.messages[0]?.data);
    expect(response.counts).toMatchObject({ inputs: 130, failed: 130 });
    expect(message.failedInputs).toHaveLength(MAX_FAILED_INPUTS_IN_MESSAGE);
    expect(message.failedInputsOmitted).toBe(30);
    expect((await readSummary(gcs.bucket, summaryName(run))).inputs).toHaveLength(130);
  });

  it("reports inputs refused at plan time as poison failures", async () => {
    const box = await listen();
    const { run, inputs } = await planRun({ "ok.jsonl": "ok\n", "big.jsonl": "x".repeat(2000) });
    await record(run, inputs[0] as ManifestInput);

    const response = await notify(request(run), notifyDeps());

    await box.waitFor(1);
    const message = resultMessageV1Schema.parse(box.messages[0]?.data);
    expect(response.status).toBe("FAILED");
    expect(message.counts).toMatchObject({ inputs: 2, succeeded: 1, failed: 1 });
    expect(message.failedInputs).toEqual([
      {
        object: `${INPUTS}big.jsonl`,
        generation: expect.any(String),
        reason: "input is 2000 bytes, more than maxInputBytes (1000); it will not be processed",
        failures: 1,
        poison: true,
      },
    ]);
    expect(message.error).toBeNull();
  });

  it("decides an always run with no inputs by whether its job succeeded", async () => {
    const box = await listen("nightly");
    const { run } = await planRun({}, "nightly", "exec-1");
    expect(run.taskCount).toBe(1);
    const ok = await notify(request(run, { client: "nightly" }), notifyDeps());
    expect(ok).toMatchObject({ status: "SUCCEEDED", counts: { inputs: 0, succeeded: 0, failed: 0 } });

    const { run: second } = await planRun({}, "nightly", "exec-2");
    const failed = await notify(request(second, { client: "nightly", jobState: "FAILED" }), notifyDeps());
    expect(failed.status).toBe("FAILED");
    await box.waitFor(2);
    // Pub/Sub does not keep publish order without ordering keys (the emulator neither): match by run.
    const seen = box.messages.map((m) => [m.attributes.runId, m.attributes.status, m.attributes.trigger]);
    expect(seen).toHaveLength(2);
    expect(seen).toEqual(
      expect.arrayContaining([
        [run.runId, "SUCCEEDED", "schedule"],
        [second.runId, "FAILED", "schedule"],
      ]),
    );
    const failedMessage = box.messages.find((m) => m.attributes.runId === second.runId);
    expect(resultMessageV1Schema.parse(failedMessage?.data).error).toEqual({
      message: `job ${second.jobId} ended in state FAILED`,
    });
  });

  it("refuses a manifest URI that is not this client's run", async () => {
    const { run } = await planRun({ "a.jsonl": "a\n" });
    const wrong = notify(
      request(run, { manifestUri: `gs://other-bucket/shop/acme/runs/${run.runId}/manifest.json` }),
      notifyDeps(),
    );
    await expect(wrong).rejects.toBeInstanceOf(BadRequestError);
    await expect(wrong).rejects.toMatchObject({ field: "manifestUri" });
    const missing = notify(
      request(run, {
        runId: "ev-0000000000000000",
        manifestUri: `gs://${BUCKET}/shop/acme/runs/ev-0000000000000000/manifest.json`,
      }),
      notifyDeps(),
    );
    await expect(missing).rejects.toThrow(
      `run ev-0000000000000000 has no manifest: gs://${BUCKET}/shop/acme/runs/ev-0000000000000000/manifest.json does not exist`,
    );
  });
});

describe("notify for a client that was offboarded", () => {
  /** The test config without `client`: its registry object is deleted before notify reads it. */
  function offboarded(client: string): BatchlineConfig {
    const config = testConfig();
    config.clients.delete(client);
    return config;
  }

  it("still settles a run planned before the registry object went, and publishes to the topic that is left", async () => {
    const box = await listen();
    const { run, inputs } = await planRun({ "a.jsonl": "a\n" });
    for (const input of inputs) await record(run, input);

    const response = await notify(request(run), notifyDeps(offboarded("acme")));

    expect(await names(gcs.bucket, "registry/")).toEqual([]);
    await box.waitFor(1);
    expect(resultMessageV1Schema.parse(box.messages[0]?.data)).toMatchObject({
      status: "SUCCEEDED",
      runId: run.runId,
      counts: { inputs: 1, succeeded: 1, failed: 0 },
    });
    expect(response.messageId).toEqual(expect.any(String));
    expect(await claimOf("acme", `shop/acme/inputs/a.jsonl`)).toMatchObject({ state: "succeeded" });
  });

  it("refuses a failed stage of a client with neither registry object nor topic, naming the client", async () => {
    const failure = notifyStageFailure(
      {
        client: "ghost",
        stage: "plan",
        trigger: { type: "manual" },
        runKey: "k-ghost",
        error: { message: "HTTP server responded with error code 400" },
      },
      notifyDeps(),
    );
    await expect(failure).rejects.toBeInstanceOf(UnknownClientError);
    await expect(failure).rejects.toThrow(
      `unknown client "ghost": its registry object gs://${BUCKET}/registry/shop/ghost.json does not exist`,
    );
    expect(await names(gcs.bucket, "shop/ghost/")).toEqual([]);
  });
});
