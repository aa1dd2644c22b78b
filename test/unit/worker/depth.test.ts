import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  MAX_RECORD_DEPTH,
  nestsDeeperThan,
  TOO_DEEP_REASON,
  valueNestsDeeperThan,
} from "../../../worker/depth.ts";
import { FIELD_SCAN_MAX_DEPTH, FieldScanner } from "../../../worker/field-scan.ts";
import { bad, type Processor } from "../../../worker/processors/types.ts";
import { createUppercaseProcessor } from "../../../worker/processors/uppercase.ts";
import { runRecordLoop } from "./record-loop.ts";

/** `depth` arrays, one inside the other, around `inner`. */
const arrays = (depth: number, inner = "") => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;
/** `depth` objects, one inside the other (`{"a":{"a":…}}`), around `inner`. */
const objects = (depth: number, inner = "1") => `${'{"a":'.repeat(depth)}${inner}${"}".repeat(depth)}`;

/** The uppercase processor without its field path: every line takes the JSON.parse path. */
function parseOnly(): Processor {
  const { stringField: _, ...rest } = createUppercaseProcessor();
  return rest;
}

const LINE_LIMIT = 1024 * 1024;

async function run(lines: string[], processor: Processor) {
  const result = await runRecordLoop([`${lines.join("\n")}\n`], processor, { maxLineBytes: LINE_LIMIT });
  return { ...result, errors: result.errors.map((l) => JSON.parse(l)) };
}

describe("the record depth limit", () => {
  it("is the documented 1,000 levels, and the field path gives up long before it", () => {
    expect(MAX_RECORD_DEPTH).toBe(1000);
    expect(TOO_DEEP_REASON).toBe("nested deeper than 1000 levels");
    expect(FIELD_SCAN_MAX_DEPTH).toBeLessThanOrEqual(MAX_RECORD_DEPTH);
    const docs = readFileSync(new URL("../../../docs/processors.md", import.meta.url), "utf8");
    expect(docs).toContain("at most **1,000 levels** deep");
    expect(docs).toContain(`reason \`${TOO_DEEP_REASON}\``);
  });

  it("measures nesting of arrays and objects, top level included", () => {
    const deep = (line: string) => nestsDeeperThan(Buffer.from(line), 1000);
    expect(deep(arrays(1000))).toBe(false);
    expect(deep(arrays(1001))).toBe(true);
    expect(deep(objects(1000))).toBe(false);
    expect(deep(objects(1001))).toBe(true);
    expect(deep(`{"text":"x","a":${arrays(999)}}`)).toBe(false);
    expect(deep(`{"text":"x","a":${arrays(1000)}}`)).toBe(true);
    // Wide is not deep: 5,000 sibling arrays are 2 levels.
    expect(deep(`[${Array.from({ length: 5000 }, () => "[]").join(",")}]`)).toBe(false);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    const deep = (line: string) => nestsDeeperThan(Buffer.from(line), 1000);
    expect(deep(JSON.stringify({ text: "[".repeat(5000) }))).toBe(false);
    expect(deep(JSON.stringify({ text: `\\"${"{".repeat(3000)}\\"${"[".repeat(3000)}` }))).toBe(false);
    expect(deep(JSON.stringify([`"\\`, arrays(2000)]))).toBe(false);
  });

  it("measures values a processor returns without running out of stack, cycles included", () => {
    let value: unknown = 1;
    for (let i = 0; i < 100_000; i++) value = { a: [value] };
    expect(valueNestsDeeperThan(value, 1000)).toBe(true);
    let flat: unknown = "x";
    for (let i = 0; i < 1000; i++) flat = [flat];
    expect(valueNestsDeeperThan(flat, 1000)).toBe(false);
    expect(valueNestsDeeperThan([flat], 1000)).toBe(true);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(valueNestsDeeperThan(cycle, 1000)).toBe(true);
    // A shared object is as deep as its deepest place.
    const shared = [[[]]];
    expect(valueNestsDeeperThan([shared, [[[shared]]]], 6)).toBe(true);
    expect(valueNestsDeeperThan([shared, [[[shared]]]], 7)).toBe(false);
  });

  it("lets the field scanner decline a 10,000-deep line instead of recursing into it", () => {
    const scanner = new FieldScanner("text");
    expect(scanner.scan(Buffer.from(`{"text":"x","a":${arrays(10_000, "1")}}`))).toBeNull();
    expect(scanner.scan(Buffer.from(`{"text":"x","a":${objects(10_000)}}`))).toBeNull();
    expect(scanner.scan(Buffer.from(`{"text":"x","a":${arrays(63)}}`))?.value).toBe("x");
  });
});

