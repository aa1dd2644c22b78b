import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ClaimMetadata } from "../../../core/runs.ts";
import { decide, type InputObject, type PendingRules, planInputs } from "../../../functions/plan/pending.ts";
import { type ClaimRead, claimNameFor, parseClaim } from "../../../functions/shared/claims.ts";

const RUN = "ev-00000000000000aa";
const NOW = new Date("2026-11-21T10:00:00.000Z");
const rules: PendingRules = {
  product: "shop",
  client: "acme",
  runId: RUN,
  now: NOW,
  maxInputFailures: 3,
  maxInputBytes: 1000,
  maxInputsPerRun: 100,
};

function input(path: string, generation = "100", size = 10): InputObject {
  return { name: `shop/acme/inputs/${path}`, generation, size };
}

function claim(fields: Partial<ClaimMetadata>, generation = "7"): ClaimRead {
  return parseClaim(generation, {
    state: "running",
    inputGeneration: "100",
    runId: "sc-00000000000000bb",
    failures: "0",
    leaseExpiresAt: "2026-11-21T12:00:00.000Z",
    reason: "",
    ...fields,
  });
}

describe("pending inputs", () => {
  it("claims an input that has no claim, creating the claim (ifGenerationMatch 0)", () => {
    const d = decide(input("a.jsonl"), undefined, rules);
    expect(d).toMatchObject({
      kind: "claim",
      claimName: "shop/acme/claims/a.jsonl",
      ifGenerationMatch: "0",
      failures: 0,
      names: {
        output: "shop/acme/outputs/a.jsonl",
        errors: `shop/acme/errors/${RUN}/a.jsonl.jsonl`,
        claim: "shop/acme/claims/a.jsonl",
      },
    });
  });

  it("leaves an input alone while another run's lease runs", () => {
    const d = decide(input("a.jsonl"), claim({ state: "running" }), rules);
    expect(d).toMatchObject({
      kind: "skip",
      why: "held by run sc-00000000000000bb until 2026-11-21T12:00:00.000Z",
    });
  });

  it("takes over a running claim whose lease has passed, counting the dead run as a failure", () => {
    const d = decide(
      input("a.jsonl"),
      claim({ leaseExpiresAt: "2026-11-21T09:59:59.000Z", failures: "1" }),
      rules,
    );
    expect(d).toMatchObject({ kind: "claim", ifGenerationMatch: "7", failures: 2 });
  });

  it("refuses an input whose expired lease was its last allowed failure, naming the dead run", () => {
    const d = decide(
      input("a.jsonl"),
      claim({ leaseExpiresAt: "2026-11-21T09:00:00.000Z", failures: "2", reason: "exit 1" }),
      rules,
    );
    expect(d).toMatchObject({ kind: "reject", failures: 3, ifGenerationMatch: "7" });
    expect(d.kind === "reject" && d.reason).toBe(
      "run sc-00000000000000bb held this input until its lease expired at 2026-11-21T09:00:00.000Z without " +
        "reporting an outcome; that was failure 3 of 3; earlier: exit 1",
    );
  });

  it("treats a claim running for this very run as its own (a retried plan call)", () => {
    const d = decide(input("a.jsonl"), claim({ runId: RUN, failures: "1" }, "9"), rules);
    expect(d).toMatchObject({ kind: "ours", generation: "100", claimGeneration: "9", failures: 1 });
  });

  it("keeps the generation this run claimed even after a re-upload", () => {
    const d = decide(input("a.jsonl", "200"), claim({ runId: RUN, inputGeneration: "100" }), rules);
    expect(d).toMatchObject({ kind: "ours", generation: "100" });
  });

  it("reports again what this run already refused", () => {
    const d = decide(
      input("a.jsonl"),
      claim({ runId: RUN, state: "poison", reason: "too big", failures: "1" }),
      rules,
    );
    expect(d).toMatchObject({ kind: "ours-rejected", generation: "100", reason: "too big", failures: 1 });
  });

  it("makes a re-upload pending again after its older generation succeeded, with no failures", () => {
    const d = decide(input("a.jsonl", "200"), claim({ state: "succeeded", failures: "2" }), rules);
    expect(d).toMatchObject({ kind: "claim", ifGenerationMatch: "7", failures: 0 });
  });

  it("skips a generation that already succeeded", () => {
    expect(decide(input("a.jsonl"), claim({ state: "succeeded" }), rules).kind).toBe("skip");
  });

  it("retries a failed input below the threshold, carrying its failures", () => {
    const d = decide(input("a.jsonl"), claim({ state: "failed", failures: "2" }), rules);
    expect(d).toMatchObject({ kind: "claim", failures: 2, ifGenerationMatch: "7" });
  });

  it("does not retry a failed input at the threshold", () => {
    const d = decide(input("a.jsonl"), claim({ state: "failed", failures: "3" }), rules);
    expect(d).toMatchObject({ kind: "skip", why: "failed 3 times (maxInputFailures 3)" });
  });

  it("never claims a poison generation again, but gives a re-upload a fresh start", () => {
    expect(decide(input("a.jsonl"), claim({ state: "poison", reason: "bad" }), rules)).toMatchObject({
      kind: "skip",
      why: "poison: bad",
    });
    expect(decide(input("a.jsonl", "300"), claim({ state: "poison" }), rules)).toMatchObject({
      kind: "claim",
      failures: 0,
    });
  });

  it("waits for a live run holding an older generation before taking the new one", () => {
    const d = decide(input("a.jsonl", "300"), claim({ state: "running", inputGeneration: "100" }), rules);
    expect(d.kind).toBe("skip");
  });

  it("refuses inputs bigger than maxInputBytes", () => {
    const d = decide(input("big.jsonl", "100", 1001), undefined, rules);
    expect(d).toMatchObject({
      kind: "reject",
      failures: 1,
      ifGenerationMatch: "0",
      reason: "input is 1001 bytes, more than maxInputBytes (1000); it will not be processed",
    });
  });

  it("refuses unsafe names, keeping their claim out of the unsafe path", () => {
    const d = decide(input("a/../b.jsonl"), undefined, rules);
    expect(d.kind).toBe("reject");
    expect(d.kind === "reject" && d.reason).toMatch(/has a '\.\.' segment/);
    expect(d.claimName).toMatch(/^shop\/acme\/claims\/\.unsafe\/[0-9a-f]{64}$/);
  });

  it("claims a valid input whose output and errors names would be too long, under hashed names", () => {
    // 17 + 1,001 + 6 = 1,024 bytes: the longest name GCS allows; outputs/ and errors/<runId>/ are longer.
    const long = input(`${"x".repeat(1001)}.jsonl`);
    const digest = createHash("sha256").update(long.name, "utf8").digest("hex");
    expect(decide(long, undefined, rules)).toMatchObject({
      kind: "claim",
      claimName: `shop/acme/claims/${"x".repeat(1001)}.jsonl`,
      names: {
        output: `shop/acme/outputs/.hashed/${digest}.jsonl`,
        errors: `shop/acme/errors/${RUN}/.hashed/${digest}.jsonl`,
        claim: `shop/acme/claims/${"x".repeat(1001)}.jsonl`,
      },
    });
  });

  it("still refuses an input whose own name is over GCS's limit", () => {
    const d = decide(input(`${"x".repeat(1002)}.jsonl`), undefined, rules);
    expect(d).toMatchObject({ kind: "reject" });
    expect(d.kind === "reject" && d.reason).toMatch(/longer than 1024 bytes/);
  });

  it("reports a claim it cannot read instead of guessing", () => {
    const bad = parseClaim("5", { state: "done" });
    const d = decide(input("a.jsonl"), bad, rules);
    expect(d).toMatchObject({ kind: "invalid-claim" });
    expect(d.kind === "invalid-claim" && d.problem).toMatch(/field "state"/);
  });
});

