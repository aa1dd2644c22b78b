import { isUtf8 } from "node:buffer";
import { describe, expect, it } from "vitest";
import { FieldScanner } from "../../../worker/field-scan.ts";
import { createUppercaseProcessor } from "../../../worker/processors/uppercase.ts";
import { runRecordLoop } from "./record-loop.ts";

const scanner = new FieldScanner("text");

/** What JSON.parse says of `line`: the object it gives, or undefined if it throws or gives a non-object. */
function parsed(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The soundness property: whatever the scanner accepts, JSON.parse accepts with the same field value. */
function expectSound(line: string): ReturnType<FieldScanner["scan"]> {
  const bytes = Buffer.from(line, "utf8");
  const hit = scanner.scan(bytes);
  if (hit !== null) {
    // What the JSON.parse path would parse: the bytes decoded (a raw lone surrogate becomes U+FFFD).
    const object = parsed(bytes.toString("utf8"));
    expect(object, `scanner accepted what JSON.parse rejects: ${JSON.stringify(line)}`).toBeDefined();
    expect(Object.hasOwn(object ?? {}, "text")).toBe(true);
    expect(hit.value, JSON.stringify(line)).toBe(object?.text);
    expect(bytes[hit.from]).toBe(0x7b);
    expect(bytes[hit.to - 1]).toBe(0x7d);
    expect(JSON.parse(bytes.toString("utf8", hit.valueStart, hit.valueEnd))).toBe(hit.value);
    expect(JSON.parse(bytes.toString("utf8", hit.from, hit.to))).toEqual(object);
  }
  return hit;
}

describe("FieldScanner", () => {
  it.each([
    ['{"text":"hello"}', "hello"],
    [' \t{ "id" : 1 , "text" : "a b" , "tags" : [ ] } \r', "a b"],
    ['{"text":"caf\\u00e9 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t"}', 'café "q" \\ / \b\f\n\r\t'],
    ['{"text":"\\ud800 lone surrogate escape"}', "\ud800 lone surrogate escape"],
    ['{"text":"x","n":[-0,0.5,-1.25e+10,3E-2,1e5,[],{},{"a":[true,false,null]}]}', "x"],
    ['{"text":"ünïcødé 漢字 🙂"}', "ünïcødé 漢字 🙂"],
    ['{"a":"\\u0041\\\\","text":""}', ""],
    [`{"text":"${"long ".repeat(200)}"}`, "long ".repeat(200)],
  ])("accepts %s", (line, value) => {
    expect(expectSound(line)?.value).toBe(value);
  });

  it.each([
    // not JSON
    ['{"text":"a"', "unclosed object"],
    ['{"text":"a",}', "trailing comma"],
    ['{"text":"a" "b":1}', "missing comma"],
    ['{"text":"a"}x', "text after the object"],
    ['{"text":"a"}{}', "two objects"],
    ['{"text":"a\tb"}', "raw tab in the field"],
    ['{"text":"a","b":"x\ny"}', "raw newline in another string"],
    [`{"text":"${"x".repeat(100)}\u0001"}`, "raw control character in a long field"],
    ['{"text":"\\x"}', "invalid escape"],
    ['{"text":"\\u12"}', "short unicode escape"],
    ['{"text":"\\u12G4"}', "non-hex unicode escape"],
    ['{"text":"a","n":01}', "leading zero"],
    ['{"text":"a","n":-}', "bare minus"],
    ['{"text":"a","n":1.}', "no fraction digits"],
    ['{"text":"a","n":.5}', "no integer digits"],
    ['{"text":"a","n":1e}', "no exponent digits"],
    ['{"text":"a","n":+1}', "plus sign"],
    ['{"text":"a","n":NaN}', "NaN"],
    ['{"text":"a","n":tru}', "short literal"],
    ['{"text":"a","n":[1,]}', "trailing comma in an array"],
    ['{"text":"a","n":{"k"}}', "member without a value"],
    ["{'text':'a'}", "single quotes"],
    ['{text:"a"}', "unquoted key"],
    // JSON, but for the JSON.parse path
    ['["text","a"]', "an array"],
    ['"text"', "a string"],
    ['{"id":1}', "no field"],
    ['{"text":42}', "a number in the field"],
    ['{"text":null}', "null in the field"],
    ['{"text":"a","text":"b"}', "the field twice"],
    ['{"id":1,"text":"a","id":2}', "another key twice"],
    ['{"t\\u0065xt":"a"}', "an escaped key"],
    ['{"1":"x","text":"a"}', "an integer-like key"],
    [`{"text":"a","n":${"[".repeat(70)}${"]".repeat(70)}}`, "nesting deeper than 64"],
  ])("declines %s (%s)", (line) => {
    expect(expectSound(line)).toBeNull();
  });

  it("finds a raw control character in a long field at every position and memory alignment", () => {
    const text = "x".repeat(80);
    for (let offset = 0; offset < 8; offset++) {
      for (let at = 0; at < text.length; at += 7) {
        const bad = `{"id":1,"text":"${text.slice(0, at)}\u0007${text.slice(at + 1)}"}`;
        const good = `{"id":1,"text":"${text}"}`;
        for (const [line, accepted] of [
          [bad, false],
          [good, true],
        ] as const) {
          const bytes = Buffer.from(line, "utf8");
          const memory = Buffer.alloc(bytes.length + 16);
          bytes.copy(memory, offset);
          const hit = scanner.scan(memory.subarray(offset, offset + bytes.length));
          expect(
            hit !== null,
            `offset ${offset}, control at ${at}, ${accepted ? "clean" : "with control"}`,
          ).toBe(accepted);
        }
      }
    }
  });

  it("is sound on 20,000 random records and mutations of them", () => {
    const rand = seeded(20261121);
    let accepted = 0;
    let acceptedMutants = 0;
    for (let n = 0; n < 20_000; n++) {
      const clean = randomRecordLine(rand);
      if (expectSound(clean) !== null) accepted += 1;
      const mutant = mutate(clean, rand);
      if (!isUtf8(Buffer.from(mutant, "utf8"))) continue;
      if (expectSound(mutant) !== null) acceptedMutants += 1;
    }
    // The fast path must actually be taken for ordinary records, and mutations must reach both outcomes.
    expect(accepted).toBeGreaterThan(15_000);
    expect(acceptedMutants).toBeGreaterThan(1_000);
    expect(acceptedMutants).toBeLessThan(19_000);
  });
});

describe("the stringField path against the JSON.parse path", () => {
  it("gives the same records, the same bad records and the same counts on random and mutated input", async () => {
    const rand = seeded(7);
    const lines: string[] = [];
    for (let n = 0; n < 5_000; n++) {
      const clean = randomRecordLine(rand);
      lines.push(rand() < 0.3 ? mutate(clean, rand) : clean);
    }
    const input = `${lines.join("\n")}\n`;
    const fast = await runRecordLoop([input], createUppercaseProcessor(), { maxLineBytes: 1 << 20 });
    const { stringField: _unused, ...plain } = createUppercaseProcessor();
    const slow = await runRecordLoop([input], plain, { maxLineBytes: 1 << 20 });
    expect(fast.counts).toEqual(slow.counts);
    expect(fast.errors).toEqual(slow.errors);
    expect(fast.output.length).toBe(slow.output.length);
    for (let k = 0; k < fast.output.length; k++) {
      expect(JSON.parse(fast.output[k] as string), `record ${k}`).toEqual(
        JSON.parse(slow.output[k] as string),
      );
    }
    expect(fast.counts.records).toBeGreaterThan(3_000);
    expect(fast.counts.badRecords).toBeGreaterThan(100);
  });
});

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PIECES = [
  "a",
  "Z",
  " ",
  "é",
  "漢",
  "🙂",
  '"',
  "\\",
  "/",
  "\n",
  "\t",
  "\u0001",
  "\u001f",
  "\ud800",
  "~",
];

function randomString(rand: () => number): string {
  const length = Math.floor(rand() ** 2 * 40);
  let s = "";
  for (let k = 0; k < length; k++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}

function randomValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (r < 0.3) return randomString(rand);
  if (r < 0.5) return [0, -0.5, 12, 1e21, -3.25e-7, 1.5][Math.floor(rand() * 6)];
  if (r < 0.6) return [true, false, null][Math.floor(rand() * 3)];
  if (depth > 3) return "deep";
  if (r < 0.8) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const o: Record<string, unknown> = {};
  for (let k = Math.floor(rand() * 4); k > 0; k--)
    o[randomString(rand).slice(0, 6) || "k"] = randomValue(rand, depth + 1);
  return o;
}

/** A JSON object line with a string `text` among other members, with random spacing and escape forms. */
function randomRecordLine(rand: () => number): string {
  const members: [string, unknown][] = [];
  const others = Math.floor(rand() * 5);
  for (let k = 0; k < others; k++) members.push([`f${k}`, randomValue(rand, 1)]);
  members.splice(Math.floor(rand() * (members.length + 1)), 0, ["text", randomString(rand)]);
  const space = () => [" ", "", "", "\t", "  "][Math.floor(rand() * 5)] as string;
  const json = (v: unknown) => {
    const text = JSON.stringify(v);
    // Sometimes spell characters as \u escapes instead, which JSON.stringify never does for these.
    return rand() < 0.2 ? text.replace(/[a-z]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) : text;
  };
  return `${space()}{${members.map(([k, v]) => `${space()}${JSON.stringify(k)}${space()}:${space()}${json(v)}${space()}`).join(",")}}${space()}`;
}

const MUTATIONS = [
  '"',
  "\\",
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  "0",
  "1",
  "e",
  "-",
  ".",
  "+",
  "\u0001",
  " ",
  "x",
  "u",
];

function mutate(line: string, rand: () => number): string {
  const at = Math.floor(rand() * line.length);
  const r = rand();
  const piece = MUTATIONS[Math.floor(rand() * MUTATIONS.length)] as string;
  if (r < 0.3) return line.slice(0, at) + line.slice(at + 1);
  if (r < 0.6) return line.slice(0, at) + piece + line.slice(at);
  if (r < 0.9) return line.slice(0, at) + piece + line.slice(at + 1);
  return line.slice(0, at);
}
