import type { Bucket } from "@google-cloud/storage";
import { areaPrefix } from "../../core/naming.ts";
import { customMetadata, writeIfGeneration } from "../shared/gcs.ts";

/** How long a plan lock holds before another planner may take it over (its holder died mid-plan). */
export const PLAN_LOCK_SECONDS = 60;

/** `<product>/<client>/runs/.plan-lock`: one planner of a client at a time. */
export function planLockName(product: string, client: string): string {
  return `${areaPrefix(product, client, "runs")}.plan-lock`;
}

/**
 * Takes the client's plan lock (compare-and-swap on the lock object's generation). Claims alone already
 * stop two runs taking one input; the lock stops planners that wake together (the end of a burst) from
 * splitting the inputs into several small jobs. Returns the lock's generation, or null when another run
 * holds it. The same run (a retry or a duplicate delivery) may take its own lock again.
 */
export async function acquirePlanLock(
  bucket: Bucket,
  name: string,
  runId: string,
  now: Date,
): Promise<string | null> {
  const file = bucket.file(name);
  const metadata = { runId, expiresAt: new Date(now.getTime() + PLAN_LOCK_SECONDS * 1000).toISOString() };
  // A few rounds cover the lock being released between our create and our read.
  for (let round = 0; round < 3; round++) {
    const created = await writeIfGeneration(file, "", {
      ifGenerationMatch: "0",
      metadata,
      contentType: "text/plain",
    });
    if (created !== null) return created;
    let current: { generation: string; runId: string; expiresAt: number };
    try {
      const [meta] = await file.getMetadata();
      const custom = customMetadata(meta.metadata);
      current = {
        generation: String(meta.generation),
        runId: custom.runId ?? "",
        expiresAt: Date.parse(custom.expiresAt ?? ""),
      };
    } catch (err) {
      if ((err as { code?: number }).code === 404) continue;
      throw err;
    }
    // Identical calls of one run share the lock: they converge on one manifest by themselves.
    if (current.runId === runId) return current.generation;
    if (current.expiresAt > now.getTime()) return null;
    // Its holder died mid-plan: take it over, unless someone else just did.
    return writeIfGeneration(file, "", {
      ifGenerationMatch: current.generation,
      metadata,
      contentType: "text/plain",
    });
  }
  return null;
}

/** Lets go of the lock if it is still the generation we took (never someone else's). */
export async function releasePlanLock(bucket: Bucket, name: string, generation: string): Promise<void> {
  try {
    await bucket.file(name).delete({ ifGenerationMatch: generation });
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code !== 404 && code !== 412) throw err;
  }
}
