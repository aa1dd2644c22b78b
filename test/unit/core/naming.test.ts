import { describe, expect, it } from "vitest";
import { ObjectNameError } from "../../../core/errors.ts";
import {
  areaPrefix,
  errorsNameFor,
  gsUri,
  isFolderPlaceholder,
  objectName,
  outputNameFor,
  parseGsUri,
  parseObjectName,
  runRecordName,
} from "../../../core/naming.ts";

const scope = { product: "shop", clients: new Set(["acme", "globex"]) };

describe("parseObjectName", () => {
  it("maps a nested input to product, client, area and path", () => {
    expect(parseObjectName("shop/acme/inputs/2026/11/day one.jsonl", scope)).toEqual({
      product: "shop",
      client: "acme",
      area: "inputs",
      path: "2026/11/day one.jsonl",
    });
  });

  it.each(["outputs", "runs", "errors", "claims"])("knows the %s area", (area) => {
    expect(parseObjectName(`shop/acme/${area}/x`, scope).area).toBe(area);
  });

  it("keeps unicode, '#', '?' and '%' in the path", () => {
    expect(parseObjectName("shop/acme/inputs/données #1?%20.jsonl", scope).path).toBe("données #1?%20.jsonl");
  });

  it("accepts a client predicate", () => {
    const byPredicate = { product: "shop", clients: (c: string) => c.startsWith("a") };
    expect(parseObjectName("shop/acme/inputs/x", byPredicate).client).toBe("acme");
    expect(() => parseObjectName("shop/globex/inputs/x", byPredicate)).toThrow(/unknown client "globex"/);
  });

  it.each([
    ["shop/acme/inputs/../globex/inputs/x", /has a '\.\.' segment/],
    ["shop/acme/inputs/./x", /has a '\.' segment/],
    ["shop/acme/inputs//x", /empty path segment \(segment 4/],
    ["/shop/acme/inputs/x", /empty path segment \(segment 1/],
    ["shop/acme/inputs/dir/", /empty path segment/],
    ["shop/acme/inputs/a\nb", /control character U\+000a at position 18/],
    ["shop/acme/inputs/a\u0000b", /control character U\+0000/],
    ["shop/acme/inputs/a\u0085b", /control character U\+0085/],
    ["shop/acme/inputs/\ud800", /not valid Unicode/],
    ["", /is empty/],
    ["other/acme/inputs/x", /not under the product "shop\/"/],
    ["shop/initech/inputs/x", /unknown client "initech"/],
    ["shop/acme/uploads/x", /no known area/],
    ["shop/acme/inputs", /nothing after "inputs\/"/],
    [`shop/acme/inputs/${"é".repeat(510)}`, /longer than 1024 bytes/],
  ])("rejects %j", (name, reason) => {
    expect(() => parseObjectName(name, scope)).toThrow(ObjectNameError);
    expect(() => parseObjectName(name, scope)).toThrow(reason);
  });

  it("puts the offending name in the error", () => {
    try {
      parseObjectName("shop/acme/inputs/../x", scope);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ObjectNameError);
      expect((err as ObjectNameError).objectName).toBe("shop/acme/inputs/../x");
      expect((err as Error).message).toMatch(/^object name "shop\/acme\/inputs\/\.\.\/x": /);
    }
  });
});

describe("names built from parts", () => {
  const input = parseObjectName("shop/acme/inputs/a/b.jsonl", scope);

  it("puts the output at the same relative path", () => {
    expect(outputNameFor(input)).toBe("shop/acme/outputs/a/b.jsonl");
  });

  it("puts bad records under errors/<runId>/<path>.jsonl", () => {
    expect(errorsNameFor(input, "ev-0123456789abcdef")).toBe(
      "shop/acme/errors/ev-0123456789abcdef/a/b.jsonl.jsonl",
    );
  });

  it("builds run records and area prefixes", () => {
    expect(runRecordName("shop", "acme", "sc-0123456789abcdef", "tasks/3.json")).toBe(
      "shop/acme/runs/sc-0123456789abcdef/tasks/3.json",
    );
    expect(areaPrefix("shop", "acme", "inputs")).toBe("shop/acme/inputs/");
  });

  it("refuses to build an unsafe name", () => {
    expect(() => objectName("shop", "acme", "outputs", "../../etc")).toThrow(ObjectNameError);
  });

  it("spots folder placeholders", () => {
    expect(isFolderPlaceholder("shop/acme/inputs/dir/")).toBe(true);
    expect(isFolderPlaceholder("shop/acme/inputs/dir/x")).toBe(false);
  });

  it("round-trips gs:// URIs", () => {
    const uri = gsUri("bkt", "shop/acme/inputs/a b.jsonl");
    expect(uri).toBe("gs://bkt/shop/acme/inputs/a b.jsonl");
    expect(parseGsUri(uri)).toEqual({ bucket: "bkt", name: "shop/acme/inputs/a b.jsonl" });
    expect(() => parseGsUri("https://bkt/x")).toThrow(/not a gs:\/\/BUCKET\/OBJECT URI/);
  });
});
