import { describe, expect, it } from "vitest";
import { MAX_FAILED_INPUTS_IN_MESSAGE, resultMessageV1Schema } from "../../../core/messages.ts";
import type { Manifest } from "../../../core/runs.ts";
import { buildMessage, rejectedInputs, type SummaryInput } from "../../../functions/notify/message.ts";

const RUN = "ev-00000000000000aa";
const manifest: Manifest = {
  schemaVersion: 1,
  product: "shop",
  client: "acme",
  bucket: "bkt-test",
  runId: RUN,
  jobId: `bl-shop-acme-${RUN}`,
  trigger: { type: "event", object: "shop/acme/inputs/a", eventId: "e1" },
  plannedAt: "2026-11-21T10:00:00.000Z",
  processor: "uppercase",
  mode: "event",
  inputCount: 2,
  taskCount: 2,
  rejected: [],
  shardSize: 1000,
  shards: [`shop/acme/runs/${RUN}/manifest/00000.json`],
};

function line(index: number, fields: Partial<SummaryInput> = {}): SummaryInput {
  return {
    index,
    object: `shop/acme/inputs/${index}`,
    generation: String(100 + index),
    status: "SUCCEEDED",
    reason: null,
    failures: 0,
    poison: false,
    records: 10,
    badRecords: 1,
    output: `shop/acme/outputs/${index}`,
    errors: null,
    ...fields,
  };
}

const finishedAt = new Date("2026-11-21T10:02:00.000Z");
const ok = { jobState: "SUCCEEDED" as const, jobError: null };

describe("result message", () => {
  it("reports a clean run as SUCCEEDED with counts, locations and timings", () => {
    const m = buildMessage({
      manifest,
      inputs: [line(0), line(1)],
      jobId: manifest.jobId,
      job: ok,
      records: 20,
      badRecords: 2,
      startedAt: "2026-11-21T10:00:30.000Z",
      finishedAt,
    });
    expect(m).toEqual({
      schemaVersion: 1,
      status: "SUCCEEDED",
      product: "shop",
      client: "acme",
      runId: RUN,
      jobId: manifest.jobId,
      trigger: manifest.trigger,
      counts: { inputs: 2, succeeded: 2, failed: 0, records: 20, badRecords: 2 },
      failedInputs: [],
      failedInputsOmitted: 0,
      error: null,
      locations: {
        outputs: "gs://bkt-test/shop/acme/outputs/",
        summary: `gs://bkt-test/shop/acme/runs/${RUN}/summary.json`,
        errors: `gs://bkt-test/shop/acme/errors/${RUN}/`,
      },
      timings: {
        plannedAt: "2026-11-21T10:00:00.000Z",
        startedAt: "2026-11-21T10:00:30.000Z",
        finishedAt: "2026-11-21T10:02:00.000Z",
        durationMs: 120_000,
      },
    });
    expect(resultMessageV1Schema.safeParse(m).success).toBe(true);
  });

  it("fails the run when one input failed, listing it with its failures and poison flag", () => {
    const failed = line(1, { status: "FAILED", reason: "bad", failures: 3, poison: true });
    const m = buildMessage({
      manifest,
      inputs: [line(0), failed],
      jobId: manifest.jobId,
      job: { jobState: "FAILED", jobError: null },
      records: 10,
      badRecords: 1,
      startedAt: null,
      finishedAt,
    });
    expect(m.status).toBe("FAILED");
    expect(m.counts).toMatchObject({ inputs: 2, succeeded: 1, failed: 1 });
    expect(m.failedInputs).toEqual([
      { object: "shop/acme/inputs/1", generation: "101", reason: "bad", failures: 3, poison: true },
    ]);
    expect(m.error).toEqual({ message: `job bl-shop-acme-${RUN} ended in state FAILED` });
  });

  it("caps failedInputs and counts the rest as omitted", () => {
    const many = Array.from({ length: 130 }, (_, i) =>
      line(i, { status: "FAILED", reason: `r${i}`, failures: 1 }),
    );
    const m = buildMessage({
      manifest: { ...manifest, inputCount: 130, taskCount: 130 },
      inputs: many,
      jobId: manifest.jobId,
      job: { jobState: "FAILED", jobError: null },
      records: 0,
      badRecords: 0,
      startedAt: null,
      finishedAt,
    });
    expect(m.failedInputs).toHaveLength(MAX_FAILED_INPUTS_IN_MESSAGE);
    expect(m.failedInputsOmitted).toBe(30);
    expect(m.failedInputs[0]?.reason).toBe("r0");
  });

  it("names the job error when the job never started", () => {
    const m = buildMessage({
      manifest,
      inputs: [line(0, { status: "FAILED", reason: "quota", failures: 1 })],
      jobId: null,
      job: { jobState: null, jobError: { message: "quota", code: "429" } },
      records: 0,
      badRecords: 0,
      startedAt: null,
      finishedAt,
    });
    expect(m).toMatchObject({ status: "FAILED", jobId: null, error: { message: "quota", code: "429" } });
    expect(m.timings.startedAt).toBeNull();
  });

  it("decides an always run with no inputs by the job alone", () => {
    const empty = { ...manifest, mode: "always" as const, inputCount: 0, taskCount: 1, shards: [] };
    const facts = {
      manifest: empty,
      inputs: [],
      jobId: empty.jobId,
      records: 0,
      badRecords: 0,
      startedAt: null,
      finishedAt,
    };
    expect(buildMessage({ ...facts, job: ok }).status).toBe("SUCCEEDED");
    const failed = buildMessage({ ...facts, job: { jobState: "FAILED", jobError: null } });
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toEqual({ message: `job bl-shop-acme-${RUN} ended in state FAILED` });
  });

  it("reports plan-time refusals as poison failures numbered after the tasks", () => {
    const withRejected = {
      ...manifest,
      rejected: [{ object: "shop/acme/inputs/big", generation: "7", reason: "too big" }],
    };
    const lines = rejectedInputs(withRejected, [1]);
    expect(lines).toEqual([
      {
        index: 2,
        object: "shop/acme/inputs/big",
        generation: "7",
        status: "FAILED",
        reason: "too big",
        failures: 1,
        poison: true,
        records: 0,
        badRecords: 0,
        output: null,
        errors: null,
      },
    ]);
  });
});
