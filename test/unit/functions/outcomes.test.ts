import { describe, expect, it } from "vitest";
import { MAX_REASON_CHARS } from "../../../core/messages.ts";
import type { ManifestInput, TaskRecord } from "../../../core/runs.ts";
import { outcomeOf, settle } from "../../../functions/notify/outcomes.ts";
import { parseClaim } from "../../../functions/shared/claims.ts";

const RUN = "ev-00000000000000aa";
const NOW = new Date("2026-11-21T11:00:00.000Z");
const input: ManifestInput = {
  index: 4,
  object: "shop/acme/inputs/a.jsonl",
  generation: "100",
  size: 10,
  output: "shop/acme/outputs/a.jsonl",
  errors: `shop/acme/errors/${RUN}/a.jsonl.jsonl`,
  claim: "shop/acme/claims/a.jsonl",
};

function record(fields: Partial<TaskRecord> = {}): TaskRecord {
  return {
    schemaVersion: 1,
    runId: RUN,
    index: 4,
    attempt: 0,
    input: { object: input.object, generation: input.generation },
    status: "SUCCEEDED",
    retryable: false,
    error: null,
    records: 12,
    badRecords: 2,
    bytesIn: 100,
    bytesOut: 90,
    output: input.output,
    errors: input.errors,
    processor: "uppercase",
    processorVersion: "1",
    startedAt: "2026-11-21T10:01:00.000Z",
    finishedAt: "2026-11-21T10:02:00.000Z",
    durationMs: 60_000,
    ...fields,
  };
}

const ranOk = { jobState: "SUCCEEDED" as const, jobError: null };

describe("input outcomes", () => {
  it("succeeds on a SUCCEEDED record about this input and generation", () => {
    expect(outcomeOf(input, { kind: "ok", record: record() }, ranOk)).toEqual({
      index: 4,
      object: input.object,
      generation: "100",
      status: "SUCCEEDED",
      reason: null,
      records: 12,
      badRecords: 2,
      output: input.output,
      errors: input.errors,
    });
  });

  it("fails with the record's error", () => {
    const o = outcomeOf(
      input,
      { kind: "ok", record: record({ status: "FAILED", error: "not JSONL" }) },
      ranOk,
    );
    expect(o).toMatchObject({ status: "FAILED", reason: "not JSONL", output: null });
  });

  it("fails a task that left no record, naming the task and the job state", () => {
    const o = outcomeOf(input, { kind: "missing" }, { jobState: "FAILED", jobError: null });
    expect(o.reason).toBe("task 4 left no record (crashed, preempted or never started; job state FAILED)");
  });

  it("gives the job's error as the reason when the job never ran", () => {
    const o = outcomeOf(
      input,
      { kind: "missing" },
      { jobState: null, jobError: { message: "quota exceeded" } },
    );
    expect(o).toMatchObject({ status: "FAILED", reason: "quota exceeded" });
  });

  it("does not trust a record about another input", () => {
    const other = record({ input: { object: input.object, generation: "99" } });
    const o = outcomeOf(input, { kind: "ok", record: other }, ranOk);
    expect(o.status).toBe("FAILED");
    expect(o.reason).toMatch(
      /record is about shop\/acme\/inputs\/a.jsonl generation 99, not .* generation 100/,
    );
  });

  it("fails an unreadable record and caps long reasons", () => {
    expect(outcomeOf(input, { kind: "invalid", problem: "not JSON" }, ranOk).reason).toBe(
      "task 4 left an unreadable record: not JSON",
    );
    const long = outcomeOf(
      input,
      { kind: "ok", record: record({ status: "FAILED", error: "e".repeat(2000) }) },
      ranOk,
    );
    expect(long.reason).toHaveLength(MAX_REASON_CHARS);
  });
});

function claim(fields: Record<string, string>) {
  return parseClaim("8", {
    state: "running",
    inputGeneration: "100",
    runId: RUN,
    failures: "1",
    leaseExpiresAt: "2026-11-21T12:00:00.000Z",
    reason: "",
    ...fields,
  });
}

