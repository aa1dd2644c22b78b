import { describe, expect, it } from "vitest";
import { inputsPathPattern, matchesPathPattern, objectResourceName } from "../../../core/triggers.ts";

describe("Eventarc path patterns", () => {
  const pattern = inputsPathPattern("bkt", "shop", "acme");

  it("is the client's inputs prefix with a multi-segment wildcard", () => {
    expect(pattern).toBe("/projects/_/buckets/bkt/objects/shop/acme/inputs/**");
  });

  it.each([
    "shop/acme/inputs/a.jsonl",
    "shop/acme/inputs/2026/11/21/a.jsonl",
    "shop/acme/inputs/with space #1.jsonl",
  ])("matches the client's input %j", (object) => {
    expect(matchesPathPattern(pattern, objectResourceName("bkt", object))).toBe(true);
  });

  it.each([
    ["another client", "bkt", "shop/globex/inputs/a.jsonl"],
    ["a client whose id extends this one", "bkt", "shop/acme2/inputs/a.jsonl"],
    ["the client's outputs", "bkt", "shop/acme/outputs/a.jsonl"],
    ["another bucket", "bkt2", "shop/acme/inputs/a.jsonl"],
  ])("does not match %s", (_what, bucket, object) => {
    expect(matchesPathPattern(pattern, objectResourceName(bucket, object))).toBe(false);
  });

  it("keeps '*' within one segment", () => {
    const single = "/projects/_/buckets/bkt/objects/shop/acme/inputs/*";
    expect(matchesPathPattern(single, objectResourceName("bkt", "shop/acme/inputs/a.jsonl"))).toBe(true);
    expect(matchesPathPattern(single, objectResourceName("bkt", "shop/acme/inputs/d/a.jsonl"))).toBe(false);
  });

  it("treats regex characters in names literally", () => {
    const literal = "/projects/_/buckets/bkt/objects/a.b(c)/*";
    expect(matchesPathPattern(literal, "projects/_/buckets/bkt/objects/a.b(c)/x")).toBe(true);
    expect(matchesPathPattern(literal, "projects/_/buckets/bkt/objects/aXb(c)/x")).toBe(false);
  });
});
