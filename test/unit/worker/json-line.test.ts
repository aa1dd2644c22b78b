import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  editedLineText,
  MemberScan,
  newLineEdits,
  planEdits,
  scanMembers,
} from "../../../worker/json-line.ts";
import { type LineSink, StreamLineSink } from "../../../worker/sink.ts";

/** Plans the edits for `line` after `change` mutates its parsed record; null when the whole record must be serialized. */
function plan(line: string, change: (record: Record<string, unknown>) => void): string | null {
  const bytes = Buffer.from(line, "utf8");
  const record = JSON.parse(line) as Record<string, unknown>;
  const before = Object.values(record);
  change(record);
  const scan = new MemberScan();
  scanMembers(bytes, scan);
  const edits = newLineEdits();
  if (!planEdits(bytes, scan, before, record, edits)) return null;
  return editedLineText(bytes, edits);
}

/** The same through StreamLineSink's batch encoder (the path the worker takes), as bytes. */
async function throughSink(
  lines: string[],
  change: (record: Record<string, unknown>) => void,
): Promise<{ text: string; edited: number }> {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  const sink: LineSink = new StreamLineSink(stream, 4096);
  const scan = new MemberScan();
  const edits = newLineEdits();
  let edited = 0;
  for (const line of lines) {
    const bytes = Buffer.from(line, "utf8");
    const record = JSON.parse(line) as Record<string, unknown>;
    const before = Object.values(record);
    change(record);
    scanMembers(bytes, scan);
    if (planEdits(bytes, scan, before, record, edits)) {
      sink.edited(bytes, edits);
      edited += 1;
    } else {
      sink.line(JSON.stringify(record));
    }
  }
  await sink.close();
  return { text: Buffer.concat(chunks).toString("utf8"), edited };
}

const upper = (r: Record<string, unknown>) => {
  if (typeof r.text === "string") r.text = r.text.toUpperCase();
};

describe("scanMembers", () => {
  it("finds each top-level member's key and value, stepping over nested values and strings", () => {
    const line = ' {"a" : 1, "b":"x\\"}y", "c":{"d":[1,"]"]} ,"e":null} ';
    const scan = new MemberScan();
    scanMembers(Buffer.from(line), scan);
    expect(scan.count).toBe(4);
    const parts = [];
    for (let k = 0; k < scan.count; k++) {
      const [ks, ke, vs, ve] = scan.spans.slice(k * 4, k * 4 + 4);
      parts.push([line.slice(ks, ke), line.slice(vs, ve)]);
    }
    expect(parts).toEqual([
      ["a", "1"],
      ["b", '"x\\"}y"'],
      ["c", '{"d":[1,"]"]}'],
      ["e", "null"],
    ]);
    expect(line.slice(scan.start, scan.end)).toBe(line.trim());
  });

  it("finds no members in {} and declines arrays, scalars and escaped keys", () => {
    const scan = new MemberScan();
    scanMembers(Buffer.from("{ }"), scan);
    expect(scan.count).toBe(0);
    // (Not JSON at all cannot happen, since JSON.parse accepted the line first, but must not hang either.)
    for (const line of ["[1]", '"s"', "3", '{"te\\u0078t":1}', '{"unterminated', "{"]) {
      scanMembers(Buffer.from(line), scan);
      expect(scan.count, line).toBe(-1);
    }
  });

  it("ends strings at the right quote after runs of backslashes, short and long", () => {
    for (const body of [
      "\\\\",
      'a\\\\\\"b',
      `${"x".repeat(100)}\\\\`,
      `${"y".repeat(50)}\\"${"z".repeat(50)}`,
    ]) {
      const line = `{"s":"${body}","n":1}`;
      expect(JSON.parse(line)).toBeTruthy();
      const scan = new MemberScan();
      scanMembers(Buffer.from(line), scan);
      expect(scan.count, body).toBe(2);
      expect(line.slice(scan.spans[2], scan.spans[3])).toBe(`"${body}"`);
    }
  });
});

