// Plan latency against the client's history: one new input planned by its event run with 0, 10,000 and
// 100,000 already-processed inputs (each with its `succeeded` claim) in the client's prefix, and a sweep over
// that history plus 100 new inputs. Storage is our GCS emulator (fs backend, in this process); plan runs
// through its real code path (functions/plan/plan.ts) against it, with recovery on (a Pub/Sub client that is
// never reached: no run is dead).
//
// Run: npm run bench:plan [-- --runs 15 --sizes 0,10000,100000 --new 100 --data-root DIR]
// Goals: event latency at 100,000 <= 2 x latency at 0; the sweep over 100,000 + 100 new <= 30 s.
//
// Seeding: the processed inputs and their claims are written straight into the emulator's fs backend (the
// records a restarted emulator loads), cloned from an input and a claim first written through the JSON API;
// then the emulator starts on that directory. The seeded history is as the sweeps that processed it left
// it: the client's watermark (functions/plan/watermark.ts) stands at the newest processed input (written
// through the API). The new inputs are uploaded through the API; only plan() is timed.

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PubSub } from "@google-cloud/pubsub";
import { type Bucket, Storage } from "@google-cloud/storage";
import { type BatchlineConfig, loadConfig } from "../core/config/load.ts";
import { createLogger } from "../core/logger.ts";
import { areaPrefix } from "../core/naming.ts";
import { plan } from "../functions/plan/plan.ts";
import { watermarkName } from "../functions/plan/watermark.ts";
import { claimNameFor } from "../functions/shared/claims.ts";
import { writeJsonIfGeneration } from "../functions/shared/gcs.ts";
import { mapLimit } from "../functions/shared/limit.ts";
import { bucketRegistry, writeRegistryObject } from "../functions/shared/registry.ts";
import { FsBackend } from "../local/gcs/backend/fs.ts";
import type { ObjectRecord } from "../local/gcs/backend/types.ts";
import { type GcsEmulator, startGcsEmulator } from "../local/gcs/index.ts";
import { writeResultsSection } from "./results-file.ts";

const CONFIG_DIR = "bench/fixtures/config";
export const LATENCY_TARGET = 2;
export const SWEEP_TARGET_SECONDS = 30;

