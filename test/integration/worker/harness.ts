import { type Bucket, IdempotencyStrategy, Storage } from "@google-cloud/storage";
import { afterAll, beforeAll } from "vitest";
import { createLogger } from "../../../core/logger.ts";
import { objectName, runRecordName } from "../../../core/naming.ts";
import { downloadObject } from "../../../core/object-read.ts";
import {
  MANIFEST_SHARD_SIZE,
  type Manifest,
  type ManifestInput,
  manifestShardName,
  type TaskRecord,
  taskRecordSchema,
} from "../../../core/runs.ts";
import { namesFor } from "../../../functions/plan/pending.ts";
import { type GcsEmulator, startGcsEmulator } from "../../../local/gcs/index.ts";
import { runTask, type TaskDeps, type TaskOutcome } from "../../../worker/task.ts";

export const PRODUCT = "demo";
export const CLIENT = "acme";
export const BUCKET = "batchline-worker-test";

export interface Harness {
  emulator: GcsEmulator;
  storage: Storage;
  bucket: Bucket;
}

/**
 * Starts a harness before a test file's tests and stops it after them; `use` receives it once started:
 * `let h: Harness; harnessForFile((started) => { h = started; });`
 */
export function harnessForFile(use: (h: Harness) => void): void {
  let h: Harness | undefined;
  beforeAll(async () => {
    h = await startHarness();
    use(h);
  });
  afterAll(async () => {
    await h?.emulator.stop();
  });
}

/** Our GCS emulator (memory backend) with the test bucket, and a client pointed at it. */
export async function startHarness(): Promise<Harness> {
  const emulator = await startGcsEmulator({
    logger: createLogger({ component: "gcs-emulator", level: "fatal" }),
  });
  const storage = clientFor(emulator.url);
  await storage.createBucket(BUCKET);
  return { emulator, storage, bucket: storage.bucket(BUCKET) };
}

/** A client like the worker's own (main.ts): idempotent writes retry. */
export function clientFor(apiEndpoint: string): Storage {
  return new Storage({
    apiEndpoint,
    projectId: "test",
    retryOptions: { idempotencyStrategy: IdempotencyStrategy.RetryAlways, maxRetries: 1, totalTimeout: 20 },
  });
}

let runCounter = 0;

/** A fresh run id of the real shape, unique within the test process. */
export function newRunId(kind: "ev" | "sc" | "mn" = "mn"): string {
  runCounter += 1;
  const random = Math.floor(Math.random() * 0xffffffff);
  return `${kind}-${random.toString(16).padStart(8, "0")}${runCounter.toString(16).padStart(8, "0")}`;
}

export interface PlanOptions {
  runId?: string;
  /** Inputs to upload under `inputs/`, by relative path. */
  inputs?: { path: string; content: string | Buffer }[];
  processor?: string;
  mode?: Manifest["mode"];
  taskCount?: number;
  shardSize?: number;
  /** Change the entries before they are written (e.g. point one at a generation that does not exist). */
  editEntries?: (entries: ManifestInput[]) => ManifestInput[];
}

export interface PlannedRun {
  runId: string;
  manifestUri: string;
  manifestName: string;
  entries: ManifestInput[];
}

