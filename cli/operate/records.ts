import type { Bucket } from "@google-cloud/storage";
import { areaPrefix, runRecordName } from "../../core/naming.ts";
import {
  type Manifest,
  manifestSchema,
  type OpenRun,
  openRunName,
  openRunSchema,
  type Summary,
  summarySchema,
  type TaskRecord,
  taskRecordSchema,
} from "../../core/runs.ts";
import { isNotFound } from "../../functions/shared/errors.ts";
import { readRecordOrNull } from "../../functions/shared/gcs.ts";
import { mapLimit, STORAGE_CONCURRENCY } from "../../functions/shared/limit.ts";
import type { OperatorCloud } from "./cloud.ts";
import { type ExecutionView, executionView } from "./executions.ts";

/** A run's records in storage (each null when absent). */
export interface RunRecords {
  manifest: Manifest | null;
  summary: Summary | null;
  open: OpenRun | null;
}

export async function readRunRecords(
  bucket: Bucket,
  product: string,
  client: string,
  runId: string,
): Promise<RunRecords> {
  const [manifest, summary, open] = await Promise.all([
    readRecordOrNull(bucket.file(runRecordName(product, client, runId, "manifest.json")), manifestSchema),
    readRecordOrNull(bucket.file(runRecordName(product, client, runId, "summary.json")), summarySchema),
    readRecordOrNull(bucket.file(openRunName(areaPrefix(product, client, "runs"), runId)), openRunSchema),
  ]);
  return { manifest, summary, open };
}

/** The task records a run's tasks wrote so far, by task index. */
export async function readTaskRecords(
  bucket: Bucket,
  product: string,
  client: string,
  runId: string,
): Promise<Map<number, TaskRecord>> {
  // The folder's name with its slash added after naming: a name may not end in "/", a listing prefix may.
  const [files] = await bucket.getFiles({ prefix: `${runRecordName(product, client, runId, "tasks")}/` });
  const records = await mapLimit(files, STORAGE_CONCURRENCY, (file) =>
    readRecordOrNull(file, taskRecordSchema),
  );
  return new Map(records.filter((r): r is TaskRecord => r !== null).map((r) => [r.index, r]));
}

/**
 * The newest `limit` manifests of a client: one listing of the manifest objects (names and creation times
 * only), then a download of just the newest ones.
 */
export async function newestManifests(
  bucket: Bucket,
  product: string,
  client: string,
  limit: number,
): Promise<Manifest[]> {
  const prefix = areaPrefix(product, client, "runs");
  const [files] = await bucket.getFiles({
    prefix,
    matchGlob: `${prefix}*/manifest.json`,
    autoPaginate: true,
  });
  const newest = files
    .map((f) => ({ file: f, created: String(f.metadata.timeCreated ?? "") }))
    .sort((a, b) => b.created.localeCompare(a.created))
    .slice(0, limit);
  const manifests = await mapLimit(newest, STORAGE_CONCURRENCY, ({ file }) =>
    readRecordOrNull(file, manifestSchema),
  );
  return manifests.filter((m): m is Manifest => m !== null);
}

/** One execution by name; "gone" when it no longer exists. */
export async function getExecution(cloud: OperatorCloud, name: string): Promise<ExecutionView | "gone"> {
  try {
    const [e] = await cloud.executions.getExecution({ name });
    return executionView(e as Parameters<typeof executionView>[0]);
  } catch (err) {
    if (isApiNotFound(err)) return "gone";
    throw err;
  }
}

/** NOT_FOUND as gRPC (code 5) or REST (HTTP 404) reports it. */
export function isApiNotFound(err: unknown): boolean {
  if (isNotFound(err)) return true;
  if (typeof err !== "object" || err === null) return false;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  return e.code === 5 || e.code === 404 || e.status === 404 || e.response?.status === 404;
}

/** Pages of executions of the workflow, newest first, in the FULL view (arguments, results, errors). */
export async function* executionPages(
  cloud: OperatorCloud,
  maxPages: number,
): AsyncGenerator<ExecutionView[]> {
  let pageToken: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const [executions, next] = await cloud.executions.listExecutions(
      { parent: cloud.workflow, view: "FULL", pageSize: 100, ...(pageToken ? { pageToken } : {}) },
      { autoPaginate: false },
    );
    yield executions.map((e) => executionView(e as Parameters<typeof executionView>[0]));
    pageToken = next?.pageToken ?? undefined;
    if (!pageToken) return;
  }
}
