import { describe, expect, it } from "vitest";
import { claimNameFor, leaseExpiresAt, parseClaim, parseSeconds } from "../../../functions/shared/claims.ts";

describe("claim helpers", () => {
  it("reads Batch durations in seconds", () => {
    expect(parseSeconds("3600s")).toBe(3600);
    expect(parseSeconds("1.5s")).toBe(1.5);
    expect(() => parseSeconds("1h")).toThrow('"1h" is not a duration in seconds such as "3600s"');
  });

  it("leases for every attempt of the longest task plus an hour of queueing", () => {
    const now = new Date("2026-11-21T10:00:00.000Z");
    // One wave: 600 s × (2 retries + 1) + 3600 s = 5400 s = 1 h 30 min
    expect(leaseExpiresAt(now, { maxRunDuration: "600s", maxRetryCount: 2, parallelism: 10 }, 10)).toBe(
      "2026-11-21T11:30:00.000Z",
    );
  });

  it("leases for every wave of tasks when there are more tasks than parallelism", () => {
    const now = new Date("2026-11-21T10:00:00.000Z");
    // ⌈25 / 10⌉ = 3 waves × 600 s × 3 attempts + 3600 s = 9000 s = 2 h 30 min
    expect(leaseExpiresAt(now, { maxRunDuration: "600s", maxRetryCount: 2, parallelism: 10 }, 25)).toBe(
      "2026-11-21T12:30:00.000Z",
    );
    // An input-less or empty run still leases one wave.
    expect(leaseExpiresAt(now, { maxRunDuration: "600s", maxRetryCount: 0, parallelism: 4 }, 0)).toBe(
      "2026-11-21T11:10:00.000Z",
    );
  });

  it("puts a safe input's claim at claims/<same path>", () => {
    expect(claimNameFor("shop", "acme", "shop/acme/inputs/2026/a.jsonl")).toBe(
      "shop/acme/claims/2026/a.jsonl",
    );
  });

  it("keys unsafe names by hash, the same name always to the same claim", () => {
    const a = claimNameFor("shop", "acme", "shop/acme/inputs/a/../b");
    expect(a).toMatch(/^shop\/acme\/claims\/\.unsafe\/[0-9a-f]{64}$/);
    expect(claimNameFor("shop", "acme", "shop/acme/inputs/a/../b")).toBe(a);
    expect(claimNameFor("shop", "acme", "shop/acme/inputs/a/./b")).not.toBe(a);
  });

  it("claims an input under inputs/.unsafe/ by hash, so it cannot take an unsafe name's claim", () => {
    const digest = "a".repeat(64);
    const crafted = claimNameFor("shop", "acme", `shop/acme/inputs/.unsafe/${digest}`);
    expect(crafted).not.toBe(`shop/acme/claims/.unsafe/${digest}`);
    expect(crafted).toMatch(/^shop\/acme\/claims\/\.unsafe\/[0-9a-f]{64}$/);
  });

  it("parses claim metadata and explains what is wrong with a damaged one", () => {
    const good = parseClaim("3", {
      state: "failed",
      inputGeneration: "12",
      runId: "ev-0000000000000001",
      failures: "1",
      leaseExpiresAt: "2026-11-21T10:00:00.000Z",
      reason: "x",
    });
    expect(good).toMatchObject({ valid: true, generation: "3", claim: { state: "failed", failures: "1" } });
    const bad = parseClaim("3", { state: "running", inputGeneration: "twelve" });
    expect(bad.valid).toBe(false);
    expect(!bad.valid && bad.problem).toMatch(/field "inputGeneration": must be a GCS generation/);
  });
});