interface Scenario {
  processed: number;
  /** Event plan latency of each run, ms. */
  eventMs: number[];
  eventMedianMs: number;
  /** The sweep over the history plus the new inputs, ms. */
  sweepMs: number;
  sweepInputs: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function defaultDataRoot(): string {
  try {
    if (statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {
    // No /dev/shm: the temp directory.
  }
  return tmpdir();
}

/** The bench config, with what this bench is not about turned off: no debounce, no concurrency limit. */
function benchConfig(): BatchlineConfig {
  const config = loadConfig(CONFIG_DIR);
  for (const [id, client] of config.clients) {
    config.clients.set(id, { ...client, debounceSeconds: 0, maxConcurrentJobs: 1_000 });
  }
  return config;
}

/**
 * Writes `processed` inputs with `succeeded` claims into the fs backend at `dir`, cloned from records the
 * JSON API wrote. Returns the newest seeded input generation.
 */
async function seed(
  dir: string,
  config: BatchlineConfig,
  clientId: string,
  processed: number,
): Promise<string> {
  const { bucket: bucketName, product } = config.platform;
  const quiet = createLogger({ component: "gcs-emulator", level: "error" });
  const emulator = await startGcsEmulator({ backend: "fs", dir, logger: quiet });
  const storage = new Storage({ apiEndpoint: emulator.url, projectId: "bench" });
  await storage.createBucket(bucketName);
  const bucket = storage.bucket(bucketName);
  await bucket.file("template/input.jsonl").save('{"n":1}\n', { resumable: false });
  await bucket.file("template/claim").save('{"input":"template"}\n', {
    resumable: false,
    metadata: { metadata: { state: "succeeded" } },
  });
  await emulator.stop();

  const backend = new FsBackend(dir);
  const { objects } = await backend.load();
  const input = objects.find((o) => o.name === "template/input.jsonl");
  const claim = objects.find((o) => o.name === "template/claim");
  if (input === undefined || claim === undefined) throw new Error("the template objects were not stored");
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  const base = Math.min(input.generation, claim.generation) - processed - 1_000_000;
  const inputs = areaPrefix(product, clientId, "inputs");
  await mapLimit(
    Array.from({ length: processed }, (_, i) => i),
    64,
    async (i) => {
      const generation = base + i;
      const name = `${inputs}history/${String(i).padStart(7, "0")}.jsonl`;
      const common = { generation, timeCreated: hourAgo, updated: hourAgo, timeStorageClassUpdated: hourAgo };
      const inputRecord: ObjectRecord = { ...input, ...common, name };
      const claimRecord: ObjectRecord = {
        ...claim,
        ...common,
        name: claimNameFor(product, clientId, name),
        metadata: {
          state: "succeeded",
          inputGeneration: String(generation),
          runId: "sc-00000000000000aa",
          failures: "0",
          leaseExpiresAt: hourAgo,
          reason: "",
        },
      };
      await backend.saveObject(inputRecord);
      await backend.saveObject(claimRecord);
    },
  );
  await backend.close();
  return String(base + processed - 1);
}

async function upload(bucket: Bucket, names: readonly string[]): Promise<void> {
  await mapLimit(names, 16, (name) => bucket.file(name).save('{"n":2}\n', { resumable: false }));
}

/** One client prefix with `processed` inputs of history, on its own emulator. */
interface Lane {
  processed: number;
  emulator: GcsEmulator;
  dir: string;
  bucket: Bucket;
  clientId: string;
  inputs: string;
  deps: Parameters<typeof plan>[1];
}

async function openLane(
  processed: number,
  options: { dataRoot: string; pubsub: PubSub; log: (line: string) => void },
): Promise<Lane> {
  const config = benchConfig();
  const [clientId] = [...config.clients.keys()];
  if (clientId === undefined) throw new Error(`${CONFIG_DIR} has no client`);
  const { product } = config.platform;
  const dir = mkdtempSync(join(options.dataRoot, "batchline-bench-plan-"));
  const seedStart = performance.now();
  const newest = await seed(dir, config, clientId, processed);
  const emulator = await startGcsEmulator({
    backend: "fs",
    dir,
    logger: createLogger({ component: "gcs-emulator", level: "error" }),
  });
  options.log(
    `${processed} processed inputs seeded and loaded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
  );
  const storage = new Storage({ apiEndpoint: emulator.url, projectId: "bench" });
  const bucket = storage.bucket(config.platform.bucket);
  const client = config.clients.get(clientId);
  if (client !== undefined) await writeRegistryObject(bucket, product, client);
  if (processed > 0) {
    const w = { schemaVersion: 1, generation: newest, updatedAt: new Date().toISOString() };
    await writeJsonIfGeneration(bucket.file(watermarkName(product, clientId)), w, "0");
  }
  return {
    processed,
    emulator,
    dir,
    bucket,
    clientId,
    inputs: areaPrefix(product, clientId, "inputs"),
    deps: {
      storage,
      config,
      // As deployed: the client's registry object, read through the 30 s per-instance cache.
      registry: bucketRegistry(bucket, product),
      pubsub: options.pubsub,
      now: () => new Date(),
      logger: createLogger({ component: "plan", level: "warn" }),
    },
  };
}

/** Uploads one new input and times the event run that plans it. */
async function timeEventPlan(lane: Lane, k: number): Promise<number> {
  const object = `${lane.inputs}new/event-${k}.jsonl`;
  await upload(lane.bucket, [object]);
  const start = performance.now();
  const response = await plan(
    {
      client: lane.clientId,
      trigger: { type: "event", object, eventId: `bench-${k}` },
      runKey: `bench-${k}`,
    },
    lane.deps,
  );
  const ms = performance.now() - start;
  if (response.inputCount !== 1)
    throw new Error(`event run ${k} planned ${response.inputCount} inputs, expected 1`);
  return ms;
}

/** Uploads `fresh` new inputs and times the sweep that plans them. */
async function timeSweep(lane: Lane, fresh: number): Promise<number> {
  const names = Array.from(
    { length: fresh },
    (_, i) => `${lane.inputs}new/sweep-${String(i).padStart(4, "0")}.jsonl`,
  );
  await upload(lane.bucket, names);
  const start = performance.now();
  const swept = await plan(
    { client: lane.clientId, trigger: { type: "schedule" }, runKey: "bench-sweep" },
    lane.deps,
  );
  const ms = performance.now() - start;
  if (swept.inputCount !== fresh)
    throw new Error(`the sweep planned ${swept.inputCount} inputs, expected ${fresh}`);
  return ms;
}

/**
 * Every lane is seeded and up before anything is timed, and the timed calls take turns across the lanes
 * (run k of each lane, then run k+1), so load from elsewhere on a shared machine falls on all of them alike.
 */
async function runAll(
  sizes: readonly number[],
  options: { runs: number; fresh: number; dataRoot: string; log: (line: string) => void },
): Promise<Scenario[]> {
  const pubsub = new PubSub({ projectId: "batchline-bench", apiEndpoint: "127.0.0.1:9" });
  const lanes: Lane[] = [];
  try {
    for (const processed of sizes) lanes.push(await openLane(processed, { ...options, pubsub }));
    const eventMs = lanes.map((): number[] => []);
    // Run 0 warms up (module code, connections) and is not counted.
    for (let k = 0; k <= options.runs; k++) {
      for (const [i, lane] of lanes.entries()) {
        const ms = await timeEventPlan(lane, k);
        if (k > 0) eventMs[i]?.push(ms);
      }
    }
    const sweepMs: number[] = [];
    for (const lane of lanes) sweepMs.push(await timeSweep(lane, options.fresh));
    return lanes.map((lane, i) => {
      const runs = eventMs[i] ?? [];
      const result: Scenario = {
        processed: lane.processed,
        eventMs: runs,
        eventMedianMs: median(runs),
        sweepMs: sweepMs[i] ?? Number.NaN,
        sweepInputs: lane.processed + options.runs + 1 + options.fresh,
      };
      options.log(
        `${lane.processed} processed: event plan median ${result.eventMedianMs.toFixed(1)} ms ` +
          `(runs ${runs.map((m) => m.toFixed(0)).join(", ")}); sweep ${(result.sweepMs / 1000).toFixed(2)} s`,
      );
      return result;
    });
  } finally {
    await pubsub.close();
    for (const lane of lanes) {
      await lane.emulator.stop();
      rmSync(lane.dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "15" },
      sizes: { type: "string", default: "0,10000,100000" },
      new: { type: "string", default: "100" },
      "data-root": { type: "string" },
    },
  });
  const runs = Number(values.runs);
  const sizes = values.sizes.split(",").map(Number);
  const fresh = Number(values.new);
  const dataRoot = values["data-root"] ?? defaultDataRoot();
  const log = (line: string) => console.log(line);
  const scenarios = await runAll(sizes, { runs, fresh, dataRoot, log });

  const baseline = scenarios.find((s) => s.processed === 0) ?? scenarios[0];
  if (baseline === undefined) throw new Error("no scenario ran");
  const largest = scenarios[scenarios.length - 1] ?? baseline;
  const rows = scenarios.map(
    (s) =>
      `| ${s.processed.toLocaleString("en")} | ${s.eventMedianMs.toFixed(1)} | ${(s.eventMedianMs / baseline.eventMedianMs).toFixed(2)} | ${(s.sweepMs / 1000).toFixed(2)} | ${(s.sweepMs / baseline.sweepMs).toFixed(2)} |`,
  );
  const latencyRatio = largest.eventMedianMs / baseline.eventMedianMs;
  const body = [
    `Command: \`npm run bench:plan -- --runs ${runs} --sizes ${sizes.join(",")} --new ${fresh}\`; ${new Date().toISOString().slice(0, 10)},`,
    `Node ${process.version}, ${cpus().length} CPUs (shared with other work), emulator data in ${dataRoot}.`,
    `Event plan: median of ${runs} runs (after one warm-up run), one new input each, through plan() against the`,
    "GCS emulator; the lanes are all up at once and take turns, so load from elsewhere falls on each alike.",
    `Sweep: one schedule run over the history plus ${fresh} new inputs (it plans the ${fresh}). Ratios are against`,
    "0 processed inputs, measured in the same run. Seeded history: see the comment at the top of bench/plan.ts.",
    "",
    "| processed inputs | event plan (ms, median) | × at 0 | sweep (s) | × at 0 |",
    "| ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    `Goals: event latency at ${largest.processed.toLocaleString("en")} ≤ ${LATENCY_TARGET}× at 0: ${latencyRatio.toFixed(2)}× ` +
      `(${latencyRatio <= LATENCY_TARGET ? "met" : "NOT met"}); sweep ≤ ${SWEEP_TARGET_SECONDS} s: ` +
      `${(largest.sweepMs / 1000).toFixed(2)} s (${largest.sweepMs / 1000 <= SWEEP_TARGET_SECONDS ? "met" : "NOT met"}).`,
  ].join("\n");
  writeResultsSection("Plan latency against history (bench/plan.ts)", body);
  for (const s of scenarios) {
    console.log(
      `ratio event plan at ${s.processed} / at ${baseline.processed}: ${(s.eventMedianMs / baseline.eventMedianMs).toFixed(2)} ` +
        `(sweep ${(s.sweepMs / baseline.sweepMs).toFixed(2)})`,
    );
  }
  console.log(
    `event latency ratio ${latencyRatio.toFixed(2)} (goal ≤ ${LATENCY_TARGET}); sweep ${(largest.sweepMs / 1000).toFixed(2)} s (goal ≤ ${SWEEP_TARGET_SECONDS} s)`,
  );
}

await main();
