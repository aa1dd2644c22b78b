// Worker throughput against a raw download→upload copy of the same object through the same storage, and the
// worker's peak RSS on a large input. Storage is our GCS emulator (fs backend) in its own process; the worker
// runs as the bundle the image ships (dist-style, built by worker/build.ts), as a child process like Batch runs it.
//
// Run: node --import tsx bench/worker.ts [--mib 256] [--rss-mib 1024] [--runs 5] [--short-unicode] [--bundle FILE]
//        [--data-root DIR]
// (--bundle: time that worker bundle, e.g. one built from an earlier commit, instead of building this tree's;
//  --data-root: where the emulator keeps its files, default /dev/shm where it exists)
// Targets: worker throughput >= 0.8 x the raw copy; >= 2 x the straightforward implementation (the official
// client's read stream -> readline -> JSON.parse -> transform -> JSON.stringify -> write stream, as a user would
// write it); worker peak RSS < 200 MB on the 1 GiB input.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { type Bucket, Storage } from "@google-cloud/storage";
import { fastCrc32cGenerator } from "../core/crc32c.ts";
import { batchJobId } from "../core/ids.ts";
import {
  areaPrefix,
  errorsNameFor,
  gsUri,
  objectName,
  outputNameFor,
  runRecordName,
} from "../core/naming.ts";
import type { Manifest, ManifestInput } from "../core/runs.ts";
import { manifestShardName, taskRecordSchema } from "../core/runs.ts";
import { buildWorkerBundle } from "../worker/build.ts";

const ROOT = resolve(fileURLToPath(import.meta.url), "../..");
const SELF = fileURLToPath(import.meta.url);
const BUCKET = "batchline-bench";
const PRODUCT = "bench";
const CLIENT = "acme";
const MiB = 1024 * 1024;

export const THROUGHPUT_TARGET = 0.8;
/** The worker's throughput as a multiple of the straightforward implementation's. */
export const STRAIGHTFORWARD_TARGET = 2;
export const RSS_TARGET_MB = 200;

export interface WorkerBenchOptions {
  /** Size of the throughput input (MiB). */
  mib?: number;
  /** Size of the input for the peak-RSS run (MiB); 0 skips it. */
  rssMib?: number;
  /** A worker bundle to run instead of building this tree's (to compare builds on the same machine). */
  bundle?: string;
  /** Timed runs of each side; the median counts. */
  runs?: number;
  /** Record shape of the inputs (default `documents`). */
  shape?: RecordShape;
  /**
   * Where the emulator keeps its files (fs backend). Default /dev/shm where it exists, so the page cache's
   * writeback of gigabytes of runs (and the kernel threads doing it, on 2 cores) does not time the disk
   * instead of the worker; else the system temp directory.
   */
  dataRoot?: string;
  log?: (line: string) => void;
}

export interface WorkerBenchResult {
  date: string;
  node: string;
  cpus: number;
  shape: RecordShape;
  inputBytes: number;
  inputRecords: number;
  runs: number;
  /** Seconds of each timed run, work only (no process start-up). Copy with the worker's client settings. */
  copySeconds: number[];
  /** The same copy with the storage client's defaults (its slower built-in CRC32C). */
  defaultCopySeconds: number[];
  workerSeconds: number[];
  /** The straightforward implementation on the same input (see runStraightforwardProcess). */
  straightforwardSeconds: number[];
  copyMiBps: number;
  defaultCopyMiBps: number;
  workerMiBps: number;
  straightforwardMiBps: number;
  /** workerMiBps / copyMiBps (median runs): the figure the target applies to. */
  ratio: number;
  /** workerMiBps / defaultCopyMiBps, for reference. */
  ratioToDefaultCopy: number;
  /** workerMiBps / straightforwardMiBps (median runs). */
  multipleOfStraightforward: number;
  multipleTarget: number;
  ratioTarget: number;
  /** Where the emulator's files were (see WorkerBenchOptions.dataRoot). */
  dataRoot: string;
  rssInputBytes: number;
  /** Peak resident set of the worker process on the RSS input, in MB (10^6 bytes): VmHWM on Linux. */
  workerPeakRssMB: number | null;
  /** getrusage's maxRSS for the same process: never below this benchmark's own RSS when it spawned it. */
  workerRusageMaxRssMB: number | null;
  rssTargetMB: number;
  meetsThroughputTarget: boolean;
  meetsMultipleTarget: boolean;
  meetsRssTarget: boolean | null;
}

