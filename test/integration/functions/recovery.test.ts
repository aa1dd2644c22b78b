import type { PubSub } from "@google-cloud/pubsub";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { resultMessageV1Schema } from "../../../core/messages.ts";
import { type ManifestInput, openRunSchema, summarySchema } from "../../../core/runs.ts";
import { type NotifyDeps, notify, notifyStageFailure } from "../../../functions/notify/notify.ts";
import type { RetryPolicy } from "../../../functions/notify/publish.ts";
import { type PlanDeps, type PlannedRun, type PlanResponse, plan } from "../../../functions/plan/plan.ts";
import { claimNameFor } from "../../../functions/shared/claims.ts";
import type { ExecutionLiveness, RunProbe } from "../../../functions/shared/probe.ts";
import { testConfig } from "../../fixtures/functions/config.ts";
import {
  dyingStorage,
  type Gcs,
  type Inbox,
  names,
  pubsubFor,
  putClaim,
  putJson,
  readClaimState,
  readJsonObject,
  readManifest,
  registryOf,
  startGcs,
  subscribe,
  taskRecord,
  upload,
  uploadPending,
} from "../../fixtures/functions/harness.ts";
import { memoryLogger } from "../../fixtures/functions/logger.ts";

const BUCKET = "batchline-test-bucket";
const PROJECT = "fn-recovery-test";
const T0 = new Date("2026-11-21T10:00:00.000Z");
const INPUTS = "shop/acme/inputs/";
const OPEN = "shop/acme/runs/.open/";
const EXECUTION = "projects/p/locations/europe-west2/workflows/batchline-shop/executions/";
const fastRetry: RetryPolicy = {
  attempts: 2,
  baseDelayMs: 10,
  maxDelayMs: 20,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** What the Workflows and Batch APIs would answer, set per test. */
class FakeProbe implements RunProbe {
  executions = new Map<string, ExecutionLiveness>();
  jobs = new Map<string, string>();
  failing = false;
  asked: string[] = [];
  async execution(name: string): Promise<ExecutionLiveness> {
    this.asked.push(name);
    if (this.failing) throw Object.assign(new Error("permission denied"), { code: 7 });
    return this.executions.get(name) ?? { state: "ended", detail: "no longer exists" };
  }
  async job(name: string): Promise<string | null> {
    if (this.failing) throw Object.assign(new Error("permission denied"), { code: 7 });
    return this.jobs.get(name.split("/").pop() ?? "") ?? null;
  }
  async close(): Promise<void> {}
}

let pubsub: PubSub;
let gcs: Gcs;
let inbox: Inbox;
let probe: FakeProbe;
let now: Date;
let subscriptions = 0;

beforeAll(() => {
  pubsub = pubsubFor(inject("pubsubEmulatorHost"), PROJECT);
});
afterAll(async () => {
  await pubsub.close();
});
beforeEach(async () => {
  gcs = await startGcs(BUCKET);
  probe = new FakeProbe();
  now = T0;
  inbox = await subscribe(pubsub, "batch-shop-acme-outputs", `recovery-${process.pid}-${++subscriptions}`);
});
afterEach(async () => {
  await inbox.close();
  await gcs.stop();
});

function planDeps(withProbe = true, maxConcurrentJobs?: number): PlanDeps {
  const config = testConfig();
  const acme = config.clients.get("acme");
  if (acme !== undefined && maxConcurrentJobs !== undefined) {
    config.clients.set("acme", { ...acme, maxConcurrentJobs });
  }
  return {
    storage: gcs.storage,
    config,
    registry: registryOf(gcs.bucket, config),
    now: () => now,
    logger: memoryLogger("plan").logger,
    pubsub,
    probe: withProbe ? probe : null,
  };
}

function notifyDeps(): NotifyDeps {
  return {
    storage: gcs.storage,
    pubsub,
    config: testConfig(),
    registry: registryOf(gcs.bucket, testConfig()),
    now: () => now,
    logger: memoryLogger("notify").logger,
    publishRetry: fastRetry,
  };
}

async function planEvent(eventId: string, object = `${INPUTS}x`): Promise<PlanResponse> {
  return plan(
    {
      client: "acme",
      trigger: { type: "event", object, eventId },
      runKey: eventId,
      execution: `${EXECUTION}${eventId}`,
    },
    planDeps(),
  );
}

async function planned(response: PlanResponse): Promise<{ run: PlannedRun; inputs: ManifestInput[] }> {
  if (response.runId === null) throw new Error(`nothing planned: ${JSON.stringify(response)}`);
  const run = response as PlannedRun;
  const { inputs } = await readManifest(gcs.bucket, run.manifestUri.replace(`gs://${BUCKET}/`, ""));
  return { run, inputs };
}

function runKeyOf(run: PlannedRun, input: ManifestInput) {
  return `shop/acme/runs/${run.runId}/tasks/${input.index}.json`;
}

function messages() {
  return inbox.messages.map((m) => resultMessageV1Schema.parse(m.data));
}

async function quiet(ms = 600): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe("exactly one message per run", () => {
  it("publishes once when many notify calls for one run race (duplicate events, retries)", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n", [`${INPUTS}b.jsonl`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));
    for (const input of inputs) await putJson(gcs.bucket, runKeyOf(run, input), taskRecord(run.runId, input));
    const request = {
      client: "acme",
      runId: run.runId,
      manifestUri: run.manifestUri,
      jobId: run.jobId,
      jobState: "SUCCEEDED" as const,
    };

    const answers = await Promise.all(Array.from({ length: 8 }, () => notify(request, notifyDeps())));

    await inbox.waitFor(1);
    await quiet();
    expect(inbox.messages).toHaveLength(1);
    expect(new Set(answers.map((a) => a.messageId))).toEqual(new Set([inbox.messages[0]?.id]));
    expect(await names(gcs.bucket, OPEN)).toEqual([]);
  });

  it("gives the right to publish back when a publish fails, so the retry publishes at once", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));
    for (const input of inputs) await putJson(gcs.bucket, runKeyOf(run, input), taskRecord(run.runId, input));
    const request = {
      client: "acme",
      runId: run.runId,
      manifestUri: run.manifestUri,
      jobId: run.jobId,
      jobState: "SUCCEEDED" as const,
    };
    const topic = pubsub.topic("batch-shop-acme-outputs");
    const [subscription] = await topic.subscription(`recovery-${process.pid}-${subscriptions}`).getMetadata();
    await topic.delete();

    await expect(notify(request, notifyDeps())).rejects.toThrow(
      /topic "batch-shop-acme-outputs" .* does not exist/,
    );
    const summaryName = `shop/acme/runs/${run.runId}/summary.json`;
    const kept = summarySchema.parse(await readJsonObject(gcs.bucket, summaryName));
    expect(kept.messageId).toBeNull();
    expect(kept.publishing ?? null).toBeNull();

    await topic.create();
    await inbox.close();
    inbox = await subscribe(
      pubsub,
      "batch-shop-acme-outputs",
      `${subscription.name?.split("/").pop()}-again`,
    );
    const answer = await notify(request, notifyDeps());
    await inbox.waitFor(1);
    await quiet();
    expect(inbox.messages.map((m) => m.id)).toEqual([answer.messageId]);
  });

  it("overtakes a publisher that died holding the right once its lease has passed", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));
    for (const input of inputs) await putJson(gcs.bucket, runKeyOf(run, input), taskRecord(run.runId, input));
    const request = {
      client: "acme",
      runId: run.runId,
      manifestUri: run.manifestUri,
      jobId: run.jobId,
      jobState: "SUCCEEDED" as const,
    };
    // A first call wrote the summary and took the right to publish, then died before publishing.
    const deps = { ...notifyDeps(), publishLeaseMs: 60_000 };
    const first = notify(request, { ...deps, pubsub: deadPubsub() });
    await expect(first).rejects.toThrow(/publisher died/);
    const summaryName = `shop/acme/runs/${run.runId}/summary.json`;
    const stored = summarySchema.parse(await readJsonObject(gcs.bucket, summaryName));
    await putJson(gcs.bucket, summaryName, {
      ...stored,
      publishing: { by: "dead-call", until: new Date(T0.getTime() + 60_000).toISOString() },
    });

    // While its lease runs, another call waits rather than publishing a second message...
    const waiting = notify(request, { ...deps, publishLeaseMs: 60_000 });
    await quiet(400);
    expect(inbox.messages).toHaveLength(0);
    // ...and publishes once the lease has passed.
    now = new Date(T0.getTime() + 61_000);
    const answer = await waiting;
    await inbox.waitFor(1);
    await quiet();
    expect(inbox.messages.map((m) => m.id)).toEqual([answer.messageId]);
  });
});

