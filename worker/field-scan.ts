/**
 * Finding one top-level string field of a JSONL line without JSON.parse.
 *
 * A processor that only replaces one top-level string field (`stringField`, docs/processors.md) does not
 * need the record built: the worker checks the line is JSON, finds the field, and writes the line back with
 * that value replaced. Building every record with JSON.parse is the largest single cost of the record loop.
 *
 * The check here is a strict reading of RFC 8259 over the line's bytes (already checked to be UTF-8), and it
 * is sound but not complete: whenever it accepts a line, JSON.parse accepts it too and gives the field the
 * same value. It declines, and the caller takes the JSON.parse path (which then decides), for anything it
 * does not handle simply:
 * - a line that is not an object;
 * - the field missing, repeated, or not a string;
 * - any key with an escape (it could spell the field's name);
 * - any repeated key, or an integer-like key (JSON.parse reorders those), so the line written back is the
 *   one the JSON.parse path would write;
 * - nesting deeper than 64 (well within MAX_RECORD_DEPTH, worker/depth.ts: a line this path accepts is never
 *   too deep, and one that is goes to the JSON.parse path, which reports it);
 * - anything that is not JSON.
 */

import { MAX_RECORD_DEPTH } from "./depth.ts";
import { skipSpace } from "./json-line.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** The deepest nesting this path accepts (the line's object is level 1); never more than MAX_RECORD_DEPTH. */
export const FIELD_SCAN_MAX_DEPTH = Math.min(64, MAX_RECORD_DEPTH);
/** Strings up to this many bytes are read by a plain loop; longer ones with native searches. */
const SHORT_STRING = 32;

/** Where the field was found: the object's span (for the rewrite) and the field's value. */
export interface FieldHit {
  /** The object's first byte (`{`) and one past its last (`}`); whitespace around it is not part of it. */
  from: number;
  to: number;
  /** The value's span, quotes included. */
  valueStart: number;
  valueEnd: number;
  /** The value as JSON.parse would give it. */
  value: string;
}

/**
 * A scanner for one field name; reusable from line to line, not reentrant. A hit is the scanner itself (no
 * allocation per line), valid until the next `scan`.
 */
export class FieldScanner implements FieldHit {
  from = 0;
  to = 0;
  valueStart = 0;
  valueEnd = 0;
  value = "";
  readonly #name: Buffer;
  /** Set by `#string` when the string it just read holds an escape. */
  #escaped = false;
  /** Top-level key spans of the current line (start, end pairs), for the repeated-key check. */
  readonly #keys: number[] = [];
  /**
   * The first backslash at or after the last place looked from, -1 if none, -2 not yet looked for. Strings
   * are read left to right, so each line is searched for backslashes once in all, not once per string.
   */
  #nextBackslash = -2;
  readonly #words = new WordView();

  constructor(name: string) {
    if (name.length === 0) throw new Error("FieldScanner: empty field name");
    this.#name = Buffer.from(name, "utf8");
  }

