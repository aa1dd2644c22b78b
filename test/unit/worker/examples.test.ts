import { createReadStream } from "node:fs";
import { Storage } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../core/logger.ts";
import { createUppercaseProcessor } from "../../../worker/processors/uppercase.ts";
import { processRecords } from "../../../worker/records.ts";
import { MemoryLineSink } from "./memory-sink.ts";

/** Runs an example input through the uppercase processor as the worker would. */
async function process(file: string) {
  const output = new MemoryLineSink();
  const errors = new MemoryLineSink();
  const counts = await processRecords(createReadStream(`examples/inputs/${file}`), {
    processor: createUppercaseProcessor(),
    ctx: {
      product: "demo",
      client: "demo",
      runId: "mn-0000000000000000",
      jobId: "job",
      taskIndex: 0,
      attempt: 0,
      input: null,
      bucket: "bucket",
      storage: new Storage({ projectId: "test", apiEndpoint: "http://127.0.0.1:9" }),
      logger: createLogger({ component: "worker", level: "silent" }),
      line: 0,
    },
    output,
    errors,
    maxLineBytes: 1024 * 1024,
  });
  return {
    counts,
    output: output.lines.map((l) => JSON.parse(l)),
    errors: errors.lines.map((l) => JSON.parse(l)),
  };
}

describe("examples/inputs, as the README describes them", () => {
  it("support-tickets.jsonl: 8 records, all processed", async () => {
    const { counts, output } = await process("support-tickets.jsonl");
    expect(counts).toMatchObject({ records: 8, badRecords: 0 });
    expect(output[0]).toMatchObject({ id: "T-1001", text: expect.stringMatching(/^MY ORDER ARRIVED/) });
  });

  it("product-reviews.jsonl: 6 records in several languages, all processed", async () => {
    const { counts, output } = await process("product-reviews.jsonl");
    expect(counts).toMatchObject({ records: 6, badRecords: 0 });
    expect(output[1].text).toContain("GRÖSSE PASST");
  });

  it("mixed-quality.jsonl: CRLF, no final newline, 4 good, 4 bad, 2 blank lines", async () => {
    const { counts, output, errors } = await process("mixed-quality.jsonl");
    expect(counts).toMatchObject({ records: 4, badRecords: 4, lines: 10 });
    expect(output.map((r) => r.id)).toEqual(["R-1", "R-2", "R-6", "R-7"]);
    expect(errors.map((e) => [e.line, e.reason.replace(/:.*/, "")])).toEqual([
      [3, "not valid JSON"],
      [5, 'record has no "text" field'],
      [6, 'field "text" is a number, not a string'],
      [7, "record is an array, not a JSON object"],
    ]);
  });
});
