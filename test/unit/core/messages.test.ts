import { describe, expect, it } from "vitest";
import {
  capReason,
  MAX_REASON_CHARS,
  type ResultMessageV1,
  resultMessageAttributes,
  resultMessageV1Schema,
} from "../../../core/messages.ts";

const message: ResultMessageV1 = {
  schemaVersion: 1,
  status: "FAILED",
  product: "shop",
  client: "acme",
  runId: "ev-0123456789abcdef",
  jobId: "bl-shop-acme-ev-0123456789abcdef",
  trigger: { type: "event", object: "shop/acme/inputs/a.jsonl", generation: "1700000000000000" },
  counts: { inputs: 2, succeeded: 1, failed: 1, records: 10, badRecords: 1 },
  failedInputs: [
    {
      object: "shop/acme/inputs/b.jsonl",
      generation: "1700000000000001",
      reason: "exit 2",
      failures: 3,
      poison: true,
    },
  ],
  failedInputsOmitted: 0,
  error: null,
  locations: {
    outputs: "gs://bkt/shop/acme/outputs/",
    summary: "gs://bkt/shop/acme/runs/ev-0123456789abcdef/summary.json",
    errors: "gs://bkt/shop/acme/errors/ev-0123456789abcdef/",
  },
  timings: {
    plannedAt: "2026-11-21T10:00:00.000Z",
    startedAt: "2026-11-21T10:00:05.000Z",
    finishedAt: "2026-11-21T10:01:00.000Z",
    durationMs: 60_000,
  },
};

describe("result message v1", () => {
  it("accepts a complete message", () => {
    expect(resultMessageV1Schema.parse(message)).toEqual(message);
  });

  it("accepts schedule triggers and a job that never started", () => {
    const scheduled = {
      ...message,
      jobId: null,
      trigger: { type: "schedule" as const },
      timings: { ...message.timings, startedAt: null },
    };
    expect(resultMessageV1Schema.safeParse(scheduled).success).toBe(true);
  });

  it("rejects unknown fields so producers cannot drift from the docs", () => {
    const result = resultMessageV1Schema.safeParse({ ...message, extra: 1 });
    expect(result.success).toBe(false);
  });

  it("rejects an unknown status and a non-numeric generation", () => {
    expect(resultMessageV1Schema.safeParse({ ...message, status: "DONE" }).success).toBe(false);
    const badGeneration = { ...message, failedInputs: [{ ...message.failedInputs[0], generation: "abc" }] };
    expect(resultMessageV1Schema.safeParse(badGeneration).success).toBe(false);
  });

  it("caps failed inputs at 100", () => {
    const many = Array.from({ length: 101 }, (_, i) => ({ ...message.failedInputs[0], object: `o${i}` }));
    expect(resultMessageV1Schema.safeParse({ ...message, failedInputs: many }).success).toBe(false);
  });

  it("derives the Pub/Sub attributes subscribers filter on", () => {
    expect(resultMessageAttributes(message)).toEqual({
      schemaVersion: "1",
      status: "FAILED",
      client: "acme",
      product: "shop",
      runId: "ev-0123456789abcdef",
      trigger: "event",
    });
  });

  it("caps reasons and marks the cut", () => {
    expect(capReason("short")).toBe("short");
    const capped = capReason("x".repeat(2_000));
    expect(capped).toHaveLength(MAX_REASON_CHARS);
    expect(capped.endsWith("...")).toBe(true);
  });
});
