import type { Bucket } from "@google-cloud/storage";
import type { Logger } from "../../core/logger.ts";
import { areaPrefix, gsUri, runRecordName } from "../../core/naming.ts";
import { downloadObject } from "../../core/object-read.ts";
import {
  type ClaimMetadata,
  manifestSchema,
  OPEN_RUNS_FOLDER,
  type OpenRun,
  openRunName,
  openRunSchema,
  summarySchema,
  UNDELIVERED_FOLDER,
} from "../../core/runs.ts";
import type { NotifyRequest } from "../notify/request.ts";
import { type ClaimRead, writeClaim } from "../shared/claims.ts";
import { isNotFound } from "../shared/errors.ts";
import { InvalidRecordError, listObjects, readRecordOrNull } from "../shared/gcs.ts";
import { mapLimit, STORAGE_CONCURRENCY } from "../shared/limit.ts";
import { ensurePending, type PendingMarker } from "../shared/pending-index.ts";
import { FINAL_JOB_STATES, type RunProbe } from "../shared/probe.ts";

/**
 * Recovery: settles runs whose workflow execution ended without calling notify (notify failing past its
 * retries, an execution cancelled or timed out, the whole local cloud killed). Every plan call does this for
 * its client before it plans, so the next upload, schedule tick or manual run closes what a crash left open.
 *
 * A run is open from the moment plan writes `runs/.open/<runId>.json` (before it claims anything) until its
 * message is published. For each open run of the client, recovery asks:
 * 1. Is its execution still running? (Workflow Executions API; when it cannot be asked, the run's lease.)
 *    If so, it is left alone: it will call notify itself.
 * 2. Did plan finish its manifest? If not, no job ever ran: its claims are released, failures not counted.
 * 3. Is its Batch job still running? If so, it is left until it ends (its tasks may still write outputs).
 * 4. Otherwise notify's own code settles it: finished tasks' outputs count, unfinished inputs are released
 *    (not failed: the crash was not theirs), and the client gets the run's one message, FAILED or partial.
 */

export interface RecoveryDeps {
  bucket: Bucket;
  product: string;
  client: string;
  project: string;
  region: string;
  /** The run being planned now: never recovered by itself. */
  runId: string;
  now: Date;
  logger: Logger;
  /** Null where no API client is available: only expired leases are then taken for dead. */
  probe: RunProbe | null;
  /** Notify's settlement of one run, with the reason it is being settled by recovery. */
  settle: (request: NotifyRequest, why: string) => Promise<unknown>;
  /** Publishes a run's summarised message that was never published. */
  republish: (runId: string) => Promise<unknown>;
}

export interface RecoveryResult {
  /** Runs that died before writing their manifest: their `running` claims are to be released. */
  deadBeforeManifest: Set<string>;
  /** Runs settled by this call. */
  settled: string[];
  /** Runs still open and alive (or whose fate is not known yet). */
  stillOpen: number;
}

/** Open runs are few (one per execution in flight); check a handful at once. */
const RECOVERY_CONCURRENCY = 4;

export function openRunsPrefix(product: string, client: string): string {
  return `${areaPrefix(product, client, "runs")}${OPEN_RUNS_FOLDER}/`;
}

/** Settles the client's open runs that can no longer settle themselves. */
export async function recoverOpenRuns(deps: RecoveryDeps): Promise<RecoveryResult> {
  const { bucket, product, client, logger } = deps;
  const result: RecoveryResult = { deadBeforeManifest: new Set(), settled: [], stillOpen: 0 };
  const [markers, undelivered] = await Promise.all([
    listObjects(bucket, openRunsPrefix(product, client)),
    listObjects(bucket, `${areaPrefix(product, client, "runs")}${UNDELIVERED_FOLDER}/`),
  ]);
  // Messages Pub/Sub refused before (e.g. a deleted topic): try again. Open runs are handled below.
  const open = new Set(markers.map((m) => m.name.slice(m.name.lastIndexOf("/") + 1)));
  await mapLimit(
    undelivered.filter((u) => !open.has(u.name.slice(u.name.lastIndexOf("/") + 1))),
    RECOVERY_CONCURRENCY,
    async (u) => {
      const runId = u.name.slice(u.name.lastIndexOf("/") + 1).replace(/\.json$/, "");
      try {
        await deps.republish(runId);
        logger.info({ runId }, `published the undelivered message of run ${runId}`);
      } catch (err) {
        logger.warn({ err, runId }, `the message of run ${runId} still cannot be published`);
      }
    },
  );
  await mapLimit(markers, RECOVERY_CONCURRENCY, async (listed) => {
    let marker: OpenRun | null;
    try {
      marker = await readRecordOrNull(bucket.file(listed.name), openRunSchema);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      logger.error({ marker: listed.name }, `${err.message}; fix or delete it`);
      return;
    }
    if (marker === null || marker.runId === deps.runId) return;
    let outcome: RunFate;
    try {
      outcome = await recoverRun(marker, deps);
    } catch (err) {
      // One run that cannot be settled now (its topic is gone, storage hiccups) must not stop this plan.
      logger.warn(
        { err, recovering: marker.runId },
        `run ${marker.runId} could not be settled now; the next plan tries again`,
      );
      outcome = "open";
    }
    if (outcome === "open") result.stillOpen++;
    else if (outcome === "dead-before-manifest") result.deadBeforeManifest.add(marker.runId);
    else if (outcome === "settled") result.settled.push(marker.runId);
  });
  return result;
}