describe.each([
  ["the field path (uppercase, FieldScanner first)", createUppercaseProcessor],
  ["the JSON.parse path (no stringField)", parseOnly],
])("a record nested 10,000 deep on %s", (_, processor) => {
  it.each([
    ["an array field", `{"id":1,"text":"a","deep":${arrays(10_000, '"x"')}}`],
    ["an object field", `{"id":1,"text":"a","deep":${objects(10_000)}}`],
    ["an array record", arrays(10_000, '{"text":"a"}')],
    ["an object record", `{"text":"a","deep":1,"b":${objects(9_999, '{"text":"a"}')}}`],
  ])(
    "%s is a bad record with the documented reason, and the records around it are written",
    async (_, deep) => {
      const { counts, output, errors } = await run(
        ['{"id":0,"text":"before"}', deep, '{"id":2,"text":"after"}'],
        processor(),
      );
      expect(output).toEqual(['{"id":0,"text":"BEFORE"}', '{"id":2,"text":"AFTER"}']);
      expect(errors).toEqual([
        { line: 2, reason: "nested deeper than 1000 levels", record: deep.slice(0, 1024) },
      ]);
      expect(counts).toMatchObject({ records: 2, badRecords: 1, lines: 3 });
    },
  );

  it("writes a record nested exactly 1,000 deep, and refuses one nested 1,001 deep", async () => {
    const atLimit = `{"text":"a","deep":${arrays(999, '"x"')},"o":${objects(999)}}`;
    const overLimit = `{"text":"a","deep":${arrays(1000, '"x"')}}`;
    const { counts, output, errors } = await run([atLimit, overLimit], processor());
    expect(output).toEqual([atLimit.replace('"text":"a"', '"text":"A"')]);
    expect(errors.map((e) => [e.line, e.reason])).toEqual([[2, "nested deeper than 1000 levels"]]);
    expect(counts).toMatchObject({ records: 1, badRecords: 1 });
  });
});

describe("processor output nested too deep to write", () => {
  it("is a bad record naming the depth, not the stack", async () => {
    // Wraps each record's text 10,000 arrays deep: JSON.stringify cannot write that.
    const processor: Processor = {
      name: "deepener",
      version: "1",
      processRecord(record) {
        const text = (record as { text?: unknown }).text;
        if (typeof text !== "string") return bad("no text");
        let value: unknown = text;
        for (let i = 0; i < 10_000; i++) value = [value];
        return { text, value };
      },
    };
    const { counts, output, errors } = await run(['{"text":"a"}', '{"id":2}'], processor);
    expect(output).toEqual([]);
    expect(errors).toEqual([
      {
        line: 1,
        reason: "processor output cannot be written as JSON: nested deeper than 1000 levels",
        record: '{"text":"a"}',
      },
      { line: 2, reason: "no text", record: '{"id":2}' },
    ]);
    expect(counts).toMatchObject({ records: 0, badRecords: 2 });
  });

  it("fails the task with the reason when flush returns it", async () => {
    let value: unknown = 0;
    for (let i = 0; i < 10_000; i++) value = [value];
    const processor: Processor = { ...parseOnly(), name: "trailer", flush: () => [value] };
    await expect(run(['{"text":"a"}'], processor)).rejects.toThrow(
      "processor trailer flushed a record JSON cannot represent: nested deeper than 1000 levels",
    );
  });
});
