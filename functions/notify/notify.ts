import { randomUUID } from "node:crypto";
import type { PubSub } from "@google-cloud/pubsub";
import type { Bucket, File, Storage } from "@google-cloud/storage";
import { ALERT_EVENTS } from "../../core/alerts.ts";
import type { BatchlineConfig } from "../../core/config/load.ts";
import { maxInputFailuresFor } from "../../core/config/load.ts";
import { BatchlineError, ObjectNameError } from "../../core/errors.ts";
import { runId as computeRunId, topicName } from "../../core/ids.ts";
import type { Logger } from "../../core/logger.ts";
import { type ResultMessageV1, resultMessageAttributes, resultMessageV1Schema } from "../../core/messages.ts";
import { areaPrefix, gsUri, parseGsUri, retentionFields, runRecordName } from "../../core/naming.ts";
import { registryObjectName } from "../../core/registry.ts";
import {
  type Manifest,
  type ManifestInput,
  manifestSchema,
  openRunName,
  type Summary,
  summarySchema,
  type TaskRecord,
  taskRecordSchema,
  type Undelivered,
  undeliveredName,
} from "../../core/runs.ts";
import { claimNameFor, readClaim, writeClaim } from "../shared/claims.ts";
import { BadRequestError, isNotFound } from "../shared/errors.ts";
import {
  InvalidRecordError,
  readRecordOrNull,
  readRecordWithGeneration,
  writeJsonIfGeneration,
} from "../shared/gcs.ts";
import { mapLimit, STORAGE_CONCURRENCY } from "../shared/limit.ts";
import { readShards } from "../shared/manifest.ts";
import { markPending } from "../shared/pending-index.ts";
import { type ClientRegistry, UnknownClientError } from "../shared/registry.ts";
import { buildMessage, rejectedInputs, type SummaryInput, summaryInput } from "./message.ts";
import { type JobOutcome, outcomeOf, type RecordRead, settle } from "./outcomes.ts";
import { DEFAULT_RETRY, publishJson, type RetryPolicy } from "./publish.ts";
import type { NotifyRequest, StageFailureRequest } from "./request.ts";