/** A Pub/Sub client whose publish fails as if the process had died mid-call. */
function deadPubsub(): PubSub {
  return {
    topic: () => ({
      publishMessage: async () => {
        throw new Error("publisher died");
      },
    }),
  } as unknown as PubSub;
}

describe("recovery: a later plan settles runs that ended without notify", () => {
  it("keeps finished outputs, releases unfinished inputs without a failure, and sends the run's one message", async () => {
    await uploadPending(gcs.bucket, {
      [`${INPUTS}a.jsonl`]: "{}\n",
      [`${INPUTS}b.jsonl`]: "{}\n",
      [`${INPUTS}c.jsonl`]: "{}\n",
    });
    const { run, inputs } = await planned(await planEvent("e-1"));
    expect(await names(gcs.bucket, OPEN)).toEqual([`${OPEN}${run.runId}.json`]);
    const marker = openRunSchema.parse(await readJsonObject(gcs.bucket, `${OPEN}${run.runId}.json`));
    expect(marker.execution).toBe(`${EXECUTION}e-1`);
    // Task 0 finished; task 1 failed an attempt that Batch would have retried; task 2 never ran. Then the
    // whole local cloud was killed: the execution and the job are gone.
    const [a, b, c] = inputs as [ManifestInput, ManifestInput, ManifestInput];
    await putJson(gcs.bucket, runKeyOf(run, a), taskRecord(run.runId, a));
    await putJson(
      gcs.bucket,
      runKeyOf(run, b),
      taskRecord(run.runId, b, {
        status: "FAILED",
        retryable: true,
        error: "storage said 503",
        output: null,
      }),
    );

    await uploadPending(gcs.bucket, { [`${INPUTS}d.jsonl`]: "{}\n" });
    now = new Date(T0.getTime() + 60_000);
    const next = await planned(await planEvent("e-2", `${INPUTS}d.jsonl`));

    await inbox.waitFor(1);
    const [message] = messages();
    expect(message?.runId).toBe(run.runId);
    expect(message?.status).toBe("FAILED");
    expect(message?.counts).toMatchObject({ inputs: 3, succeeded: 1, failed: 2 });
    expect(message?.failedInputs.map((f) => [f.object, f.failures, f.poison])).toEqual([
      [b.object, 0, false],
      [c.object, 0, false],
    ]);
    for (const f of message?.failedInputs ?? []) {
      expect(f.reason).toMatch(/^not processed: run .* was interrupted: its workflow execution .*e-1 ended/);
      expect(f.reason).toMatch(/pending again for the next run$/);
    }
    expect(message?.error?.message).toMatch(/job .* does not exist/);
    // The claims: a done, b and c released with no failure counted, and now held by the next run with d.
    expect((await readClaimState(gcs.bucket, a.claim))?.claim).toMatchObject({ state: "succeeded" });
    expect(next.inputs.map((i) => i.object).sort()).toEqual([b.object, c.object, `${INPUTS}d.jsonl`]);
    for (const i of [b, c]) {
      expect((await readClaimState(gcs.bucket, i.claim))?.claim).toMatchObject({
        state: "running",
        runId: next.run.runId,
        failures: "0",
      });
    }
    expect(await names(gcs.bucket, OPEN)).toEqual([`${OPEN}${next.run.runId}.json`]);
    await quiet();
    expect(inbox.messages).toHaveLength(1);
  });

  it("leaves a run alone while its execution is active", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));
    probe.executions.set(`${EXECUTION}e-1`, { state: "active" });

    await uploadPending(gcs.bucket, { [`${INPUTS}b.jsonl`]: "{}\n" });
    const next = await planned(await planEvent("e-2", `${INPUTS}b.jsonl`));

    expect(next.inputs.map((i) => i.object)).toEqual([`${INPUTS}b.jsonl`]);
    expect((await readClaimState(gcs.bucket, inputs[0]?.claim ?? ""))?.claim).toMatchObject({
      state: "running",
      runId: run.runId,
    });
    await quiet();
    expect(inbox.messages).toHaveLength(0);
  });

  it("waits for a job that still runs after its execution ended, then settles it with the job's state", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n", [`${INPUTS}b.jsonl`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));
    probe.executions.set(`${EXECUTION}e-1`, { state: "ended", detail: "CANCELLED" });
    probe.jobs.set(run.jobId, "RUNNING");

    expect(
      (await plan({ client: "acme", trigger: { type: "manual" }, runKey: "m-1" }, planDeps())).runId,
    ).toBeNull();
    await quiet();
    expect(inbox.messages).toHaveLength(0);

    // The job finishes: task 0 succeeded, task 1 left no record (the job failed it for good).
    const [a, b] = inputs as [ManifestInput, ManifestInput];
    await putJson(gcs.bucket, runKeyOf(run, a), taskRecord(run.runId, a));
    probe.jobs.set(run.jobId, "FAILED");
    const after = await plan({ client: "acme", trigger: { type: "manual" }, runKey: "m-2" }, planDeps());

    await inbox.waitFor(1);
    const [message] = messages();
    expect(message?.runId).toBe(run.runId);
    expect(message?.jobId).toBe(run.jobId);
    // A job that ended is final: the input it failed is a real failure, counted as notify would count it.
    expect(message?.failedInputs.map((f) => [f.object, f.failures])).toEqual([[b.object, 1]]);
    expect(message?.error?.message).toBe(`job ${run.jobId} ended in state FAILED`);
    // Below maxInputFailures, so the same plan call takes it again, its one failure carried.
    expect((await planned(after)).inputs.map((i) => i.object)).toEqual([b.object]);
    expect((await readClaimState(gcs.bucket, b.claim))?.claim).toMatchObject({
      state: "running",
      failures: "1",
    });
  });

  it("releases what a run claimed when it died before writing its manifest", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const deadRun = "ev-00000000000000aa";
    const claim = claimNameFor("shop", "acme", `${INPUTS}a.jsonl`);
    const [meta] = await gcs.bucket.file(`${INPUTS}a.jsonl`).getMetadata();
    await putClaim(gcs.bucket, claim, {
      state: "running",
      inputGeneration: String(meta.generation),
      runId: deadRun,
      failures: "1",
      leaseExpiresAt: new Date(T0.getTime() + 5 * 3600_000).toISOString(),
      reason: "",
    });
    await putJson(gcs.bucket, `${OPEN}${deadRun}.json`, {
      schemaVersion: 1,
      runId: deadRun,
      jobId: `bl-shop-acme-${deadRun}`,
      execution: `${EXECUTION}dead`,
      openedAt: T0.toISOString(),
      leaseExpiresAt: new Date(T0.getTime() + 5 * 3600_000).toISOString(),
    });

    const next = await planned(await planEvent("e-2", `${INPUTS}a.jsonl`));

    expect(next.inputs.map((i) => i.object)).toEqual([`${INPUTS}a.jsonl`]);
    // Its failure count is what it was: the dead run's crash is not the input's.
    expect((await readClaimState(gcs.bucket, claim))?.claim).toMatchObject({
      state: "running",
      runId: next.run.runId,
      failures: "1",
    });
    expect(await names(gcs.bucket, OPEN)).toEqual([`${OPEN}${next.run.runId}.json`]);
    await quiet();
    expect(inbox.messages).toHaveLength(0);
  });

  it("finds and releases what a plan killed before its manifest had claimed, through the pending index", async () => {
    // The event's object was never in the index: the plan marks it before claiming it, then dies.
    await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const killed = dyingStorage(
      gcs.storage,
      (name, call) => call === "save" && name.endsWith("/manifest.json"),
    );
    const dying = plan(
      {
        client: "acme",
        trigger: { type: "event", object: `${INPUTS}a.jsonl`, eventId: "e-killed" },
        runKey: "e-killed",
        execution: `${EXECUTION}e-killed`,
      },
      { ...planDeps(), storage: killed },
    );
    await expect(dying).rejects.toThrow(/killed at save/);
    const claim = claimNameFor("shop", "acme", `${INPUTS}a.jsonl`);
    expect((await readClaimState(gcs.bucket, claim))?.claim).toMatchObject({
      state: "running",
      failures: "0",
    });

    // Its execution ended; the next event (another object) settles it and takes both inputs.
    await upload(gcs.bucket, { [`${INPUTS}b.jsonl`]: "{}\n" });
    const next = await planned(await planEvent("e-next", `${INPUTS}b.jsonl`));
    expect(next.inputs.map((i) => i.object).sort()).toEqual([`${INPUTS}a.jsonl`, `${INPUTS}b.jsonl`]);
    expect((await readClaimState(gcs.bucket, claim))?.claim).toMatchObject({
      state: "running",
      runId: next.run.runId,
      failures: "0",
    });
    expect(await names(gcs.bucket, "shop/acme/pending/")).toEqual([]);
    await quiet();
    expect(inbox.messages).toHaveLength(0);
  });

  it("uses the run's lease when the Workflows API cannot be asked", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const { run } = await planned(await planEvent("e-1"));
    probe.failing = true;

    expect(
      (await plan({ client: "acme", trigger: { type: "manual" }, runKey: "m-1" }, planDeps())).runId,
    ).toBeNull();
    await quiet();
    expect(inbox.messages).toHaveLength(0);

    const marker = openRunSchema.parse(await readJsonObject(gcs.bucket, `${OPEN}${run.runId}.json`));
    now = new Date(Date.parse(marker.leaseExpiresAt) + 1_000);
    const after = await plan({ client: "acme", trigger: { type: "manual" }, runKey: "m-2" }, planDeps(false));
    await inbox.waitFor(1);
    expect(messages()[0]?.runId).toBe(run.runId);
    expect(messages()[0]?.failedInputs[0]?.reason).toMatch(/its lease expired at/);
    // The released input is planned again by the same call.
    expect(after.runId).not.toBeNull();
  });
});

