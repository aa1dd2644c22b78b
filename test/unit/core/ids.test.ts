import { describe, expect, it } from "vitest";
import {
  BATCH_JOB_ID_PATTERN,
  batchJobId,
  isRunId,
  runId,
  TOPIC_ID_PATTERN,
  topicName,
} from "../../../core/ids.ts";

describe("topicName", () => {
  it("is batch-<product>-<client>-outputs", () => {
    expect(topicName("shop", "acme")).toBe("batch-shop-acme-outputs");
    expect(TOPIC_ID_PATTERN.test(topicName("a", "b"))).toBe(true);
  });
});

describe("runId", () => {
  const base = { product: "shop", client: "acme", trigger: "event" as const, key: "shop/acme/inputs/a#1" };

  it("is deterministic from its inputs", () => {
    expect(runId(base)).toBe(runId({ ...base }));
  });

  it("changes with any input", () => {
    const ids = new Set([
      runId(base),
      runId({ ...base, product: "shop2" }),
      runId({ ...base, client: "acme2" }),
      runId({ ...base, trigger: "schedule" }),
      runId({ ...base, key: "shop/acme/inputs/a#2" }),
    ]);
    expect(ids.size).toBe(5);
  });

  it("does not collide when parts shift between fields", () => {
    expect(runId({ ...base, product: "ab", client: "c" })).not.toBe(
      runId({ ...base, product: "a", client: "bc" }),
    );
  });

  it("carries the trigger kind and satisfies Batch's id rule", () => {
    expect(runId(base)).toMatch(/^ev-[0-9a-f]{16}$/);
    expect(runId({ ...base, trigger: "schedule" })).toMatch(/^sc-/);
    expect(runId({ ...base, trigger: "manual" })).toMatch(/^mn-/);
    expect(BATCH_JOB_ID_PATTERN.test(runId(base))).toBe(true);
    expect(isRunId(runId(base))).toBe(true);
    expect(isRunId("ev-XYZ")).toBe(false);
  });
});

describe("batchJobId", () => {
  const run = runId({ product: "shop", client: "acme", trigger: "event", key: "k" });

  it("is readable when it fits", () => {
    expect(batchJobId("shop", "acme", run)).toBe(`bl-shop-acme-${run}`);
  });

  it("stays within 63 characters and Batch's rule for the longest ids", () => {
    const long = `${"a".repeat(23)}z`;
    const id = batchJobId(long, long, run);
    expect(id.length).toBeLessThanOrEqual(63);
    expect(id).toMatch(BATCH_JOB_ID_PATTERN);
    expect(id.endsWith(run)).toBe(true);
  });

  it("never leaves a double dash where it shortens", () => {
    const id = batchJobId("abcdefghijklmnopqrstuv-x", "abcdefghijklmnopqrstuvwx", run);
    expect(id).not.toMatch(/--/);
    expect(id).toMatch(BATCH_JOB_ID_PATTERN);
  });

  it("rejects something that is not a run id", () => {
    expect(() => batchJobId("shop", "acme", "Not-A-Run")).toThrow('"Not-A-Run" is not a run id');
  });
});
