import type { Bucket, File } from "@google-cloud/storage";
import type { z } from "zod";
import { BatchlineError, describeValue } from "../../core/errors.ts";
import { gsUri, retentionFields } from "../../core/naming.ts";
import { downloadObject } from "../../core/object-read.ts";
import { schemaProblems } from "../../core/schema-problems.ts";
import { isNotFound, isPreconditionFailed } from "./errors.ts";

/** An object as a listing shows it: enough to plan without downloading anything. */
export interface ListedObject {
  name: string;
  /** GCS generation as a decimal string (int64). */
  generation: string;
  size: number;
  /** When this generation was created (RFC 3339). */
  timeCreated: string;
  /** Custom metadata (claims keep their state here). */
  metadata: Record<string, string>;
}

/** Lists every object under `prefix`, all pages. */
export async function listObjects(bucket: Bucket, prefix: string): Promise<ListedObject[]> {
  const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
  return files.map((file) => ({
    name: file.name,
    generation: String(file.metadata.generation ?? ""),
    size: Number(file.metadata.size ?? 0),
    timeCreated: String(file.metadata.timeCreated ?? ""),
    metadata: customMetadata(file.metadata.metadata),
  }));
}

/** Custom metadata values as strings; GCS returns strings, a null value means "removed". */
export function customMetadata(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null || typeof raw !== "object") return out;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value !== null && value !== undefined) out[key] = String(value);
  }
  return out;
}

/** A run record that exists but does not match its schema: someone else wrote it, or it is corrupt. */
export class InvalidRecordError extends BatchlineError {
  readonly uri: string;
  constructor(uri: string, problem: string) {
    super(`${uri} is not a valid record: ${problem}`);
    this.uri = uri;
  }
}

/** Turns the first zod issue into "field x: message (got value)". */
export function describeZodError(error: z.ZodError, data: unknown): string {
  const problems = schemaProblems(error, data);
  const first = problems[0];
  if (first === undefined) return "invalid";
  const where = first.field === "" ? "document" : `field "${first.field}"`;
  const got = first.value === undefined || first.unknownKeys ? "" : ` (got ${describeValue(first.value)})`;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : "";
  return `${where}: ${first.message}${got}${more}`;
}

/** Parses an object's bytes as JSON and validates it, naming the object on any problem. */
export function parseJsonRecord<S extends z.ZodType>(uri: string, bytes: Buffer, schema: S): z.output<S> {
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new InvalidRecordError(uri, `not JSON (${(err as Error).message})`);
  }
  const result = schema.safeParse(data);
  if (!result.success) throw new InvalidRecordError(uri, describeZodError(result.error, data));
  return result.data;
}

/** Reads and validates a JSON record; null when the object does not exist (any other failure throws). */
export async function readRecordOrNull<S extends z.ZodType>(
  file: File,
  schema: S,
): Promise<z.output<S> | null> {
  let bytes: Buffer;
  try {
    bytes = await downloadObject(file);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  return parseJsonRecord(gsUri(file.bucket.name, file.name), bytes, schema);
}

/**
 * Reads a JSON record together with the generation it was read at, for a later compare-and-swap. Reads
 * that exact generation, so the value and the generation always belong together.
 */
export async function readRecordWithGeneration<S extends z.ZodType>(
  file: File,
  schema: S,
): Promise<{ value: z.output<S>; generation: string } | null> {
  let generation: string;
  try {
    const [metadata] = await file.getMetadata();
    generation = String(metadata.generation);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  const exact = file.bucket.file(file.name, { generation });
  let bytes: Buffer;
  try {
    bytes = await downloadObject(exact);
  } catch (err) {
    // Replaced between the two calls: read again from the top.
    if (isNotFound(err)) return readRecordWithGeneration(file, schema);
    throw err;
  }
  return { value: parseJsonRecord(gsUri(file.bucket.name, file.name), bytes, schema), generation };
}

export interface ConditionalWrite {
  /** `"0"`: create only if absent; otherwise replace only that generation. */
  ifGenerationMatch: string;
  /** Custom metadata to set on the new generation. */
  metadata?: Record<string, string>;
  contentType?: string;
}

/**
 * Writes `body` only if the object is still at `ifGenerationMatch` (compare-and-swap). Returns the new
 * generation, or null when the precondition failed (someone else wrote first).
 */
export async function writeIfGeneration(
  file: File,
  body: string,
  options: ConditionalWrite,
): Promise<string | null> {
  try {
    await file.save(body, {
      resumable: false,
      contentType: options.contentType ?? "application/json",
      metadata: {
        ...retentionFields(file.name),
        ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      },
      preconditionOpts: { ifGenerationMatch: options.ifGenerationMatch },
    });
  } catch (err) {
    if (isPreconditionFailed(err)) return null;
    throw err;
  }
  const generation = file.metadata.generation;
  if (generation === undefined || generation === null) {
    throw new BatchlineError(
      `storage did not report the generation written for ${gsUri(file.bucket.name, file.name)}`,
    );
  }
  return String(generation);
}

/** Writes a JSON record under a generation precondition; see writeIfGeneration. */
export function writeJsonIfGeneration(
  file: File,
  value: unknown,
  ifGenerationMatch: string,
): Promise<string | null> {
  return writeIfGeneration(file, `${JSON.stringify(value)}\n`, { ifGenerationMatch });
}
