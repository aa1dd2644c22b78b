import { describe, expect, it } from "vitest";
import { BatchlineError } from "../../../core/errors.ts";
import { publishWithRetry, type RetryPolicy, TopicNotFoundError } from "../../../functions/notify/publish.ts";

function policy(waits: number[]): RetryPolicy {
  return {
    attempts: 4,
    baseDelayMs: 100,
    maxDelayMs: 250,
    sleep: async (ms) => {
      waits.push(ms);
    },
  };
}

const grpc = (code: number, message = "x") => Object.assign(new Error(message), { code });

describe("publishing with retries", () => {
  it.each([
    [14, "UNAVAILABLE"],
    [4, "DEADLINE_EXCEEDED"],
    [13, "INTERNAL"],
    [8, "RESOURCE_EXHAUSTED"],
    [10, "ABORTED"],
    [2, "UNKNOWN"],
  ])("retries gRPC %s (%s) with growing waits", async (code) => {
    const waits: number[] = [];
    let calls = 0;
    const id = await publishWithRetry(
      "t",
      async () => {
        calls++;
        if (calls < 4) throw grpc(code);
        return "m-1";
      },
      policy(waits),
    );
    expect(id).toBe("m-1");
    expect(waits).toEqual([100, 200, 250]);
  });

  it("fails at once on a missing topic, naming it", async () => {
    const waits: number[] = [];
    const run = publishWithRetry(
      '"batch-shop-acme-outputs"',
      async () => Promise.reject(grpc(5, "Topic not found")),
      policy(waits),
    );
    await expect(run).rejects.toBeInstanceOf(TopicNotFoundError);
    await expect(run).rejects.toThrow('Pub/Sub topic "batch-shop-acme-outputs" does not exist');
    await expect(run).rejects.toMatchObject({ retryable: false });
    expect(waits).toEqual([]);
  });

  it("fails at once on an error a retry cannot fix", async () => {
    const run = publishWithRetry("t", async () => Promise.reject(grpc(7, "permission denied")), policy([]));
    await expect(run).rejects.toThrow("publishing to Pub/Sub topic t failed: permission denied");
    await expect(run).rejects.toMatchObject({ retryable: false });
  });

  it("gives up after the last attempt with an error the caller may retry", async () => {
    let calls = 0;
    const run = publishWithRetry(
      "t",
      async () => {
        calls++;
        throw grpc(14, "unavailable");
      },
      policy([]),
    );
    await expect(run).rejects.toBeInstanceOf(BatchlineError);
    await expect(run).rejects.toMatchObject({ retryable: true });
    await expect(run).rejects.toThrow("failed 4 times (last: UNAVAILABLE: unavailable)");
    expect(calls).toBe(4);
  });
});