  /** The field in `line` (valid UTF-8), or null when the caller must take the JSON.parse path. */
  scan(line: Buffer): FieldHit | null {
    const end = line.length;
    let i = skipSpace(line, 0, end);
    if (line[i] !== 0x7b) return null; // {
    const from = i;
    i = skipSpace(line, i + 1, end);
    let valueStart = -1;
    let valueEnd = -1;
    let valueEscaped = false;
    const keys = this.#keys;
    keys.length = 0;
    this.#nextBackslash = -2;
    if (line[i] !== 0x7d) {
      for (;;) {
        if (line[i] !== QUOTE) return null;
        const keyStart = i + 1;
        i = this.#string(line, i, end, false);
        if (i < 0 || this.#escaped) return null;
        const keyEnd = i - 1;
        const first = line[keyStart] as number;
        if (first >= 0x30 && first <= 0x39) return null; // integer-like keys are reordered by JSON.parse
        for (let k = 0; k < keys.length; k += 2) {
          if (sameBytes(line, keys[k] as number, keys[k + 1] as number, keyStart, keyEnd)) return null;
        }
        keys.push(keyStart, keyEnd);
        i = skipSpace(line, i, end);
        if (line[i] !== 0x3a) return null; // :
        i = skipSpace(line, i + 1, end);
        const isField = this.#isName(line, keyStart, keyEnd);
        const start = i;
        if (isField) {
          if (line[i] !== QUOTE) return null; // not a string: the processor decides what that means
          i = this.#string(line, i, end, true);
          if (i < 0) return null;
          valueStart = start;
          valueEnd = i;
          valueEscaped = this.#escaped;
        } else {
          i = this.#value(line, i, end, 1);
          if (i < 0) return null;
        }
        i = skipSpace(line, i, end);
        const c = line[i];
        if (c === 0x2c) {
          i = skipSpace(line, i + 1, end);
          continue;
        }
        if (c === 0x7d) break;
        return null;
      }
    }
    const to = i + 1;
    if (skipSpace(line, to, end) !== end) return null; // something after the object
    if (valueStart < 0) return null;
    let value: string;
    if (valueEscaped) {
      value = JSON.parse(line.toString("utf8", valueStart, valueEnd)) as string;
    } else {
      // Long unescaped strings were not checked byte by byte for raw control characters; check them here.
      if (this.#words.hasControl(line, valueStart + 1, valueEnd - 1)) return null;
      value = line.toString("utf8", valueStart + 1, valueEnd - 1);
    }
    this.from = from;
    this.to = to;
    this.valueStart = valueStart;
    this.valueEnd = valueEnd;
    this.value = value;
    return this;
  }

  #isName(line: Buffer, start: number, end: number): boolean {
    const name = this.#name;
    if (end - start !== name.length) return false;
    for (let k = 0; k < name.length; k++) if (line[start + k] !== name[k]) return false;
    return true;
  }

  /**
   * Reads the string whose opening quote is at `i`; returns the index after its closing quote, or -1 if it is
   * not a valid JSON string. With `deferControl`, a long string without escapes is not checked for raw
   * control characters (the caller checks its decoded value, which is cheaper).
   */
  #string(line: Buffer, i: number, end: number, deferControl: boolean): number {
    this.#escaped = false;
    // Keys and short values: a plain loop, cheaper than the native searches' cost per call.
    let k = i + 1;
    const limit = Math.min(end, k + SHORT_STRING);
    while (k < limit) {
      const c = line[k] as number;
      if (c === QUOTE) return k + 1;
      if (c === BACKSLASH) return this.#escapedString(line, i, end);
      if (c < 0x20) return -1;
      k += 1;
    }
    // Longer: search for the closing quote and the next backslash natively.
    const close = line.indexOf(QUOTE, k);
    if (close < 0 || close >= end) return -1;
    let backslash = this.#nextBackslash;
    if (backslash === -2 || (backslash >= 0 && backslash < k)) {
      backslash = line.indexOf(BACKSLASH, k);
      this.#nextBackslash = backslash;
    }
    if (backslash >= 0 && backslash < close) return this.#escapedString(line, i, end);
    if (!deferControl) {
      for (let j = k; j < close; j++) if ((line[j] as number) < 0x20) return -1;
    }
    return close + 1;
  }

