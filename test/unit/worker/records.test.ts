import { describe, expect, it } from "vitest";
import { bad, type Processor } from "../../../worker/processors/types.ts";
import { createUppercaseProcessor } from "../../../worker/processors/uppercase.ts";
import { recordPreview } from "../../../worker/records.ts";
import { runRecordLoop } from "./record-loop.ts";

async function run(
  parts: (string | Buffer)[],
  processor: Processor = createUppercaseProcessor(),
  options: { maxLineBytes?: number; maxBadRecordBytes?: number } = {},
) {
  const result = await runRecordLoop(parts, processor, options);
  return { ...result, errors: result.errors.map((l) => JSON.parse(l)) };
}

describe("processRecords with the uppercase processor", () => {
  it("upper-cases text, keeps other fields and counts records and bytes", async () => {
    const input = '{"id":1,"text":"hello"}\n{"id":2,"text":"wörld"}\n';
    const { counts, output, errors } = await run([input]);
    expect(output).toEqual(['{"id":1,"text":"HELLO"}', '{"id":2,"text":"WÖRLD"}']);
    expect(errors).toEqual([]);
    expect(counts).toEqual({ records: 2, badRecords: 0, bytesIn: Buffer.byteLength(input), lines: 2 });
  });

  it("sends malformed lines to errors with their line numbers and reasons", async () => {
    const { counts, output, errors } = await run([
      '{"text":"ok"}\n{"text": nope}\n[1,2]\n{"id":3}\n{"text":42}\n"just a string"\n',
    ]);
    expect(output).toEqual(['{"text":"OK"}']);
    expect(errors.map((e) => [e.line, e.reason])).toEqual([
      [2, expect.stringMatching(/^not valid JSON: /)],
      [3, "record is an array, not a JSON object"],
      [4, 'record has no "text" field'],
      [5, 'field "text" is a number, not a string'],
      [6, "record is a string, not a JSON object"],
    ]);
    expect(errors[0]).toEqual({ line: 2, reason: errors[0].reason, record: '{"text": nope}' });
    expect(counts).toMatchObject({ records: 1, badRecords: 5, lines: 6 });
  });

  it("skips blank and whitespace-only lines without counting them as bad", async () => {
    const { counts, output, errors } = await run(['\n{"text":"a"}\n   \n\t\r\n\n{"text":"b"}\n\n']);
    expect(output).toEqual(['{"text":"A"}', '{"text":"B"}']);
    expect(errors).toEqual([]);
    expect(counts).toMatchObject({ records: 2, badRecords: 0, lines: 7 });
  });

  it("handles CRLF endings and a missing final newline", async () => {
    const { output, errors } = await run(['{"text":"a"}\r\n{"text":"b"}\r\n{"text":"c"}']);
    expect(output).toEqual(['{"text":"A"}', '{"text":"B"}', '{"text":"C"}']);
    expect(errors).toEqual([]);
  });

  it("reports a line that is not UTF-8 as a bad record and carries on", async () => {
    const badBytes = Buffer.concat([Buffer.from('{"text":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
    const { counts, output, errors } = await run([Buffer.from('{"text":"a"}\n'), badBytes, '{"text":"b"}\n']);
    expect(output).toEqual(['{"text":"A"}', '{"text":"B"}']);
    expect(errors).toEqual([{ line: 2, reason: "not valid UTF-8", record: '{"text":"caf\uFFFD"}' }]);
    expect(counts).toMatchObject({ records: 2, badRecords: 1 });
  });

  it("treats a line over the bound as bad and keeps only its start in the errors file", async () => {
    const huge = `{"text":"${"x".repeat(5000)}"}`;
    const { counts, output, errors } = await run(['{"text":"a"}\n', huge, '\n{"text":"b"}\n'], undefined, {
      maxLineBytes: 1000,
      maxBadRecordBytes: 20,
    });
    expect(output).toEqual(['{"text":"A"}', '{"text":"B"}']);
    expect(errors).toEqual([{ line: 2, reason: "line exceeds 1000 bytes", record: '{"text":"xxxxxxxxxxx' }]);
    expect(counts).toMatchObject({ records: 2, badRecords: 1, lines: 3 });
  });

  it("ignores a UTF-8 byte order mark at the start of the file", async () => {
    const { output, errors } = await run([Buffer.from([0xef, 0xbb, 0xbf]), '{"text":"bom"}\n']);
    expect(output).toEqual(['{"text":"BOM"}']);
    expect(errors).toEqual([]);
  });

  it("keeps unchanged fields as the input wrote them and writes only the changed one again", async () => {
    const input = '{"id": 1.0, "text":"caf\\u00e9 \\"x\\"", "tags":[ "a" ]}\n{"text":"b","text":"c"}\n';
    const { output, errors } = await run([input]);
    expect(errors).toEqual([]);
    // The first record takes the stringField path: only the text value is written again, the rest (the array
    // too: map cannot change it) as the input spelled it. The second (a duplicate key) takes the JSON.parse
    // path and is serialized whole.
    expect(output).toEqual(['{"id": 1.0, "text":"CAFÉ \\"X\\"", "tags":[ "a" ]}', '{"text":"C"}']);
  });

  it("through processRecord alone (no stringField), writes nested values with JSON.stringify", async () => {
    const input = '{"id": 1.0, "text":"caf\\u00e9 \\"x\\"", "tags":[ "a" ]}\n{"text":"b","text":"c"}\n';
    const { stringField: _unused, ...plain } = createUppercaseProcessor();
    const { output, errors } = await run([input], plain);
    expect(errors).toEqual([]);
    // The record is edited in place; a nested array may have been changed inside, so it is written again.
    expect(output).toEqual(['{"id": 1.0, "text":"CAFÉ \\"X\\"", "tags":["a"]}', '{"text":"C"}']);
  });

  it("produces nothing for an empty input", async () => {
    const { counts, output, errors } = await run([]);
    expect({ output, errors, counts }).toEqual({
      output: [],
      errors: [],
      counts: { records: 0, badRecords: 0, bytesIn: 0, lines: 0 },
    });
  });

  it("truncates a long bad record to whole characters within the bound", async () => {
    const line = `${"é".repeat(30)}\n`; // 2 bytes each: not JSON
    const { errors } = await run([line], undefined, { maxBadRecordBytes: 7 });
    expect(errors[0].record).toBe("ééé");
  });
});

describe("processRecords with other processors", () => {
  const base = { name: "test", version: "1" };

  it("awaits async processors in order and passes each record's line number", async () => {
    const seen: number[] = [];
    const processor: Processor = {
      ...base,
      async processRecord(record, ctx) {
        seen.push(ctx.line);
        await new Promise((r) => setTimeout(r, 1));
        return { n: (record as { n: number }).n * 2, line: ctx.line };
      },
    };
    const { output } = await run(['{"n":1}\n\n{"n":2}\n', '{"n":3}'], processor);
    expect(output).toEqual(['{"n":2,"line":1}', '{"n":4,"line":3}', '{"n":6,"line":4}']);
    expect(seen).toEqual([1, 3, 4]);
  });

  it("edits the line for an async processor's in-place change and serializes a new object whole", async () => {
    const processor: Processor = {
      ...base,
      async processRecord(record, ctx) {
        await new Promise((r) => setTimeout(r, 1));
        const r = record as { n: number };
        if (ctx.line === 1) {
          r.n += 1;
          return r;
        }
        return { n: r.n, line: ctx.line };
      },
    };
    const { output } = await run(['{ "n" : 1 , "k":"v" }\n{ "n" : 2 }\n'], processor);
    expect(output).toEqual(['{ "n" : 2 , "k":"v" }', '{"n":2,"line":2}']);
  });

  it("writes nothing for undefined but counts the record, and writes flush records last", async () => {
    let sum = 0;
    const processor: Processor = {
      ...base,
      processRecord(record) {
        sum += record as number;
        return (record as number) % 2 === 0 ? record : undefined;
      },
      flush: () => [{ sum }],
    };
    const { counts, output } = await run(["1\n2\n3\n4\n"], processor);
    expect(output).toEqual(["2", "4", '{"sum":10}']);
    expect(counts).toMatchObject({ records: 4, badRecords: 0 });
  });

  it("makes output JSON cannot represent a bad record instead of a crash", async () => {
    const processor: Processor = { ...base, processRecord: () => ({ n: 1n }) };
    const { counts, errors } = await run(["{}\n"], processor);
    expect(errors).toEqual([
      {
        line: 1,
        reason: expect.stringMatching(/^processor output cannot be written as JSON: .*BigInt/),
        record: "{}",
      },
    ]);
    expect(counts).toMatchObject({ records: 0, badRecords: 1 });
  });

  it("makes a record whose getter throws a bad record, edited in place or not", async () => {
    const processor: Processor = {
      ...base,
      processRecord: (record) =>
        Object.defineProperty(record as object, "n", {
          enumerable: true,
          get: () => {
            throw new Error("getter broke");
          },
        }),
    };
    const { counts, errors } = await run(['{"n":1}\n'], processor);
    expect(errors).toEqual([
      { line: 1, reason: "processor output cannot be written as JSON: getter broke", record: '{"n":1}' },
    ]);
    expect(counts).toMatchObject({ records: 0, badRecords: 1 });
  });

  it("passes bad() reasons from an async processor through", async () => {
    const processor: Processor = { ...base, processRecord: async () => bad("no thanks") };
    const { errors } = await run(["{}\n"], processor);
    expect(errors).toEqual([{ line: 1, reason: "no thanks", record: "{}" }]);
  });

  it("lets a processor error end the loop", async () => {
    const processor: Processor = {
      ...base,
      processRecord: () => {
        throw new Error("model exploded");
      },
    };
    await expect(run(["{}\n"], processor)).rejects.toThrow("model exploded");
  });
});

describe("recordPreview", () => {
  it("returns short lines whole and replaces bytes that are not UTF-8", () => {
    expect(recordPreview(Buffer.from("abc"), 10)).toBe("abc");
    expect(recordPreview(Buffer.from([0x61, 0xff, 0x62]), 10)).toBe("a\uFFFDb");
  });
});
