import { describe, expect, it } from "vitest";
import { type Line, LineSplitter } from "../../../worker/lines.ts";

/** Feeds `chunks` through a splitter and returns plain, comparable lines. */
function split(chunks: (string | Buffer)[], maxLineBytes = 64, keepPrefixBytes = 8) {
  const splitter = new LineSplitter({ maxLineBytes, keepPrefixBytes });
  const out: { line: number; text?: string; oversize?: number; prefix?: string }[] = [];
  const take = (l: Line) =>
    out.push(
      l.kind === "line"
        ? { line: l.line, text: l.bytes.toString("latin1") }
        : { line: l.line, oversize: l.bytes, prefix: l.prefix.toString("latin1") },
    );
  for (const c of chunks)
    for (const l of splitter.push(typeof c === "string" ? Buffer.from(c, "latin1") : c)) take(l);
  for (const l of splitter.end()) take(l);
  return out;
}

/** Every way of cutting `text` into chunks of `size` bytes. */
function chunked(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}

describe("LineSplitter", () => {
  it("splits on LF and numbers lines from 1, blank lines included", () => {
    expect(split(["a\n\nbc\n"])).toEqual([
      { line: 1, text: "a" },
      { line: 2, text: "" },
      { line: 3, text: "bc" },
    ]);
  });

  it("strips the CR of CRLF line endings but keeps a CR inside a line", () => {
    expect(split(["a\r\nb\rc\r\n"])).toEqual([
      { line: 1, text: "a" },
      { line: 2, text: "b\rc" },
    ]);
  });

  it("yields a last line that has no final newline", () => {
    expect(split(["a\nlast"])).toEqual([
      { line: 1, text: "a" },
      { line: 2, text: "last" },
    ]);
  });

  it("yields nothing for empty input and no extra line after a final newline", () => {
    expect(split([])).toEqual([]);
    expect(split([Buffer.alloc(0)])).toEqual([]);
    expect(split(["x\n"])).toEqual([{ line: 1, text: "x" }]);
  });

  it("gives the same lines however the input is cut into chunks, including a CRLF cut in half", () => {
    const text = "first\r\nsecond line\n\r\n\nthird\r\nno newline";
    const whole = split([text]);
    for (let size = 1; size <= text.length; size++) {
      expect(split(chunked(text, size)), `chunk size ${size}`).toEqual(whole);
    }
  });

  it("passes a line of exactly maxLineBytes, with or without CRLF", () => {
    const line = "x".repeat(10);
    for (const text of [`${line}\n`, `${line}\r\n`, line]) {
      for (let size = 1; size <= text.length; size++) {
        expect(split(chunked(text, size), 10), `${JSON.stringify(text)} by ${size}`).toEqual([
          { line: 1, text: line },
        ]);
      }
    }
  });

  it("reports a line of maxLineBytes + 1 as oversize with its length and kept prefix", () => {
    const line = "abcdefghijk"; // 11 bytes, bound 10
    for (const text of [`${line}\nok\n`, `${line}\r\nok\r\n`]) {
      for (let size = 1; size <= text.length; size++) {
        expect(split(chunked(text, size), 10, 4), `${JSON.stringify(text)} by ${size}`).toEqual([
          { line: 1, oversize: 11, prefix: "abcd" },
          { line: 2, text: "ok" },
        ]);
      }
    }
  });

  it("counts a huge line without holding it, and carries on with the next line", () => {
    const splitter = new LineSplitter({ maxLineBytes: 1024, keepPrefixBytes: 16 });
    const lines: Line[] = [];
    const block = Buffer.alloc(64 * 1024, 0x61);
    lines.push(...splitter.push(Buffer.from('{"a":1}\n')));
    for (let i = 0; i < 64; i++) lines.push(...splitter.push(block)); // 4 MiB without a newline
    lines.push(...splitter.push(Buffer.from('\r\n{"b":2}')));
    lines.push(...splitter.end());
    expect(lines.map((l) => (l.kind === "line" ? l.bytes.toString() : `${l.bytes}:${l.prefix}`))).toEqual([
      '{"a":1}',
      `${64 * 64 * 1024}:${"a".repeat(16)}`,
      '{"b":2}',
    ]);
    expect(lines.map((l) => l.line)).toEqual([1, 2, 3]);
  });

  it("reports an oversize unterminated last line", () => {
    expect(split(["ok\n", "0123456789abcdef"], 10, 3)).toEqual([
      { line: 1, text: "ok" },
      { line: 2, oversize: 16, prefix: "012" },
    ]);
  });

  it("keeps arbitrary bytes as they are (decoding is the caller's job)", () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x0a, 0xc3, 0xa9, 0x0a]);
    const splitter = new LineSplitter({ maxLineBytes: 10, keepPrefixBytes: 4 });
    const lines = [...splitter.push(bytes), ...splitter.end()];
    expect(lines.map((l) => (l.kind === "line" ? [...l.bytes] : null))).toEqual([
      [0xff, 0xfe],
      [0xc3, 0xa9],
    ]);
  });

  it("rejects a bound that is not a positive integer", () => {
    expect(() => new LineSplitter({ maxLineBytes: 0, keepPrefixBytes: 0 })).toThrow(/maxLineBytes/);
    expect(() => new LineSplitter({ maxLineBytes: 1.5, keepPrefixBytes: 0 })).toThrow(/maxLineBytes/);
  });
});
