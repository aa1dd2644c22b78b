import type { PubSub } from "@google-cloud/pubsub";
import type { Bucket, File, Storage } from "@google-cloud/storage";
import type { BatchlineConfig } from "../../core/config/load.ts";
import { maxInputFailuresFor, resolveJobSettings } from "../../core/config/load.ts";
import type { ClientConfig, PlatformConfig, ResolvedJobSettings } from "../../core/config/schema.ts";
import { BatchlineError } from "../../core/errors.ts";
import { batchJobId, runId as computeRunId } from "../../core/ids.ts";
import type { Logger } from "../../core/logger.ts";
import type { Trigger } from "../../core/messages.ts";
import { areaPrefix, gsUri, isFolderPlaceholder, runRecordName } from "../../core/naming.ts";
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
import { type ClaimRead, claimNameFor, leaseExpiresAt, readClaim, writeClaim } from "../shared/claims.ts";
import { isNotFound } from "../shared/errors.ts";
import { listObjects, readRecordOrNull, writeJsonIfGeneration } from "../shared/gcs.ts";
import { mapLimit, STORAGE_CONCURRENCY } from "../shared/limit.ts";
import { readShards } from "../shared/manifest.ts";
import {
  clearAllPending,
  clearPending,
  ensurePending,
  listPending,
  markPending,
  type PendingMarker,
} from "../shared/pending-index.ts";
import type { RunProbe } from "../shared/probe.ts";
import type { ClientRegistry } from "../shared/registry.ts";
import { acquirePlanLock, planLockName, releasePlanLock } from "./lock.ts";
import { type HeldInput, writeHeader, writeShards } from "./manifest.ts";
import {
  compareGenerations,
  type Decision,
  type InputObject,
  type PendingRules,
  planInputs,
  type RunPlan,
} from "./pending.ts";
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
import { advanceWatermark, isFinal, type ListedInput, nextWatermark, readWatermark } from "./watermark.ts";