function defaultDataRoot(): string {
  try {
    if (statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {
    // not Linux, or no shared memory filesystem
  }
  return tmpdir();
}

/** Runs the whole benchmark and returns its figures (for `npm run bench:pipeline` to fold in). */
export async function runWorkerBench(options: WorkerBenchOptions = {}): Promise<WorkerBenchResult> {
  const mib = options.mib ?? 256;
  const rssMib = options.rssMib ?? 1024;
  const runs = options.runs ?? 5;
  const shape = options.shape ?? "documents";
  const log = options.log ?? (() => {});
  const work = mkdtempSync(join(tmpdir(), "batchline-bench-worker-"));
  const bundle = options.bundle ?? join(work, "image", "worker.js");
  if (options.bundle === undefined) await buildWorkerBundle(bundle);
  const dataRoot = options.dataRoot ?? defaultDataRoot();
  const data = mkdtempSync(join(dataRoot, "batchline-bench-gcs-"));
  const emulator = await startEmulatorProcess(data);
  try {
    const storage = new Storage({ apiEndpoint: emulator.url, projectId: "bench" });
    await storage.createBucket(BUCKET);
    const bucket = storage.bucket(BUCKET);

    log(`uploading a ${mib} MiB JSONL input (${shape})`);
    const input = await uploadJsonl(bucket, "throughput.jsonl", mib * MiB, shape);
    const run = await planRun(bucket, "mn-00000000000000a1", input);
    const copySeconds: number[] = [];
    const defaultCopySeconds: number[] = [];
    const workerSeconds: number[] = [];
    const straightforwardSeconds: number[] = [];
    const rate = (seconds: number) =>
      `${seconds.toFixed(2)} s  ${(input.size / MiB / seconds).toFixed(1)} MiB/s`;
    for (let i = 0; i < runs; i++) {
      // Rotate the order, so no side always meets a warm or a cold page cache.
      const sides = ["copy", "worker", "default-copy", "straightforward"];
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(i + k) % sides.length];
        if (side === "worker") {
          const r = await runWorkerProcess(bundle, emulator.url, bucket, run, false);
          workerSeconds.push(r.seconds);
          log(`run ${i + 1}: worker                        ${rate(r.seconds)}`);
        } else if (side === "straightforward") {
          const seconds = await runStraightforwardProcess(emulator.url, input);
          straightforwardSeconds.push(seconds);
          log(`run ${i + 1}: straightforward implementation ${rate(seconds)}`);
        } else if (side === "copy") {
          const seconds = await runCopyProcess(emulator.url, input, "worker");
          copySeconds.push(seconds);
          log(`run ${i + 1}: raw copy, worker's client     ${rate(seconds)}`);
        } else {
          const seconds = await runCopyProcess(emulator.url, input, "default");
          defaultCopySeconds.push(seconds);
          log(`run ${i + 1}: raw copy, client defaults     ${rate(seconds)}`);
        }
      }
    }
    await bucket.deleteFiles({ prefix: `${PRODUCT}/${CLIENT}/outputs/` });

    let workerPeakRssMB: number | null = null;
    let rusageMaxRssMB: number | null = null;
    let rssInputBytes = 0;
    if (rssMib > 0) {
      log(`uploading a ${rssMib} MiB JSONL input (${shape}) for the memory run`);
      const big = await uploadJsonl(bucket, "memory.jsonl", rssMib * MiB, shape);
      rssInputBytes = big.size;
      const bigRun = await planRun(bucket, "mn-00000000000000b2", big);
      const r = await runWorkerProcess(bundle, emulator.url, bucket, bigRun, true);
      workerPeakRssMB = (r.maxRssBytes ?? 0) / 1e6;
      rusageMaxRssMB = (r.rusageMaxRssBytes ?? 0) / 1e6;
      log(
        `memory run: ${r.seconds.toFixed(2)} s, peak RSS ${workerPeakRssMB.toFixed(1)} MB ` +
          `(getrusage maxRSS ${rusageMaxRssMB.toFixed(1)} MB, which includes this process's RSS at the spawn)`,
      );
    }

    const copy = median(copySeconds);
    const defaultCopy = median(defaultCopySeconds);
    const worker = median(workerSeconds);
    const straightforward = median(straightforwardSeconds);
    const ratio = copy / worker;
    const multiple = straightforward / worker;
    return {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      shape,
      inputBytes: input.size,
      inputRecords: input.records,
      runs,
      copySeconds,
      defaultCopySeconds,
      workerSeconds,
      straightforwardSeconds,
      copyMiBps: input.size / MiB / copy,
      defaultCopyMiBps: input.size / MiB / defaultCopy,
      workerMiBps: input.size / MiB / worker,
      straightforwardMiBps: input.size / MiB / straightforward,
      ratio,
      ratioToDefaultCopy: defaultCopy / worker,
      multipleOfStraightforward: multiple,
      multipleTarget: STRAIGHTFORWARD_TARGET,
      ratioTarget: THROUGHPUT_TARGET,
      dataRoot,
      rssInputBytes,
      workerPeakRssMB,
      workerRusageMaxRssMB: rusageMaxRssMB,
      rssTargetMB: RSS_TARGET_MB,
      meetsThroughputTarget: ratio >= THROUGHPUT_TARGET,
      meetsMultipleTarget: multiple >= STRAIGHTFORWARD_TARGET,
      meetsRssTarget: workerPeakRssMB === null ? null : workerPeakRssMB < RSS_TARGET_MB,
    };
  } finally {
    await emulator.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
}

interface UploadedInput {
  name: string;
  path: string;
  generation: string;
  size: number;
  records: number;
}

/**
 * Record shapes. `documents` is the default: support-ticket-like records whose `text` runs from one short
 * sentence to a few paragraphs (mean ~0.6 KB), mostly ASCII with non-ASCII text in ~3% of records.
 * `short-unicode` is a stress shape: ~200-byte records with accented and CJK words in nearly every one,
 * which makes V8 parse, upper-case and stringify two-byte strings (the slowest path).
 */
export type RecordShape = "documents" | "short-unicode";

const ASCII_WORDS = (
  "the order was shipped late and the customer asked for a refund because parcel arrived damaged " +
  "please check delivery address payment invoice account support ticket update status thanks team"
).split(" ");
const UNICODE_SNIPPETS = [
  "café crème",
  "Grüße aus Köln",
  "東京の新しい店",
  "señor Muñoz",
  "😀 great",
  "naïve façade",
];

/** Streams `bytes` of generated JSONL of one shape into the bucket (deterministic: same seed, same bytes). */
async function uploadJsonl(
  bucket: Bucket,
  path: string,
  bytes: number,
  shape: RecordShape,
): Promise<UploadedInput> {
  const name = `${PRODUCT}/${CLIENT}/inputs/${path}`;
  let records = 0;
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;
  const sentence = () => {
    const words = Array.from({ length: 5 + Math.floor(rand() * 12) }, () => pick(ASCII_WORDS));
    return `${words.join(" ")}.`;
  };
  const text = (): string => {
    if (shape === "short-unicode") {
      return Array.from({ length: 4 + Math.floor(rand() * 30) }, () =>
        rand() < 0.3 ? pick(UNICODE_SNIPPETS) : pick(ASCII_WORDS),
      ).join(" ");
    }
    // Mostly short, some long: 1 to ~30 sentences, skewed towards few.
    const sentences = 1 + Math.floor(rand() ** 2 * 30);
    const parts = Array.from({ length: sentences }, sentence);
    if (rand() < 0.03) parts.splice(Math.floor(rand() * parts.length), 0, pick(UNICODE_SNIPPETS));
    return parts.join(" ");
  };
  async function* generate(): AsyncGenerator<Buffer> {
    let written = 0;
    while (written < bytes) {
      const lines: string[] = [];
      let size = 0;
      while (size < MiB && written + size < bytes) {
        const line = JSON.stringify({
          id: records,
          customer: `c-${Math.floor(rand() * 100000)}`,
          lang: "en",
          text: text(),
          score: Math.round(rand() * 1000) / 10,
          tags: rand() < 0.5 ? ["billing", "urgent"] : [],
        });
        lines.push(line);
        size += Buffer.byteLength(line) + 1;
        records += 1;
      }
      const chunk = Buffer.from(`${lines.join("\n")}\n`);
      written += chunk.length;
      yield chunk;
    }
  }
  await pipeline(
    Readable.from(generate()),
    bucket
      .file(name)
      .createWriteStream({ resumable: true, validation: false, contentType: "application/x-ndjson" }),
  );
  const [meta] = await bucket.file(name).getMetadata();
  return { name, path, generation: String(meta.generation), size: Number(meta.size), records };
}

interface BenchRun {
  runId: string;
  manifestUri: string;
  entry: ManifestInput;
}

async function planRun(bucket: Bucket, runId: string, input: UploadedInput): Promise<BenchRun> {
  const parsed = { product: PRODUCT, client: CLIENT, area: "inputs" as const, path: input.path };
  const entry: ManifestInput = {
    index: 0,
    object: input.name,
    generation: input.generation,
    size: input.size,
    output: outputNameFor(parsed),
    errors: errorsNameFor(parsed, runId),
    claim: objectName(PRODUCT, CLIENT, "claims", input.path),
  };
  const shard = manifestShardName(`${areaPrefix(PRODUCT, CLIENT, "runs")}${runId}/`, 0);
  await bucket.file(shard).save(JSON.stringify({ runId, shard: 0, inputs: [entry] }), { resumable: false });
  const manifest: Manifest = {
    schemaVersion: 1,
    product: PRODUCT,
    client: CLIENT,
    bucket: BUCKET,
    runId,
    jobId: batchJobId(PRODUCT, CLIENT, runId),
    trigger: { type: "manual" },
    plannedAt: new Date().toISOString(),
    processor: "uppercase",
    mode: "event",
    inputCount: 1,
    taskCount: 1,
    rejected: [],
    shardSize: 1000,
    shards: [shard],
  };
  const manifestName = runRecordName(PRODUCT, CLIENT, runId, "manifest.json");
  await bucket.file(manifestName).save(JSON.stringify(manifest), { resumable: false });
  return { runId, manifestUri: gsUri(BUCKET, manifestName), entry };
}

// Printed by the worker process as it exits: its peak RSS. On Linux that is VmHWM from /proc/self/status, the
// high-water mark of this program's own memory. getrusage's maxRSS (resourceUsage().maxRSS, in KiB, the fallback
// elsewhere) also counts the pages the process had between fork and exec, i.e. this benchmark's own RSS at the
// spawn, so it can never read lower than the parent; it is printed too, for comparison.
const RSS_PRELOAD =
  "data:text/javascript,import{readFileSync}from'node:fs';process.on('exit',()=>{" +
  "const r=process.resourceUsage().maxRSS*1024;let h;" +
  "try{h=Number(/VmHWM:\\s*(\\d+) kB/.exec(readFileSync('/proc/self/status','utf8'))[1])*1024}catch{h=r}" +
  "process.stderr.write('BENCH_MAXRSS '+h+' BENCH_RUSAGE_MAXRSS '+r+'\\n')})";

/** Runs the bundled worker for task 0 of `run`; its own task record gives the work time. */
async function runWorkerProcess(
  bundle: string,
  url: string,
  bucket: Bucket,
  run: BenchRun,
  measureRss: boolean,
): Promise<{ seconds: number; maxRssBytes: number | undefined; rusageMaxRssBytes: number | undefined }> {
  // BENCH_WORKER_NODE_ARGS (space-separated) reaches the worker's node, e.g. "--cpu-prof --cpu-prof-dir=DIR".
  const extra = (process.env.BENCH_WORKER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const args = [...extra, ...(measureRss ? ["--import", RSS_PRELOAD, bundle] : [bundle])];
  const env = {
    PATH: process.env.PATH ?? "",
    STORAGE_EMULATOR_HOST: url,
    BATCH_TASK_INDEX: "0",
    BATCH_TASK_COUNT: "1",
    BATCH_TASK_RETRY_ATTEMPT: "0",
    BATCHLINE_MANIFEST_URI: run.manifestUri,
    BATCHLINE_LOG_LEVEL: "warn",
  };
  const { code, stderr, stdout } = await runChild(process.execPath, args, env);
  if (code !== 0) throw new Error(`worker exited ${code}: ${stdout}${stderr}`);
  const [body] = await bucket.file(runRecordName(PRODUCT, CLIENT, run.runId, "tasks/0.json")).download();
  const record = taskRecordSchema.parse(JSON.parse(body.toString("utf8")));
  if (record.records === 0 || record.badRecords !== 0) throw new Error(`unexpected task record ${body}`);
  const rss = /BENCH_MAXRSS (\d+) BENCH_RUSAGE_MAXRSS (\d+)/.exec(stderr);
  return {
    seconds: record.durationMs / 1000,
    maxRssBytes: rss?.[1] === undefined ? undefined : Number(rss[1]),
    rusageMaxRssBytes: rss?.[2] === undefined ? undefined : Number(rss[2]),
  };
}

/**
 * The baseline: the same object downloaded and uploaded unchanged (the upload options the worker uses),
 * either with the storage client exactly as the worker builds it (`worker`: its faster CRC32C) or with the
 * client's defaults (`default`).
 */
type CopyClient = "worker" | "default";

async function runCopyProcess(url: string, input: UploadedInput, client: CopyClient): Promise<number> {
  const args = ["--import", "tsx", SELF, "--copy", url, input.name, input.generation, client];
  const { code, stdout, stderr } = await runChild(process.execPath, args, { PATH: process.env.PATH ?? "" });
  if (code !== 0) throw new Error(`copy exited ${code}: ${stdout}${stderr}`);
  const seconds = /COPY_SECONDS ([\d.]+)/.exec(stdout)?.[1];
  if (seconds === undefined) throw new Error(`copy printed no time: ${stdout}`);
  return Number(seconds);
}

async function copyMain(url: string, name: string, generation: string, client: CopyClient): Promise<void> {
  const storage = new Storage({
    apiEndpoint: url,
    projectId: "bench",
    ...(client === "worker" ? { crc32cGenerator: fastCrc32cGenerator } : {}),
  });
  const bucket = storage.bucket(BUCKET);
  const started = performance.now();
  await pipeline(
    bucket.file(name, { generation }).createReadStream(),
    bucket.file(`${PRODUCT}/${CLIENT}/outputs/raw-copy.jsonl`).createWriteStream({
      resumable: true,
      validation: "crc32c",
      contentType: "application/x-ndjson",
      metadata: { metadata: { batchlineInputObject: name } },
    }),
  );
  process.stdout.write(`COPY_SECONDS ${((performance.now() - started) / 1000).toFixed(3)}\n`);
}

/**
 * The other baseline: what a user would write to do the worker's job with the official client and no care for
 * speed. Read stream -> readline -> JSON.parse -> the same transform as the `uppercase` processor (upper-case
 * `text`, keep the rest) -> JSON.stringify -> the client's write stream (resumable, as for any object over 5 MB),
 * honouring backpressure. Client defaults throughout, as a user would leave them. Its time runs from the first
 * request to the finalized upload, like the copy's.
 */
async function runStraightforwardProcess(url: string, input: UploadedInput): Promise<number> {
  const args = ["--import", "tsx", SELF, "--straightforward", url, input.name, input.generation];
  const { code, stdout, stderr } = await runChild(process.execPath, args, { PATH: process.env.PATH ?? "" });
  if (code !== 0) throw new Error(`straightforward implementation exited ${code}: ${stdout}${stderr}`);
  const seconds = /STRAIGHTFORWARD_SECONDS ([\d.]+) RECORDS (\d+)/.exec(stdout);
  if (seconds?.[1] === undefined)
    throw new Error(`straightforward implementation printed no time: ${stdout}`);
  if (Number(seconds[2]) !== input.records)
    throw new Error(`straightforward implementation wrote ${seconds[2]} of ${input.records} records`);
  return Number(seconds[1]);
}

async function straightforwardMain(url: string, name: string, generation: string): Promise<void> {
  const bucket = new Storage({ apiEndpoint: url, projectId: "bench" }).bucket(BUCKET);
  const started = performance.now();
  const out = bucket
    .file(`${PRODUCT}/${CLIENT}/outputs/straightforward.jsonl`)
    .createWriteStream({ resumable: true, contentType: "application/x-ndjson" });
  let records = 0;
  const lines = createInterface({
    input: bucket.file(name, { generation }).createReadStream(),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    if (line === "") continue;
    const record = JSON.parse(line) as { text?: unknown };
    if (typeof record.text === "string") record.text = record.text.toUpperCase();
    records += 1;
    if (!out.write(`${JSON.stringify(record)}\n`)) await once(out, "drain");
  }
  out.end();
  await finished(out);
  process.stdout.write(
    `STRAIGHTFORWARD_SECONDS ${((performance.now() - started) / 1000).toFixed(3)} RECORDS ${records}\n`,
  );
}

interface EmulatorProcess {
  url: string;
  stop(): Promise<void>;
}

/** Our GCS emulator with the fs backend, in its own process (as the local cloud runs it). */
async function startEmulatorProcess(dir: string): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", SELF, "--emulator", dir], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", BATCHLINE_LOG_LEVEL: "warn" },
    // stdin stays open for the emulator's life: its end tells the emulator this process is gone.
    stdio: ["pipe", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /EMULATOR_URL (\S+)/.exec(out);
      if (m?.[1]) resolveUrl(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`emulator exited ${code} before listening: ${out}`)));
  });
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child as ChildProcess, "exit");
    },
  };
}

