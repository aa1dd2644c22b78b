import { describe, expect, it } from "vitest";
import { isFinal, type ListedInput, nextWatermark } from "../../../functions/plan/watermark.ts";
import { type ClaimRead, parseClaim } from "../../../functions/shared/claims.ts";

const NOW = new Date("2026-11-21T10:00:00.000Z");
const OLD = "2026-11-21T09:00:00.000Z";

function input(
  generation: string,
  name = `shop/acme/inputs/${generation}.jsonl`,
  timeCreated = OLD,
): ListedInput {
  return { name, generation, timeCreated };
}

function claim(state: string, inputGeneration: string, failures = "0"): ClaimRead {
  return parseClaim("1", {
    state,
    inputGeneration,
    runId: "ev-00000000000000aa",
    failures,
    leaseExpiresAt: NOW.toISOString(),
    reason: "",
  });
}

describe("isFinal", () => {
  it("is true for succeeded, poison and failed at the threshold, for the same generation only", () => {
    expect(isFinal(claim("succeeded", "5"), "5", 3)).toBe(true);
    expect(isFinal(claim("poison", "5", "3"), "5", 3)).toBe(true);
    expect(isFinal(claim("failed", "5", "3"), "5", 3)).toBe(true);
    expect(isFinal(claim("failed", "5", "2"), "5", 3)).toBe(false);
    expect(isFinal(claim("running", "5"), "5", 3)).toBe(false);
    expect(isFinal(claim("succeeded", "4"), "5", 3)).toBe(false);
    expect(isFinal(undefined, "5", 3)).toBe(false);
    expect(isFinal(parseClaim("1", { state: "odd" }), "5", 3)).toBe(false);
  });
});

describe("nextWatermark", () => {
  const finalOnes = (gens: string[]) => (i: ListedInput) => gens.includes(i.generation);

  it("moves past the unbroken run of final inputs, oldest generation first", () => {
    const above = [input("30"), input("10"), input("20"), input("40")];
    expect(nextWatermark({ current: "0", above, final: finalOnes(["10", "20", "40"]), now: NOW })).toBe("20");
  });

  it("stays where it is when the oldest input above it is not final", () => {
    expect(nextWatermark({ current: "5", above: [input("10")], final: () => false, now: NOW })).toBe("5");
  });

  it("stops at an input created less than the settle time ago, final or not", () => {
    const fresh = input("20", "shop/acme/inputs/fresh", "2026-11-21T09:58:00.000Z");
    const above = [input("10"), fresh, input("30")];
    expect(nextWatermark({ current: "0", above, final: () => true, now: NOW })).toBe("10");
    expect(nextWatermark({ current: "0", above, final: () => true, now: NOW, settleSeconds: 60 })).toBe("30");
  });

  it("passes folder placeholders, which are never planned", () => {
    const above = [input("10", "shop/acme/inputs/2026/"), input("20")];
    expect(nextWatermark({ current: "0", above, final: finalOnes(["20"]), now: NOW })).toBe("20");
  });

  it("never moves down, and compares generations as integers, not strings", () => {
    const above = [input("9"), input("100"), input("1000")];
    expect(nextWatermark({ current: "99", above, final: () => true, now: NOW })).toBe("1000");
    expect(nextWatermark({ current: "2000", above, final: () => true, now: NOW })).toBe("2000");
  });
});