describe("planEdits", () => {
  it("replaces only the changed value and keeps the rest as the input spelled it", () => {
    expect(plan('{"id": 1.50, "text":"héllo", "u":"\\u00e9"}', upper)).toBe(
      '{"id": 1.50, "text":"HÉLLO", "u":"\\u00e9"}',
    );
  });

  it("writes the input line unchanged when nothing changed, without surrounding whitespace", () => {
    expect(plan('  {"a":[1,2],"b":{}}\t', () => {})).toBe('{"a":[1,2],"b":{}}');
  });

  it("serializes changed values of every kind as JSON.stringify does", () => {
    const line = '{"a":1,"b":"x","c":[1],"d":{"e":1},"f":true}';
    const out = plan(line, (r) => {
      r.a = 2.5;
      r.b = 'quote " and \\ and \n and \u0001 and \ud800 lone';
      r.c = [1, "two", null];
      r.d = { e: [{ f: "g" }] };
      r.f = null;
    });
    expect(out).toBe(
      JSON.stringify({
        a: 2.5,
        b: 'quote " and \\ and \n and \u0001 and \ud800 lone',
        c: [1, "two", null],
        d: { e: [{ f: "g" }] },
        f: null,
      }),
    );
  });

  it("writes nested objects and arrays again, since the processor may have changed them in place", () => {
    const out = plan('{"tags":["a"],"meta":{"n":1},"empty":[]}', (r) => {
      (r.tags as string[]).push("b");
      (r.meta as { n: number }).n = 2;
    });
    expect(out).toBe('{"tags":["a","b"],"meta":{"n":2},"empty":[]}');
    // An array emptied in place is written as it is now, not as the input had it.
    expect(plan('{"tags":["a"]}', (r) => (r.tags as string[]).pop())).toBe('{"tags":[]}');
  });

  it("writes short arrays of every element kind as JSON.stringify does", () => {
    const arrays: unknown[][] = [
      ["a", 1, -0, 2.5e-7, true, false, null],
      [Number.NaN, Number.POSITIVE_INFINITY],
      ['q"', "b\\", "c\n", "\ud800", "é東😀"],
      [undefined, () => 1, Symbol("s")],
      [[1], { a: 1 }],
      // biome-ignore lint/suspicious/noSparseArray: a hole is written as null
      [1, , 3],
      Array.from({ length: 20 }, (_, i) => i),
      ["x".repeat(100)],
    ];
    for (const value of arrays) {
      expect(plan('{"v":[0]}', (r) => (r.v = value))).toBe(JSON.stringify({ v: value }));
    }
  });

  it("declines what only serializing the whole record gets right", () => {
    const declines: [string, (r: Record<string, unknown>) => void][] = [
      ['{"a":1,"a":2}', () => {}], // duplicate key: JSON.parse kept the last
      ['{"a":1}', (r) => (r.b = 2)], // key added
      ['{"a":1,"b":2}', (r) => delete r.b], // key removed
      [
        '{"a":1,"b":2}',
        (r) => {
          const a = r.a;
          delete r.a;
          r.a = a;
        },
      ], // reordered
      ['{"b":1,"1":2}', () => {}], // integer-like keys come first in the object
      ['{"a":1}', (r) => (r.a = undefined)], // left out by JSON.stringify
      ['{"a":1}', (r) => (r.a = () => 1)],
      ['{"a":1}', (r) => (r.a = 1n)], // JSON.stringify throws; its message names the path
      ['{"a":1}', (r) => (r.toJSON = () => "x")],
      ['{"a":1}', (r) => Object.setPrototypeOf(r, { toJSON: () => "x" })],
      ['{"a":{}}', (r) => ((r.a as { self?: unknown }).self = r.a)], // a cycle
      [
        '{"a":1}',
        (r) =>
          Object.defineProperty(r, "a", {
            enumerable: true,
            get: () => {
              throw new Error("no");
            },
          }),
      ], // a getter that throws: the whole record's JSON.stringify reports it
    ];
    for (const [line, change] of declines) expect(plan(line, change), `${line} ${change}`).toBeNull();
  });

  it("accepts non-ASCII keys and compares them exactly", () => {
    expect(plan('{"é":"a","ü":1}', (r) => (r.é = "b"))).toBe('{"é":"b","ü":1}');
  });
});

describe("edited lines through StreamLineSink", () => {
  it("match JSON.stringify byte for byte on lines JSON.stringify wrote, across batch boundaries", async () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const alphabet = [
      "a",
      "b",
      " ",
      "é",
      "東",
      "😀",
      '"',
      "\\",
      "\n",
      "\t",
      "\u0001",
      "\u001f",
      "\u007f",
      "\ud800",
      "x",
    ];
    const str = (n: number) =>
      Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
    const records = Array.from({ length: 2000 }, (_, i) => ({
      id: i,
      text: str(Math.floor(rand() ** 3 * 3000)),
      score: rand() < 0.5 ? rand() * 100 : -0,
      tags: rand() < 0.5 ? [str(3), null, true] : [],
      nested: { deep: [str(5)] },
    }));
    const lines = records.map((r) => JSON.stringify(r));
    const out = await throughSink(lines, upper);
    const expected = records.map((r) => `${JSON.stringify({ ...r, text: r.text.toUpperCase() })}\n`).join("");
    expect(out.text).toBe(expected);
    expect(out.edited).toBe(records.length);
  });

  it("writes a line longer than a batch whole", async () => {
    const line = JSON.stringify({ text: "x".repeat(10_000), n: 1 });
    const out = await throughSink([line], upper);
    expect(out).toEqual({ text: `${JSON.stringify({ text: "X".repeat(10_000), n: 1 })}\n`, edited: 1 });
  });
});
