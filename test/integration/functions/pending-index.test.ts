import type { Storage } from "@google-cloud/storage";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ClaimMetadata } from "../../../core/runs.ts";
import { type PlannedRun, type PlanResponse, plan } from "../../../functions/plan/plan.ts";
import type { PlanRequest } from "../../../functions/plan/request.ts";
import { watermarkName, watermarkSchema } from "../../../functions/plan/watermark.ts";
import { claimNameFor } from "../../../functions/shared/claims.ts";
import { markPending, pendingNameFor } from "../../../functions/shared/pending-index.ts";
import { testConfig } from "../../fixtures/functions/config.ts";
import {
  dyingStorage,
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
const INPUTS = "shop/acme/inputs/";
const PENDING = "shop/acme/pending/";

let gcs: Gcs;
beforeEach(async () => {
  gcs = await startGcs(BUCKET);
});
afterEach(async () => {
  await gcs.stop();
});

/**
 * Plans "now" by default (an hour later lets the watermark pass what the test uploaded). Runs here are never
 * settled by notify, so the client may have several open at once.
 */
function deps(options: { storage?: Storage; now?: Date; maxInputsPerRun?: number } = {}) {
  const now = options.now ?? new Date();
  const config = testConfig(
    options.maxInputsPerRun === undefined ? {} : { maxInputsPerRun: options.maxInputsPerRun },
  );
  const acme = config.clients.get("acme");
  if (acme !== undefined) config.clients.set("acme", { ...acme, maxConcurrentJobs: 10 });
  return {
    storage: options.storage ?? gcs.storage,
    config,
    registry: registryOf(gcs.bucket, config),
    now: () => now,
    logger: memoryLogger("plan").logger,
  };
}

const later = (): Date => new Date(Date.now() + 3_600_000);

function event(object: string, eventId: string): PlanRequest {
  return {
    client: "acme",
    trigger: { type: "event", object: `${INPUTS}${object}`, eventId },
    runKey: eventId,
  };
}

function sweep(runKey: string): PlanRequest {
  return { client: "acme", trigger: { type: "schedule" }, runKey };
}

async function objectsOf(response: PlanResponse): Promise<string[]> {
  if (response.runId === null) return [];
  const run = response as PlannedRun;
  const { inputs } = await readManifest(gcs.bucket, run.manifestUri.replace(`gs://${BUCKET}/`, ""));
  return inputs.map((i) => i.object.slice(INPUTS.length));
}

async function claimOf(path: string): Promise<Record<string, string> | null> {
  return (await readClaimState(gcs.bucket, claimNameFor("shop", "acme", `${INPUTS}${path}`)))?.claim ?? null;
}

async function settle(path: string, generation: string, state: ClaimMetadata["state"], failures = "0") {
  await putClaim(gcs.bucket, claimNameFor("shop", "acme", `${INPUTS}${path}`), {
    state,
    inputGeneration: generation,
    runId: "ev-00000000000000aa",
    failures,
    leaseExpiresAt: new Date().toISOString(),
    reason: state === "succeeded" ? "" : "exit 1",
  });
}

/** Counts metadata reads of claim objects, to show what a plan looked at. */
function countingStorage(storage: Storage, counter: { claimReads: number }): Storage {
  return new Proxy(storage, {
    get(target, prop) {
      if (prop !== "bucket") {
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (name: string) =>
        new Proxy(target.bucket(name), {
          get(b, p) {
            if (p === "file") {
              return (objectName: string, options?: object) => {
                const file = b.file(objectName, options);
                if (objectName.startsWith("shop/acme/claims/")) {
                  const read = file.getMetadata.bind(file);
                  file.getMetadata = ((...args: Parameters<typeof file.getMetadata>) => {
                    counter.claimReads++;
                    return read(...args);
                  }) as typeof file.getMetadata;
                }
                return file;
              };
            }
            const value = Reflect.get(b, p, b);
            return typeof value === "function" ? value.bind(b) : value;
          },
        });
    },
  });
}

describe("the pending index", () => {
  it("lets an event run take its own object and what is in the index, never the rest of inputs/", async () => {
    await upload(gcs.bucket, { [`${INPUTS}missed.jsonl`]: "m\n", [`${INPUTS}mine.jsonl`]: "x\n" });
    await uploadPending(gcs.bucket, { [`${INPUTS}waiting.jsonl`]: "w\n" });
    const run = await plan(event("mine.jsonl", "e-1"), deps());
    expect((await objectsOf(run)).sort()).toEqual(["mine.jsonl", "waiting.jsonl"]);
    expect(await claimOf("missed.jsonl")).toBeNull();
    // Taken: out of the index.
    expect(await names(gcs.bucket, PENDING)).toEqual([]);
    // The input whose event was lost is the sweep's.
    expect(await objectsOf(await plan(sweep("s-1"), deps()))).toEqual(["missed.jsonl"]);
  });

  it("marks the inputs a run defers (maxInputsPerRun), and the next event run takes them", async () => {
    await upload(gcs.bucket, {
      [`${INPUTS}a.jsonl`]: "a\n",
      [`${INPUTS}b.jsonl`]: "b\n",
      [`${INPUTS}c.jsonl`]: "c\n",
    });
    const capped = deps({ maxInputsPerRun: 2 });
    expect(await objectsOf(await plan(sweep("s-cap"), capped))).toEqual(["a.jsonl", "b.jsonl"]);
    expect(await names(gcs.bucket, PENDING)).toEqual([`${PENDING}c.jsonl`]);
    await upload(gcs.bucket, { [`${INPUTS}d.jsonl`]: "d\n" });
    expect(await objectsOf(await plan(event("d.jsonl", "e-d"), capped))).toEqual(["c.jsonl", "d.jsonl"]);
    expect(await names(gcs.bucket, PENDING)).toEqual([]);
  });

  it("leaves a marker the killed run did not clear to that run, and clears it once the input is final", async () => {
    const gens = await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "a\n" });
    const killed = dyingStorage(gcs.storage, (name, call) => call === "delete" && name.startsWith(PENDING));
    const first = await plan(event("a.jsonl", "e-first"), deps({ storage: killed })).catch((e: Error) => e);
    expect(first).toBeInstanceOf(Error);
    expect(await names(gcs.bucket, PENDING)).toEqual([`${PENDING}a.jsonl`]);
    // The retried call finds its manifest; another run sees a live holder and takes nothing.
    expect(await objectsOf(await plan(event("a.jsonl", "e-first"), deps()))).toEqual(["a.jsonl"]);
    expect(await plan(event("a.jsonl", "e-other"), deps())).toMatchObject({ runId: null });
    expect(await names(gcs.bucket, PENDING)).toEqual([`${PENDING}a.jsonl`]);
    await settle("a.jsonl", gens[`${INPUTS}a.jsonl`] ?? "", "succeeded");
    expect(await plan(event("b.jsonl", "e-later"), deps())).toMatchObject({ runId: null });
    expect(await names(gcs.bucket, PENDING)).toEqual([]);
  });

  it("gives a duplicated delivery, sequential or concurrent, one run", async () => {
    await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "a\n" });
    const runs = await Promise.all([1, 2, 3].map(() => plan(event("a.jsonl", "e-dup"), deps())));
    for (const r of runs) expect(r).toEqual(runs[0]);
    expect(await objectsOf(runs[0] as PlanResponse)).toEqual(["a.jsonl"]);
    // A second event for the same generation (another id) finds it held and starts nothing.
    expect(await plan(event("a.jsonl", "e-dup-2"), deps())).toMatchObject({ runId: null });
    expect(await names(gcs.bucket, PENDING)).toEqual([]);
  });

  it("clears the marker of an input that was deleted", async () => {
    await uploadPending(gcs.bucket, { [`${INPUTS}gone.jsonl`]: "g\n" });
    await gcs.bucket.file(`${INPUTS}gone.jsonl`).delete();
    expect(await plan(event("other.jsonl", "e-gone"), deps())).toMatchObject({ runId: null });
    expect(await names(gcs.bucket, PENDING)).toEqual([]);
  });

  it("keeps an unsafe input name out of the marker's name and still plans it (refused, reported)", async () => {
    const unsafe = `${INPUTS}a/../b.jsonl`;
    await uploadPending(gcs.bucket, { [unsafe]: "x\n" });
    expect(await names(gcs.bucket, PENDING)).toEqual([pendingNameFor("shop", "acme", unsafe)]);
    expect(pendingNameFor("shop", "acme", unsafe)).toMatch(/^shop\/acme\/pending\/\.unsafe\/[0-9a-f]{64}$/);
    const run = await plan(event("x.jsonl", "e-unsafe"), deps());
    expect(run).toMatchObject({ rejectedCount: 1 });
    expect(await names(gcs.bucket, PENDING)).toEqual([]);
  });
});

