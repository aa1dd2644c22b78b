import type { FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import { Readable } from "node:stream";

/** Bytes read from the file at a time. */
const CHUNK = 1024 * 1024;
/** Chunks written to the destination and not yet flushed, when sending through `sendTo`. */
const IN_FLIGHT = 4;

/**
 * The bytes `start..end` (inclusive) of an open file, as a Readable for any consumer, and with `sendTo` for
 * the one the emulator mostly has: an HTTP response. Reading into fresh buffers (what fs read streams do)
 * costs an allocation per MiB and the garbage collection of each once sent; `sendTo` instead cycles a few
 * buffers, reusing each once the destination has flushed it (its write callback), so a large download
 * allocates nothing per chunk. The file is closed when the bytes are all read, on error, or on destroy.
 */
export class FileRangeReadable extends Readable {
  readonly #handle: FileHandle;
  #pos: number;
  readonly #end: number;
  #closed = false;
  #sending = false;

  constructor(handle: FileHandle, start: number, end: number) {
    super({ highWaterMark: CHUNK });
    this.#handle = handle;
    this.#pos = start;
    this.#end = end;
  }

  override _read(): void {
    const want = Math.min(CHUNK, this.#end + 1 - this.#pos);
    if (want <= 0) {
      this.push(null);
      return;
    }
    this.#readInto(Buffer.allocUnsafe(want)).then(
      (chunk) => {
        if (chunk === null) this.push(null);
        else this.push(chunk);
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#close().then(
      () => callback(err),
      (closeErr: Error) => callback(err ?? closeErr),
    );
  }

  /**
   * Writes the rest of the range to `dest` and ends it, waiting for its writes as they complete. Use instead
   * of piping, not as well. Rejects (and destroys this stream) if the file or `dest` fails.
   */
  async sendTo(dest: Writable): Promise<void> {
    if (this.#sending || this.readableDidRead) throw new Error("FileRangeReadable: already being read");
    this.#sending = true;
    const free: Buffer[] = Array.from({ length: IN_FLIGHT }, () => Buffer.allocUnsafeSlow(CHUNK));
    let waiting: (() => void) | undefined;
    let failure: Error | undefined;
    const onError = (err: Error) => {
      failure ??= err;
      waiting?.();
    };
    const onClose = () => onError(new Error("destination closed before the download ended"));
    dest.on("error", onError);
    dest.on("close", onClose);
    try {
      for (;;) {
        if (failure) throw failure;
        const buf = free.pop();
        if (buf === undefined) {
          await new Promise<void>((resolve) => {
            waiting = resolve;
          });
          waiting = undefined;
          continue;
        }
        const want = Math.min(CHUNK, this.#end + 1 - this.#pos);
        if (want <= 0) break;
        const chunk = await this.#readInto(buf.subarray(0, want));
        if (chunk === null) break;
        if (failure) throw failure;
        dest.write(chunk, (err) => {
          if (err) onError(err);
          free.push(buf);
          waiting?.();
        });
      }
      await new Promise<void>((resolve, reject) => {
        dest.end(() => (failure ? reject(failure) : resolve()));
      });
    } catch (err) {
      this.destroy();
      throw err;
    } finally {
      dest.off("error", onError);
      dest.off("close", onClose);
      await this.#close();
    }
  }

  /** Reads the next bytes into `buf`; null at end of file (a file shorter than the range just ends). */
  async #readInto(buf: Buffer): Promise<Buffer | null> {
    const { bytesRead } = await this.#handle.read(buf, 0, buf.length, this.#pos);
    if (bytesRead === 0) {
      await this.#close();
      return null;
    }
    this.#pos += bytesRead;
    if (this.#pos > this.#end) await this.#close();
    return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#handle.close();
  }
}