describe("maxConcurrentJobs", () => {
  it("makes a run over the limit wait, then merges what was pending into one run when the slot frees", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const first = await planned(await plan(event("e-1", `${INPUTS}a.jsonl`), planDeps(true, 1)));
    probe.executions.set(`${EXECUTION}e-1`, { state: "active" });
    await uploadPending(gcs.bucket, { [`${INPUTS}b.jsonl`]: "{}\n", [`${INPUTS}c.jsonl`]: "{}\n" });

    // One job in flight and a limit of one: both later uploads wait, claiming nothing.
    for (const [id, name] of [
      ["e-2", "b.jsonl"],
      ["e-3", "c.jsonl"],
    ] as const) {
      expect(await plan(event(id, `${INPUTS}${name}`), planDeps(true, 1))).toMatchObject({
        runId: null,
        waitSeconds: 2,
      });
    }
    expect(await names(gcs.bucket, "shop/acme/claims/")).toEqual([first.inputs[0]?.claim]);

    // The first run ends; the next waiting run takes both pending inputs, the other then finds nothing.
    const [a] = first.inputs as [ManifestInput];
    await putJson(gcs.bucket, runKeyOf(first.run, a), taskRecord(first.run.runId, a));
    await notify(
      {
        client: "acme",
        runId: first.run.runId,
        manifestUri: first.run.manifestUri,
        jobId: first.run.jobId,
        jobState: "SUCCEEDED",
      },
      notifyDeps(),
    );
    const merged = await planned(await plan(event("e-3", `${INPUTS}c.jsonl`, 2), planDeps(true, 1)));
    expect(merged.inputs.map((i) => i.object).sort()).toEqual([`${INPUTS}b.jsonl`, `${INPUTS}c.jsonl`]);
    probe.executions.set(`${EXECUTION}e-3`, { state: "active" });
    expect((await plan(event("e-2", `${INPUTS}b.jsonl`, 2), planDeps(true, 1))).runId).toBeNull();
  });

  it("lets a retried plan call of a run that already holds its inputs through, whatever the count", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    const first = await planned(await plan(event("e-1", `${INPUTS}a.jsonl`), planDeps(true, 1)));
    // The same call again (the workflow retried it): the same run, not a wait.
    await gcs.bucket.file(first.run.manifestUri.replace(`gs://${BUCKET}/`, "")).delete();
    const again = await plan(event("e-1", `${INPUTS}a.jsonl`), planDeps(true, 1));
    expect(again.runId).toBe(first.run.runId);
  });
});