describe("the sweep watermark", () => {
  it("moves past final inputs, stops below the oldest one still pending, and reads no claim below it", async () => {
    const gens = await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "a\n", [`${INPUTS}b.jsonl`]: "b\n" });
    const c = await upload(gcs.bucket, { [`${INPUTS}c.jsonl`]: "c\n" });
    const d = await upload(gcs.bucket, { [`${INPUTS}d.jsonl`]: "d\n" });
    await settle("a.jsonl", gens[`${INPUTS}a.jsonl`] ?? "", "succeeded");
    await settle("b.jsonl", gens[`${INPUTS}b.jsonl`] ?? "", "poison", "3");
    await settle("c.jsonl", c[`${INPUTS}c.jsonl`] ?? "", "failed", "1");
    await settle("d.jsonl", d[`${INPUTS}d.jsonl`] ?? "", "succeeded");

    expect(await objectsOf(await plan(sweep("s-1"), deps({ now: later() })))).toEqual(["c.jsonl"]);
    const w1 = watermarkSchema.parse(await readJsonObject(gcs.bucket, watermarkName("shop", "acme")));
    const highestFinalBelowC = [gens[`${INPUTS}a.jsonl`], gens[`${INPUTS}b.jsonl`]]
      .map((g) => BigInt(g ?? "0"))
      .reduce((x, y) => (x > y ? x : y));
    expect(BigInt(w1.generation)).toBe(highestFinalBelowC);

    // c's run succeeds: the next sweep moves W to the newest input and reads only the claims above W.
    await settle("c.jsonl", c[`${INPUTS}c.jsonl`] ?? "", "succeeded");
    const counter = { claimReads: 0 };
    expect(
      await plan(sweep("s-2"), deps({ now: later(), storage: countingStorage(gcs.storage, counter) })),
    ).toMatchObject({
      runId: null,
    });
    expect(counter.claimReads).toBe(2);
    const w2 = watermarkSchema.parse(await readJsonObject(gcs.bucket, watermarkName("shop", "acme")));
    expect(w2.generation).toBe(d[`${INPUTS}d.jsonl`]);

    const quiet = { claimReads: 0 };
    await upload(gcs.bucket, { [`${INPUTS}new.jsonl`]: "n\n" });
    expect(
      await objectsOf(
        await plan(sweep("s-3"), deps({ now: later(), storage: countingStorage(gcs.storage, quiet) })),
      ),
    ).toEqual(["new.jsonl"]);
    expect(quiet.claimReads).toBe(1);
  });

  it("does not pass inputs uploaded moments ago, so a slow commit is never skipped", async () => {
    const gens = await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "a\n" });
    await settle("a.jsonl", gens[`${INPUTS}a.jsonl`] ?? "", "succeeded");
    await plan(sweep("s-now"), deps());
    expect(await names(gcs.bucket, watermarkName("shop", "acme"))).toEqual([]);
  });

  it("reprocesses a re-upload of an input below the watermark", async () => {
    const gens = await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "v1\n" });
    await settle("a.jsonl", gens[`${INPUTS}a.jsonl`] ?? "", "succeeded");
    expect(await plan(sweep("s-before"), deps({ now: later() }))).toMatchObject({ runId: null });
    const again = await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "v2\n" });
    const run = await plan(sweep("s-after"), deps({ now: later() }));
    expect(await objectsOf(run)).toEqual(["a.jsonl"]);
    expect(await claimOf("a.jsonl")).toMatchObject({
      state: "running",
      inputGeneration: again[`${INPUTS}a.jsonl`],
    });
  });

  it("retries a failed input below the watermark from the index (notify marks it)", async () => {
    const gens = await upload(gcs.bucket, { [`${INPUTS}a.jsonl`]: "a\n", [`${INPUTS}b.jsonl`]: "b\n" });
    await settle("a.jsonl", gens[`${INPUTS}a.jsonl`] ?? "", "succeeded");
    await settle("b.jsonl", gens[`${INPUTS}b.jsonl`] ?? "", "succeeded");
    await plan(sweep("s-w"), deps({ now: later() }));
    // Say b was reported failed by a later run (below the threshold): notify marks it pending.
    await settle("b.jsonl", gens[`${INPUTS}b.jsonl`] ?? "", "failed", "1");
    await markPending(gcs.bucket, "shop", "acme", `${INPUTS}b.jsonl`, "test: failed below the threshold");
    expect(await objectsOf(await plan(sweep("s-retry"), deps({ now: later() })))).toEqual(["b.jsonl"]);
  });
});
