import type { Bucket } from "@google-cloud/storage";
import { BatchlineError } from "../../core/errors.ts";
import { gsUri } from "../../core/naming.ts";
import {
  type Manifest,
  type ManifestInput,
  type ManifestShard,
  manifestSchema,
  manifestShardName,
  manifestShardSchema,
} from "../../core/runs.ts";
import { readRecordOrNull, writeJsonIfGeneration } from "../shared/gcs.ts";
import { checkShard } from "../shared/manifest.ts";

/** An input this run holds a claim on, before it has a task index. */
export interface HeldInput {
  object: string;
  generation: string;
  size: number;
  output: string;
  errors: string;
  claim: string;
  /** The claim object's generation as this run last wrote or saw it (to release it by compare-and-swap). */
  claimGeneration: string;
  /** Failures carried on the claim. */
  failures: number;
}

export interface WrittenShards {
  shards: string[];
  inputs: ManifestInput[];
  /** Held inputs that are not in the shards (another attempt of this run wrote them first): release them. */
  left: HeldInput[];
}

/**
 * Writes the shards of a run's input list. Shards are created, never replaced (`ifGenerationMatch=0`):
 * when another attempt of the same run (a retried or duplicate plan call) wrote shard k first, this attempt
 * adopts that shard and carries on with its inputs that are not in it, so whichever header wins describes
 * shards that exist exactly as they are. A shorter-than-full shard is the last one.
 */
export async function writeShards(
  bucket: Bucket,
  runPrefix: string,
  runId: string,
  held: readonly HeldInput[],
  shardSize: number,
): Promise<WrittenShards> {
  let rest = [...held];
  const inputs: ManifestInput[] = [];
  const shards: string[] = [];
  let raced = 0;
  for (let k = 0; ; k++) {
    const name = manifestShardName(runPrefix, k);
    const file = bucket.file(name);
    if (rest.length > 0) {
      const batch: ManifestInput[] = rest.slice(0, shardSize).map((h, j) => ({
        index: k * shardSize + j,
        object: h.object,
        generation: h.generation,
        size: h.size,
        output: h.output,
        errors: h.errors,
        claim: h.claim,
      }));
      const shard: ManifestShard = { runId, shard: k, inputs: batch };
      if ((await writeJsonIfGeneration(file, manifestShardSchema.parse(shard), "0")) !== null) {
        inputs.push(...batch);
        shards.push(name);
        rest = rest.slice(batch.length);
        if (batch.length < shardSize) break;
        continue;
      }
    }
    // Nothing left of ours, or another attempt wrote this shard first: adopt what is there.
    const existing = await readRecordOrNull(file, manifestShardSchema);
    if (existing === null) {
      if (rest.length === 0) break;
      // Our create lost to a shard that is gone again: nothing of ours deletes shards, so give up loudly.
      if (++raced > 3)
        throw new BatchlineError(`${gsUri(bucket.name, name)} keeps changing under plan`, {
          retryable: true,
        });
      k--;
      continue;
    }
    checkShard(gsUri(bucket.name, name), existing, runId, k, shardSize);
    inputs.push(...existing.inputs);
    shards.push(name);
    const taken = new Set(existing.inputs.map((i) => i.object));
    rest = rest.filter((h) => !taken.has(h.object));
    if (existing.inputs.length < shardSize) break;
  }
  return { shards, inputs, left: rest };
}

/** Writes the header last, only if absent: its presence is what makes the run exist. False: another call won. */
export async function writeHeader(bucket: Bucket, name: string, manifest: Manifest): Promise<boolean> {
  return (await writeJsonIfGeneration(bucket.file(name), manifestSchema.parse(manifest), "0")) !== null;
}
