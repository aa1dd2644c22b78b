import type { Bucket, Storage } from "@google-cloud/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BatchlineConfig } from "../../../core/config/load.ts";
import { runId as computeRunId } from "../../../core/ids.ts";
import { claimMetadataSchema, manifestShardSchema } from "../../../core/runs.ts";
import { type PlannedRun, type PlanResponse, plan } from "../../../functions/plan/plan.ts";
import type { PlanRequest } from "../../../functions/plan/request.ts";
import { claimNameFor } from "../../../functions/shared/claims.ts";
import { BadRequestError } from "../../../functions/shared/errors.ts";
import { validateJob } from "../../../local/batch/spec.ts";
import { testConfig } from "../../fixtures/functions/config.ts";
import {
  type Gcs,
  names,
  putClaim,
  readClaimState,
  readJsonObject,
  readManifest,
  registryOf,
  startGcs,
  upload,
  uploadPending,
} from "../../fixtures/functions/harness.ts";
import { memoryLogger } from "../../fixtures/functions/logger.ts";

const BUCKET = "batchline-test-bucket";
const NOW = new Date("2026-11-21T10:00:00.000Z");
const INPUTS = "shop/acme/inputs/";

let gcs: Gcs;
beforeEach(async () => {
  gcs = await startGcs(BUCKET);
});
afterEach(async () => {
  await gcs.stop();
});

function deps(config: BatchlineConfig = testConfig(), now = NOW) {
  return {
    storage: gcs.storage,
    config,
    registry: registryOf(gcs.bucket, config),
    now: () => now,
    logger: memoryLogger("plan").logger,
  };
}

function event(runKey: string, client = "acme"): PlanRequest {
  return { client, trigger: { type: "event", object: `shop/${client}/inputs/x`, eventId: runKey }, runKey };
}

function planned(response: PlanResponse): PlannedRun {
  if (response.runId === null) throw new Error("expected a run, got nothing to do");
  return response as PlannedRun;
}

function manifestName(response: PlannedRun): string {
  return response.manifestUri.replace(`gs://${BUCKET}/`, "");
}

async function claimOf(inputName: string) {
  const state = await readClaimState(gcs.bucket, claimNameFor("shop", "acme", inputName));
  return state === null ? null : { generation: state.generation, ...claimMetadataSchema.parse(state.claim) };
}