function event(eventId: string, object: string, waitedSeconds = 0) {
  return {
    client: "acme",
    trigger: { type: "event" as const, object, eventId },
    runKey: eventId,
    waitedSeconds,
    execution: `${EXECUTION}${eventId}`,
  };
}

describe("runs from before open markers", () => {
  it("settles a holder past its lease from its task records, so its finished output is not processed again", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n", [`${INPUTS}b.jsonl`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));
    // As an older version left it: no open marker; task 0 finished, task 1 never ran.
    await gcs.bucket.file(`${OPEN}${run.runId}.json`).delete();
    const [a, b] = inputs as [ManifestInput, ManifestInput];
    await putJson(gcs.bucket, runKeyOf(run, a), taskRecord(run.runId, a));
    const lease = (await readClaimState(gcs.bucket, a.claim))?.claim.leaseExpiresAt ?? "";
    now = new Date(Date.parse(lease) + 1_000);

    const next = await planned(
      await plan({ client: "acme", trigger: { type: "manual" }, runKey: "m-1" }, planDeps(false)),
    );

    expect(next.inputs.map((i) => i.object)).toEqual([b.object]);
    expect((await readClaimState(gcs.bucket, a.claim))?.claim).toMatchObject({
      state: "succeeded",
      runId: run.runId,
    });
    await inbox.waitFor(1);
    const [message] = messages();
    expect(message).toMatchObject({ runId: run.runId, counts: { inputs: 2, succeeded: 1, failed: 1 } });
    expect(message?.failedInputs[0]).toMatchObject({ object: b.object, failures: 0 });
    expect(message?.failedInputs[0]?.reason).toMatch(/its lease expired at/);
  });
});

