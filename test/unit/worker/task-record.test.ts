import { describe, expect, it } from "vitest";
import { taskRecordSchema } from "../../../core/runs.ts";
import { buildTaskRecord, NO_INPUT_GENERATION, type TaskFacts } from "../../../worker/task-record.ts";

function facts(overrides: Partial<TaskFacts> = {}): TaskFacts {
  return {
    runId: "ev-0123456789abcdef",
    index: 4,
    attempt: 1,
    input: { object: "demo/acme/inputs/a.jsonl", generation: "1700000000000001" },
    records: 10,
    badRecords: 2,
    bytesIn: 1234,
    bytesOut: 1200,
    output: "demo/acme/outputs/a.jsonl",
    errors: "demo/acme/errors/ev-0123456789abcdef/a.jsonl.jsonl",
    processor: "uppercase",
    processorVersion: "1.0.0",
    startedAt: new Date("2026-01-02T03:04:05.000Z"),
    ...overrides,
  };
}

describe("buildTaskRecord", () => {
  it("builds a succeeded record that the contract's schema accepts", () => {
    const record = buildTaskRecord(facts(), { status: "SUCCEEDED" }, new Date("2026-01-02T03:04:06.250Z"));
    expect(taskRecordSchema.safeParse(record).success).toBe(true);
    expect(record).toEqual({
      schemaVersion: 1,
      runId: "ev-0123456789abcdef",
      index: 4,
      attempt: 1,
      input: { object: "demo/acme/inputs/a.jsonl", generation: "1700000000000001" },
      status: "SUCCEEDED",
      retryable: false,
      error: null,
      records: 10,
      badRecords: 2,
      bytesIn: 1234,
      bytesOut: 1200,
      output: "demo/acme/outputs/a.jsonl",
      errors: "demo/acme/errors/ev-0123456789abcdef/a.jsonl.jsonl",
      processor: "uppercase",
      processorVersion: "1.0.0",
      startedAt: "2026-01-02T03:04:05.000Z",
      finishedAt: "2026-01-02T03:04:06.250Z",
      durationMs: 1250,
    });
  });

  it("records why a task failed and whether a retry can help", () => {
    const record = buildTaskRecord(
      facts({ output: null, errors: null, records: 0, badRecords: 0 }),
      { status: "FAILED", retryable: true, error: "connect ECONNREFUSED" },
      new Date("2026-01-02T03:04:05.000Z"),
    );
    expect(record).toMatchObject({
      status: "FAILED",
      retryable: true,
      error: "connect ECONNREFUSED",
      output: null,
      errors: null,
      durationMs: 0,
    });
  });

  it("names the manifest with generation 0 for a task without an input", () => {
    const record = buildTaskRecord(
      facts({ input: { object: "demo/acme/runs/sc-1/manifest.json", generation: NO_INPUT_GENERATION } }),
      { status: "SUCCEEDED" },
      new Date("2026-01-02T03:04:05.000Z"),
    );
    expect(record.input).toEqual({ object: "demo/acme/runs/sc-1/manifest.json", generation: "0" });
  });

  it("never reports a negative duration when the clock steps back", () => {
    const record = buildTaskRecord(facts(), { status: "SUCCEEDED" }, new Date("2026-01-02T03:00:00.000Z"));
    expect(record.durationMs).toBe(0);
  });

  it("refuses facts the contract does not allow", () => {
    expect(() =>
      buildTaskRecord(facts({ records: -1 }), { status: "SUCCEEDED" }, new Date("2026-01-02T03:04:05.000Z")),
    ).toThrow();
  });
});
