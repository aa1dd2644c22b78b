import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ObjectNameError } from "../../../core/errors.ts";
import {
  areaPrefix,
  errorsNameFor,
  gsUri,
  HASHED_NAMES_FOLDER,
  isFolderPlaceholder,
  MAX_OBJECT_NAME_BYTES,
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

describe("derived names of inputs whose names are near GCS's limit", () => {
  const RUN = "ev-0123456789abcdef";
  const sha256 = (name: string) => createHash("sha256").update(name, "utf8").digest("hex");
  const bytes = (name: string) => Buffer.byteLength(name, "utf8");
  /** A valid input name of exactly `total` bytes of UTF-8, its path made of `unit` and ending `.jsonl`. */
  function inputOf(total: number, unit = "x"): string {
    const head = "shop/acme/inputs/deep/";
    const room = total - bytes(head) - bytes(".jsonl");
    const units = Math.floor(room / bytes(unit));
    const name = `${head}${unit.repeat(units)}${"y".repeat(room - units * bytes(unit))}.jsonl`;
    expect(bytes(name)).toBe(total);
    return name;
  }

  it("gives an input of exactly 1,024 bytes a hashed output and errors file, deterministic and parseable", () => {
    const name = inputOf(MAX_OBJECT_NAME_BYTES);
    const input = parseObjectName(name, scope);
    const digest = sha256(name);
    expect(outputNameFor(input)).toBe(`shop/acme/outputs/.hashed/${digest}.jsonl`);
    expect(errorsNameFor(input, RUN)).toBe(`shop/acme/errors/${RUN}/.hashed/${digest}.jsonl`);
    expect(parseObjectName(outputNameFor(input), scope)).toMatchObject({ area: "outputs" });
    expect(parseObjectName(errorsNameFor(input, RUN), scope)).toMatchObject({ area: "errors" });
    expect(outputNameFor(parseObjectName(name, scope))).toBe(outputNameFor(input));
  });

  it("counts bytes, not characters: a 1,000-byte name in multi-byte UTF-8 keeps its output but hashes its errors file", () => {
    for (const unit of ["é", "漢", "🙂"]) {
      const name = inputOf(1000, unit);
      expect(name.length).toBeLessThan(700);
      const input = parseObjectName(name, scope);
      // outputs/ is one byte longer than inputs/: 1,001 bytes still fit.
      expect(outputNameFor(input)).toBe(name.replace("shop/acme/inputs/", "shop/acme/outputs/"));
      expect(errorsNameFor(input, RUN)).toBe(`shop/acme/errors/${RUN}/.hashed/${sha256(name)}.jsonl`);
    }
  });

  it("keeps each natural name up to the limit and hashes it from one byte past it", () => {
    const outputFits = parseObjectName(inputOf(MAX_OBJECT_NAME_BYTES - 1), scope);
    expect(bytes(outputNameFor(outputFits))).toBe(MAX_OBJECT_NAME_BYTES);
    expect(outputNameFor(outputFits)).not.toContain(HASHED_NAMES_FOLDER);
    // errors/<runId>/<path>.jsonl is 26 bytes longer than inputs/<path>.
    const errorsExtra = bytes(`errors/${RUN}/.jsonl`) - bytes("inputs/");
    const errorsFits = parseObjectName(inputOf(MAX_OBJECT_NAME_BYTES - errorsExtra), scope);
    expect(bytes(errorsNameFor(errorsFits, RUN))).toBe(MAX_OBJECT_NAME_BYTES);
    const errorsOver = parseObjectName(inputOf(MAX_OBJECT_NAME_BYTES - errorsExtra + 1), scope);
    expect(errorsNameFor(errorsOver, RUN)).toContain(`/${HASHED_NAMES_FOLDER}/`);
  });

  it("gives different inputs different hashed names, and keeps only a short plain extension", () => {
    const a = parseObjectName(inputOf(1024), scope);
    const b = parseObjectName(inputOf(1024, "z"), scope);
    expect(outputNameFor(a)).not.toBe(outputNameFor(b));
    // Each input name exactly 1,024 bytes: "shop/acme/inputs/" and 1,007 bytes of path ending in `tail`.
    const pathEnding = (tail: string) => `${"x".repeat(1007 - tail.length)}${tail}`;
    const cases: [string, string][] = [
      [pathEnding(".tar.gz"), ".gz"],
      [pathEnding(".jsonl"), ".jsonl"],
      [pathEnding(""), ""],
      [pathEnding(".a-b"), ""],
      [pathEnding(`.${"e".repeat(17)}`), ""],
      [pathEnding("/.jsonl"), ""],
    ];
    for (const [path, ext] of cases) {
      const input = parseObjectName(`shop/acme/inputs/${path}`, scope);
      expect(outputNameFor(input)).toBe(
        `shop/acme/outputs/.hashed/${sha256(`shop/acme/inputs/${path}`)}${ext}`,
      );
    }
  });

  it("hashes the names of inputs the client put under .hashed/, so no natural name collides with a hashed one", () => {
    const name = `shop/acme/inputs/.hashed/${"0".repeat(64)}.jsonl`;
    const input = parseObjectName(name, scope);
    expect(outputNameFor(input)).toBe(`shop/acme/outputs/.hashed/${sha256(name)}.jsonl`);
    expect(errorsNameFor(input, RUN)).toBe(`shop/acme/errors/${RUN}/.hashed/${sha256(name)}.jsonl`);
    // Only the first segment is reserved.
    const deeper = parseObjectName("shop/acme/inputs/a/.hashed/b.jsonl", scope);
    expect(outputNameFor(deeper)).toBe("shop/acme/outputs/a/.hashed/b.jsonl");
  });

  it.each([
    ["a '..' segment", "a/../b.jsonl", /has a '\.\.' segment/],
    ["a control character", "a\u0007b.jsonl", /control character U\+0007/],
    ["an empty segment", "a//b.jsonl", /empty path segment/],
    ["a name over the limit itself", "é".repeat(510), /longer than 1024 bytes/],
  ])("still refuses an input with %s instead of hashing it", (_, path, reason) => {
    const input = { product: "shop", client: "acme", area: "inputs" as const, path };
    expect(() => outputNameFor(input)).toThrow(ObjectNameError);
    expect(() => outputNameFor(input)).toThrow(reason);
    expect(() => errorsNameFor(input, RUN)).toThrow(reason);
  });
});