async function emulatorMain(dir: string): Promise<void> {
  const { startGcsEmulator } = await import("../local/gcs/index.ts");
  const emulator = await startGcsEmulator({ backend: "fs", dir });
  process.stdout.write(`EMULATOR_URL ${emulator.url}\n`);
  const stop = () => void emulator.stop().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  // The benchmark holds our stdin open; when it dies without stopping us (killed, crashed), the pipe
  // closes, and this emulator must not outlive it.
  process.stdin.once("end", stop);
  process.stdin.once("close", stop);
  process.stdin.resume();
}

function runChild(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolveRun({ code, stdout, stderr }));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const args = process.argv.slice(2);
  if (args[0] === "--emulator" && args[1]) {
    await emulatorMain(args[1]);
  } else if (args[0] === "--straightforward" && args[1] && args[2] && args[3]) {
    await straightforwardMain(args[1], args[2], args[3]);
  } else if (args[0] === "--copy" && args[1] && args[2] && args[3]) {
    await copyMain(args[1], args[2], args[3], args[4] === "default" ? "default" : "worker");
  } else {
    const result = await runWorkerBench({
      mib: flag(args, "--mib", 256),
      rssMib: flag(args, "--rss-mib", 1024),
      runs: flag(args, "--runs", 5),
      shape: args.includes("--short-unicode") ? "short-unicode" : "documents",
      bundle: args.includes("--bundle") ? resolve(args[args.indexOf("--bundle") + 1] ?? "") : undefined,
      dataRoot: args.includes("--data-root")
        ? resolve(args[args.indexOf("--data-root") + 1] ?? "")
        : undefined,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `worker/copy throughput ${result.ratio.toFixed(2)} (target >= ${THROUGHPUT_TARGET}): ${result.meetsThroughputTarget ? "met" : "MISSED"}; ` +
        `worker/default-client copy ${result.ratioToDefaultCopy.toFixed(2)}; ` +
        `worker/straightforward ${result.multipleOfStraightforward.toFixed(2)}x (target >= ${STRAIGHTFORWARD_TARGET}x): ${result.meetsMultipleTarget ? "met" : "MISSED"}; ` +
        `peak RSS ${result.workerPeakRssMB?.toFixed(1) ?? "-"} MB (target < ${RSS_TARGET_MB}): ${result.meetsRssTarget === null ? "skipped" : result.meetsRssTarget ? "met" : "MISSED"}\n`,
    );
  }
}
