import { stringFieldProcessor } from "./string-field.ts";
import type { Processor } from "./types.ts";

/**
 * The template's example: upper-cases the `text` field of each JSONL record and keeps every other field
 * as it is. A record that is not an object, or whose `text` is missing or not a string, is a bad record.
 */
export function createUppercaseProcessor(): Processor {
  return stringFieldProcessor({
    name: "uppercase",
    version: "1.0.0",
    contentType: "application/x-ndjson",
    field: "text",
    map: (text) => text.toUpperCase(),
  });
}