describe("planning a client's inputs", () => {
  it("ignores folder placeholders and takes the oldest first up to maxInputsPerRun", () => {
    const inputs = [
      input("c", "30"),
      input("dir/", "1", 0),
      input("a", "10"),
      input("b", "20"),
      input("d", "40"),
    ];
    const plan = planInputs(inputs, new Map(), { ...rules, maxInputsPerRun: 3 });
    expect(plan.toClaim.map((d) => d.input.name)).toEqual([
      "shop/acme/inputs/a",
      "shop/acme/inputs/b",
      "shop/acme/inputs/c",
    ]);
    expect(plan.deferred).toBe(1);
  });

  it("orders generations as integers, not strings", () => {
    const plan = planInputs([input("new", "1000"), input("old", "999")], new Map(), rules);
    expect(plan.toClaim.map((d) => d.input.generation)).toEqual(["999", "1000"]);
  });

  it("always keeps what this run already holds, and counts it against the cap", () => {
    const ours = input("held", "50");
    const claims = new Map([
      [claimNameFor("shop", "acme", ours.name), claim({ runId: RUN, inputGeneration: "50" })],
    ]);
    const plan = planInputs([input("a", "10"), input("b", "20"), ours], claims, {
      ...rules,
      maxInputsPerRun: 2,
    });
    expect(plan.ours.map((d) => d.input.name)).toEqual(["shop/acme/inputs/held"]);
    expect(plan.toClaim.map((d) => d.input.name)).toEqual(["shop/acme/inputs/a"]);
    expect(plan.deferred).toBe(1);
  });

  it("finds the claim of an unsafe name under its hashed claim name", () => {
    const unsafe = input("x//y", "10");
    const claims = new Map([
      [
        claimNameFor("shop", "acme", unsafe.name),
        claim({ state: "poison", inputGeneration: "10", reason: "empty" }),
      ],
    ]);
    const plan = planInputs([unsafe], claims, rules);
    expect(plan.toReject).toEqual([]);
    expect(plan.skipped).toHaveLength(1);
  });
});
