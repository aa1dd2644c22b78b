import type { PubSub } from "@google-cloud/pubsub";
import type { Bucket, File, Storage } from "@google-cloud/storage";
import type { BatchlineConfig } from "../../core/config/load.ts";
import { maxInputFailuresFor, resolveJobSettings } from "../../core/config/load.ts";
import type { ClientConfig, PlatformConfig, ResolvedJobSettings } from "../../core/config/schema.ts";
import { BatchlineError } from "../../core/errors.ts";
import { batchJobId, runId as computeRunId } from "../../core/ids.ts";
import type { Logger } from "../../core/logger.ts";
import type { Trigger } from "../../core/messages.ts";
import { areaPrefix, gsUri, runRecordName } from "../../core/naming.ts";
import { clientWorkerAccountId, serviceAccountEmail } from "../../core/resource-names.ts";
import {
  type ClaimMetadata,
  MANIFEST_SHARD_SIZE,
  type Manifest,
  manifestSchema,
  type OpenRun,
  openRunName,
} from "../../core/runs.ts";
import { containerJobBody } from "../../core/workload.ts";
import { notify, republish } from "../notify/notify.ts";
import { type ClaimRead, leaseExpiresAt, parseClaim, readClaim, writeClaim } from "../shared/claims.ts";
import { requestClient } from "../shared/config.ts";
import { isNotFound } from "../shared/errors.ts";
import { listObjects, readJson, writeJsonIfGeneration } from "../shared/gcs.ts";
import { mapLimit, STORAGE_CONCURRENCY } from "../shared/limit.ts";
import { readShards } from "../shared/manifest.ts";
import type { RunProbe } from "../shared/probe.ts";
import { acquirePlanLock, planLockName, releasePlanLock } from "./lock.ts";
import { type HeldInput, writeHeader, writeShards } from "./manifest.ts";
import { compareGenerations, type Decision, type InputObject, planInputs } from "./pending.ts";
import {
  closeDeadRuns,
  openRunsPrefix,
  type RecoveryDeps,
  type RecoveryResult,
  recoverExpiredHolders,
  recoverOpenRuns,
  releaseDeadClaims,
} from "./recover.ts";
import type { PlanRequest } from "./request.ts";

export interface PlanDeps {
  storage: Storage;
  config: BatchlineConfig;
  now: () => Date;
  logger: Logger;
  /**
   * For recovery (functions/plan/recover.ts): publishing the message of a run that ended without notify.
   * Without it, plan does not recover other runs.
   */
  pubsub?: PubSub;
  /** Asks Workflows and Batch whether an open run is still alive; null or absent: leases decide. */
  probe?: RunProbe | null;
}

export type RunMode = Manifest["mode"];

/** A planned (or found) run: what the workflow needs to create and watch the Batch job. */
export interface PlannedRun {
  runId: string;
  jobId: string;
  taskCount: number;
  inputCount: number;
  rejectedCount: number;
  manifestUri: string;
  mode: RunMode;
  job: ResolvedJobSettings;
  plannedAt: string;
  /** The client's own worker account (infra ClientWorker): every job of the client runs as it. */
  workerServiceAccount: string;
  /** A container client's whole Batch job body (core/workload.ts); absent for the built-in worker. */
  jobBody?: Record<string, unknown>;
}

/** Nothing pending (event and sweep runs): no run, no job, no message. */
export interface NothingToDo {
  runId: null;
  taskCount: 0;
  inputCount: 0;
  rejectedCount: 0;
  /** Set while a burst of uploads is still arriving: call plan again after this many seconds. */
  waitSeconds?: number;
}

/** The longest an upload run waits for a burst to go quiet, in multiples of the client's debounceSeconds. */
export const MAX_DEBOUNCE_FACTOR = 10;

/**
 * Trailing debounce for upload runs: while the youngest pending input is younger than the client's
 * debounceSeconds, the run waits (so a burst, however long it takes, becomes one job), but never longer in
 * total than MAX_DEBOUNCE_FACTOR × debounceSeconds, so steady uploads cannot starve it.
 */