/** A Storage whose bucket listings announce themselves and then wait for `gate`. */
function gatedStorage(storage: Storage, entered: () => void, gate: Promise<void>): Storage {
  const gatedBucket = (bucket: Bucket): Bucket =>
    new Proxy(bucket, {
      get(target, prop) {
        if (prop === "getFiles") {
          return async (...args: Parameters<Bucket["getFiles"]>) => {
            entered();
            await gate;
            return target.getFiles(...args);
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(storage, {
    get(target, prop) {
      if (prop === "bucket") return (name: string) => gatedBucket(target.bucket(name));
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function inputsNamed(count: number, prefix = "f"): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [
      `${INPUTS}${prefix}${String(i).padStart(4, "0")}.jsonl`,
      `{"n":${i}}\n`,
    ]),
  );
}

describe("plan", () => {
  it("does nothing, and writes nothing, when no input is pending", async () => {
    const response = await plan(event("e-empty"), deps());
    expect(response).toEqual({ runId: null, taskCount: 0, inputCount: 0, rejectedCount: 0 });
    // Only what the client stack deployed (its registry object, written by the test's registry).
    expect(await names(gcs.bucket)).toEqual(["registry/shop/acme.json"]);
  });

  it("claims every pending input and writes a manifest that lists them with their names", async () => {
    const generations = await uploadPending(gcs.bucket, {
      [`${INPUTS}b.jsonl`]: "b\n",
      [`${INPUTS}a.jsonl`]: "a\n",
      [`${INPUTS}2026/c.jsonl`]: "c\n",
    });
    const response = planned(await plan(event("e-1"), deps()));
    const runId = computeRunId({ product: "shop", client: "acme", trigger: "event", key: "e-1" });
    expect(response).toEqual({
      runId,
      jobId: `bl-shop-acme-${runId}`,
      taskCount: 3,
      inputCount: 3,
      rejectedCount: 0,
      manifestUri: `gs://${BUCKET}/shop/acme/runs/${runId}/manifest.json`,
      mode: "event",
      job: expect.objectContaining({
        parallelism: 8,
        maxRetryCount: 2,
        processor: "uppercase",
        env: { GREETING: "hi" },
      }),
      plannedAt: NOW.toISOString(),
      // The client's own worker account (infra ClientWorker), which its job runs as.
      workerServiceAccount: "blw-shop-acme@batchline-test.iam.gserviceaccount.com",
    });
    const { header, inputs } = await readManifest(gcs.bucket, manifestName(response));
    expect(header).toMatchObject({
      runId,
      mode: "event",
      inputCount: 3,
      taskCount: 3,
      rejected: [],
      shardSize: 1000,
      shards: [`shop/acme/runs/${runId}/manifest/00000.json`],
      trigger: { type: "event", object: "shop/acme/inputs/x", eventId: "e-1" },
    });
    // Oldest first: upload order is b, a, c.
    expect(inputs.map((i) => i.object)).toEqual([
      `${INPUTS}b.jsonl`,
      `${INPUTS}a.jsonl`,
      `${INPUTS}2026/c.jsonl`,
    ]);
    expect(inputs[2]).toEqual({
      index: 2,
      object: `${INPUTS}2026/c.jsonl`,
      generation: generations[`${INPUTS}2026/c.jsonl`],
      size: 2,
      output: "shop/acme/outputs/2026/c.jsonl",
      errors: `shop/acme/errors/${runId}/2026/c.jsonl.jsonl`,
      claim: "shop/acme/claims/2026/c.jsonl",
    });
    const claim = await claimOf(`${INPUTS}a.jsonl`);
    // Lease: 600 s × (2 + 1) + 3600 s after planning.
    expect(claim).toMatchObject({
      state: "running",
      runId,
      inputGeneration: generations[`${INPUTS}a.jsonl`],
      failures: "0",
      leaseExpiresAt: "2026-11-21T11:30:00.000Z",
      reason: "",
    });
  });

  it("splits more than 1,000 inputs into shards of 1,000 and claims them all", async () => {
    await uploadPending(gcs.bucket, inputsNamed(1205));
    const response = planned(await plan(event("e-big"), deps()));
    expect(response).toMatchObject({ inputCount: 1205, taskCount: 1205 });
    const { header } = await readManifest(gcs.bucket, manifestName(response));
    expect(header.shards).toEqual([
      `shop/acme/runs/${response.runId}/manifest/00000.json`,
      `shop/acme/runs/${response.runId}/manifest/00001.json`,
    ]);
    const first = manifestShardSchema.parse(await readJsonObject(gcs.bucket, header.shards[0] ?? ""));
    const second = manifestShardSchema.parse(await readJsonObject(gcs.bucket, header.shards[1] ?? ""));
    expect(first).toMatchObject({ runId: response.runId, shard: 0 });
    expect(first.inputs).toHaveLength(1000);
    expect(second.shard).toBe(1);
    expect(second.inputs.map((i) => i.index)).toEqual(Array.from({ length: 205 }, (_, j) => 1000 + j));
    const all = [...first.inputs, ...second.inputs].map((i) => i.object);
    expect(new Set(all).size).toBe(1205);
    expect(second.inputs[204]?.object).toBe(`${INPUTS}f1204.jsonl`);
    expect(await names(gcs.bucket, "shop/acme/claims/")).toHaveLength(1205);
  });

  it("returns the same run for the same runKey without claiming again", async () => {
    await uploadPending(gcs.bucket, inputsNamed(3));
    const first = await plan(event("e-dup"), deps());
    const claimsBefore = await Promise.all(Object.keys(inputsNamed(3)).map(claimOf));
    await uploadPending(gcs.bucket, { [`${INPUTS}late.jsonl`]: "late\n" });
    const again = await plan(event("e-dup"), deps(testConfig(), new Date("2026-11-21T10:05:00.000Z")));
    expect(again).toEqual(first);
    expect(await Promise.all(Object.keys(inputsNamed(3)).map(claimOf))).toEqual(claimsBefore);
    expect(await claimOf(`${INPUTS}late.jsonl`)).toBeNull();
  });

  it("lets exactly one of many racing runs claim each input", async () => {
    await uploadPending(gcs.bucket, inputsNamed(50));
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => plan(event(`race-${i}`), deps())),
    );
    const runs = responses.filter((r): r is PlannedRun => r.runId !== null);
    const listed: string[] = [];
    for (const run of runs) {
      const { inputs } = await readManifest(gcs.bucket, manifestName(run));
      for (const input of inputs) {
        listed.push(input.object);
        expect((await claimOf(input.object))?.runId).toBe(run.runId);
      }
    }
    expect(listed.sort()).toEqual(Object.keys(inputsNamed(50)).sort());
    for (const response of responses) if (response.runId === null) expect(response.taskCount).toBe(0);
  });

  it("gives identical concurrent calls one consistent manifest and strands no claim", async () => {
    await uploadPending(gcs.bucket, inputsNamed(30));
    const log = memoryLogger("plan");
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => plan(event("same-key"), { ...deps(), logger: log.logger })),
    );
    // One call wrote the header; the others lost that race and returned its manifest.
    const said = log.lines().map((l) => String(l.message));
    expect(said.filter((m) => m.startsWith("planned run"))).toHaveLength(1);
    for (const r of responses) expect(r).toEqual(responses[0]);
    const run = planned(responses[0] as PlanResponse);
    const { header, inputs } = await readManifest(gcs.bucket, manifestName(run));
    expect(inputs.map((i) => i.index)).toEqual(Array.from({ length: header.inputCount }, (_, i) => i));
    expect(inputs).toHaveLength(30);
    for (const name of Object.keys(inputsNamed(30))) {
      expect(await claimOf(name)).toMatchObject({ state: "running", runId: run.runId });
    }
  });

  it("returns the winner's run to a call that lost the header race, releasing what the winner does not list", async () => {
    await uploadPending(gcs.bucket, inputsNamed(3));
    // The slow call has read "no manifest yet" and waits in its listing while the fast call plans the run.
    let entered = () => {};
    const inListing = new Promise<void>((r) => {
      entered = r;
    });
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slowLog = memoryLogger("plan");
    const slow = plan(event("e-race"), {
      ...deps(),
      storage: gatedStorage(gcs.storage, entered, gate),
      logger: slowLog.logger,
    });
    await inListing;
    const fast = planned(await plan(event("e-race"), deps()));
    await uploadPending(gcs.bucket, { [`${INPUTS}late.jsonl`]: "late\n" });
    release();

    expect(await slow).toEqual(fast);
    expect((await readManifest(gcs.bucket, manifestName(fast))).inputs).toHaveLength(3);
    expect(await claimOf(`${INPUTS}late.jsonl`)).toMatchObject({
      state: "failed",
      failures: "0",
      runId: fast.runId,
    });
    expect(slowLog.lines().map((l) => l.message)).toContain(
      "an identical plan call wrote the manifest first; returning it",
    );
    expect((await plan(event("e-after-race"), deps())).inputCount).toBe(1);
  });

  it("adopts the shards of an attempt that died before writing the header", async () => {
    await uploadPending(gcs.bucket, inputsNamed(4));
    const first = planned(await plan(event("e-crash"), deps()));
    const before = await readManifest(gcs.bucket, manifestName(first));
    // The header is what makes the run exist; without it the next attempt plans again.
    await gcs.bucket.file(manifestName(first)).delete();
    await uploadPending(gcs.bucket, { [`${INPUTS}z-late.jsonl`]: "late\n" });
    const retried = planned(await plan(event("e-crash"), deps()));
    const after = await readManifest(gcs.bucket, manifestName(retried));
    // Shard 0 was partial, so it is the last shard: the late input waits for the next run.
    expect(after.inputs).toEqual(before.inputs);
    expect(await claimOf(`${INPUTS}z-late.jsonl`)).toMatchObject({ state: "failed", failures: "0" });
    const next = planned(await plan(event("e-next"), deps()));
    expect((await readManifest(gcs.bucket, manifestName(next))).inputs.map((i) => i.object)).toEqual([
      `${INPUTS}z-late.jsonl`,
    ]);
  });

  it("plans a re-upload again after its older generation succeeded", async () => {
    const old = await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "v1\n" });
    await putClaim(gcs.bucket, "shop/acme/claims/a.jsonl", {
      state: "succeeded",
      inputGeneration: old[`${INPUTS}a.jsonl`] ?? "",
      runId: "ev-00000000000000aa",
      failures: "1",
      leaseExpiresAt: NOW.toISOString(),
      reason: "",
    });
    expect((await plan(event("e-before"), deps())).runId).toBeNull();
    const fresh = await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "v2\n" });
    const run = planned(await plan(event("e-reupload"), deps()));
    const { inputs } = await readManifest(gcs.bucket, manifestName(run));
    expect(inputs.map((i) => i.generation)).toEqual([fresh[`${INPUTS}a.jsonl`]]);
    expect(await claimOf(`${INPUTS}a.jsonl`)).toMatchObject({ state: "running", failures: "0" });
  });

  it("retries a failed input below the threshold, carrying its failures", async () => {
    const gens = await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "a\n" });
    await putClaim(gcs.bucket, "shop/acme/claims/a.jsonl", {
      state: "failed",
      inputGeneration: gens[`${INPUTS}a.jsonl`] ?? "",
      runId: "ev-00000000000000aa",
      failures: "2",
      leaseExpiresAt: NOW.toISOString(),
      reason: "exit 1",
    });
    const run = planned(await plan(event("e-retry"), deps()));
    expect(run.inputCount).toBe(1);
    expect(await claimOf(`${INPUTS}a.jsonl`)).toMatchObject({
      state: "running",
      failures: "2",
      runId: run.runId,
    });
  });

  it("never claims a poison input, nor one that failed maxInputFailures times", async () => {
    const gens = await uploadPending(gcs.bucket, {
      [`${INPUTS}p.jsonl`]: "p\n",
      [`${INPUTS}f.jsonl`]: "f\n",
    });
    const claim = (path: string, state: "poison" | "failed") =>
      putClaim(gcs.bucket, `shop/acme/claims/${path}`, {
        state,
        inputGeneration: gens[`${INPUTS}${path}`] ?? "",
        runId: "ev-00000000000000aa",
        failures: "3",
        leaseExpiresAt: NOW.toISOString(),
        reason: "broken",
      });
    await claim("p.jsonl", "poison");
    await claim("f.jsonl", "failed");
    expect(await plan(event("e-poison"), deps())).toEqual({
      runId: null,
      taskCount: 0,
      inputCount: 0,
      rejectedCount: 0,
    });
    expect(await claimOf(`${INPUTS}p.jsonl`)).toMatchObject({ state: "poison", reason: "broken" });
  });

  it("takes over an input whose run's lease expired, counting that as a failure", async () => {
    const gens = await uploadPending(gcs.bucket, {
      [`${INPUTS}a.jsonl`]: "a\n",
      [`${INPUTS}b.jsonl`]: "b\n",
    });
    const held = (path: string, leaseExpiresAt: string) =>
      putClaim(gcs.bucket, `shop/acme/claims/${path}`, {
        state: "running",
        inputGeneration: gens[`${INPUTS}${path}`] ?? "",
        runId: "sc-00000000000000bb",
        failures: "0",
        leaseExpiresAt,
        reason: "",
      });
    await held("a.jsonl", "2026-11-21T09:59:00.000Z");
    await held("b.jsonl", "2026-11-21T10:30:00.000Z");
    const run = planned(await plan(event("e-takeover"), deps()));
    const { inputs } = await readManifest(gcs.bucket, manifestName(run));
    expect(inputs.map((i) => i.object)).toEqual([`${INPUTS}a.jsonl`]);
    expect(await claimOf(`${INPUTS}a.jsonl`)).toMatchObject({
      state: "running",
      runId: run.runId,
      failures: "1",
    });
    expect(await claimOf(`${INPUTS}b.jsonl`)).toMatchObject({ runId: "sc-00000000000000bb" });
  });

  it("refuses an oversized input: poison at once and listed in rejected", async () => {
    const gens = await uploadPending(gcs.bucket, {
      [`${INPUTS}big.jsonl`]: "x".repeat(1001),
      [`${INPUTS}ok.jsonl`]: "ok\n",
    });
    const run = planned(await plan(event("e-big-one"), deps()));
    expect(run).toMatchObject({ inputCount: 1, taskCount: 1, rejectedCount: 1 });
    const { header, inputs } = await readManifest(gcs.bucket, manifestName(run));
    expect(inputs.map((i) => i.object)).toEqual([`${INPUTS}ok.jsonl`]);
    const reason = "input is 1001 bytes, more than maxInputBytes (1000); it will not be processed";
    expect(header.rejected).toEqual([
      { object: `${INPUTS}big.jsonl`, generation: gens[`${INPUTS}big.jsonl`], reason },
    ]);
    expect(await claimOf(`${INPUTS}big.jsonl`)).toMatchObject({
      state: "poison",
      failures: "1",
      runId: run.runId,
      reason,
    });
    // Refused once: a later run neither claims nor reports it again.
    expect((await plan(event("e-after-big"), deps())).runId).toBeNull();
  });

  it("refuses an unsafe name without building a path from it", async () => {
    const unsafe = `${INPUTS}a/../b.jsonl`;
    await uploadPending(gcs.bucket, { [unsafe]: "x\n" });
    const run = planned(await plan(event("e-unsafe"), deps()));
    expect(run).toMatchObject({ inputCount: 0, taskCount: 0, rejectedCount: 1 });
    const { header } = await readManifest(gcs.bucket, manifestName(run));
    expect(header.rejected[0]).toMatchObject({
      object: unsafe,
      reason: expect.stringMatching(/has a '\.\.' segment/),
    });
    const claims = await names(gcs.bucket, "shop/acme/claims/");
    expect(claims).toEqual([claimNameFor("shop", "acme", unsafe)]);
    expect(claims[0]).toMatch(/^shop\/acme\/claims\/\.unsafe\/[0-9a-f]{64}$/);
    expect(await claimOf(unsafe)).toMatchObject({ state: "poison" });
    expect((await plan(event("e-unsafe-2"), deps())).runId).toBeNull();
  });

  it("ignores folder placeholders", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}2026/`]: "", [INPUTS]: "" });
    expect((await plan(event("e-folders"), deps())).runId).toBeNull();
    await uploadPending(gcs.bucket, { [`${INPUTS}2026/a.jsonl`]: "a\n" });
    const run = planned(await plan(event("e-folders-2"), deps()));
    expect((await readManifest(gcs.bucket, manifestName(run))).inputs.map((i) => i.object)).toEqual([
      `${INPUTS}2026/a.jsonl`,
    ]);
  });

  it("runs an always schedule with nothing pending as one input-less task", async () => {
    const request: PlanRequest = {
      client: "nightly",
      trigger: { type: "schedule", scheduledTime: "2026-11-21T02:00:00Z" },
      runKey: "exec-1",
    };
    const run = planned(await plan(request, deps()));
    expect(run).toMatchObject({ mode: "always", taskCount: 1, inputCount: 0, rejectedCount: 0 });
    expect(run.runId).toMatch(/^sc-/);
    const { header } = await readManifest(gcs.bucket, manifestName(run));
    expect(header).toMatchObject({
      mode: "always",
      taskCount: 1,
      inputCount: 0,
      shards: [],
      trigger: request.trigger,
    });
  });

  it("sweeps on a sweep schedule and on a manual start, and only then creates a run", async () => {
    const schedule: PlanRequest = { client: "acme", trigger: { type: "schedule" }, runKey: "exec-2" };
    expect((await plan(schedule, deps())).runId).toBeNull();
    await upload(gcs.bucket, inputsNamed(2));
    expect(planned(await plan(schedule, deps()))).toMatchObject({ mode: "sweep", inputCount: 2 });
    await upload(gcs.bucket, { [`${INPUTS}m.jsonl`]: "m\n" });
    const manual = planned(
      await plan({ client: "acme", trigger: { type: "manual" }, runKey: "by-hand" }, deps()),
    );
    expect(manual).toMatchObject({ mode: "sweep", inputCount: 1 });
    expect(manual.runId).toMatch(/^mn-/);
  });

  it("takes at most maxInputsPerRun inputs, oldest first", async () => {
    await uploadPending(gcs.bucket, inputsNamed(5));
    const run = planned(await plan(event("e-cap"), deps(testConfig({ maxInputsPerRun: 2 }))));
    const { inputs } = await readManifest(gcs.bucket, manifestName(run));
    expect(inputs.map((i) => i.object)).toEqual([`${INPUTS}f0000.jsonl`, `${INPUTS}f0001.jsonl`]);
  });

  it("refuses a client with no registry object, naming the client and the object", async () => {
    const run = plan(event("e-x", "nobody"), deps());
    await expect(run).rejects.toBeInstanceOf(BadRequestError);
    await expect(run).rejects.toThrow(
      `unknown client "nobody": its registry object gs://${BUCKET}/registry/shop/nobody.json does not exist`,
    );
    expect(await names(gcs.bucket, "shop/nobody/")).toEqual([]);
  });

  it("refuses an offboarded client: its registry object was deleted, its inputs stay", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "a\n" });
    const config = testConfig();
    expect(planned(await plan(event("e-on"), deps(config))).inputCount).toBe(1);
    config.clients.delete("acme");
    await uploadPending(gcs.bucket, { [`${INPUTS}b.jsonl`]: "b\n" });
    await expect(plan(event("e-off"), deps(config))).rejects.toThrow(
      `unknown client "acme": its registry object gs://${BUCKET}/registry/shop/acme.json does not exist`,
    );
    expect(await names(gcs.bucket, `${INPUTS}`)).toEqual([`${INPUTS}a.jsonl`, `${INPUTS}b.jsonl`]);
  });
});