describe("a re-uploaded input is never stranded", () => {
  it("waits while a live run holds the old generation, then plans the new one once that run settles", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}x`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));
    probe.executions.set(`${EXECUTION}e-1`, { state: "active" });
    const gen2 = (await uploadPending(gcs.bucket, { [`${INPUTS}x`]: "{}\n{}\n" }))[`${INPUTS}x`];

    const held = await planEvent("e-2");
    expect(held).toMatchObject({ runId: null, waitSeconds: 2 });
    const later = await plan(
      {
        client: "acme",
        trigger: { type: "event", object: `${INPUTS}x`, eventId: "e-2" },
        runKey: "e-2",
        waitedSeconds: 40,
      },
      planDeps(),
    );
    expect(later).toMatchObject({ runId: null, waitSeconds: 20 });

    // The holder's task found its generation gone; notify reports it and frees the claim.
    const [x] = inputs as [ManifestInput];
    await putJson(
      gcs.bucket,
      runKeyOf(run, x),
      taskRecord(run.runId, x, {
        status: "FAILED",
        retryable: false,
        error: "generation gone",
        output: null,
      }),
    );
    await notify(
      {
        client: "acme",
        runId: run.runId,
        manifestUri: run.manifestUri,
        jobId: run.jobId,
        jobState: "FAILED",
      },
      notifyDeps(),
    );

    const next = await planned(await planEvent("e-2"));
    expect(next.inputs.map((i) => [i.object, i.generation])).toEqual([[`${INPUTS}x`, gen2]]);
  });
});

describe("a stage that failed before there was a run", () => {
  const failure = (eventId: string, object = `${INPUTS}x`) => ({
    client: "acme",
    stage: "plan" as const,
    trigger: { type: "event" as const, object, eventId },
    runKey: eventId,
    error: { message: "HTTP server responded with error code 503", code: "503" },
  });

  it("sends one FAILED message naming the stage and the input, however often it is reported", async () => {
    const generation = (await uploadPending(gcs.bucket, { [`${INPUTS}x`]: "{}\n" }))[`${INPUTS}x`];

    const answers = await Promise.all([1, 2, 3].map(() => notifyStageFailure(failure("e-9"), notifyDeps())));

    await inbox.waitFor(1);
    await quiet();
    expect(inbox.messages).toHaveLength(1);
    expect(new Set(answers.map((a) => a.messageId)).size).toBe(1);
    const [message] = messages();
    expect(message).toMatchObject({
      status: "FAILED",
      runId: answers[0]?.runId,
      jobId: null,
      counts: { inputs: 1, succeeded: 0, failed: 1 },
      error: { message: "the plan stage failed: HTTP server responded with error code 503", code: "503" },
    });
    expect(message?.failedInputs).toEqual([
      {
        object: `${INPUTS}x`,
        generation,
        reason:
          "not processed: the plan stage failed: HTTP server responded with error code 503; it is pending again for the next run",
        failures: 0,
        poison: false,
      },
    ]);
    // Nothing was claimed: the input is still pending for the next run.
    expect(await names(gcs.bucket, "shop/acme/claims/")).toEqual([]);
  });

  it("settles the run as interrupted when plan had written its manifest before failing", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}x`]: "{}\n" });
    const { run, inputs } = await planned(await planEvent("e-1"));

    const answer = await notifyStageFailure(failure("e-1"), notifyDeps());

    expect(answer.runId).toBe(run.runId);
    await inbox.waitFor(1);
    const [message] = messages();
    expect(message?.failedInputs.map((f) => [f.object, f.failures])).toEqual([[`${INPUTS}x`, 0]]);
    expect(message?.failedInputs[0]?.reason).toMatch(
      /^not processed: run .* was interrupted: the plan stage failed/,
    );
    expect((await readClaimState(gcs.bucket, inputs[0]?.claim ?? ""))?.claim).toMatchObject({
      state: "failed",
      failures: "0",
    });
    expect(await names(gcs.bucket, OPEN)).toEqual([]);
  });
});