export function debounceWait(options: {
  debounceSeconds: number;
  waitedSeconds: number;
  now: Date;
  pendingCreated: readonly number[];
}): number {
  const { debounceSeconds, waitedSeconds } = options;
  if (debounceSeconds <= 0 || options.pendingCreated.length === 0) return 0;
  if (waitedSeconds >= debounceSeconds * MAX_DEBOUNCE_FACTOR) return 0;
  const youngest = Math.max(...options.pendingCreated);
  const ageSeconds = (options.now.getTime() - youngest) / 1000;
  if (!(ageSeconds < debounceSeconds)) return 0;
  return Math.max(1, Math.ceil(debounceSeconds - ageSeconds));
}

/**
 * How long an upload run waits while another live run holds an older generation of its object: short at
 * first (a run near its end), then longer, never more than a minute between looks.
 */
export function holdWait(waitedSeconds: number): number {
  return Math.min(60, Math.max(2, Math.ceil(waitedSeconds / 2)));
}

export type PlanResponse = PlannedRun | NothingToDo;

const NOTHING: NothingToDo = { runId: null, taskCount: 0, inputCount: 0, rejectedCount: 0 };

/** `event` for uploads; a schedule runs in its configured mode; a manual start sweeps. */
export function modeFor(trigger: Trigger, client: ClientConfig): RunMode {
  if (trigger.type === "event") return "event";
  if (trigger.type === "schedule") return client.schedule?.mode ?? "sweep";
  return "sweep";
}

/** An `always` run with no inputs still runs one input-less task; otherwise one task per input. */
export function taskCountFor(mode: RunMode, inputCount: number): number {
  return inputCount > 0 ? inputCount : mode === "always" ? 1 : 0;
}

function answer(
  manifest: Manifest,
  platform: PlatformConfig,
  headerName: string,
  job: ResolvedJobSettings,
): PlannedRun {
  const bucket = platform.bucket;
  const workerServiceAccount = serviceAccountEmail(
    clientWorkerAccountId(manifest.product, manifest.client),
    platform.project,
  );
  const run: PlannedRun = {
    runId: manifest.runId,
    jobId: manifest.jobId,
    taskCount: manifest.taskCount,
    inputCount: manifest.inputCount,
    rejectedCount: manifest.rejected.length,
    manifestUri: gsUri(bucket, headerName),
    mode: manifest.mode,
    job,
    plannedAt: manifest.plannedAt,
    workerServiceAccount,
  };
  if (job.container !== undefined && manifest.taskCount > 0) {
    run.jobBody = containerJobBody(
      job.container,
      job,
      {
        product: manifest.product,
        client: manifest.client,
        runId: manifest.runId,
        jobId: manifest.jobId,
        taskCount: manifest.taskCount,
        manifestUri: run.manifestUri,
      },
      {
        workerImage: platform.workerImage,
        serviceAccountEmail: workerServiceAccount,
        maxInputBytes: platform.maxInputBytes,
      },
    );
  }
  return run;
}

interface Rejection {
  object: string;
  generation: string;
  reason: string;
  claim: string;
  claimGeneration: string;
  failures: number;
}

/**
 * Plans a run of one client: claims its pending inputs and writes the manifest (shards first, the header
 * last and only if absent). The same request always plans, or finds, the same run; see
 * docs/architecture.md "Guarantees".
 */