/**
 * Runs that hold `running` claims past their lease but have no open marker (runs planned before markers
 * existed): settled the same way, so a finished task's output is kept rather than processed again.
 */
export async function recoverExpiredHolders(
  deps: RecoveryDeps,
  holders: ReadonlyMap<string, string>,
): Promise<RecoveryResult> {
  const result: RecoveryResult = { deadBeforeManifest: new Set(), settled: [], stillOpen: 0 };
  await mapLimit([...holders], RECOVERY_CONCURRENCY, async ([runId, leaseExpiresAt]) => {
    const marker: OpenRun = {
      schemaVersion: 1,
      runId,
      jobId: "",
      execution: null,
      openedAt: leaseExpiresAt,
      leaseExpiresAt,
    };
    let outcome: RunFate;
    try {
      outcome = await recoverRun(marker, deps);
    } catch (err) {
      deps.logger.warn({ err, recovering: runId }, `run ${runId} could not be settled now`);
      outcome = "open";
    }
    if (outcome === "open") result.stillOpen++;
    else if (outcome === "dead-before-manifest") result.deadBeforeManifest.add(runId);
    else if (outcome === "settled") result.settled.push(runId);
  });
  return result;
}

type RunFate = "open" | "closed" | "dead-before-manifest" | "settled";

async function recoverRun(marker: OpenRun, deps: RecoveryDeps): Promise<RunFate> {
  const { bucket, product, client, logger } = deps;
  const { runId } = marker;
  const log = logger.child({ recovering: runId });
  const markerFile = bucket.file(openRunName(areaPrefix(product, client, "runs"), runId));

  const summary = await readRecordOrNull(
    bucket.file(runRecordName(product, client, runId, "summary.json")),
    summarySchema,
  ).catch((err: unknown) => {
    if (err instanceof InvalidRecordError) return null;
    throw err;
  });
  if (summary !== null) {
    if (summary.messageId === null) {
      // Summarised, never published (notify died or Pub/Sub refused): publish it once its execution is over.
      const why = await whyDead(marker, deps, log);
      if (why === null) return "open";
      log.warn(`publishing the message of run ${runId}, which was never published (${why})`);
      await deps.republish(runId);
    }
    const manifestExists =
      (await readRecordOrNull(
        bucket.file(runRecordName(product, client, runId, "manifest.json")),
        manifestSchema,
      )) !== null;
    // Reported as a failed stage before its manifest: what it claimed on the way is released, as for a death.
    if (!manifestExists) return "dead-before-manifest";
    // Its notify published and died before deleting the marker.
    await markerFile.delete().catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    return "closed";
  }

  const why = await whyDead(marker, deps, log);
  if (why === null) return "open";

  const manifestName = runRecordName(product, client, runId, "manifest.json");
  const manifest = await readRecordOrNull(bucket.file(manifestName), manifestSchema);
  if (manifest === null) {
    log.warn(`run ${runId} ended before its manifest was written (${why}); releasing what it claimed`);
    return "dead-before-manifest";
  }

  let jobState: string | null = null;
  let jobError: NotifyRequest["jobError"] = null;
  let jobId: string | null = null;
  if (manifest.taskCount > 0) {
    const jobName = `projects/${deps.project}/locations/${deps.region}/jobs/${manifest.jobId}`;
    if (deps.probe !== null) {
      let state: string | null;
      try {
        state = await deps.probe.job(jobName);
      } catch (err) {
        log.warn({ err }, `cannot read job ${manifest.jobId}; run ${runId} is settled on a later plan`);
        return "open";
      }
      if (state !== null && !FINAL_JOB_STATES.has(state)) {
        log.info(
          `run ${runId} (${why}) still has job ${manifest.jobId} ${state}; settling it when the job ends`,
        );
        return "open";
      }
      if (state === null) {
        jobError = { message: `job ${manifest.jobId} does not exist (${why})`, code: "NOT_FOUND" };
      } else {
        jobState = state;
        jobId = manifest.jobId;
      }
    } else {
      jobError = { message: `job ${manifest.jobId} could not be asked about (${why})`, code: "UNKNOWN" };
    }
  }

  log.warn(`settling run ${runId}: ${why}`);
  await deps.settle(
    {
      client,
      runId,
      manifestUri: gsUri(bucket.name, manifestName),
      jobId,
      jobState: jobState as NotifyRequest["jobState"],
      jobError,
    },
    `run ${runId} was interrupted: ${why}`,
  );
  return "settled";
}

