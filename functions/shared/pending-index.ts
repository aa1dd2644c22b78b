import type { Bucket } from "@google-cloud/storage";
import { areaPrefix } from "../../core/naming.ts";
import { downloadObject } from "../../core/object-read.ts";
import { perInputName, UNSAFE_CLAIMS_FOLDER } from "./claims.ts";
import { isNotFound, isPreconditionFailed } from "./errors.ts";
import { listObjects, writeIfGeneration } from "./gcs.ts";
import { mapLimit, STORAGE_CONCURRENCY } from "./limit.ts";

/**
 * The pending index: `<product>/<client>/pending/<input path>` (or `pending/.unsafe/<hash>`), one marker per
 * input that needs a run and was not given one when that became known — inputs a run failed below the
 * poison threshold or released, inputs deferred by maxInputsPerRun or by maxConcurrentJobs, inputs a plan is
 * about to claim (so a plan that dies before its manifest leaves them findable), the input of a stage that
 * failed before there was a run. An event plan reads its event's object plus this prefix, never the whole
 * history; the sweep (watermark.ts) is the backstop for anything the index misses.
 *
 * A marker is cleared only by the run that claimed its input (after its manifest is written) or by a plan
 * that finds its input final or gone, and always by compare-and-swap on the generation that plan saw, so a
 * marker written again since (a later failure) is never lost.
 */

/** One marker as a listing shows it. */
export interface PendingMarker {
  /** The marker object. */
  marker: string;
  /** The marker's generation, for the conditional delete. */
  generation: string;
  /** The input it stands for. */
  input: string;
  /** When this marker was written (RFC 3339), when known: an event run waiting in a burst wrote it. */
  timeCreated?: string;
}

export function pendingNameFor(product: string, client: string, inputName: string): string {
  return perInputName(product, client, "pending", inputName);
}

/**
 * Marks an input pending. Always writes a new generation (no precondition), so a plan that saw an older
 * marker and is about to clear it cannot clear this one. Returns the new marker generation.
 */
export async function markPending(
  bucket: Bucket,
  product: string,
  client: string,
  inputName: string,
  why: string,
): Promise<PendingMarker> {
  const marker = pendingNameFor(product, client, inputName);
  const file = bucket.file(marker);
  await file.save(`${JSON.stringify({ input: inputName, why })}\n`, {
    resumable: false,
    contentType: "application/json",
  });
  return { marker, generation: String(file.metadata.generation ?? ""), input: inputName };
}

/** Marks an input pending unless it already is; returns the marker (existing or new). */
export async function ensurePending(
  bucket: Bucket,
  product: string,
  client: string,
  inputName: string,
  why: string,
): Promise<PendingMarker> {
  const marker = pendingNameFor(product, client, inputName);
  const written = await writeIfGeneration(
    bucket.file(marker),
    `${JSON.stringify({ input: inputName, why })}\n`,
    { ifGenerationMatch: "0" },
  );
  if (written !== null) return { marker, generation: written, input: inputName };
  try {
    const [metadata] = await bucket.file(marker).getMetadata();
    return { marker, generation: String(metadata.generation), input: inputName };
  } catch (err) {
    // Cleared between the two calls: mark it again.
    if (isNotFound(err)) return markPending(bucket, product, client, inputName, why);
    throw err;
  }
}

/**
 * Lists the client's pending markers with the input each stands for: derived from the marker's name, or,
 * for an unsafe input name kept by hash, read from the marker's body.
 */
export async function listPending(bucket: Bucket, product: string, client: string): Promise<PendingMarker[]> {
  const prefix = areaPrefix(product, client, "pending");
  const inputs = areaPrefix(product, client, "inputs");
  const listed = await listObjects(bucket, prefix);
  const markers = await mapLimit(listed, STORAGE_CONCURRENCY, async (o): Promise<PendingMarker | null> => {
    const path = o.name.slice(prefix.length);
    if (!path.startsWith(`${UNSAFE_CLAIMS_FOLDER}/`)) {
      return {
        marker: o.name,
        generation: o.generation,
        input: `${inputs}${path}`,
        timeCreated: o.timeCreated,
      };
    }
    const input = await markedInput(bucket, o.name, o.generation);
    return input === null
      ? null
      : { marker: o.name, generation: o.generation, input, timeCreated: o.timeCreated };
  });
  return markers.filter((m): m is PendingMarker => m !== null);
}

/** The input named in a hashed marker's body; null when the marker is gone or does not name one. */
async function markedInput(bucket: Bucket, marker: string, generation: string): Promise<string | null> {
  try {
    const bytes = await downloadObject(bucket.file(marker, { generation }));
    const body = JSON.parse(bytes.toString("utf8")) as { input?: unknown };
    return typeof body.input === "string" ? body.input : null;
  } catch (err) {
    if (isNotFound(err) || err instanceof SyntaxError) return null;
    throw err;
  }
}

/** Deletes a marker if it is still at `generation`; a newer marker (or none) is left as it is. */
export async function clearPending(bucket: Bucket, marker: PendingMarker): Promise<boolean> {
  try {
    await bucket.file(marker.marker).delete({ ifGenerationMatch: Number(marker.generation) });
    return true;
  } catch (err) {
    if (isNotFound(err) || isPreconditionFailed(err)) return false;
    throw err;
  }
}

/** Clears many markers, a bounded number at a time. */
export async function clearAllPending(bucket: Bucket, markers: readonly PendingMarker[]): Promise<void> {
  await mapLimit(markers, STORAGE_CONCURRENCY, (m) => clearPending(bucket, m));
}
