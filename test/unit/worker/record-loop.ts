import { Storage } from "@google-cloud/storage";
import { createLogger } from "../../../core/logger.ts";
import type { Processor } from "../../../worker/processors/types.ts";
import { type LiveRecordContext, processRecords } from "../../../worker/records.ts";
import { MemoryLineSink } from "./memory-sink.ts";

/** A record context for a task of the `acme` client's run, with a storage client that is never called. */
export function recordContext(): LiveRecordContext {
  return {
    product: "demo",
    client: "acme",
    runId: "ev-0000000000000001",
    jobId: "bl-demo-acme-ev-0000000000000001",
    taskIndex: 0,
    attempt: 0,
    input: { object: "demo/acme/inputs/a.jsonl", generation: "1", size: 0 },
    bucket: "bkt",
    storage: new Storage({ projectId: "test", apiEndpoint: "http://127.0.0.1:9" }),
    logger: createLogger({ component: "worker", level: "silent" }),
    line: 0,
  };
}

/** Runs processRecords over `parts` into memory sinks; errors come back as raw lines. */
export async function runRecordLoop(
  parts: (string | Buffer)[],
  processor: Processor,
  options: { maxLineBytes?: number; maxBadRecordBytes?: number } = {},
) {
  const output = new MemoryLineSink();
  const errors = new MemoryLineSink();
  const counts = await processRecords(
    (async function* () {
      for (const p of parts) yield typeof p === "string" ? Buffer.from(p, "utf8") : p;
    })(),
    {
      processor,
      ctx: recordContext(),
      output,
      errors,
      maxLineBytes: options.maxLineBytes ?? 1024,
      maxBadRecordBytes: options.maxBadRecordBytes,
    },
  );
  return { counts, output: output.lines, errors: errors.lines };
}