  /** `#string` for a string with an escape: byte by byte from its opening quote at `i`. */
  #escapedString(line: Buffer, i: number, end: number): number {
    // Escapes: byte by byte.
    this.#escaped = true;
    let k = i + 1;
    for (;;) {
      if (k >= end) return -1;
      const c = line[k] as number;
      if (c === QUOTE) return k + 1;
      if (c < 0x20) return -1;
      if (c === BACKSLASH) {
        const d = line[k + 1];
        if (d === 0x75) {
          // \uXXXX
          for (let h = 2; h < 6; h++) if (!isHex(line[k + h])) return -1;
          k += 6;
          continue;
        }
        // \" \\ \/ \b \f \n \r \t
        if (
          d === 0x22 ||
          d === 0x5c ||
          d === 0x2f ||
          d === 0x62 ||
          d === 0x66 ||
          d === 0x6e ||
          d === 0x72 ||
          d === 0x74
        ) {
          k += 2;
          continue;
        }
        return -1;
      }
      k += 1;
    }
  }

  /** Reads any JSON value starting at `i`; returns the index after it, or -1. */
  #value(line: Buffer, i: number, end: number, depth: number): number {
    const c = line[i];
    if (c === QUOTE) return this.#string(line, i, end, false);
    if (c === 0x7b || c === 0x5b) {
      if (depth >= FIELD_SCAN_MAX_DEPTH) return -1;
      const object = c === 0x7b;
      const close = object ? 0x7d : 0x5d;
      i = skipSpace(line, i + 1, end);
      if (line[i] === close) return i + 1;
      for (;;) {
        if (object) {
          if (line[i] !== QUOTE) return -1;
          i = this.#string(line, i, end, false);
          if (i < 0) return -1;
          i = skipSpace(line, i, end);
          if (line[i] !== 0x3a) return -1;
          i = skipSpace(line, i + 1, end);
        }
        i = this.#value(line, i, end, depth + 1);
        if (i < 0) return -1;
        i = skipSpace(line, i, end);
        const d = line[i];
        if (d === 0x2c) {
          i = skipSpace(line, i + 1, end);
          continue;
        }
        return d === close ? i + 1 : -1;
      }
    }
    if (c === 0x74) return line[i + 1] === 0x72 && line[i + 2] === 0x75 && line[i + 3] === 0x65 ? i + 4 : -1;
    if (c === 0x66) {
      return line[i + 1] === 0x61 && line[i + 2] === 0x6c && line[i + 3] === 0x73 && line[i + 4] === 0x65
        ? i + 5
        : -1;
    }
    if (c === 0x6e) return line[i + 1] === 0x75 && line[i + 2] === 0x6c && line[i + 3] === 0x6c ? i + 4 : -1;
    return number(line, i, end);
  }
}

/**
 * Whether bytes hold a raw control character (below 0x20), four bytes at a time through a 32-bit view of the
 * buffer's memory. The view is made once per underlying ArrayBuffer (a download chunk holds many lines).
 */
class WordView {
  #buffer: ArrayBufferLike | undefined;
  #words: Int32Array<ArrayBufferLike> = new Int32Array(0);

  hasControl(line: Buffer, start: number, end: number): boolean {
    const base = line.byteOffset;
    if (line.buffer !== this.#buffer) {
      this.#buffer = line.buffer;
      this.#words = new Int32Array(line.buffer, 0, line.buffer.byteLength >>> 2);
    }
    const words = this.#words;
    let i = start;
    // Byte by byte up to a 4-byte boundary of the memory, then whole words, then the tail.
    while (i < end && ((base + i) & 3) !== 0) {
      if ((line[i] as number) < 0x20) return true;
      i += 1;
    }
    const lastWord = (base + end) >>> 2;
    let w = (base + i) >>> 2;
    for (; w < lastWord; w++) {
      const x = words[w] as number;
      // Non-zero exactly when some byte of x is below 0x20 (bytes of multi-byte characters are >= 0x80).
      if (((x - 0x20202020) & ~x & 0x80808080) !== 0) return true;
    }
    for (i = Math.max(i, (w << 2) - base); i < end; i++) if ((line[i] as number) < 0x20) return true;
    return false;
  }
}

/** Reads a JSON number at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; -1 if there is none. */
function number(line: Buffer, i: number, end: number): number {
  if (line[i] === 0x2d) i += 1; // -
  if (line[i] === 0x30) i += 1;
  else if (isDigit(line[i])) i = digits(line, i, end);
  else return -1;
  if (line[i] === 0x2e) {
    if (!isDigit(line[i + 1])) return -1;
    i = digits(line, i + 1, end);
  }
  if (line[i] === 0x65 || line[i] === 0x45) {
    i += 1;
    if (line[i] === 0x2b || line[i] === 0x2d) i += 1;
    if (!isDigit(line[i])) return -1;
    i = digits(line, i, end);
  }
  return i;
}

function digits(line: Buffer, i: number, end: number): number {
  while (i < end && isDigit(line[i])) i += 1;
  return i;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isHex(c: number | undefined): boolean {
  return (
    c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
  );
}

function sameBytes(line: Buffer, aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let k = 0; k < aEnd - aStart; k++) if (line[aStart + k] !== line[bStart + k]) return false;
  return true;
}