export async function plan(request: PlanRequest, deps: PlanDeps): Promise<PlanResponse> {
  const { platform } = deps.config;
  const client = requestClient(deps.config, request.client);
  const product = platform.product;
  const mode = modeFor(request.trigger, client);
  const runId = computeRunId({
    product,
    client: client.id,
    trigger: request.trigger.type,
    key: request.runKey,
  });
  const jobId = batchJobId(product, client.id, runId);
  const job = resolveJobSettings(platform, client);
  const bucket = deps.storage.bucket(platform.bucket);
  const headerName = runRecordName(product, client.id, runId, "manifest.json");
  const runPrefix = `${areaPrefix(product, client.id, "runs")}${runId}/`;
  const logger = deps.logger.child({ client: client.id, runId });

  const existing = await readJson(bucket.file(headerName), manifestSchema);
  if (existing !== null) {
    logger.info({ taskCount: existing.taskCount }, "run already planned; returning its manifest");
    return answer(existing, platform, headerName, job);
  }

  const now = deps.now();
  const recovered = await recover(deps, client.id, runId, now, logger);
  const [inputs, claimObjects] = await Promise.all([
    listObjects(bucket, areaPrefix(product, client.id, "inputs")),
    listObjects(bucket, areaPrefix(product, client.id, "claims")),
  ]);
  let claims = new Map<string, ClaimRead>(
    claimObjects.map((o) => [o.name, parseClaim(o.generation, o.metadata)]),
  );
  // Holders past their lease that no open marker named (planned before markers existed): settle them too,
  // then read the claims again, so what their tasks finished is kept, not processed a second time.
  const expired = expiredHolders(claims, runId, now, recovered);
  if (expired.size > 0 && deps.pubsub !== undefined) {
    const more = await recover(deps, client.id, runId, now, logger, expired);
    for (const dead of more.deadBeforeManifest) recovered.deadBeforeManifest.add(dead);
    const relisted = await listObjects(bucket, areaPrefix(product, client.id, "claims"));
    claims = new Map(relisted.map((o) => [o.name, parseClaim(o.generation, o.metadata)]));
  }
  if (recovered.deadBeforeManifest.size > 0) {
    await releaseDeadClaims(bucket, claims, recovered.deadBeforeManifest, now, logger);
    await closeDeadRuns(bucket, product, client.id, recovered.deadBeforeManifest);
  }
  const decisions = planInputs(
    inputs.map((o): InputObject => ({ name: o.name, generation: o.generation, size: o.size })),
    claims,
    {
      product,
      client: client.id,
      runId,
      now,
      maxInputFailures: maxInputFailuresFor(platform, client),
      maxInputBytes: platform.maxInputBytes,
      maxInputsPerRun: platform.maxInputsPerRun,
    },
  );
  for (const bad of decisions.invalidClaims) {
    logger.error(
      { input: bad.input.name, claim: bad.claimName, problem: bad.problem },
      `input ${bad.input.name} is not planned: its claim ${bad.claimName} is not a valid claim (${bad.problem}); fix or delete the claim object`,
    );
  }
  if (decisions.deferred > 0) {
    logger.info(
      { deferred: decisions.deferred },
      `${decisions.deferred} pending inputs wait for a later run (maxInputsPerRun)`,
    );
  }
  // A re-upload of an object that a live run still holds at an older generation: wait for that run to
  // settle (it frees the claim), then plan, so the new generation is never left without a run.
  if (mode === "event" && request.trigger.type === "event" && decisions.ours.length === 0) {
    const object = request.trigger.object;
    const held = decisions.skipped.find((d) => d.input.name === object && d.heldBy !== undefined);
    if (held?.heldBy !== undefined && held.heldBy.generation !== held.input.generation) {
      const waitSeconds = holdWait(request.waitedSeconds ?? 0);
      logger.info(
        { object, heldBy: held.heldBy.runId, waitSeconds },
        `${object} was uploaded again while run ${held.heldBy.runId} holds its generation ${held.heldBy.generation}; waiting for that run to settle`,
      );
      return { ...NOTHING, waitSeconds };
    }
  }

  const anything =
    decisions.ours.length +
      decisions.oursRejected.length +
      decisions.toClaim.length +
      decisions.toReject.length >
    0;
  if (!anything && mode !== "always") {
    logger.info({ skipped: decisions.skipped.length }, "nothing pending");
    return NOTHING;
  }

  if (mode === "event" && decisions.ours.length === 0 && decisions.oursRejected.length === 0) {
    const created = new Map(inputs.map((o) => [o.name, Date.parse(o.timeCreated)]));
    const waitSeconds = debounceWait({
      debounceSeconds: client.debounceSeconds,
      waitedSeconds: request.waitedSeconds ?? 0,
      now,
      pendingCreated: decisions.toClaim
        .map((d) => created.get(d.input.name) ?? Number.NaN)
        .filter((t) => Number.isFinite(t)),
    });
    if (waitSeconds > 0) {
      logger.info(
        { waitSeconds, waitedSeconds: request.waitedSeconds ?? 0 },
        "uploads still arriving; waiting before planning",
      );
      return { ...NOTHING, waitSeconds };
    }
  }

  const claimAndRecord = async (): Promise<PlanResponse> => {
    // maxConcurrentJobs: counted under the plan lock from the open runs (recovery just closed the dead ones).
    // A new run over the limit waits; when it wakes it takes whatever is pending then, so inputs merge.
    if (decisions.ours.length === 0 && decisions.oursRejected.length === 0) {
      const open = await listObjects(bucket, openRunsPrefix(product, client.id));
      const others = open.filter(
        (o) => o.name !== openRunName(areaPrefix(product, client.id, "runs"), runId),
      );
      if (others.length >= client.maxConcurrentJobs) {
        const waitSeconds = holdWait(request.waitedSeconds ?? 0);
        logger.info(
          { inFlight: others.length, maxConcurrentJobs: client.maxConcurrentJobs, waitSeconds },
          `${others.length} run(s) of client ${client.id} in flight (maxConcurrentJobs ${client.maxConcurrentJobs}); waiting`,
        );
        return { ...NOTHING, waitSeconds };
      }
    }
    const lease = leaseExpiresAt(now, job, decisions.ours.length + decisions.toClaim.length);
    // Open before claiming: a run that dies from here on is found and settled by a later plan.
    const marker = await openRun(bucket, areaPrefix(product, client.id, "runs"), {
      schemaVersion: 1,
      runId,
      jobId,
      execution: request.execution ?? null,
      openedAt: now.toISOString(),
      leaseExpiresAt: lease,
    });
    const running = (generation: string, failures: number): ClaimMetadata => ({
      state: "running",
      inputGeneration: generation,
      runId,
      failures: String(failures),
      leaseExpiresAt: lease,
      reason: "",
    });

    const claimed = await mapLimit(decisions.toClaim, STORAGE_CONCURRENCY, async (d) => {
      const generation = d.input.generation;
      const written = await writeClaim(
        bucket,
        d.claimName,
        d.input.name,
        running(generation, d.failures),
        d.ifGenerationMatch,
      );
      const claimGeneration = written ?? (await heldByUs(bucket, d.claimName, runId, "running", generation));
      if (claimGeneration === null) {
        logger.debug({ input: d.input.name }, "another run claimed this input first");
        return null;
      }
      return held(d, generation, claimGeneration, d.failures);
    });

    const refused = await mapLimit(
      decisions.toReject,
      STORAGE_CONCURRENCY,
      async (d): Promise<Rejection | null> => {
        const generation = d.input.generation;
        const poison: ClaimMetadata = {
          state: "poison",
          inputGeneration: generation,
          runId,
          failures: String(d.failures),
          leaseExpiresAt: now.toISOString(),
          reason: d.reason,
        };
        const written = await writeClaim(bucket, d.claimName, d.input.name, poison, d.ifGenerationMatch);
        const claimGeneration = written ?? (await heldByUs(bucket, d.claimName, runId, "poison", generation));
        if (claimGeneration === null) return null;
        logger.warn({ input: d.input.name, reason: d.reason }, `refused input ${d.input.name}: ${d.reason}`);
        return {
          object: d.input.name,
          generation,
          reason: d.reason,
          claim: d.claimName,
          claimGeneration,
          failures: d.failures,
        };
      },
    );

    const heldInputs: HeldInput[] = [
      ...decisions.ours.map((d) => held(d, d.generation, d.claimGeneration, d.failures)),
      ...claimed.filter((h): h is HeldInput => h !== null),
    ].sort((a, b) => compareGenerations(a.generation, b.generation) || (a.object < b.object ? -1 : 1));
    const rejections: Rejection[] = [
      ...decisions.oursRejected.map((d) => ({
        object: d.input.name,
        generation: d.generation,
        reason: d.reason,
        claim: d.claimName,
        claimGeneration: d.claimGeneration,
        failures: d.failures,
      })),
      ...refused.filter((r): r is Rejection => r !== null),
    ];
    if (heldInputs.length === 0 && rejections.length === 0 && mode !== "always") {
      logger.info("every pending input was claimed by another run first; nothing to do");
      await closeOpenRun(marker);
      return NOTHING;
    }

    const written = await writeShards(bucket, runPrefix, runId, heldInputs, MANIFEST_SHARD_SIZE);
    await release(
      bucket,
      written.left,
      runId,
      now,
      "another attempt of the same run wrote its manifest first",
      logger,
    );
    const manifest: Manifest = {
      schemaVersion: 1,
      product,
      client: client.id,
      bucket: platform.bucket,
      runId,
      jobId,
      trigger: request.trigger,
      execution: request.execution ?? null,
      plannedAt: now.toISOString(),
      // A container run names its image: the platform default processor does not run.
      processor: job.container ? `container ${job.container.imageUri}` : job.processor,
      mode,
      inputCount: written.inputs.length,
      taskCount: taskCountFor(mode, written.inputs.length),
      rejected: rejections.map((r) => ({ object: r.object, generation: r.generation, reason: r.reason })),
      shardSize: MANIFEST_SHARD_SIZE,
      shards: written.shards,
    };
    if (await writeHeader(bucket, headerName, manifest)) {
      logger.info(
        { inputCount: manifest.inputCount, taskCount: manifest.taskCount, rejected: rejections.length, mode },
        `planned run ${runId}: ${manifest.inputCount} inputs, ${rejections.length} refused`,
      );
      return answer(manifest, platform, headerName, job);
    }

    // An identical call wrote the header first. Its manifest is the run; let go of what it does not list.
    const winner = await readJson(bucket.file(headerName), manifestSchema);
    if (winner === null) {
      throw new BatchlineError(`${gsUri(platform.bucket, headerName)} vanished after it was written`, {
        retryable: true,
      });
    }
    const listed = new Set((await readShards(bucket, winner)).map((i) => `${i.object}#${i.generation}`));
    const released = new Set(written.left);
    const stranded = heldInputs.filter((h) => !released.has(h) && !listed.has(`${h.object}#${h.generation}`));
    await release(
      bucket,
      stranded,
      runId,
      now,
      "an identical plan call wrote the run's manifest first",
      logger,
    );
    const reported = new Set(winner.rejected.map((r) => `${r.object}#${r.generation}`));
    const unreported = rejections.filter((r) => !reported.has(`${r.object}#${r.generation}`));
    await unreject(bucket, unreported, runId, now, logger);
    logger.info("an identical plan call wrote the manifest first; returning it");
    return answer(winner, platform, headerName, job);
  };

  // One planner per client at a time, so planners that wake together do not split a burst into many jobs.
  const lockName = planLockName(product, client.id);
  const lock = await acquirePlanLock(bucket, lockName, runId, now);
  if (lock === null) {
    logger.info("another run of this client is planning; trying again shortly");
    return { ...NOTHING, waitSeconds: 1 };
  }
  try {
    return await claimAndRecord();
  } finally {
    await releasePlanLock(bucket, lockName, lock);
  }
}