/** Does what the plan function does for a run: uploads inputs and writes the manifest header and shards. */
export async function planRun(h: Harness, options: PlanOptions = {}): Promise<PlannedRun> {
  const runId = options.runId ?? newRunId();
  const shardSize = options.shardSize ?? MANIFEST_SHARD_SIZE;
  let entries: ManifestInput[] = [];
  for (const [index, input] of (options.inputs ?? []).entries()) {
    const name = objectName(PRODUCT, CLIENT, "inputs", input.path);
    const file = h.bucket.file(name);
    await file.save(input.content, { resumable: false });
    const [meta] = await file.getMetadata();
    // The names the plan function gives the input (output, errors file and claim).
    const names = namesFor(PRODUCT, CLIENT, runId, name);
    entries.push({
      index,
      object: name,
      generation: String(meta.generation),
      size: Number(meta.size),
      ...names,
    });
  }
  if (options.editEntries) entries = options.editEntries(entries);
  const runPrefix = `${PRODUCT}/${CLIENT}/runs/${runId}/`;
  const shardCount = Math.ceil(entries.length / shardSize);
  const shards = Array.from({ length: shardCount }, (_, k) => manifestShardName(runPrefix, k));
  for (const [k, shardName] of shards.entries()) {
    const inputs = entries.slice(k * shardSize, (k + 1) * shardSize);
    await h.bucket.file(shardName).save(JSON.stringify({ runId, shard: k, inputs }), { resumable: false });
  }
  const manifestName = runRecordName(PRODUCT, CLIENT, runId, "manifest.json");
  const inputCount = options.inputs?.length ?? 0;
  const mode = options.mode ?? "event";
  const manifest: Manifest = {
    schemaVersion: 1,
    product: PRODUCT,
    client: CLIENT,
    bucket: BUCKET,
    runId,
    jobId: `bl-${PRODUCT}-${CLIENT}-${runId}`,
    trigger: { type: "manual" },
    plannedAt: new Date().toISOString(),
    processor: options.processor ?? "uppercase",
    mode,
    inputCount,
    taskCount: options.taskCount ?? (inputCount === 0 && mode === "always" ? 1 : inputCount),
    rejected: [],
    shardSize,
    shards,
  };
  await h.bucket.file(manifestName).save(JSON.stringify(manifest), { resumable: false });
  return { runId, manifestUri: `gs://${BUCKET}/${manifestName}`, manifestName, entries };
}

/** Batch's environment for task `index` of `run`. */
export function taskEnv(
  run: PlannedRun,
  index: number,
  extra: Record<string, string> = {},
  taskCount = Math.max(run.entries.length, 1),
): Record<string, string> {
  return {
    BATCH_TASK_INDEX: String(index),
    BATCH_TASK_COUNT: String(taskCount),
    BATCH_TASK_RETRY_ATTEMPT: "0",
    BATCHLINE_MANIFEST_URI: run.manifestUri,
    BATCHLINE_JOB_ID: `bl-${PRODUCT}-${CLIENT}-${run.runId}`,
    BATCHLINE_IMAGE: "europe-west2-docker.pkg.dev/test/batchline/worker:test",
    ...extra,
  };
}

export function deps(h: Harness, more: Partial<TaskDeps> = {}): TaskDeps {
  return {
    storage: h.storage,
    logger: createLogger({ component: "worker", level: "silent" }),
    now: () => new Date(),
    ...more,
  };
}

export async function runPlannedTask(
  h: Harness,
  run: PlannedRun,
  index: number,
  extra: Record<string, string> = {},
  more: Partial<TaskDeps> = {},
): Promise<TaskOutcome> {
  return runTask(taskEnv(run, index, extra), deps(h, more));
}

/** An object's bytes, or null when it does not exist. */
export async function readObject(bucket: Bucket, name: string): Promise<Buffer | null> {
  const [exists] = await bucket.file(name).exists();
  if (!exists) return null;
  return downloadObject(bucket.file(name));
}

/** `runs/<runId>/tasks/<index>.json` as stored, checked against the contract. */
export async function readTaskRecord(
  bucket: Bucket,
  runId: string,
  index: number,
): Promise<TaskRecord | null> {
  const body = await readObject(bucket, runRecordName(PRODUCT, CLIENT, runId, `tasks/${index}.json`));
  return body && taskRecordSchema.parse(JSON.parse(body.toString("utf8")));
}

/** Parses a JSONL body into values (blank last line ignored). */
export function jsonl(body: Buffer | null): unknown[] {
  if (body === null) throw new Error("object does not exist");
  return body
    .toString("utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}
