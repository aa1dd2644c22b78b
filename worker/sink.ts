import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { editedLineText, type LineEdits } from "./json-line.ts";

/** Output records are batched into buffers of this size before they go to the upload stream. */
export const DEFAULT_BATCH_BYTES = 256 * 1024;

/** Where lines go: the output object, the errors file, or a test's array. */
export interface LineSink {
  /** Appends one line; the newline is added here. */
  line(text: string): void;
  /**
   * Appends the line `edits` describes: a JSON object line of the input with some values replaced
   * (worker/json-line.ts); the newline is added here.
   */
  edited(line: Buffer, edits: LineEdits): void;
  /** Bytes accepted so far, newlines included. */
  readonly bytes: number;
  /** Resolves when the destination can take more; undefined when there is nothing to wait for. Throws the destination's error. */
  pump(): Promise<void> | undefined;
  /** Writes what is left, ends, and resolves once the destination has all of it (for an upload: finalized). */
  close(): Promise<void>;
  /** Gives up: an unfinished upload is abandoned, so no object appears. */
  abort(err: Error): void;
}

/**
 * Encodes lines straight into a batch buffer (no per-line strings or buffers) and hands each full batch to
 * `deliver` whole, so the destination sees few large writes. Every batch is its own allocation starting at
 * offset 0 (allocUnsafeSlow), so it can also be read as 32-bit words (needsNoEscape).
 */
export class LineBatcher {
  readonly #deliver: (chunk: Buffer) => void;
  readonly #batchBytes: number;
  #buf: Buffer;
  /** `#buf` as 32-bit words, for checking 4 bytes at a time. */
  #words: Int32Array;
  #used = 0;
  #handed = 0;

  constructor(deliver: (chunk: Buffer) => void, batchBytes = DEFAULT_BATCH_BYTES) {
    this.#deliver = deliver;
    this.#batchBytes = batchBytes;
    this.#buf = Buffer.allocUnsafeSlow(batchBytes);
    this.#words = wordsOf(this.#buf);
  }

  /** Bytes taken so far, delivered or not. */
  get bytes(): number {
    return this.#handed + this.#used;
  }

  line(text: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8, so this much room always fits the line and its newline.
    const worst = text.length * 3 + 1;
    if (this.#used + worst > this.#buf.length) this.flush();
    if (worst > this.#buf.length) {
      this.#give(Buffer.from(`${text}\n`, "utf8"));
      return;
    }
    this.#used += this.#buf.write(text, this.#used, "utf8");
    this.#buf[this.#used] = 0x0a;
    this.#used += 1;
  }

  edited(line: Buffer, edits: LineEdits): void {
    // Room for the copied bytes, each replacement at its longest (a JSON string escapes a unit to at most
    // 6 bytes, `\u001f`; JSON text is at most 3 bytes a unit) and the newline.
    let worst = edits.to - edits.from + 1;
    for (let k = 0; k < edits.count; k++) {
      worst += (edits.values[k] as string).length * (edits.texts[k] ? 3 : 6) + 2;
    }
    if (this.#used + worst > this.#buf.length) this.flush();
    if (worst > this.#buf.length) {
      this.line(editedLineText(line, edits));
      return;
    }
    const buf = this.#buf;
    let at = this.#used;
    let pos = edits.from;
    for (let k = 0; k < edits.count; k++) {
      at = copyBytes(line, pos, edits.starts[k] as number, buf, at);
      const value = edits.values[k] as string;
      at = edits.texts[k] ? at + buf.write(value, at, "utf8") : this.#jsonString(value, at);
      pos = edits.ends[k] as number;
    }
    at = copyBytes(line, pos, edits.to, buf, at);
    buf[at] = 0x0a;
    this.#used = at + 1;
  }

  /** Writes `s` as a JSON string at `at` (room for 6 bytes a unit is there); returns where it ends. */
  #jsonString(s: string, at: number): number {
    const buf = this.#buf;
    buf[at] = QUOTE;
    const start = at + 1;
    const end = start + buf.write(s, start, "utf8");
    // Most strings need no escape: then their UTF-8 is their JSON, and checking bytes is cheaper than
    // JSON.stringify's escaping. A lone surrogate would have been written as U+FFFD, so it needs the check too.
    if (needsNoEscape(buf, this.#words, start, end) && isWellFormed(s)) {
      buf[end] = QUOTE;
      return end + 1;
    }
    return at + buf.write(JSON.stringify(s), at, "utf8");
  }

  /** Delivers the batch so far, if any. */
  flush(): void {
    if (this.#used === 0) return;
    const chunk = this.#buf.subarray(0, this.#used);
    // The destination keeps the chunk until it is sent, so the next batch needs a fresh buffer.
    this.#buf = Buffer.allocUnsafeSlow(this.#batchBytes);
    this.#words = wordsOf(this.#buf);
    this.#used = 0;
    this.#give(chunk);
  }

  #give(chunk: Buffer): void {
    this.#handed += chunk.length;
    this.#deliver(chunk);
  }
}

/** A LineSink over a Writable (an upload stream): batches of lines, written whole. */
export class StreamLineSink implements LineSink {
  readonly #stream: Writable;
  readonly #batcher: LineBatcher;
  #error: Error | undefined;

  constructor(stream: Writable, batchBytes = DEFAULT_BATCH_BYTES) {
    this.#stream = stream;
    this.#batcher = new LineBatcher((chunk) => {
      if (!stream.destroyed) stream.write(chunk);
    }, batchBytes);
    // Keep the first error: it is the one that explains the failure, and a listener must exist so an
    // upload error never becomes an uncaught exception.
    stream.on("error", (err: Error) => {
      this.#error ??= err;
    });
  }