function held(
  d: Extract<Decision, { kind: "ours" | "claim" }>,
  generation: string,
  claimGeneration: string,
  failures: number,
): HeldInput {
  return {
    object: d.input.name,
    generation,
    size: d.input.size,
    output: d.names.output,
    errors: d.names.errors,
    claim: d.claimName,
    claimGeneration,
    failures,
  };
}

/**
 * After a lost compare-and-swap: did our own write land anyway (a retried request whose first try
 * succeeded), or an identical plan call's? Returns the claim's generation when this run holds it as wanted.
 */
async function heldByUs(
  bucket: Bucket,
  claimName: string,
  runId: string,
  state: ClaimMetadata["state"],
  generation: string,
): Promise<string | null> {
  const now = await readClaim(bucket, claimName);
  if (
    now?.valid &&
    now.claim.runId === runId &&
    now.claim.state === state &&
    now.claim.inputGeneration === generation
  ) {
    return now.generation;
  }
  return null;
}

/** Gives claims this run holds but will not process back as pending, failures unchanged. */
async function release(
  bucket: Bucket,
  inputs: readonly HeldInput[],
  runId: string,
  now: Date,
  why: string,
  logger: Logger,
): Promise<void> {
  await mapLimit(inputs, STORAGE_CONCURRENCY, async (h) => {
    const ok = await writeClaim(
      bucket,
      h.claim,
      h.object,
      {
        state: "failed",
        inputGeneration: h.generation,
        runId,
        failures: String(h.failures),
        leaseExpiresAt: now.toISOString(),
        reason: `released by run ${runId} without processing: ${why}`,
      },
      h.claimGeneration,
    );
    logger.info({ input: h.object, released: ok !== null }, `released ${h.object}: ${why}`);
  });
}

