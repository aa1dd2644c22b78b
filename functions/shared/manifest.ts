import type { Bucket } from "@google-cloud/storage";
import { BatchlineError } from "../../core/errors.ts";
import { gsUri, runRecordName } from "../../core/naming.ts";
import {
  type Manifest,
  type ManifestInput,
  type ManifestShard,
  manifestShardSchema,
} from "../../core/runs.ts";
import { InvalidRecordError, readRecordOrNull } from "./gcs.ts";
import { mapLimit, STORAGE_CONCURRENCY } from "./limit.ts";

/** Throws unless `shard` is shard k of this run with task indexes k*shardSize, k*shardSize+1, … */
export function checkShard(
  uri: string,
  shard: ManifestShard,
  runId: string,
  k: number,
  shardSize: number,
): void {
  const problem =
    shard.runId !== runId
      ? `belongs to run ${shard.runId}`
      : shard.shard !== k
        ? `says it is shard ${shard.shard}`
        : shard.inputs.length > shardSize
          ? `holds ${shard.inputs.length} inputs, more than ${shardSize}`
          : shard.inputs.findIndex((input, j) => input.index !== k * shardSize + j) >= 0
            ? "has task indexes out of sequence"
            : undefined;
  if (problem !== undefined) throw new InvalidRecordError(uri, problem);
}

/** Reads a manifest's shards, in order, bounded in parallel, checking they fit the header. */
export async function readShards(bucket: Bucket, manifest: Manifest): Promise<ManifestInput[]> {
  const shards = await mapLimit(manifest.shards, STORAGE_CONCURRENCY, async (name, k) => {
    const uri = gsUri(bucket.name, name);
    const shard = await readRecordOrNull(bucket.file(name), manifestShardSchema);
    if (shard === null)
      throw new BatchlineError(`${uri} is missing (the manifest of run ${manifest.runId} lists it)`);
    checkShard(uri, shard, manifest.runId, k, manifest.shardSize);
    return shard.inputs;
  });
  const inputs = shards.flat();
  if (inputs.length !== manifest.inputCount) {
    throw new InvalidRecordError(
      gsUri(bucket.name, runRecordName(manifest.product, manifest.client, manifest.runId, "manifest.json")),
      `the shards hold ${inputs.length} inputs but the header says ${manifest.inputCount}`,
    );
  }
  return inputs;
}
