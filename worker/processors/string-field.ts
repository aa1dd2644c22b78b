import { type BadRecord, bad, type Processor, type RecordContext } from "./types.ts";

export interface StringFieldProcessorOptions {
  name: string;
  version: string;
  contentType?: string;
  /** The top-level string field the processor rewrites. */
  field: string;
  /** The field's new value, or `bad(reason)`. Synchronous. */
  map(value: string, ctx: RecordContext): string | BadRecord;
}

/**
 * A processor that rewrites one top-level string field of each object record and keeps every other field as
 * it is. A record that is not an object, or whose field is missing or not a string, is a bad record. Its
 * processRecord and its `stringField` (the worker's path that skips building the record) both call `map`,
 * so the two paths cannot disagree.
 */
export function stringFieldProcessor(options: StringFieldProcessorOptions): Processor {
  const { field, map } = options;
  return {
    name: options.name,
    version: options.version,
    ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
    stringField: { name: field, map },
    processRecord(record, ctx) {
      if (typeof record !== "object" || record === null || Array.isArray(record)) {
        return bad(`record is ${describeJsonType(record)}, not a JSON object`);
      }
      const value = (record as Record<string, unknown>)[field];
      if (value === undefined || !Object.hasOwn(record, field))
        return bad(`record has no ${JSON.stringify(field)} field`);
      if (typeof value !== "string") {
        return bad(`field ${JSON.stringify(field)} is ${describeJsonType(value)}, not a string`);
      }
      const mapped = map(value, ctx);
      if (typeof mapped !== "string") return mapped;
      // The record is this call's own freshly parsed value: change it in place rather than copy it.
      (record as Record<string, unknown>)[field] = mapped;
      return record;
    },
  };
}

function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}