/**
 * A refusal the winning manifest does not list would never be reported: undo its count and make it pending,
 * so the next run refuses and reports it.
 */
async function unreject(
  bucket: Bucket,
  rejections: readonly Rejection[],
  runId: string,
  now: Date,
  logger: Logger,
): Promise<void> {
  await mapLimit(rejections, STORAGE_CONCURRENCY, async (r) => {
    const ok = await writeClaim(
      bucket,
      r.claim,
      r.object,
      {
        state: "failed",
        inputGeneration: r.generation,
        runId,
        failures: String(Math.max(0, r.failures - 1)),
        leaseExpiresAt: now.toISOString(),
        reason: `refusal not reported by run ${runId} (an identical plan call wrote the manifest first): ${r.reason}`,
      },
      r.claimGeneration,
    );
    logger.info(
      { input: r.object, released: ok !== null },
      `left ${r.object} for the next run to refuse and report`,
    );
  });
}

/** Settles the client's runs that ended without notify (see recover.ts); nothing when plan cannot publish. */
async function recover(
  deps: PlanDeps,
  client: string,
  runId: string,
  now: Date,
  logger: Logger,
  expiredHolders?: ReadonlyMap<string, string>,
): Promise<RecoveryResult> {
  const none: RecoveryResult = { deadBeforeManifest: new Set(), settled: [], stillOpen: 0 };
  const { pubsub } = deps;
  if (pubsub === undefined) return none;
  const { platform } = deps.config;
  const recoveryDeps: RecoveryDeps = {
    bucket: deps.storage.bucket(platform.bucket),
    product: platform.product,
    client,
    project: platform.project,
    region: platform.region,
    runId,
    now,
    logger,
    probe: deps.probe ?? null,
    republish: (id) =>
      republish(client, id, { storage: deps.storage, pubsub, config: deps.config, now: deps.now, logger }),
    settle: (request, why) =>
      notify(
        request,
        { storage: deps.storage, pubsub, config: deps.config, now: deps.now, logger },
        { recovery: why },
      ),
  };
  return expiredHolders === undefined
    ? recoverOpenRuns(recoveryDeps)
    : recoverExpiredHolders(recoveryDeps, expiredHolders);
}

/** Runs (other than this one and those just recovered) holding `running` claims past their lease. */
function expiredHolders(
  claims: ReadonlyMap<string, ClaimRead>,
  runId: string,
  now: Date,
  recovered: RecoveryResult,
): Map<string, string> {
  const holders = new Map<string, string>();
  for (const read of claims.values()) {
    if (!read.valid || read.claim.state !== "running" || read.claim.runId === runId) continue;
    if (Date.parse(read.claim.leaseExpiresAt) > now.getTime()) continue;
    if (recovered.deadBeforeManifest.has(read.claim.runId) || recovered.settled.includes(read.claim.runId))
      continue;
    holders.set(read.claim.runId, read.claim.leaseExpiresAt);
  }
  return holders;
}

/** Writes the run's open marker (an identical call may have written it already). */
async function openRun(bucket: Bucket, runsPrefix: string, marker: OpenRun): Promise<File> {
  const file = bucket.file(openRunName(runsPrefix, marker.runId));
  await writeJsonIfGeneration(file, marker, "0");
  return file;
}

/** Deletes the marker of a run that turned out to have nothing to do. */
async function closeOpenRun(file: File): Promise<void> {
  await file.delete().catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}
