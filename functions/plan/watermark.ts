import type { Bucket } from "@google-cloud/storage";
import { z } from "zod";
import { areaPrefix, isFolderPlaceholder } from "../../core/naming.ts";
import type { ClaimRead } from "../shared/claims.ts";
import { readRecordWithGeneration, writeJsonIfGeneration } from "../shared/gcs.ts";
import { compareGenerations } from "./pending.ts";

/**
 * The sweep's watermark W, one per client: every input whose generation is at or below W is final (its
 * claim says succeeded, poison, or failed maxInputFailures times, for that generation). A sweep lists
 * `inputs/` (names and generations only), reads the claims of inputs above W and of the pending index, and
 * moves W up to just below the oldest input that is still not final. A claim is about one generation and a
 * re-upload gets a new, higher generation, so an input at or below W never becomes pending again by itself.
 */

export const watermarkSchema = z.strictObject({
  schemaVersion: z.literal(1),
  /** Inputs at or below this GCS generation are all final. "0": nothing is known yet. */
  generation: z.string().regex(/^\d+$/, "must be a GCS generation (decimal digits)"),
  /** When a sweep last wrote it (RFC 3339). */
  updatedAt: z.iso.datetime({ offset: true }),
});
export type Watermark = z.infer<typeof watermarkSchema>;

/**
 * W only passes inputs created at least this long before the sweep, so an upload that was still being
 * committed while the sweep listed (and could show up with a lower generation than one already listed)
 * is never passed unseen.
 */
export const WATERMARK_SETTLE_SECONDS = 300;

/**
 * A watermark not moved for this long is written again unchanged: it lives under `runs/`, whose lifecycle
 * rule deletes objects older than the runs retention (at least a week).
 */
export const WATERMARK_REFRESH_SECONDS = 3 * 86_400;

/** `runs/.watermark.json` (dot names under runs/ are never run ids). */
export function watermarkName(product: string, client: string): string {
  return `${areaPrefix(product, client, "runs")}.watermark.json`;
}

/** An input as the sweep's listing shows it. */
export interface ListedInput {
  name: string;
  generation: string;
  /** RFC 3339. */
  timeCreated: string;
}

/** Final: nothing will ever run this generation again (short of a re-upload). */
export function isFinal(claim: ClaimRead | undefined, generation: string, maxInputFailures: number): boolean {
  if (claim === undefined || !claim.valid) return false;
  const c = claim.claim;
  if (c.inputGeneration !== generation) return false;
  if (c.state === "succeeded" || c.state === "poison") return true;
  return c.state === "failed" && Number(c.failures) >= maxInputFailures;
}

/**
 * Where W may move: past the unbroken run of final inputs above the current W, oldest generation first,
 * stopping at the first input that is not final or was created less than WATERMARK_SETTLE_SECONDS before
 * `now`. Folder placeholders are never planned, so they count as final. Never moves W down.
 */
export function nextWatermark(options: {
  current: string;
  /** Inputs above `current` (any order). */
  above: readonly ListedInput[];
  final: (input: ListedInput) => boolean;
  now: Date;
  settleSeconds?: number;
}): string {
  const settledBefore = options.now.getTime() - (options.settleSeconds ?? WATERMARK_SETTLE_SECONDS) * 1000;
  const ordered = [...options.above].sort(
    (a, b) => compareGenerations(a.generation, b.generation) || (a.name < b.name ? -1 : 1),
  );
  let next = options.current;
  for (const input of ordered) {
    if (compareGenerations(input.generation, options.current) <= 0) continue;
    const created = Date.parse(input.timeCreated);
    if (!(created < settledBefore)) break;
    if (!isFolderPlaceholder(input.name) && !options.final(input)) break;
    next = input.generation;
  }
  return next;
}

/** The client's watermark and the object generation it was read at; "0" when there is none yet. */
export async function readWatermark(
  bucket: Bucket,
  product: string,
  client: string,
): Promise<{ value: Watermark; objectGeneration: string }> {
  const read = await readRecordWithGeneration(bucket.file(watermarkName(product, client)), watermarkSchema);
  if (read === null) {
    return {
      value: { schemaVersion: 1, generation: "0", updatedAt: new Date(0).toISOString() },
      objectGeneration: "0",
    };
  }
  return { value: read.value, objectGeneration: read.generation };
}

/**
 * Moves the watermark to `generation` by compare-and-swap on the object generation read before. Loses
 * quietly to a concurrent sweep (it moved W from the same facts or newer ones); never moves W down.
 * Returns whether this call wrote it.
 */
export async function advanceWatermark(
  bucket: Bucket,
  product: string,
  client: string,
  read: { value: Watermark; objectGeneration: string },
  generation: string,
  now: Date,
): Promise<boolean> {
  const moved = compareGenerations(generation, read.value.generation) > 0;
  const stale =
    read.objectGeneration !== "0" &&
    now.getTime() - Date.parse(read.value.updatedAt) > WATERMARK_REFRESH_SECONDS * 1000;
  if (!moved && !stale) return false;
  const value: Watermark = {
    schemaVersion: 1,
    generation: moved ? generation : read.value.generation,
    updatedAt: now.toISOString(),
  };
  const written = await writeJsonIfGeneration(
    bucket.file(watermarkName(product, client)),
    value,
    read.objectGeneration,
  );
  return written !== null;
}
