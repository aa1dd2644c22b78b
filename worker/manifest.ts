import type { Bucket } from "@google-cloud/storage";
import type { z } from "zod";
import { httpStatusOf } from "../core/classify.ts";
import { ObjectNameError } from "../core/errors.ts";
import { assertSafeObjectName, parseObjectName } from "../core/naming.ts";
import { downloadObject } from "../core/object-read.ts";
import {
  type Manifest,
  type ManifestInput,
  type ManifestShard,
  manifestSchema,
  manifestShardSchema,
} from "../core/runs.ts";
import { schemaProblems } from "../core/schema-problems.ts";
import type { RunLocation } from "./env.ts";
import { PermanentTaskError } from "./errors.ts";

/** What a task learns from the manifest: the run, and its own input (null for an input-less task). */
export interface TaskAssignment {
  manifest: Manifest;
  input: ManifestInput | null;
}

/**
 * Reads the manifest header and the one shard that holds `taskIndex` (never the whole input list) and
 * checks that the entry is this task's and that its names are the run's own.
 */
export async function readAssignment(
  bucket: Bucket,
  run: RunLocation,
  taskIndex: number,
  taskCount: number,
  onManifest: (manifest: Manifest) => void = () => {},
): Promise<TaskAssignment> {
  const manifest = await readRequiredRecord(bucket, run.manifest, manifestSchema, "run manifest");
  // Let the caller note the run's processor before anything below can fail, for the task record.
  onManifest(manifest);
  const where = `manifest gs://${bucket.name}/${run.manifest}`;
  if (
    manifest.runId !== run.runId ||
    manifest.product !== run.product ||
    manifest.client !== run.client ||
    manifest.bucket !== run.bucket
  ) {
    throw new PermanentTaskError(
      `${where} is for run gs://${manifest.bucket}/${manifest.product}/${manifest.client} ${manifest.runId}, not the run its URI names`,
    );
  }
  if (manifest.taskCount !== taskCount) {
    throw new PermanentTaskError(
      `BATCH_TASK_COUNT is ${taskCount} but ${where} plans ${manifest.taskCount} task(s)`,
    );
  }
  if (taskIndex >= manifest.inputCount) {
    if (manifest.mode === "always" && manifest.inputCount === 0 && taskIndex === 0) {
      return { manifest, input: null };
    }
    throw new PermanentTaskError(
      `${where} has no input for task index ${taskIndex} (it lists ${manifest.inputCount} input(s))`,
    );
  }
  const shardNumber = Math.floor(taskIndex / manifest.shardSize);
  const shardName = manifest.shards[shardNumber];
  if (shardName === undefined) {
    throw new PermanentTaskError(
      `${where} lists ${manifest.shards.length} shard(s); task index ${taskIndex} needs shard ${shardNumber}`,
    );
  }
  if (!isSafeName(shardName) || !shardName.startsWith(run.manifest.replace(/manifest\.json$/, ""))) {
    throw new PermanentTaskError(`${where} names shard ${JSON.stringify(shardName)} outside its run`);
  }
  const shard: ManifestShard = await readRequiredRecord(
    bucket,
    shardName,
    manifestShardSchema,
    "manifest shard",
  );
  if (shard.runId !== run.runId || shard.shard !== shardNumber) {
    throw new PermanentTaskError(
      `manifest shard ${shardName} is shard ${shard.shard} of run ${shard.runId}, expected shard ${shardNumber} of ${run.runId}`,
    );
  }
  const input = shard.inputs[taskIndex % manifest.shardSize];
  if (input?.index !== taskIndex) {
    throw new PermanentTaskError(`manifest shard ${shardName} has no entry for task index ${taskIndex}`);
  }
  checkNames(input, manifest);
  return { manifest, input };
}

/** The entry's names must sit in the run's product and client, each in its own area. */
function checkNames(input: ManifestInput, manifest: Manifest): void {
  const scope = { product: manifest.product, clients: (c: string) => c === manifest.client };
  const expect: [string, string, string][] = [
    ["object", input.object, "inputs"],
    ["output", input.output, "outputs"],
    ["errors", input.errors, "errors"],
  ];
  for (const [field, name, area] of expect) {
    try {
      const parsed = parseObjectName(name, scope);
      if (parsed.area !== area) throw new ObjectNameError(name, `is not in the ${area}/ area`);
    } catch (err) {
      throw new PermanentTaskError(
        `manifest entry ${input.index} has a bad ${field}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
}

/** Downloads and parses one run object the task cannot do without: a missing or invalid one is a permanent failure, anything else is rethrown. */
async function readRequiredRecord<S extends z.ZodType>(
  bucket: Bucket,
  name: string,
  schema: S,
  what: string,
): Promise<z.infer<S>> {
  let body: Buffer;
  try {
    body = await downloadObject(bucket.file(name));
  } catch (err) {
    if (httpStatusOf(err) === 404) {
      throw new PermanentTaskError(`${what} gs://${bucket.name}/${name} does not exist`, { cause: err });
    }
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new PermanentTaskError(
      `${what} gs://${bucket.name}/${name} is not JSON: ${(err as Error).message}`,
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = schemaProblems(parsed.error, json)
      .slice(0, 5)
      .map((p) => `${p.field || "document"}: ${p.message}`)
      .join("; ");
    throw new PermanentTaskError(`${what} gs://${bucket.name}/${name} is not valid: ${issues}`);
  }
  return parsed.data;
}

/** The generation of the manifest header, for the record of an input-less task. */
export async function manifestGeneration(bucket: Bucket, run: RunLocation): Promise<string> {
  const [meta] = await bucket.file(run.manifest).getMetadata();
  return String(meta.generation ?? "0");
}

function isSafeName(name: string): boolean {
  try {
    assertSafeObjectName(name);
    return true;
  } catch {
    return false;
  }
}