export interface NotifyDeps {
  storage: Storage;
  pubsub: PubSub;
  /** The platform part of the config; clients come from `registry`. */
  config: BatchlineConfig;
  /** Where a client's config is read at run time (functions/shared/registry.ts). */
  registry: ClientRegistry;
  now: () => Date;
  logger: Logger;
  /** Backoff for transient publish errors. */
  publishRetry?: RetryPolicy;
  /** How long one call may hold the right to publish a run's message (default PUBLISH_LEASE_MS). */
  publishLeaseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * How long a notify call holds the right to publish (the summary's `publishing`): longer than a publish with
 * all its retries takes, so a live publisher is never overtaken; a dead one is overtaken after this.
 */
export const PUBLISH_LEASE_MS = 120_000;

export interface NotifyOptions {
  /**
   * Set when a later plan settles a run whose execution ended without calling notify: why. Inputs whose tasks
   * did not finish are then released (pending again, no failure counted) instead of failed.
   */
  recovery?: string;
}

export interface NotifyResponse {
  runId: string;
  status: ResultMessageV1["status"];
  messageId: string;
  summaryUri: string;
  counts: ResultMessageV1["counts"];
}

/** Task records are small; read more of them at once than we write claims. */
const RECORD_CONCURRENCY = 32;

/**
 * What notify needs of a client: its id and poison threshold, from its registry object. A run whose client was
 * offboarded meanwhile (registry object deleted) is still settled and reported like any other: its claims
 * use the platform's maxInputFailures, and its message goes to the client's topic if that still exists (if
 * the topic was destroyed, the publish fails with Pub/Sub's NOT_FOUND naming the topic, and the message stays
 * in the run's summary and under `runs/.undelivered/`). See docs/deploy.md "Offboard a client".
 */
async function clientRules(
  deps: NotifyDeps,
  id: string,
): Promise<{ id: string; maxInputFailures: number; registered: boolean }> {
  const client = await deps.registry.find(id);
  if (client === null) {
    deps.logger.warn(
      { client: id },
      "client has no registry object (offboarded?): settling its run with the platform's maxInputFailures",
    );
    return { id, maxInputFailures: deps.config.platform.maxInputFailures, registered: false };
  }
  return {
    id: client.id,
    maxInputFailures: maxInputFailuresFor(deps.config.platform, client),
    registered: true,
  };
}

/**
 * Ends a run: reads its manifest and task records, settles the claims, writes `summary.json` and publishes
 * the v1 result message. Idempotent: once the summary exists its message is the run's message, published
 * again (same content) only if no publish was recorded.
 */
export async function notify(
  request: NotifyRequest,
  deps: NotifyDeps,
  options: NotifyOptions = {},
): Promise<NotifyResponse> {
  const { platform } = deps.config;
  const client = await clientRules(deps, request.client);
  const product = platform.product;
  const { runId } = request;
  const headerName = runRecordName(product, client.id, runId, "manifest.json");
  checkManifestUri(request.manifestUri, gsUri(platform.bucket, headerName));
  const bucket = deps.storage.bucket(platform.bucket);
  const { summaryName, summaryFile, logger, openMarker, publish } = runHandles(
    deps,
    bucket,
    product,
    client.id,
    runId,
  );

  const existing = await readRecordWithGeneration(summaryFile, summarySchema);
  if (existing !== null) {
    logger.info({ messageId: existing.value.messageId }, "run already summarised");
    return finish(bucket, summaryName, existing, publish, logger, deps, openMarker);
  }

  const manifest = await readRecordOrNull(bucket.file(headerName), manifestSchema);
  if (manifest === null) {
    throw new BadRequestError(
      `run ${runId} has no manifest: ${request.manifestUri} does not exist`,
      "manifestUri",
    );
  }
  if (manifest.runId !== runId || manifest.client !== client.id || manifest.product !== product) {
    throw new InvalidRecordError(
      request.manifestUri,
      `describes run ${manifest.runId} of ${manifest.product}/${manifest.client}`,
    );
  }
  const now = deps.now();
  const job: JobOutcome = { jobState: request.jobState, jobError: request.jobError ?? null };
  // Only a job that did not reach a final state leaves unfinished inputs that are nobody's fault.
  const interrupted = options.recovery !== undefined && request.jobState === null ? options.recovery : null;
  const inputs = await readShards(bucket, manifest);
  const records = await mapLimit(
    Array.from({ length: manifest.taskCount }, (_, i) => i),
    RECORD_CONCURRENCY,
    (i) => readTaskRecord(bucket, runRecordName(product, client.id, runId, `tasks/${i}.json`)),
  );
  const maxFailures = client.maxInputFailures;

  const settled = await mapLimit(inputs, STORAGE_CONCURRENCY, async (input): Promise<SummaryInput> => {
    const outcome = outcomeOf(input, records[input.index] ?? { kind: "missing" }, job, interrupted);
    for (let attempt = 0; ; attempt++) {
      const claim = await readClaim(bucket, input.claim);
      const settlement = settle(outcome, claim, runId, maxFailures, now);
      if (settlement.write === null || claim === null) {
        return summaryInput(outcome, settlement.failures, settlement.poison);
      }
      const ok = await writeClaim(bucket, input.claim, input.object, settlement.write, claim.generation);
      if (ok !== null) {
        // Pending again (failed below the threshold, or released): into the index, for the next event run.
        if (settlement.write.state === "failed") {
          await markPending(
            bucket,
            product,
            client.id,
            input.object,
            `run ${runId}: ${outcome.reason ?? ""}`,
          );
        }
        return summaryInput(outcome, settlement.failures, settlement.poison);
      }
      // The claim changed under us (an identical notify, or a takeover): decide again from what it is now.
      if (attempt >= 3)
        throw new BatchlineError(`claim ${input.claim} keeps changing under notify`, { retryable: true });
    }
  });
  const rejectedFailures = await mapLimit(manifest.rejected, STORAGE_CONCURRENCY, async (r) => {
    const claim = await readClaim(bucket, claimNameFor(product, client.id, r.object));
    return claim?.valid === true && claim.claim.inputGeneration === r.generation
      ? Number(claim.claim.failures)
      : 1;
  });

  const read = records.filter((r) => r.kind === "ok").map((r) => r.record);
  const counted = manifest.inputCount === 0 ? read : read.filter((r) => matches(r, inputs[r.index]));
  const starts = read.map((r) => r.startedAt).sort((a, b) => Date.parse(a) - Date.parse(b));
  const summaryInputs = [...settled, ...rejectedInputs(manifest, rejectedFailures)];
  const message = buildMessage({
    manifest,
    inputs: summaryInputs,
    jobId: request.jobId,
    job,
    records: counted.reduce((n, r) => n + r.records, 0),
    badRecords: counted.reduce((n, r) => n + r.badRecords, 0),
    startedAt: request.startedAt ?? starts[0] ?? null,
    finishedAt: now,
  });
  const summary: Summary = summarySchema.parse({
    schemaVersion: 1,
    runId,
    jobId: request.jobId,
    jobState: request.jobState,
    inputs: summaryInputs,
    message,
    messageId: null,
    publishing: null,
    recovered: options.recovery ?? null,
  } satisfies Summary);
  const created = await createSummary(summaryFile, summary, gsUri(platform.bucket, summaryName));
  if (!created.ours) return finish(bucket, summaryName, created.stored, publish, logger, deps, openMarker);
  logger.info(
    { status: message.status, counts: message.counts },
    `run ${runId} ${message.status}: ${message.counts.succeeded} of ${message.counts.inputs} inputs succeeded`,
  );
  logFailureEvents(logger, message, request);
  return finish(bucket, summaryName, created.stored, publish, logger, deps, openMarker);
}

/**
 * A stage failed past its retries before the run had a manifest (plan refused the request, or could not be
 * reached): the client still gets the run's one FAILED message, naming the stage and the input the event
 * named, which stays pending. If plan did get as far as a manifest, the run is settled as an interrupted one.
 */
export async function notifyStageFailure(
  request: StageFailureRequest,
  deps: NotifyDeps,
): Promise<NotifyResponse> {
  const { platform } = deps.config;
  const client = await clientRules(deps, request.client);
  if (!client.registered) {
    // A stage failed for a client with no registry object: if its topic is gone too (never onboarded, or
    // offboarded and destroyed), there is no one to tell and nothing of it to settle: say so, by name.
    const [topicExists] = await deps.pubsub.topic(topicName(platform.product, client.id)).exists();
    if (!topicExists) {
      throw new UnknownClientError(
        client.id,
        gsUri(platform.bucket, registryObjectName(platform.product, client.id)),
      );
    }
  }
  const product = platform.product;
  const runId = computeRunId({
    product,
    client: client.id,
    trigger: request.trigger.type,
    key: request.runKey,
  });
  const bucket = deps.storage.bucket(platform.bucket);
  const headerName = runRecordName(product, client.id, runId, "manifest.json");
  const why = `the ${request.stage} stage failed: ${request.error.message}`;
  const jobError = {
    message: why,
    ...(request.error.code === undefined ? {} : { code: request.error.code }),
  };
  if ((await readRecordOrNull(bucket.file(headerName), manifestSchema)) !== null) {
    return notify(
      {
        client: client.id,
        runId,
        manifestUri: gsUri(platform.bucket, headerName),
        jobId: null,
        jobState: null,
        jobError,
      },
      deps,
      { recovery: `run ${runId} was interrupted: ${why}` },
    );
  }

  const { summaryName, summaryFile, logger, openMarker, publish } = runHandles(
    deps,
    bucket,
    product,
    client.id,
    runId,
  );
  const existing = await readRecordWithGeneration(summaryFile, summarySchema);
  if (existing !== null) return finish(bucket, summaryName, existing, publish, logger, deps, openMarker);

  const now = deps.now();
  const named = request.trigger.type === "event" ? await currentInput(bucket, request.trigger.object) : null;
  // The input stays pending: into the index, so the next event run of the client takes it.
  if (named?.object.startsWith(areaPrefix(product, client.id, "inputs"))) {
    await markPending(bucket, product, client.id, named.object, why);
  }
  const inputs: Summary["inputs"] =
    named === null
      ? []
      : [
          {
            index: 0,
            object: named.object,
            generation: named.generation,
            status: "FAILED",
            reason: `not processed: ${why}; it is pending again for the next run`,
            failures: 0,
            poison: false,
            records: 0,
            badRecords: 0,
            output: null,
            errors: null,
          },
        ];
  // The run never got a manifest; this one only carries what the message needs to say so.
  const manifest: Manifest = {
    schemaVersion: 1,
    product,
    client: client.id,
    bucket: platform.bucket,
    runId,
    jobId: "",
    trigger: request.trigger,
    plannedAt: now.toISOString(),
    processor: "",
    mode: "event",
    inputCount: 0,
    taskCount: 0,
    rejected: [],
    shardSize: 1,
    shards: [],
  };
  const message = buildMessage({
    manifest,
    inputs,
    jobId: null,
    job: { jobState: null, jobError },
    records: 0,
    badRecords: 0,
    startedAt: null,
    finishedAt: now,
  });
  const summary: Summary = summarySchema.parse({
    schemaVersion: 1,
    runId,
    jobId: null,
    jobState: null,
    inputs,
    message,
    messageId: null,
    publishing: null,
    recovered: null,
  } satisfies Summary);
  const created = await createSummary(summaryFile, summary, gsUri(platform.bucket, summaryName));
  if (!created.ours) return finish(bucket, summaryName, created.stored, publish, logger, deps, openMarker);
  logger.warn({ stage: request.stage }, `run ${runId} FAILED: ${why}`);
  logFailureEvents(logger, message, null);
  return finish(bucket, summaryName, created.stored, publish, logger, deps, openMarker);
}

/** The object an event named, at its current generation; null when it is gone or is not an input name. */
async function currentInput(
  bucket: Bucket,
  object: string,
): Promise<{ object: string; generation: string } | null> {
  try {
    const [metadata] = await bucket.file(object).getMetadata();
    return { object, generation: String(metadata.generation) };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * The events alerting counts (core/alerts.ts): one per FAILED run, and one more when its Batch job did not
 * succeed. Written once per run, by the call that wrote its summary.
 */
function logFailureEvents(logger: Logger, message: ResultMessageV1, request: NotifyRequest | null): void {
  if (message.status !== "FAILED") return;
  const fields = {
    client: message.client,
    runId: message.runId,
    jobId: message.jobId,
    counts: message.counts,
    error: message.error?.message ?? null,
  };
  logger.error(
    { event: ALERT_EVENTS.runFailed, ...fields },
    `run ${message.runId} of client ${message.client} FAILED: ${message.error?.message ?? `${message.counts.failed} of ${message.counts.inputs} inputs failed`}`,
  );
  const jobFailed =
    request !== null &&
    ((request.jobState !== null && request.jobState !== "SUCCEEDED") || (request.jobError ?? null) !== null);
  if (jobFailed) {
    logger.error(
      { event: ALERT_EVENTS.jobFailed, ...fields, jobState: request.jobState },
      `Batch job ${request.jobId ?? "(none)"} of run ${message.runId} (client ${message.client}) did not succeed: ${request.jobError?.message ?? `state ${request.jobState}`}`,
    );
  }
}

/** A task record counts toward the totals only when it is about the input its task was given. */
function matches(record: TaskRecord, input: ManifestInput | undefined): boolean {
  return (
    input !== undefined &&
    record.input.object === input.object &&
    record.input.generation === input.generation
  );
}

function checkManifestUri(given: string, expected: string): void {
  try {
    parseGsUri(given);
  } catch (err) {
    if (err instanceof ObjectNameError)
      throw new BadRequestError(`field "manifestUri" ${err.message}`, "manifestUri");
    throw err;
  }
  if (given !== expected) {
    throw new BadRequestError(
      `field "manifestUri" must be ${expected} for this client and run (got ${given})`,
      "manifestUri",
    );
  }
}

async function readTaskRecord(bucket: Bucket, name: string): Promise<RecordRead> {
  try {
    const record = await readRecordOrNull(bucket.file(name), taskRecordSchema);
    return record === null ? { kind: "missing" } : { kind: "ok", record };
  } catch (err) {
    if (err instanceof InvalidRecordError) return { kind: "invalid", problem: err.message };
    throw err;
  }
}

/** `<product>/<client>/runs/` of a run record's name. */
function runsPrefixOf(recordName: string): string {
  const at = recordName.indexOf("/runs/");
  return recordName.slice(0, at + "/runs/".length);
}

/**
 * Keeps a message that could not be published at `runs/.undelivered/<runId>.json` (docs/messages.md,
 * "Undelivered messages"); returns the sentence that says where, for the error the caller sees.
 */
async function keepUndelivered(
  file: ReturnType<Bucket["file"]>,
  summary: Summary,
  err: unknown,
  now: Date,
  logger: Logger,
): Promise<string> {
  const message = resultMessageV1Schema.parse(summary.message);
  const record: Undelivered = {
    schemaVersion: 1,
    runId: summary.runId,
    topic: topicName(message.product, message.client),
    error: err instanceof Error ? err.message : String(err),
    failedAt: now.toISOString(),
    message: summary.message,
    attributes: resultMessageAttributes(message),
  };
  const where = gsUri(file.bucket.name, file.name);
  try {
    await file.save(`${JSON.stringify(record)}\n`, {
      resumable: false,
      contentType: "application/json",
      metadata: retentionFields(file.name, now),
    });
  } catch (saveErr) {
    logger.error({ err: saveErr }, `could not keep the undelivered message at ${where}`);
    return `the message is still in the run's summary.json`;
  }
  logger.error(
    { undelivered: where },
    `the message of run ${summary.runId} could not be published; kept at ${where}`,
  );
  return `the message is kept at ${where} and the next plan of this client publishes it`;
}

/** Publishes a run's summarised message if it was never published (recovery, undelivered messages). */
export async function republish(
  client: string,
  runId: string,
  deps: NotifyDeps,
): Promise<NotifyResponse | null> {
  const { platform } = deps.config;
  const product = platform.product;
  const bucket = deps.storage.bucket(platform.bucket);
  const summaryName = runRecordName(product, client, runId, "summary.json");
  const stored = await readRecordWithGeneration(bucket.file(summaryName), summarySchema);
  if (stored === null) return null;
  const logger = deps.logger.child({ client, runId });
  const openMarker = bucket.file(openRunName(areaPrefix(product, client, "runs"), runId));
  const publish = publisher(deps, product, client);
  return finish(bucket, summaryName, stored, publish, logger, deps, openMarker);
}

/** Publishes a summary's message to the client's topic, with notify's retry policy. */
function publisher(deps: NotifyDeps, product: string, client: string): (summary: Summary) => Promise<string> {
  return (summary) =>
    publishJson(
      deps.pubsub,
      topicName(product, client),
      summary.message,
      resultMessageAttributes(resultMessageV1Schema.parse(summary.message)),
      deps.publishRetry ?? DEFAULT_RETRY,
    );
}

type Stored = { value: Summary; generation: string };

/** What both ways of ending a run (notify, notifyStageFailure) work with: its summary, log, open marker and topic. */
function runHandles(deps: NotifyDeps, bucket: Bucket, product: string, client: string, runId: string) {
  const summaryName = runRecordName(product, client, runId, "summary.json");
  return {
    summaryName,
    summaryFile: bucket.file(summaryName),
    logger: deps.logger.child({ client, runId }),
    openMarker: bucket.file(openRunName(areaPrefix(product, client, "runs"), runId)),
    publish: publisher(deps, product, client),
  };
}

/**
 * Creates the run's summary (only if none exists). When an identical notify wrote one first, that one is the
 * run's: `ours` is false and `stored` is theirs.
 */
async function createSummary(
  file: File,
  summary: Summary,
  uri: string,
): Promise<{ ours: boolean; stored: Stored }> {
  const generation = await writeJsonIfGeneration(file, summary, "0");
  if (generation !== null) return { ours: true, stored: { value: summary, generation } };
  const theirs = await readRecordWithGeneration(file, summarySchema);
  if (theirs === null) throw new BatchlineError(`${uri} vanished`, { retryable: true });
  return { ours: false, stored: theirs };
}

/**
 * Publishes the summary's message once. The right to publish is taken by compare-and-swap on the summary
 * (`publishing`), so of many concurrent calls for one run exactly one publishes and the others wait for the
 * id it records. A call whose publish failed gives the right back, so the next call publishes at once; a
 * call that died holding it is overtaken when `publishing.until` has passed. Once the id is recorded the
 * run is closed: its open-run marker is deleted.
 */
async function finish(
  bucket: Bucket,
  summaryName: string,
  stored: Stored,
  publish: (summary: Summary) => Promise<string>,
  logger: Logger,
  deps: NotifyDeps,
  openMarker: ReturnType<Bucket["file"]>,
): Promise<NotifyResponse> {
  const file = bucket.file(summaryName);
  const uri = gsUri(bucket.name, summaryName);
  const leaseMs = deps.publishLeaseMs ?? PUBLISH_LEASE_MS;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const message = resultMessageV1Schema.parse(stored.value.message);
  const answer = async (messageId: string): Promise<NotifyResponse> => {
    const undelivered = bucket.file(undeliveredName(runsPrefixOf(summaryName), stored.value.runId));
    await Promise.all(
      [openMarker, undelivered].map((f) =>
        f.delete().catch((err: unknown) => {
          if (!isNotFound(err))
            logger.warn({ err, object: f.name }, `could not delete ${f.name}; the next plan will`);
        }),
      ),
    );
    return {
      runId: stored.value.runId,
      status: message.status,
      messageId,
      summaryUri: uri,
      counts: message.counts,
    };
  };
  const reread = async (): Promise<Stored> => {
    const latest = await readRecordWithGeneration(file, summarySchema);
    if (latest === null) throw new BatchlineError(`${uri} vanished`, { retryable: true });
    return latest;
  };

  const token = randomUUID();
  // Waiting for another publisher is bounded by its lease; past that we overtake it.
  // (Elapsed time on this machine's clock, so a frozen `now` in tests cannot make the wait endless.)
  const waitUntil = Date.now() + leaseMs + 5_000;
  let current = stored;
  for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
    if (current.value.messageId !== null) return answer(current.value.messageId);
    const lease = current.value.publishing ?? null;
    const now = deps.now().getTime();
    if (lease !== null && lease.by !== token && Date.parse(lease.until) > now) {
      if (Date.now() > waitUntil) {
        throw new BatchlineError(`another notify call is still publishing the message recorded in ${uri}`, {
          retryable: true,
        });
      }
      await sleep(pause);
      current = await reread();
      continue;
    }
    const claimed: Summary = {
      ...current.value,
      publishing: { by: token, until: new Date(now + leaseMs).toISOString() },
    };
    const generation = await writeJsonIfGeneration(file, claimed, current.generation);
    if (generation === null) {
      current = await reread();
      continue;
    }
    current = { value: claimed, generation };
    break;
  }

  const deadLetter = bucket.file(undeliveredName(runsPrefixOf(summaryName), current.value.runId));
  let messageId: string;
  try {
    messageId = await publish(current.value);
  } catch (err) {
    // Give the right back so that the retry which follows publishes without waiting out the lease.
    await writeJsonIfGeneration(file, { ...current.value, publishing: null }, current.generation).catch(
      () => null,
    );
    const kept = await keepUndelivered(deadLetter, current.value, err, deps.now(), logger);
    throw new BatchlineError(`${(err as Error).message}; ${kept}`, {
      cause: err,
      retryable: err instanceof BatchlineError ? err.retryable : true,
    });
  }
  logger.info({ messageId }, `published the result of run ${current.value.runId}`);
  for (let attempt = 0; attempt < 5; attempt++) {
    const written = await writeJsonIfGeneration(
      file,
      { ...current.value, messageId, publishing: null },
      current.generation,
    );
    if (written !== null) return answer(messageId);
    current = await reread();
    if (current.value.messageId !== null) {
      // Our lease ran out while we published and another call published too: say so, it is a duplicate.
      logger.warn(
        { messageId, recorded: current.value.messageId },
        "the publish lease expired during publish; the run's message was published twice",
      );
      return answer(current.value.messageId);
    }
  }
  throw new BatchlineError(`could not record message ${messageId} in ${uri}`, { retryable: true });
}
