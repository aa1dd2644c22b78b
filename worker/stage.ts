import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Bucket, Storage } from "@google-cloud/storage";
import { BatchlineError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { areaPrefix, assertSafeObjectName, gsUri } from "../core/naming.ts";
import { readObject } from "../core/object-read.ts";
import { EXIT, type TaskRecord } from "../core/runs.ts";
import { WORKLOAD_ERROR_FILE } from "../core/workload.ts";
import { exitCodeFor, verdictFor } from "./classify.ts";
import { parseWorkerEnv, recordLocationFrom, type WorkerEnv } from "./env.ts";
import { PermanentTaskError } from "./errors.ts";
import { readAssignment } from "./manifest.ts";
import { DEFAULT_RESUMABLE_THRESHOLD_BYTES, inputSize, writeTaskRecord } from "./task.ts";
import { buildTaskRecord, NO_INPUT_GENERATION, startingFacts, type TaskFacts } from "./task-record.ts";

/**
 * The staging steps around a container workload (core/workload.ts), run by the platform's worker image in
 * the same task as the client's container, sharing BATCHLINE_STAGING_DIR with it:
 *
 * - `stage-in`: empties the directory, downloads exactly the claimed input generation to `in/input`, writes
 *   the per-task variables to `task.env` (handed to the client's container by `docker run --env-file`).
 * - `stage-out` (runs only when the client's container exited 0): uploads every file under `out/` as an
 *   output object of this input, then writes the SUCCEEDED task record.
 * - `stage-failed` (runs always, last): when no step recorded the task, the client's container failed; it
 *   writes the FAILED record, quoting the container's BATCHLINE_ERROR_FILE.
 *
 * Outputs are made atomic by staging: every file is first uploaded under `runs/<runId>/staging/…` and only
 * once all are there copied into `outputs/` (a server-side copy, so no object under `outputs/` is ever
 * partly written) and the staged copies deleted.
 */

export interface StageDeps {
  storage: Storage;
  logger: Logger;
  now: () => Date;
}

/** What stage-in leaves for the later steps (`stage.json`). */
interface StageState {
  input: { object: string; generation: string; size: number } | null;
  /** Object-name prefix of this input's outputs, ending in `/`. */
  outputPrefix: string;
  startedAt: string;
}

const STATE_FILE = "stage.json";
/** Present once a step wrote the task record: stage-failed has nothing left to do. */
const RECORDED_MARKER = "recorded";
/** core/workload.ts WORKLOAD_ERROR_FILE, as the staging steps see it. */
const ERROR_FILE = basename(WORKLOAD_ERROR_FILE);
const MAX_ERROR_TEXT = 2000;

export type StageCommand = "stage-in" | "stage-out" | "stage-failed";

export function isStageCommand(arg: string | undefined): arg is StageCommand {
  return arg === "stage-in" || arg === "stage-out" || arg === "stage-failed";
}

function stagingDir(env: Readonly<Record<string, string | undefined>>): string {
  const dir = env.BATCHLINE_STAGING_DIR?.trim();
  if (!dir)
    throw new PermanentTaskError("BATCHLINE_STAGING_DIR is missing: the job body has no staging directory");
  return dir;
}

/** Runs one staging step; never throws, resolves with the exit code. */
export async function runStage(
  command: StageCommand,
  rawEnv: Readonly<Record<string, string | undefined>>,
  deps: StageDeps,
): Promise<number> {
  const startedAt = deps.now();
  const located = recordLocationFrom(rawEnv);
  const facts = startingFacts(located, startedAt, {
    name: "container",
    version: rawEnv.BATCHLINE_IMAGE?.trim() || "unknown",
  });
  let dir = "";
  try {
    dir = stagingDir(rawEnv);
    const env = parseWorkerEnv(rawEnv);
    const bucket = deps.storage.bucket(env.run.bucket);
    if (command === "stage-in") {
      await stageIn(dir, env, bucket, facts, deps);
      return EXIT.OK;
    }
    const state = await readState(dir);
    if (state) {
      facts.startedAt = new Date(state.startedAt);
      if (state.input) {
        facts.input = { object: state.input.object, generation: state.input.generation };
        facts.bytesIn = state.input.size;
      }
    }
    if (command === "stage-out") {
      if (!state)
        throw new BatchlineError(`stage-out found no ${STATE_FILE} in ${dir}: stage-in did not finish`);
      await stageOut(dir, env, bucket, state, facts, deps);
      return EXIT.OK;
    }
    if (await exists(join(dir, RECORDED_MARKER))) return EXIT.OK;
    await recordWorkloadFailure(dir, env, bucket, facts, deps);
    return EXIT.OK;
  } catch (err) {
    const verdict = verdictFor(err);
    const exitCode = exitCodeFor(verdict);
    const detail = err instanceof BatchlineError ? { errorType: err.name } : { err };
    deps.logger.error(
      { ...detail, step: command, retryable: verdict.retryable, exitCode },
      `${command} failed (${verdict.retryable ? "retryable" : "permanent"}): ${verdict.reason}`,
    );
    if (!located) return exitCode;
    const record = buildTaskRecord(
      facts,
      { status: "FAILED", retryable: verdict.retryable, error: `${command}: ${verdict.reason}` },
      deps.now(),
    );
    try {
      await writeTaskRecord(deps.storage.bucket(located.run.bucket), located.run, located.taskIndex, record);
      if (dir !== "") await writeFile(join(dir, RECORDED_MARKER), "", { flag: "w" }).catch(() => undefined);
    } catch (writeErr) {
      deps.logger.error({ err: writeErr }, "could not write the failed task's record");
    }
    return exitCode;
  }
}

async function stageIn(dir: string, env: WorkerEnv, bucket: Bucket, facts: TaskFacts, deps: StageDeps) {
  // A retry may run on the VM of an earlier attempt: start from nothing.
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "in"), { recursive: true });
  await mkdir(join(dir, "out"), { recursive: true });
  // The client's image may run as any user: it must be able to write its outputs and error file.
  await chmod(dir, 0o777);
  await chmod(join(dir, "out"), 0o777);
  const { manifest, input } = await readAssignment(bucket, env.run, env.taskIndex, env.taskCount);
  const vars: Record<string, string> = {
    BATCHLINE_INPUT_URI: "",
    BATCHLINE_INPUT_NAME: "",
    BATCHLINE_INPUT_GENERATION: "",
    BATCHLINE_OUTPUT_PREFIX: "",
  };
  let state: StageState;
  if (input === null) {
    // The one task of an `always` run with nothing pending: no input file; outputs go under the run's id.
    const outputPrefix = `${areaPrefix(manifest.product, manifest.client, "outputs")}${manifest.runId}/`;
    vars.BATCHLINE_OUTPUT_PREFIX = gsUri(bucket.name, outputPrefix);
    state = { input: null, outputPrefix, startedAt: facts.startedAt.toISOString() };
  } else {
    facts.input = { object: input.object, generation: input.generation };
    const uri = `${gsUri(bucket.name, input.object)} generation ${input.generation}`;
    const source = bucket.file(input.object, { generation: input.generation });
    const size = await inputSize(source, uri);
    facts.bytesIn = size;
    if (env.maxInputBytes !== undefined && size > env.maxInputBytes) {
      throw new PermanentTaskError(
        `input ${uri} is ${size} bytes, over the limit of ${env.maxInputBytes} bytes (BATCHLINE_MAX_INPUT_BYTES)`,
      );
    }
    const target = join(dir, "in", "input");
    // One pipe through core/object-read.ts (CRC32C checked): the client's download() warns about listeners.
    await pipeline(readObject(source), createWriteStream(target));
    await chmod(target, 0o644);
    const outputPrefix = `${input.output}/`;
    assertSafeObjectName(outputPrefix.slice(0, -1));
    Object.assign(vars, {
      BATCHLINE_INPUT_URI: gsUri(bucket.name, input.object),
      BATCHLINE_INPUT_NAME: basename(input.object),
      BATCHLINE_INPUT_GENERATION: input.generation,
      BATCHLINE_OUTPUT_PREFIX: gsUri(bucket.name, outputPrefix),
    });
    state = {
      input: { object: input.object, generation: input.generation, size },
      outputPrefix,
      startedAt: facts.startedAt.toISOString(),
    };
    deps.logger.info({ input: uri, bytes: size }, "stage-in: input downloaded");
  }
  // docker's env-file: NAME=VALUE per line, taken literally. Object names never hold a newline.
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}=${v.replace(/[\r\n]/g, " ")}`)
    .join("\n");
  await writeFile(join(dir, "task.env"), `${text}\n`, { mode: 0o644 });
  await writeFile(join(dir, STATE_FILE), JSON.stringify(state));
}

async function readState(dir: string): Promise<StageState | null> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), "utf8")) as StageState;
  } catch {
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Every regular file under `root`, as paths relative to it with `/` separators, sorted. */
async function filesUnder(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) found.push(relative(root, full).split(sep).join("/"));
      else {
        throw new PermanentTaskError(
          `the workload left ${relative(root, full)} in BATCHLINE_OUTPUT_DIR, which is not a regular file (links, sockets and devices are not uploaded)`,
        );
      }
    }
  };
  await walk(root);
  return found.sort();
}

async function stageOut(
  dir: string,
  env: WorkerEnv,
  bucket: Bucket,
  state: StageState,
  facts: TaskFacts,
  deps: StageDeps,
): Promise<void> {
  const outDir = join(dir, "out");
  const files = await filesUnder(outDir);
  const staging = `${areaPrefix(env.run.product, env.run.client, "runs")}${env.run.runId}/staging/${env.taskIndex}/${env.attempt}/`;
  const provenance = {
    batchlineInputObject: state.input?.object ?? "",
    batchlineInputGeneration: state.input?.generation ?? NO_INPUT_GENERATION,
    batchlineRunId: env.run.runId,
    batchlineJobId: env.jobId ?? "",
    batchlineProcessor: "container",
    batchlineProcessorVersion: env.image ?? "unknown",
    batchlineImage: env.image ?? "unknown",
  };
  const names = files.map((rel) => {
    const name = `${state.outputPrefix}${rel}`;
    assertSafeObjectName(name);
    return { rel, staged: `${staging}${rel}`, name };
  });
  let bytes = 0;
  // 1. Upload everything beside the outputs; nothing under outputs/ changes until all of it is there.
  for (const f of names) {
    const path = join(outDir, f.rel);
    const size = (await lstat(path)).size;
    bytes += size;
    await bucket.upload(path, {
      destination: f.staged,
      // Large model outputs go in resumable chunks, as the built-in worker's large outputs do.
      resumable: size >= DEFAULT_RESUMABLE_THRESHOLD_BYTES,
      validation: "crc32c",
      metadata: { metadata: provenance },
    });
  }
  // 2. Server-side copies into outputs/: each object appears whole, or not at all.
  for (const f of names) {
    await bucket.file(f.staged).copy(bucket.file(f.name), { metadata: provenance });
  }
  await Promise.all(names.map((f) => bucket.file(f.staged).delete({ ignoreNotFound: true })));
  facts.records = names.length;
  facts.bytesOut = bytes;
  facts.output = state.outputPrefix;
  const record: TaskRecord = buildTaskRecord(facts, { status: "SUCCEEDED" }, deps.now());
  await writeTaskRecord(bucket, env.run, env.taskIndex, record);
  await writeFile(join(dir, RECORDED_MARKER), "");
  deps.logger.info(
    { outputs: names.map((f) => gsUri(bucket.name, f.name)), bytes },
    `stage-out: ${names.length} output object(s) under ${gsUri(bucket.name, state.outputPrefix)}`,
  );
}

async function recordWorkloadFailure(
  dir: string,
  env: WorkerEnv,
  bucket: Bucket,
  facts: TaskFacts,
  deps: StageDeps,
): Promise<void> {
  let said = "";
  try {
    said = (await readFile(join(dir, ERROR_FILE), "utf8")).trim().replace(/\s+/g, " ");
  } catch {
    // The container wrote no error file.
  }
  if (said.length > MAX_ERROR_TEXT) said = `${said.slice(0, MAX_ERROR_TEXT - 3)}...`;
  const image = env.image ?? "the workload";
  const error =
    said !== ""
      ? `${image} failed on attempt ${env.attempt}: ${said}`
      : `${image} failed on attempt ${env.attempt} without writing BATCHLINE_ERROR_FILE (a non-zero exit, or the image could not start); see the task's status and logs`;
  // Whether Batch retries is its lifecycle policy's call (exit 3: no); the record says what happened.
  const record = buildTaskRecord(facts, { status: "FAILED", retryable: true, error }, deps.now());
  await writeTaskRecord(bucket, env.run, env.taskIndex, record);
  await writeFile(join(dir, RECORDED_MARKER), "");
  deps.logger.warn({ error }, "the workload failed; recorded");
}
