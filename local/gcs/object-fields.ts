import type { ObjectFields } from "./backend/types.ts";
import { invalid } from "./errors.ts";

const STRING_FIELDS = [
  "contentType",
  "contentEncoding",
  "contentDisposition",
  "contentLanguage",
  "cacheControl",
] as const;
const STORAGE_CLASSES = new Set([
  "STANDARD",
  "NEARLINE",
  "COLDLINE",
  "ARCHIVE",
  "MULTI_REGIONAL",
  "REGIONAL",
  "DURABLE_REDUCED_AVAILABILITY",
]);

/**
 * The writable fields of an object resource in a request body (upload metadata, objects.update,
 * rewrite/compose destination). Read-only fields (generation, size, md5Hash, ...) are ignored here.
 */
export function parseObjectFields(body: Record<string, unknown>): ObjectFields {
  const out: ObjectFields = {};
  for (const key of STRING_FIELDS) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw invalid(`Invalid value for ${key}: ${JSON.stringify(v)}`);
    out[key] = v;
  }
  if (body.customTime !== undefined && body.customTime !== null)
    out.customTime = parseTime("customTime", body.customTime);
  if (body.metadata !== undefined && body.metadata !== null)
    out.metadata = parseMetadata(body.metadata, false);
  if (body.storageClass !== undefined && body.storageClass !== null)
    out.storageClass = parseStorageClass(body.storageClass);
  for (const key of ["temporaryHold", "eventBasedHold"] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "boolean") throw invalid(`Invalid value for ${key}: ${JSON.stringify(v)}`);
    out[key] = v;
  }
  return out;
}

/**
 * objects.patch: fields present in `patch` replace the current ones, `null` clears a field, and
 * `metadata` merges key by key (a `null` value removes that key; `metadata: null` removes them all).
 */
export function patchObjectFields(current: ObjectFields, patch: Record<string, unknown>): ObjectFields {
  const out: ObjectFields = { ...current };
  for (const key of STRING_FIELDS) {
    if (!(key in patch)) continue;
    const v = patch[key];
    if (v === null) delete out[key];
    else if (typeof v === "string") out[key] = v;
    else throw invalid(`Invalid value for ${key}: ${JSON.stringify(v)}`);
  }
  if ("customTime" in patch) {
    if (patch.customTime === null) delete out.customTime;
    else out.customTime = parseTime("customTime", patch.customTime);
  }
  if ("metadata" in patch) {
    if (patch.metadata === null) delete out.metadata;
    else {
      const merged: Record<string, string> = { ...(current.metadata ?? {}) };
      for (const [k, v] of Object.entries(parseMetadata(patch.metadata, true))) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      if (Object.keys(merged).length > 0) out.metadata = merged;
      else delete out.metadata;
    }
  }
  for (const key of ["temporaryHold", "eventBasedHold"] as const) {
    if (!(key in patch)) continue;
    const v = patch[key];
    if (v === null) delete out[key];
    else if (typeof v === "boolean") out[key] = v;
    else throw invalid(`Invalid value for ${key}: ${JSON.stringify(v)}`);
  }
  return out;
}

function parseMetadata(value: unknown, allowNull: true): Record<string, string | null>;
function parseMetadata(value: unknown, allowNull: false): Record<string, string>;
function parseMetadata(value: unknown, allowNull: boolean): Record<string, string | null> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`Invalid value for metadata: ${JSON.stringify(value)}`);
  }
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null) {
      if (allowNull) out[k] = null;
      continue;
    }
    // GCS keeps custom metadata as strings; JSON numbers and booleans arrive as their text.
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = String(v);
    else throw invalid(`Invalid value for metadata.${k}: ${JSON.stringify(v)}`);
  }
  return out;
}

function parseTime(field: string, value: unknown): string {
  if (typeof value !== "string" || Number.isNaN(Date.parse(value))) {
    throw invalid(`Invalid value for ${field}: ${JSON.stringify(value)}`);
  }
  return new Date(value).toISOString();
}

function parseStorageClass(value: unknown): string {
  if (typeof value !== "string" || !STORAGE_CLASSES.has(value.toUpperCase())) {
    throw invalid(`Invalid value for storageClass: ${JSON.stringify(value)}`);
  }
  return value.toUpperCase();
}

/** The writable fields of a stored object, to start a patch or a copy from. */
export function fieldsOf(o: ObjectFields): ObjectFields {
  const out: ObjectFields = {};
  for (const key of STRING_FIELDS) if (o[key] !== undefined) out[key] = o[key];
  if (o.customTime !== undefined) out.customTime = o.customTime;
  if (o.metadata !== undefined) out.metadata = { ...o.metadata };
  if (o.storageClass !== undefined) out.storageClass = o.storageClass;
  if (o.temporaryHold !== undefined) out.temporaryHold = o.temporaryHold;
  if (o.eventBasedHold !== undefined) out.eventBasedHold = o.eventBasedHold;
  return out;
}