describe("plan for a container client", () => {
  const IMAGE = "europe-west2-docker.pkg.dev/bl-test/clients/model:7";

  /** The test config with acme's work done by its own image instead of the built-in processor. */
  function containerConfig(): BatchlineConfig {
    const config = testConfig();
    const acme = config.clients.get("acme");
    if (!acme) throw new Error("fixture lost acme");
    const clients = new Map(config.clients);
    clients.set("acme", {
      ...acme,
      job: {
        ...acme.job,
        processor: undefined,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the task contract spells ${…} in commands
        container: { imageUri: IMAGE, commands: ["${BATCHLINE_INPUT_PATH}"] },
      },
    });
    return { ...config, clients };
  }

  it("returns the whole job body, valid for Batch, the same on a repeated call; the manifest names the image", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.csv`]: "a\n", [`${INPUTS}b.csv`]: "b\n" });
    const config = containerConfig();
    const first = planned(await plan(event("e-c"), deps(config)));
    const again = planned(await plan(event("e-c"), deps(config)));
    expect(again.jobBody).toEqual(first.jobBody);
    // biome-ignore lint/suspicious/noExplicitAny: a REST JSON body, read by path in the assertions
    const body = first.jobBody as Record<string, any>;
    expect(() =>
      validateJob(structuredClone(body), `projects/p/locations/europe-west2/jobs/${first.jobId}`),
    ).not.toThrow();
    const group = body.taskGroups[0];
    expect(group.taskCount).toBe("2");
    expect(group.taskSpec.environment.variables).toMatchObject({
      BATCHLINE_MANIFEST_URI: first.manifestUri,
      BATCHLINE_JOB_ID: first.jobId,
      BATCHLINE_IMAGE: IMAGE,
    });
    expect(group.taskSpec.runnables[1].container).toMatchObject({
      imageUri: IMAGE,
      commands: ["/batchline/in/input"],
    });
    expect(body.allocationPolicy.serviceAccount.email).toBe(first.workerServiceAccount);
    const { header } = await readManifest(gcs.bucket, manifestName(first));
    expect(header.processor).toBe(`container ${IMAGE}`);
  });

  it("returns no job body for a built-in client", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}a.jsonl`]: "{}\n" });
    expect(planned(await plan(event("e-b"), deps())).jobBody).toBeUndefined();
  });
});