/** Why the run's execution will never call notify, or null when it may still. */
async function whyDead(marker: OpenRun, deps: RecoveryDeps, log: Logger): Promise<string | null> {
  if (marker.execution !== null && deps.probe !== null) {
    try {
      const liveness = await deps.probe.execution(marker.execution);
      if (liveness.state === "active") return null;
      return `its workflow execution ${marker.execution} ended (${liveness.detail}) without calling notify`;
    } catch (err) {
      log.warn({ err }, `cannot ask about execution ${marker.execution}; using the run's lease`);
    }
  }
  if (Date.parse(marker.leaseExpiresAt) > deps.now.getTime()) return null;
  return `its lease expired at ${marker.leaseExpiresAt} without notify`;
}

/**
 * Gives back the `running` claims of runs that died before writing their manifest (no task can have run):
 * state `failed`, failures unchanged, and in the pending index. Updates `claims` to what they are afterwards,
 * for planning, and returns the index markers of the released inputs.
 */
export async function releaseDeadClaims(
  bucket: Bucket,
  client: { product: string; client: string },
  claims: Map<string, ClaimRead>,
  dead: ReadonlySet<string>,
  now: Date,
  logger: Logger,
): Promise<PendingMarker[]> {
  if (dead.size === 0) return [];
  const marked: PendingMarker[] = [];
  const held = [...claims].filter(
    ([, c]) => c.valid && c.claim.state === "running" && dead.has(c.claim.runId),
  );
  await mapLimit(held, STORAGE_CONCURRENCY, async ([name, read]) => {
    if (!read.valid) return;
    const released: ClaimMetadata = {
      ...read.claim,
      state: "failed",
      leaseExpiresAt: now.toISOString(),
      reason: `released: run ${read.claim.runId} ended before it planned its job`,
    };
    const inputName = await claimedInput(bucket, name);
    const generation = await writeClaim(bucket, name, inputName, released, read.generation);
    if (generation !== null) {
      claims.set(name, { generation, valid: true, claim: released });
      // Pending again: in the index (where it already is when plan claimed it; ensure keeps that marker).
      marked.push(await ensurePending(bucket, client.product, client.client, inputName, released.reason));
    }
    logger.info({ claim: name, released: generation !== null }, `released ${name} of dead run`);
  });
  return marked;
}

/** The input a claim object names in its body (claims of unsafe names are keyed by hash). */
async function claimedInput(bucket: Bucket, claimName: string): Promise<string> {
  try {
    const bytes = await downloadObject(bucket.file(claimName));
    const body = JSON.parse(bytes.toString("utf8")) as { input?: unknown };
    if (typeof body.input === "string") return body.input;
  } catch {
    // Fall through: the claim is still released; only its descriptive body loses the name.
  }
  return claimName;
}

/** Deletes the markers of runs that died before their manifest, once their claims are released. */
export async function closeDeadRuns(
  bucket: Bucket,
  product: string,
  client: string,
  dead: ReadonlySet<string>,
): Promise<void> {
  await mapLimit([...dead], RECOVERY_CONCURRENCY, async (runId) => {
    await bucket
      .file(openRunName(areaPrefix(product, client, "runs"), runId))
      .delete()
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  });
}
