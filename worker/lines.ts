/**
 * Splits a byte stream into lines without ever holding more than one bounded line.
 *
 * Lines end at LF; a CR right before the LF is stripped (CRLF files), and the last line needs no final
 * newline. A line longer than `maxLineBytes` is not kept: the splitter remembers only its first
 * `keepPrefixBytes` (for the errors file) and streams past the rest, so a 1 GiB line costs no more memory
 * than a short one. Line numbers are 1-based and count every physical line, blank ones included, so they
 * match what an editor shows.
 */

const LF = 0x0a;
const CR = 0x0d;

/** A complete line: its bytes without the terminator (a view into the chunk when possible, not a copy). */
export interface TextLine {
  kind: "line";
  line: number;
  bytes: Buffer;
}

/** A line over the bound: only its start is kept. `bytes` is its full length without the terminator. */
export interface OversizeLine {
  kind: "oversize";
  line: number;
  bytes: number;
  prefix: Buffer;
}

export type Line = TextLine | OversizeLine;

export interface LineSplitterOptions {
  /** Longest line (bytes, without its LF or CRLF) that is passed on whole. */
  maxLineBytes: number;
  /** How much of an oversize line to keep for the errors file. */
  keepPrefixBytes: number;
}

interface Oversize {
  prefix: Buffer;
  /** Bytes of the line so far, terminator excluded but a possible final CR included. */
  bytes: number;
  lastByte: number | undefined;
}

export class LineSplitter {
  readonly #max: number;
  readonly #keep: number;
  /** Pieces of the current line that started in earlier chunks (copies; at most maxLineBytes + 1). */
  #carry: Buffer[] = [];
  #carryBytes = 0;
  /** Set while streaming past an oversize line. */
  #oversize: Oversize | null = null;
  #line = 0;
  /** True when bytes arrived after the last LF, i.e. there is an unterminated last line. */
  #open = false;

  constructor(options: LineSplitterOptions) {
    if (!Number.isInteger(options.maxLineBytes) || options.maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer (got ${options.maxLineBytes})`);
    }
    if (!Number.isInteger(options.keepPrefixBytes) || options.keepPrefixBytes < 0) {
      throw new RangeError(`keepPrefixBytes must be a non-negative integer (got ${options.keepPrefixBytes})`);
    }
    this.#max = options.maxLineBytes;
    this.#keep = Math.min(options.keepPrefixBytes, options.maxLineBytes);
  }

  /** Lines completed by `chunk`, in order. Yielded buffers may view `chunk`: use them before the next push. */
  *push(chunk: Buffer): Generator<Line, void, undefined> {
    const end = chunk.length;
    let start = 0;
    while (start < end) {
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) {
        this.#hold(chunk, start, end);
        this.#open = true;
        return;
      }
      this.#open = false;
      yield this.#finish(chunk, start, lf);
      start = lf + 1;
    }
  }

  /** The unterminated last line, if the input did not end with a newline. */
  *end(): Generator<Line, void, undefined> {
    if (!this.#open) return;
    this.#open = false;
    yield this.#finish(EMPTY, 0, 0);
  }

  /** Lines seen so far (the number of the last line yielded). */
  get lines(): number {
    return this.#line;
  }

  /** Keeps `chunk[start, end)` as part of a line whose end has not arrived yet, within the bound. */
  #hold(chunk: Buffer, start: number, end: number): void {
    const length = end - start;
    if (this.#oversize) {
      this.#oversize.bytes += length;
      this.#oversize.lastByte = chunk[end - 1];
      return;
    }
    // One byte of slack: a CR at the very end of the bound may be the first half of a CRLF terminator.
    if (this.#carryBytes + length > this.#max + 1) {
      this.#oversize = this.#startOversize(chunk, start, end);
      return;
    }
    // Copy: the caller may reuse the chunk, and a small copy does not pin a large pooled buffer.
    this.#carry.push(Buffer.from(chunk.subarray(start, end)));
    this.#carryBytes += length;
  }

  /** Drops the held pieces plus `chunk[start, end)`, keeping only the prefix and the count. */
  #startOversize(chunk: Buffer, start: number, end: number): Oversize {
    const prefix = Buffer.alloc(this.#keep);
    let filled = 0;
    for (const piece of [...this.#carry, chunk.subarray(start, end)]) {
      if (filled >= this.#keep) break;
      filled += piece.copy(prefix, filled, 0, Math.min(piece.length, this.#keep - filled));
    }
    const lastByte = end > start ? chunk[end - 1] : this.#carry.at(-1)?.at(-1);
    const oversize = {
      prefix: prefix.subarray(0, filled),
      bytes: this.#carryBytes + (end - start),
      lastByte,
    };
    this.#carry = [];
    this.#carryBytes = 0;
    return oversize;
  }

  /** Completes the line whose last piece is `chunk[start, lf)`. */
  #finish(chunk: Buffer, start: number, lf: number): Line {
    this.#line += 1;
    const line = this.#line;
    const piece = lf - start;
    if (this.#oversize === null && this.#carryBytes + piece > this.#max + 1) {
      // Too long even if it ends in CR: count it without joining the pieces.
      this.#oversize = this.#startOversize(chunk, start, lf);
    } else if (this.#oversize) {
      this.#oversize.bytes += piece;
      if (piece > 0) this.#oversize.lastByte = chunk[lf - 1];
    }
    if (this.#oversize) {
      // More than maxLineBytes + 1 bytes: oversize whether or not the last one is a CR.
      const { prefix, bytes, lastByte } = this.#oversize;
      this.#oversize = null;
      return { kind: "oversize", line, bytes: lastByte === CR ? bytes - 1 : bytes, prefix };
    }
    let bytes: Buffer;
    if (this.#carryBytes === 0) {
      bytes = chunk.subarray(start, lf);
    } else {
      this.#carry.push(chunk.subarray(start, lf));
      bytes = Buffer.concat(this.#carry, this.#carryBytes + piece);
      this.#carry = [];
      this.#carryBytes = 0;
    }
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes.length > this.#max) {
      return {
        kind: "oversize",
        line,
        bytes: bytes.length,
        prefix: Buffer.from(bytes.subarray(0, this.#keep)),
      };
    }
    return { kind: "line", line, bytes };
  }
}

const EMPTY = Buffer.alloc(0);
