import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";

/** Output records are batched into buffers of this size before they go to the upload stream. */
export const DEFAULT_BATCH_BYTES = 256 * 1024;

/** Where lines go: the output object, the errors file, or a test's array. */
export interface LineSink {
  /** Appends one line; the newline is added here. */
  line(text: string): void;
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
 * A LineSink over a Writable. Lines are encoded straight into a batch buffer (no per-line strings or
 * buffers), and the buffer goes to the stream whole, so the stream sees few large writes.
 */
export class StreamLineSink implements LineSink {
  readonly #stream: Writable;
  readonly #batchBytes: number;
  #buf: Buffer;
  #used = 0;
  #handed = 0;
  #error: Error | undefined;

  constructor(stream: Writable, batchBytes = DEFAULT_BATCH_BYTES) {
    this.#stream = stream;
    this.#batchBytes = batchBytes;
    this.#buf = Buffer.allocUnsafe(batchBytes);
    // Keep the first error: it is the one that explains the failure, and a listener must exist so an
    // upload error never becomes an uncaught exception.
    stream.on("error", (err: Error) => {
      this.#error ??= err;
    });
  }

  get bytes(): number {
    return this.#handed + this.#used;
  }

  line(text: string): void {
    // A UTF-16 code unit is at most 3 bytes of UTF-8, so this much room always fits the line and its newline.
    const worst = text.length * 3 + 1;
    if (this.#used + worst > this.#buf.length) this.#handOff();
    if (worst > this.#buf.length) {
      const big = Buffer.from(`${text}\n`, "utf8");
      this.#write(big);
      return;
    }
    this.#used += this.#buf.write(text, this.#used, "utf8");
    this.#buf[this.#used] = 0x0a;
    this.#used += 1;
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
    this.#handOff();
    this.#stream.end();
    await finished(this.#stream);
    if (this.#error) throw this.#error;
  }

  abort(err: Error): void {
    if (!this.#stream.destroyed) this.#stream.destroy(err);
  }

  #handOff(): void {
    if (this.#used === 0) return;
    const chunk = this.#buf.subarray(0, this.#used);
    // The stream keeps the chunk until it is sent, so the next batch needs a fresh buffer.
    this.#buf = Buffer.allocUnsafe(this.#batchBytes);
    this.#used = 0;
    this.#write(chunk);
  }

  #write(chunk: Buffer): void {
    this.#handed += chunk.length;
    if (!this.#stream.destroyed) this.#stream.write(chunk);
  }
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
