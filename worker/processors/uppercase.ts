import { bad, type Processor } from "./types.ts";

/**
 * The template's example: upper-cases the `text` field of each JSONL record and keeps every other field
 * as it is. A record that is not an object, or whose `text` is missing or not a string, is a bad record.
 */
export function createUppercaseProcessor(): Processor {
  return {
    name: "uppercase",
    version: "1.0.0",
    contentType: "application/x-ndjson",
    processRecord(record) {
      if (typeof record !== "object" || record === null || Array.isArray(record)) {
        return bad(`record is ${describeJsonType(record)}, not a JSON object`);
      }
      const text = (record as { text?: unknown }).text;
      if (text === undefined) return bad('record has no "text" field');
      if (typeof text !== "string") return bad(`field "text" is ${describeJsonType(text)}, not a string`);
      // The record is this call's own freshly parsed value: change it in place rather than copy it.
      (record as { text: string }).text = text.toUpperCase();
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