export interface PlanDeps {
  storage: Storage;
  /** The platform part of the config; clients come from `registry`. */
  config: BatchlineConfig;
  /** Where a client's config is read at run time (functions/shared/registry.ts). */
  registry: ClientRegistry;
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

/** What one plan call is about: fixed before anything is read. */
interface RunContext {
  request: PlanRequest;
  deps: PlanDeps;
  client: ClientConfig;
  product: string;
  mode: RunMode;
  runId: string;
  jobId: string;
  job: ResolvedJobSettings;
  bucket: Bucket;
  headerName: string;
  runPrefix: string;
  logger: Logger;
}

/** An input this plan looks at, as its metadata shows it. */
interface CandidateInput extends InputObject {
  timeCreated: string;
}

/**
 * What a plan reads: the inputs it may take (an event's object plus the pending index; for a sweep also every
 * input above the watermark), their claims, and the index markers.
 */
interface Candidates {
  inputs: CandidateInput[];
  /** By claim object name. */
  claims: Map<string, ClaimRead>;
  /** Pending markers by input name. */
  markers: Map<string, PendingMarker>;
  /** Markers whose input no longer exists. */
  orphans: PendingMarker[];
  /** Set for a sweep: the watermark it read and the inputs it listed above it. */
  sweep: { watermark: Awaited<ReturnType<typeof readWatermark>>; above: ListedInput[] } | null;
}

/**
 * Plans a run of one client: claims its pending inputs and writes the manifest (shards first, the header
 * last and only if absent). The same request always plans, or finds, the same run; see
 * docs/architecture.md "Guarantees".
 */
export async function plan(request: PlanRequest, deps: PlanDeps): Promise<PlanResponse> {
  const ctx = await runContext(request, deps);
  const existing = await readRecordOrNull(ctx.bucket.file(ctx.headerName), manifestSchema);
  if (existing !== null) {
    ctx.logger.info({ taskCount: existing.taskCount }, "run already planned; returning its manifest");
    return answer(existing, deps.config.platform, ctx.headerName, ctx.job);
  }

  const now = deps.now();
  const recovered = await recover(deps, ctx.client.id, ctx.runId, now, ctx.logger);
  const candidates = await readCandidates(ctx);
  await settleDeadHolders(ctx, candidates, recovered, now);
  const rules: PendingRules = {
    product: ctx.product,
    client: ctx.client.id,
    runId: ctx.runId,
    now,
    maxInputFailures: maxInputFailuresFor(deps.config.platform, ctx.client),
    maxInputBytes: deps.config.platform.maxInputBytes,
    maxInputsPerRun: deps.config.platform.maxInputsPerRun,
  };
  const decisions = planInputs(candidates.inputs, candidates.claims, rules);
  await tidyIndex(ctx, candidates, decisions, rules.maxInputFailures);
  const response = await planOrWait(ctx, candidates, decisions, now);
  if (candidates.sweep !== null) await moveWatermark(ctx, candidates, rules.maxInputFailures, now);
  return response;
}

async function runContext(request: PlanRequest, deps: PlanDeps): Promise<RunContext> {
  const { platform } = deps.config;
  // The client's config comes from its registry object (cached; UnknownClientError when there is none).
  const client = await deps.registry.get(request.client);
  const product = platform.product;
  const runId = computeRunId({
    product,
    client: client.id,
    trigger: request.trigger.type,
    key: request.runKey,
  });
  return {
    request,
    deps,
    client,
    product,
    mode: modeFor(request.trigger, client),
    runId,
    jobId: batchJobId(product, client.id, runId),
    job: resolveJobSettings(platform, client),
    bucket: deps.storage.bucket(platform.bucket),
    headerName: runRecordName(product, client.id, runId, "manifest.json"),
    runPrefix: `${areaPrefix(product, client.id, "runs")}${runId}/`,
    logger: deps.logger.child({ client: client.id, runId }),
  };
}

/**
 * Reads what this plan may take. An event plan: the event's object and the inputs in the pending index, each
 * read by name (O(pending)). A sweep (and an `always` schedule): also the listing of `inputs/` (names and
 * generations), of which it reads the claims of inputs above the watermark only.
 */
async function readCandidates(ctx: RunContext): Promise<Candidates> {
  const { bucket, product } = ctx;
  const client = ctx.client.id;
  const inputsPrefix = areaPrefix(product, client, "inputs");
  const listedMarkers = await listPending(bucket, product, client);
  const markers = new Map(listedMarkers.map((m) => [m.input, m]));
  let inputs: CandidateInput[];
  let sweep: Candidates["sweep"] = null;
  if (ctx.mode === "event") {
    const names = new Set(markers.keys());
    const { trigger } = ctx.request;
    if (trigger.type === "event" && trigger.object.startsWith(inputsPrefix)) names.add(trigger.object);
    const read = await mapLimit([...names], STORAGE_CONCURRENCY, (name) => readInput(bucket, name));
    inputs = read.filter((i): i is CandidateInput => i !== null);
  } else {
    const [listed, watermark] = await Promise.all([
      listObjects(bucket, inputsPrefix),
      readWatermark(bucket, product, client),
    ]);
    const w = watermark.value.generation;
    const above = listed.filter((o) => compareGenerations(o.generation, w) > 0);
    sweep = { watermark, above };
    inputs = listed
      .filter((o) => compareGenerations(o.generation, w) > 0 || markers.has(o.name))
      .map((o) => ({ name: o.name, generation: o.generation, size: o.size, timeCreated: o.timeCreated }));
  }
  const present = new Set(inputs.map((i) => i.name));
  const orphans = listedMarkers.filter((m) => !present.has(m.input));
  const claims = await readClaims(ctx, inputs);
  return { inputs, claims, markers, orphans, sweep };
}

/** One input's current metadata; null when it does not exist. */
async function readInput(bucket: Bucket, name: string): Promise<CandidateInput | null> {
  try {
    const [metadata] = await bucket.file(name).getMetadata();
    return {
      name,
      generation: String(metadata.generation),
      size: Number(metadata.size ?? 0),
      timeCreated: String(metadata.timeCreated ?? ""),
    };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** The claims of the given inputs, read by name. */
async function readClaims(ctx: RunContext, inputs: readonly InputObject[]): Promise<Map<string, ClaimRead>> {
  const claims = new Map<string, ClaimRead>();
  await mapLimit(inputs, STORAGE_CONCURRENCY, async (input) => {
    if (isFolderPlaceholder(input.name)) return;
    const name = claimNameFor(ctx.product, ctx.client.id, input.name);
    const read = await readClaim(ctx.bucket, name);
    if (read !== null) claims.set(name, read);
  });
  return claims;
}

/**
 * Holders past their lease that no open marker named (planned before markers existed): settles them too,
 * then reads the claims again, so what their tasks finished is kept, not processed a second time. Then
 * gives back what runs that died before their manifest claimed (plan marks what it claims in the pending
 * index first, so those claims are among the candidates).
 */
async function settleDeadHolders(
  ctx: RunContext,
  candidates: Candidates,
  recovered: RecoveryResult,
  now: Date,
): Promise<void> {
  const expired = expiredHolders(candidates.claims, ctx.runId, now, recovered);
  if (expired.size > 0 && ctx.deps.pubsub !== undefined) {
    const more = await recover(ctx.deps, ctx.client.id, ctx.runId, now, ctx.logger, expired);
    for (const dead of more.deadBeforeManifest) recovered.deadBeforeManifest.add(dead);
    candidates.claims = await readClaims(ctx, candidates.inputs);
  }
  if (recovered.deadBeforeManifest.size > 0) {
    const marked = await releaseDeadClaims(
      ctx.bucket,
      { product: ctx.product, client: ctx.client.id },
      candidates.claims,
      recovered.deadBeforeManifest,
      now,
      ctx.logger,
    );
    for (const m of marked) candidates.markers.set(m.input, m);
    await closeDeadRuns(ctx.bucket, ctx.product, ctx.client.id, recovered.deadBeforeManifest);
  }
}

/**
 * Keeps the pending index true: clears markers whose input is gone or final, marks inputs deferred by
 * maxInputsPerRun, and logs claims it cannot read.
 */
async function tidyIndex(
  ctx: RunContext,
  candidates: Candidates,
  decisions: RunPlan,
  maxInputFailures: number,
): Promise<void> {
  const { logger } = ctx;
  for (const bad of decisions.invalidClaims) {
    logger.error(
      { input: bad.input.name, claim: bad.claimName, problem: bad.problem },
      `input ${bad.input.name} is not planned: its claim ${bad.claimName} is not a valid claim (${bad.problem}); fix or delete the claim object`,
    );
  }
  const done = candidates.inputs.flatMap((input) => {
    const marker = candidates.markers.get(input.name);
    if (marker === undefined) return [];
    const claim = candidates.claims.get(claimNameFor(ctx.product, ctx.client.id, input.name));
    return isFolderPlaceholder(input.name) || isFinal(claim, input.generation, maxInputFailures)
      ? [marker]
      : [];
  });
  await clearAllPending(ctx.bucket, [...candidates.orphans, ...done]);
  if (decisions.deferred > 0) {
    const unmarked = decisions.deferredInputs.filter((i) => !candidates.markers.has(i.name));
    await mapLimit(unmarked, STORAGE_CONCURRENCY, async (input) => {
      const marker = await ensurePending(
        ctx.bucket,
        ctx.product,
        ctx.client.id,
        input.name,
        "deferred by maxInputsPerRun",
      );
      candidates.markers.set(input.name, marker);
    });
    logger.info(
      { deferred: decisions.deferred },
      `${decisions.deferred} pending inputs wait for a later run (maxInputsPerRun)`,
    );
  }
}

/** Decides between nothing, waiting and a run; plans the run under the client's plan lock. */
async function planOrWait(
  ctx: RunContext,
  candidates: Candidates,
  decisions: RunPlan,
  now: Date,
): Promise<PlanResponse> {
  const { request, logger, mode } = ctx;
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
      return wait(ctx, candidates, waitSeconds, "uploaded again while a run holds its older generation");
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
    // A burst is still arriving while inputs are new or their event runs are still reporting in (each marks
    // its object while it waits): the later of the upload and the marker, so event delivery lag merges too.
    const created = new Map(
      candidates.inputs.map((o) => {
        const marked = Date.parse(candidates.markers.get(o.name)?.timeCreated ?? "");
        const uploaded = Date.parse(o.timeCreated);
        return [o.name, Number.isFinite(marked) ? Math.max(marked, uploaded) : uploaded];
      }),
    );
    const waitSeconds = debounceWait({
      debounceSeconds: ctx.client.debounceSeconds,
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
      return wait(ctx, candidates, waitSeconds, "waiting for a burst of uploads to go quiet");
    }
  }

  // One planner per client at a time, so planners that wake together do not split a burst into many jobs.
  const lockName = planLockName(ctx.product, ctx.client.id);
  const lock = await acquirePlanLock(ctx.bucket, lockName, ctx.runId, now);
  if (lock === null) {
    logger.info("another run of this client is planning; trying again shortly");
    return wait(ctx, candidates, 1, "another run of the client was planning");
  }
  try {
    return await claimAndRecord(ctx, candidates, decisions, now);
  } finally {
    await releasePlanLock(ctx.bucket, lockName, lock);
  }
}

/**
 * An event run that cannot plan now: its object goes into the pending index (so whichever run plans next
 * takes it, even if this execution never comes back), and the workflow calls again after `waitSeconds`.
 */
async function wait(
  ctx: RunContext,
  candidates: Candidates,
  waitSeconds: number,
  why: string,
): Promise<NothingToDo> {
  const { trigger } = ctx.request;
  const input = candidates.inputs.find((i) => trigger.type === "event" && i.name === trigger.object);
  if (input !== undefined && !candidates.markers.has(input.name)) {
    const marker = await ensurePending(ctx.bucket, ctx.product, ctx.client.id, input.name, why);
    candidates.markers.set(input.name, marker);
    // A run that listed the index before this marker existed may have taken the input meanwhile: then the
    // marker is not needed (that run settles the input). Reading the claim after writing closes that race.
    const claim = await readClaim(ctx.bucket, claimNameFor(ctx.product, ctx.client.id, input.name));
    const held =
      claim?.valid === true &&
      claim.claim.inputGeneration === input.generation &&
      claim.claim.state !== "failed";
    if (held) await clearPending(ctx.bucket, marker);
  }
  return { ...NOTHING, waitSeconds };
}

/** Under the plan lock: checks maxConcurrentJobs, claims, writes the manifest, clears what it took. */
async function claimAndRecord(
  ctx: RunContext,
  candidates: Candidates,
  decisions: RunPlan,
  now: Date,
): Promise<PlanResponse> {
  const { bucket, product, runId, jobId, job, logger, mode, request } = ctx;
  const client = ctx.client;
  const { platform } = ctx.deps.config;
  // maxConcurrentJobs: counted under the plan lock from the open runs (recovery just closed the dead ones).
  // A new run over the limit waits; when it wakes it takes whatever is pending then, so inputs merge.
  if (decisions.ours.length === 0 && decisions.oursRejected.length === 0) {
    const open = await listObjects(bucket, openRunsPrefix(product, client.id));
    const others = open.filter((o) => o.name !== openRunName(areaPrefix(product, client.id, "runs"), runId));
    if (others.length >= client.maxConcurrentJobs) {
      const waitSeconds = holdWait(request.waitedSeconds ?? 0);
      logger.info(
        { inFlight: others.length, maxConcurrentJobs: client.maxConcurrentJobs, waitSeconds },
        `${others.length} run(s) of client ${client.id} in flight (maxConcurrentJobs ${client.maxConcurrentJobs}); waiting`,
      );
      return wait(ctx, candidates, waitSeconds, "waiting for a slot under maxConcurrentJobs");
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
  // Index before claiming: a run that dies before its manifest leaves its claims where the next plan looks.
  const markedNow = new Map<string, PendingMarker>();
  await mapLimit(
    decisions.toClaim.filter((d) => !candidates.markers.has(d.input.name)),
    STORAGE_CONCURRENCY,
    async (d) => {
      const m = await ensurePending(
        bucket,
        product,
        client.id,
        d.input.name,
        `being claimed by run ${runId}`,
      );
      candidates.markers.set(d.input.name, m);
      markedNow.set(d.input.name, m);
    },
  );
  const claimed = await claimInputs(ctx, decisions.toClaim, lease);
  // Another run took some first: the markers written just now for those are not needed (that run settles them).
  const took = new Set(claimed.map((h) => h.object));
  await clearAllPending(
    bucket,
    [...markedNow].filter(([name]) => !took.has(name)).map(([, m]) => m),
  );
  const refused = await refuseInputs(ctx, decisions.toReject, now);

  const heldInputs: HeldInput[] = [
    ...decisions.ours.map((d) => held(d, d.generation, d.claimGeneration, d.failures)),
    ...claimed,
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
    ...refused,
  ];
  if (heldInputs.length === 0 && rejections.length === 0 && mode !== "always") {
    logger.info("every pending input was claimed by another run first; nothing to do");
    await closeOpenRun(marker);
    return NOTHING;
  }

  const written = await writeShards(bucket, ctx.runPrefix, runId, heldInputs, MANIFEST_SHARD_SIZE);
  await release(
    bucket,
    { product, client: client.id },
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
  if (await writeHeader(bucket, ctx.headerName, manifest)) {
    logger.info(
      { inputCount: manifest.inputCount, taskCount: manifest.taskCount, rejected: rejections.length, mode },
      `planned run ${runId}: ${manifest.inputCount} inputs, ${rejections.length} refused`,
    );
    // The run now has them: out of the index (a marker written again since, by a failure, stays).
    await clearAllPending(
      bucket,
      [...written.inputs.map((i) => i.object), ...rejections.map((r) => r.object)].flatMap((name) => {
        const m = candidates.markers.get(name);
        return m === undefined ? [] : [m];
      }),
    );
    return answer(manifest, platform, ctx.headerName, job);
  }
  return adoptWinner(ctx, heldInputs, written.left, rejections, now);
}

/** Claims pending inputs by compare-and-swap; returns those this run now holds. */
async function claimInputs(
  ctx: RunContext,
  toClaim: RunPlan["toClaim"],
  lease: string,
): Promise<HeldInput[]> {
  const { bucket, runId, logger } = ctx;
  const claimed = await mapLimit(toClaim, STORAGE_CONCURRENCY, async (d) => {
    const generation = d.input.generation;
    const running: ClaimMetadata = {
      state: "running",
      inputGeneration: generation,
      runId,
      failures: String(d.failures),
      leaseExpiresAt: lease,
      reason: "",
    };
    const written = await writeClaim(bucket, d.claimName, d.input.name, running, d.ifGenerationMatch);
    const claimGeneration = written ?? (await heldByUs(bucket, d.claimName, runId, "running", generation));
    if (claimGeneration === null) {
      logger.debug({ input: d.input.name }, "another run claimed this input first");
      return null;
    }
    return held(d, generation, claimGeneration, d.failures);
  });
  return claimed.filter((h): h is HeldInput => h !== null);
}

/** Claims inputs that can never be processed straight to poison; returns those to report in `rejected`. */
async function refuseInputs(ctx: RunContext, toReject: RunPlan["toReject"], now: Date): Promise<Rejection[]> {
  const { bucket, runId, logger } = ctx;
  const refused = await mapLimit(toReject, STORAGE_CONCURRENCY, async (d): Promise<Rejection | null> => {
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
  });
  return refused.filter((r): r is Rejection => r !== null);
}

/**
 * An identical call wrote the header first. Its manifest is the run; let go of what it does not list (the
 * winner clears the index markers of what it took; ours stay for what we let go).
 */
async function adoptWinner(
  ctx: RunContext,
  heldInputs: readonly HeldInput[],
  left: readonly HeldInput[],
  rejections: readonly Rejection[],
  now: Date,
): Promise<PlannedRun> {
  const { bucket, runId, logger } = ctx;
  const { platform } = ctx.deps.config;
  const winner = await readRecordOrNull(bucket.file(ctx.headerName), manifestSchema);
  if (winner === null) {
    throw new BatchlineError(`${gsUri(platform.bucket, ctx.headerName)} vanished after it was written`, {
      retryable: true,
    });
  }
  const listed = new Set((await readShards(bucket, winner)).map((i) => `${i.object}#${i.generation}`));
  const released = new Set(left);
  const stranded = heldInputs.filter((h) => !released.has(h) && !listed.has(`${h.object}#${h.generation}`));
  await release(
    bucket,
    { product: ctx.product, client: ctx.client.id },
    stranded,
    runId,
    now,
    "an identical plan call wrote the run's manifest first",
    logger,
  );
  const reported = new Set(winner.rejected.map((r) => `${r.object}#${r.generation}`));
  const unreported = rejections.filter((r) => !reported.has(`${r.object}#${r.generation}`));
  await unreject(bucket, { product: ctx.product, client: ctx.client.id }, unreported, runId, now, logger);
  logger.info("an identical plan call wrote the manifest first; returning it");
  return answer(winner, platform, ctx.headerName, ctx.job);
}

/**
 * A sweep moves the client's watermark past the final inputs it saw (from the claims it read before
 * claiming: what this run takes is not final yet, so W stays below it).
 */
async function moveWatermark(
  ctx: RunContext,
  candidates: Candidates,
  maxInputFailures: number,
  now: Date,
): Promise<void> {
  const sweep = candidates.sweep;
  if (sweep === null) return;
  const next = nextWatermark({
    current: sweep.watermark.value.generation,
    above: sweep.above,
    final: (input) =>
      isFinal(
        candidates.claims.get(claimNameFor(ctx.product, ctx.client.id, input.name)),
        input.generation,
        maxInputFailures,
      ),
    now,
  });
  const moved = await advanceWatermark(ctx.bucket, ctx.product, ctx.client.id, sweep.watermark, next, now);
  if (moved) ctx.logger.debug({ watermark: next }, "moved the sweep watermark");
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
  const current = await readClaim(bucket, claimName);
  if (
    current?.valid &&
    current.claim.runId === runId &&
    current.claim.state === state &&
    current.claim.inputGeneration === generation
  ) {
    return current.generation;
  }
  return null;
}

/** Gives claims this run holds but will not process back as pending, failures unchanged. */
async function release(
  bucket: Bucket,
  index: { product: string; client: string },
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
    if (ok !== null) await markPending(bucket, index.product, index.client, h.object, why);
    logger.info({ input: h.object, released: ok !== null }, `released ${h.object}: ${why}`);
  });
}

/**
 * A refusal the winning manifest does not list would never be reported: undo its count and make it pending,
 * so the next run refuses and reports it.
 */
async function unreject(
  bucket: Bucket,
  index: { product: string; client: string },
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
    if (ok !== null) await markPending(bucket, index.product, index.client, r.object, "refusal not reported");
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
      republish(client, id, {
        storage: deps.storage,
        pubsub,
        config: deps.config,
        registry: deps.registry,
        now: deps.now,
        logger,
      }),
    settle: (request, why) =>
      notify(
        request,
        {
          storage: deps.storage,
          pubsub,
          config: deps.config,
          registry: deps.registry,
          now: deps.now,
          logger,
        },
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
