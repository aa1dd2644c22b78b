import type { Bucket, File, Storage } from "@google-cloud/storage";
import { httpStatusOf } from "../core/classify.ts";
import { BatchlineError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { gsUri, retentionFields, runRecordName } from "../core/naming.ts";
import { readObject } from "../core/object-read.ts";
import { EXIT, type ManifestInput, type TaskRecord } from "../core/runs.ts";
import { exitCodeFor, verdictFor } from "./classify.ts";
import { parseWorkerEnv, recordLocationFrom, type WorkerEnv } from "./env.ts";
import { PermanentTaskError } from "./errors.ts";
import { readAssignment } from "./manifest.ts";
import { createProcessor, PROCESSORS, type ProcessorRegistry } from "./processors/registry.ts";
import type { Processor } from "./processors/types.ts";
import { type LiveRecordContext, processRecords } from "./records.ts";
import { LazyLineSink, type LineSink, StreamLineSink } from "./sink.ts";
import { buildTaskRecord, startingFacts, type TaskFacts, type TaskOutcomeFields } from "./task-record.ts";

/** Inputs at least this big are written with a resumable upload; smaller ones in one streamed request. */
export const DEFAULT_RESUMABLE_THRESHOLD_BYTES = 8 * 1024 * 1024;

const DEFAULT_CONTENT_TYPE = "application/x-ndjson";

export interface TaskDeps {
  storage: Storage;
  logger: Logger;
  now: () => Date;
  /** Processors by name; the ones this image ships by default. */
  processors?: ProcessorRegistry;
  /** See DEFAULT_RESUMABLE_THRESHOLD_BYTES. */
  resumableThresholdBytes?: number;
  /** Checksum the storage client verifies on uploads. */
  uploadValidation?: "crc32c" | "md5";
  /** Which CRC32C the storage client computes with, for the "task started" log line. */
  crc32cImplementation?: string;
}

export interface TaskOutcome {
  /** What the process should exit with (core/runs.ts EXIT). */
  exitCode: number;
  /** The task record, or null when the environment did not even say where the run is. */
  record: TaskRecord | null;
  /** Whether the record reached storage. */
  recordWritten: boolean;
}

/**
 * One Batch task: finds its input in the run's manifest, streams exactly the claimed generation through
 * the run's processor into `outputs/…` (one upload), bad records into `errors/<runId>/…`, and leaves
 * `runs/<runId>/tasks/<index>.json` whether it succeeds or fails. Never throws; the outcome carries the
 * exit code (0 done, 1 retry may help, 3 never will).
 */
export async function runTask(
  rawEnv: Readonly<Record<string, string | undefined>>,
  deps: TaskDeps,
): Promise<TaskOutcome> {
  const startedAt = deps.now();
  const located = recordLocationFrom(rawEnv);
  // The processor is named once the manifest says which one the run uses.
  const facts = startingFacts(located, startedAt, { name: "", version: "" });
  let log = deps.logger;
  try {
    const env = parseWorkerEnv(rawEnv);
    const bucket = deps.storage.bucket(env.run.bucket);
    log.info(
      { manifest: env.manifestUri, attempt: env.attempt, crc32c: deps.crc32cImplementation },
      "task started",
    );
    const { manifest, input } = await readAssignment(bucket, env.run, env.taskIndex, env.taskCount, (m) => {
      facts.processor = m.processor;
    });
    const processor = createProcessor(manifest.processor, deps.processors ?? PROCESSORS);
    facts.processorVersion = processor.version;
    const jobId = env.jobId ?? manifest.jobId;
    if (env.jobId !== undefined && env.jobId !== manifest.jobId) {
      log.warn(
        { envJobId: env.jobId, manifestJobId: manifest.jobId },
        "BATCHLINE_JOB_ID differs from the manifest",
      );
    }
    const ctx: LiveRecordContext = {
      product: manifest.product,
      client: manifest.client,
      runId: manifest.runId,
      jobId,
      taskIndex: env.taskIndex,
      attempt: env.attempt,
      input: input && { object: input.object, generation: input.generation, size: input.size },
      bucket: bucket.name,
      storage: deps.storage,
      logger: log,
      line: 0,
    };
    if (input === null) {
      log.info({ processor: processor.name }, "no input: an always-mode run with nothing pending");
      await processor.setup?.(ctx);
      const result = await processor.runWithoutInput?.(ctx);
      facts.records = result?.records ?? 0;
    } else {
      facts.input = { object: input.object, generation: input.generation };
      log = log.child({ input: gsUri(bucket.name, input.object), generation: input.generation });
      ctx.logger = log;
      await processInput({ bucket, input, env, processor, ctx, facts, deps, jobId, log });
    }
    const record = buildTaskRecord(facts, { status: "SUCCEEDED" }, deps.now());
    await writeTaskRecord(bucket, env.run, env.taskIndex, record);
    log.info(
      {
        records: record.records,
        badRecords: record.badRecords,
        bytesIn: record.bytesIn,
        durationMs: record.durationMs,
      },
      record.badRecords > 0 ? "task succeeded with bad records" : "task succeeded",
    );
    return { exitCode: EXIT.OK, record, recordWritten: true };
  } catch (err) {
    const verdict = verdictFor(err);
    const exitCode = exitCodeFor(verdict);
    // A deliberate error's message says it all; a stack trace only helps with the unexpected ones.
    const detail = err instanceof BatchlineError ? { errorType: err.name } : { err };
    log.error(
      { ...detail, retryable: verdict.retryable, exitCode },
      `task failed (${verdict.retryable ? "retryable" : "permanent"}): ${verdict.reason}`,
    );
    if (!located) return { exitCode, record: null, recordWritten: false };
    const outcome: TaskOutcomeFields = {
      status: "FAILED",
      retryable: verdict.retryable,
      error: verdict.reason,
    };
    const record = buildTaskRecord(facts, outcome, deps.now());
    try {
      await writeTaskRecord(deps.storage.bucket(located.run.bucket), located.run, located.taskIndex, record);
      return { exitCode, record, recordWritten: true };
    } catch (writeErr) {
      // Best effort: notify counts a task without a record as failed anyway.
      log.error({ err: writeErr }, "could not write the failed task's record");
      return { exitCode, record, recordWritten: false };
    }
  }
}

interface InputJob {
  bucket: Bucket;
  input: ManifestInput;
  env: WorkerEnv;
  processor: Processor;
  ctx: LiveRecordContext;
  facts: TaskFacts;
  deps: TaskDeps;
  jobId: string;
  log: Logger;
}

async function processInput(job: InputJob): Promise<void> {
  const { bucket, input, env, processor, ctx, facts, deps } = job;
  const uri = `${gsUri(bucket.name, input.object)} generation ${input.generation}`;
  const source = bucket.file(input.object, { generation: input.generation });
  const size = await inputSize(source, uri);
  if (size !== input.size) {
    // A generation never changes size, so the manifest was written for other bytes; read what is there.
    job.log.warn({ manifestSize: input.size, size }, "input size differs from the manifest's");
  }
  if (env.maxInputBytes !== undefined && size > env.maxInputBytes) {
    throw new PermanentTaskError(
      `input ${uri} is ${size} bytes, over the limit of ${env.maxInputBytes} bytes (BATCHLINE_MAX_INPUT_BYTES)`,
    );
  }
  await processor.setup?.(ctx);

  const provenance = {
    batchlineInputObject: input.object,
    batchlineInputGeneration: input.generation,
    batchlineRunId: ctx.runId,
    batchlineJobId: job.jobId,
    batchlineProcessor: processor.name,
    batchlineProcessorVersion: processor.version,
    batchlineImage: env.image ?? "unknown",
  };
  const resumable = size >= (deps.resumableThresholdBytes ?? DEFAULT_RESUMABLE_THRESHOLD_BYTES);
  const upload = (name: string, contentType: string): LineSink =>
    new StreamLineSink(
      bucket.file(name).createWriteStream({
        resumable,
        validation: deps.uploadValidation ?? "crc32c",
        contentType,
        metadata: { contentType, metadata: provenance },
      }),
    );
  const output = upload(input.output, processor.contentType ?? DEFAULT_CONTENT_TYPE);
  const errors = new LazyLineSink(() => upload(input.errors, DEFAULT_CONTENT_TYPE));

  const read = readObject(source);
  let readError: unknown;
  read.on("error", (err) => {
    readError ??= err;
  });
  try {
    const counts = await processRecords(read, {
      processor,
      ctx,
      output,
      errors,
      maxLineBytes: env.maxLineBytes,
    });
    facts.records = counts.records;
    facts.badRecords = counts.badRecords;
    facts.bytesIn = counts.bytesIn;
    facts.bytesOut = output.bytes;
    await Promise.all([
      output.close().then(() => {
        facts.output = input.output;
      }),
      errors.close().then(() => {
        if (errors.opened) facts.errors = input.errors;
      }),
    ]);
  } catch (err) {
    // Abandon both uploads so neither object appears half-written.
    const reason = err instanceof Error ? err : new Error(String(err));
    read.destroy();
    output.abort(reason);
    errors.abort(reason);
    if (err === readError && httpStatusOf(err) === 404) {
      throw new PermanentTaskError(`input ${uri} disappeared while it was read`, { cause: err });
    }
    throw err;
  }
  if (!errors.opened) {
    // A clean rerun of this task must not leave an earlier attempt's errors file behind.
    await bucket.file(input.errors).delete({ ignoreNotFound: true });
  }
}

/** The size of exactly the claimed generation; a generation that is gone can never be processed. */
/** The input generation's size; a missing generation is a PermanentTaskError. */
export async function inputSize(file: File, uri: string): Promise<number> {
  try {
    const [meta] = await file.getMetadata();
    return Number(meta.size ?? 0);
  } catch (err) {
    if (httpStatusOf(err) === 404) {
      throw new PermanentTaskError(`input ${uri} does not exist (deleted, or overwritten and not kept)`, {
        cause: err,
      });
    }
    throw err;
  }
}

/** Writes `runs/<runId>/tasks/<index>.json` (last attempt wins). */
export async function writeTaskRecord(
  bucket: Bucket,
  run: WorkerEnv["run"],
  index: number,
  record: TaskRecord,
): Promise<void> {
  const name = runRecordName(run.product, run.client, run.runId, `tasks/${index}.json`);
  await bucket.file(name).save(`${JSON.stringify(record, null, 2)}\n`, {
    resumable: false,
    contentType: "application/json",
    metadata: retentionFields(name),
  });
}