describe("claim settlement", () => {
  const failed = { status: "FAILED" as const, reason: "exit 1", generation: "100" };
  const ok = { status: "SUCCEEDED" as const, reason: null, generation: "100" };

  it("marks a held claim succeeded", () => {
    expect(settle(ok, claim({}), RUN, 3, NOW)).toEqual({
      write: {
        state: "succeeded",
        inputGeneration: "100",
        runId: RUN,
        failures: "1",
        leaseExpiresAt: NOW.toISOString(),
        reason: "",
      },
      failures: 0,
      poison: false,
    });
  });

  it("releases a failed input as pending again, counting the failure", () => {
    const s = settle(failed, claim({ failures: "0" }), RUN, 3, NOW);
    expect(s).toMatchObject({
      write: { state: "failed", failures: "1", reason: "exit 1" },
      failures: 1,
      poison: false,
    });
  });

  it("poisons at the threshold, keeping the reason", () => {
    const s = settle(failed, claim({ failures: "2" }), RUN, 3, NOW);
    expect(s).toMatchObject({
      write: { state: "poison", failures: "3", reason: "exit 1" },
      failures: 3,
      poison: true,
    });
  });

  it("does not count a failure twice when notify runs again", () => {
    const s = settle(failed, claim({ state: "failed", failures: "2" }), RUN, 3, NOW);
    expect(s).toEqual({ write: null, failures: 2, poison: false });
  });

  it("leaves alone a claim another run took over", () => {
    const s = settle(failed, claim({ runId: "sc-00000000000000bb", failures: "2" }), RUN, 3, NOW);
    expect(s).toEqual({ write: null, failures: 2, poison: false });
    expect(settle(ok, claim({ runId: "sc-00000000000000bb" }), RUN, 3, NOW).write).toBeNull();
  });

  it("reports one failure when the claim is gone or about another generation", () => {
    expect(settle(failed, null, RUN, 3, NOW)).toEqual({ write: null, failures: 1, poison: false });
    expect(settle(failed, claim({ inputGeneration: "200", failures: "5" }), RUN, 3, NOW)).toEqual({
      write: null,
      failures: 1,
      poison: false,
    });
  });
});

describe("outcomes of an interrupted run (settled by recovery)", () => {
  const gone = { jobState: null, jobError: { message: "job does not exist", code: "NOT_FOUND" } };
  const why = "run ev-00000000000000aa was interrupted: its execution ended";
  const running = parseClaim("7", {
    state: "running",
    inputGeneration: "100",
    runId: RUN,
    failures: "1",
    leaseExpiresAt: "2026-11-21T15:00:00.000Z",
    reason: "",
  });

  it("releases an input whose task left no record, naming the interruption", () => {
    const outcome = outcomeOf(input, { kind: "missing" }, gone, why);
    expect(outcome.status).toBe("FAILED");
    expect(outcome.released).toBe(true);
    expect(outcome.reason).toBe(
      `not processed: ${why}; task 4 left no record; it is pending again for the next run`,
    );
  });

  it("releases an input whose last attempt failed in a way Batch would have retried", () => {
    const read = { kind: "ok" as const, record: record({ status: "FAILED", retryable: true, error: "503" }) };
    expect(outcomeOf(input, read, gone, why).released).toBe(true);
  });

  it("still fails an input whose task failed for good", () => {
    const read = {
      kind: "ok" as const,
      record: record({ status: "FAILED", retryable: false, error: "bad" }),
    };
    const outcome = outcomeOf(input, read, gone, why);
    expect(outcome.released).toBeUndefined();
    expect(outcome.reason).toBe("bad");
  });

  it("keeps a finished task's success", () => {
    expect(outcomeOf(input, { kind: "ok", record: record() }, gone, why).status).toBe("SUCCEEDED");
  });

  it("gives a released claim back as failed with its failure count unchanged", () => {
    const outcome = outcomeOf(input, { kind: "missing" }, gone, why);
    const settlement = settle(outcome, running, RUN, 3, NOW);
    expect(settlement).toEqual({
      write: {
        state: "failed",
        inputGeneration: "100",
        runId: RUN,
        failures: "1",
        leaseExpiresAt: NOW.toISOString(),
        reason: outcome.reason,
      },
      failures: 1,
      poison: false,
    });
  });

  it("never poisons a released input, even at the threshold", () => {
    const outcome = outcomeOf(input, { kind: "missing" }, gone, why);
    expect(settle(outcome, running, RUN, 2, NOW).poison).toBe(false);
  });
});