  get bytes(): number {
    return this.#batcher.bytes;
  }

  line(text: string): void {
    this.#batcher.line(text);
  }

  edited(line: Buffer, edits: LineEdits): void {
    this.#batcher.edited(line, edits);
  }

  pump(): Promise<void> | undefined {
    if (this.#error) return Promise.reject(this.#error);
    if (!this.#stream.writableNeedDrain) return undefined;
    return drained(this.#stream).then(() => {
      if (this.#error) throw this.#error;
    });
  }

  async close(): Promise<void> {
    if (this.#error) throw this.#error;
    this.#batcher.flush();
    this.#stream.end();
    await finished(this.#stream);
    if (this.#error) throw this.#error;
  }

  abort(err: Error): void {
    if (!this.#stream.destroyed) this.#stream.destroy(err);
  }
}

const QUOTE = 0x22;

/** Copies `from[start, end)` to `to` at `at`; returns where it ends. Short runs (most) in a loop, not a native call. */
function copyBytes(from: Buffer, start: number, end: number, to: Buffer, at: number): number {
  if (end - start > 48) return at + from.copy(to, at, start, end);
  for (let i = start; i < end; i++) to[at++] = from[i] as number;
  return at;
}

/** A whole number of 32-bit words over a batch buffer (allocUnsafeSlow's start at offset 0, so aligned). */
function wordsOf(buf: Buffer): Int32Array {
  return new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
}

/**
 * Whether `buf[start, end)` (UTF-8) holds no byte JSON must escape in a string: below 0x20, `"` or `\`.
 * Four bytes at a time: `(x - 0x01010101) & ~x & 0x80808080` is non-zero exactly when a byte of x is 0
 * (and with 0x20202020, when one is below 0x20); bytes of multi-byte characters are all >= 0x80 and never match.
 */
export function needsNoEscape(buf: Buffer, words: Int32Array, start: number, end: number): boolean {
  let i = start;
  const head = Math.min(end, (start + 3) & ~3);
  for (; i < head; i++) {
    const b = buf[i] as number;
    if (b < 0x20 || b === 0x22 || b === 0x5c) return false;
  }
  const last = end >>> 2;
  let w = i >>> 2;
  // Two words a step, folded into one test.
  for (; w + 1 < last; w += 2) {
    const x = words[w] as number;
    const y = words[w + 1] as number;
    const qx = x ^ 0x22222222;
    const sx = x ^ 0x5c5c5c5c;
    const qy = y ^ 0x22222222;
    const sy = y ^ 0x5c5c5c5c;
    const hit =
      ((x - 0x20202020) & ~x) |
      ((qx - 0x01010101) & ~qx) |
      ((sx - 0x01010101) & ~sx) |
      ((y - 0x20202020) & ~y) |
      ((qy - 0x01010101) & ~qy) |
      ((sy - 0x01010101) & ~sy);
    if (hit & 0x80808080) return false;
  }
  if (w < last) {
    const x = words[w] as number;
    const q = x ^ 0x22222222;
    const s = x ^ 0x5c5c5c5c;
    if ((((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080)
      return false;
  }
  for (i = Math.max(i, last << 2); i < end; i++) {
    const b = buf[i] as number;
    if (b < 0x20 || b === 0x22 || b === 0x5c) return false;
  }
  return true;
}

/** String.prototype.isWellFormed (ES2024; Node 20 has it, TypeScript's lib here does not). */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Resolves on 'drain'; also on 'close' or 'error', whose cause the caller checks. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      stream.off("error", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
    stream.on("error", done);
  });
}

/** A sink that is only opened when the first line arrives: no errors file for an input without bad records. */
export class LazyLineSink implements LineSink {
  readonly #open: () => LineSink;
  #sink: LineSink | undefined;

  constructor(open: () => LineSink) {
    this.#open = open;
  }

  /** Whether any line was written (and so a destination exists). */
  get opened(): boolean {
    return this.#sink !== undefined;
  }

  get bytes(): number {
    return this.#sink?.bytes ?? 0;
  }

  line(text: string): void {
    this.#sink ??= this.#open();
    this.#sink.line(text);
  }

  edited(line: Buffer, edits: LineEdits): void {
    this.#sink ??= this.#open();
    this.#sink.edited(line, edits);
  }

  pump(): Promise<void> | undefined {
    return this.#sink?.pump();
  }

  async close(): Promise<void> {
    await this.#sink?.close();
  }

  abort(err: Error): void {
    this.#sink?.abort(err);
  }
}
