import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { LazyLineSink, needsNoEscape, StreamLineSink } from "../../../worker/sink.ts";

/** A Writable that records each write; `hold` keeps callbacks back to simulate a slow upload. */
class Recorder extends Writable {
  readonly chunks: Buffer[] = [];
  readonly pending: (() => void)[] = [];
  hold = false;
  constructor(highWaterMark = 16) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error) => void): void {
    this.chunks.push(Buffer.from(chunk));
    if (this.hold) this.pending.push(() => cb());
    else cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

describe("StreamLineSink", () => {
  it("writes lines with newlines, batched into few large writes, and counts bytes", async () => {
    const stream = new Recorder(1024 * 1024);
    const sink = new StreamLineSink(stream, 1024);
    for (let i = 0; i < 1000; i++) sink.line(`{"i":${i},"t":"é"}`);
    await sink.close();
    const expected = Array.from({ length: 1000 }, (_, i) => `{"i":${i},"t":"é"}\n`).join("");
    expect(stream.text).toBe(expected);
    expect(sink.bytes).toBe(Buffer.byteLength(expected));
    expect(stream.chunks.length).toBeLessThan(40);
    expect(stream.chunks.every((c) => c.length <= 1024)).toBe(true);
  });

  it("writes a line larger than the batch on its own", async () => {
    const stream = new Recorder();
    const sink = new StreamLineSink(stream, 64);
    sink.line("a");
    sink.line("x".repeat(500));
    sink.line("b");
    await sink.close();
    expect(stream.text).toBe(`a\n${"x".repeat(500)}\nb\n`);
  });

  it("makes the caller wait while the destination is full", async () => {
    const stream = new Recorder(16);
    stream.hold = true;
    const sink = new StreamLineSink(stream, 32);
    for (let i = 0; i < 20; i++) sink.line("0123456789");
    const waiting = sink.pump();
    expect(waiting).toBeInstanceOf(Promise);
    let resolved = false;
    void waiting?.then(() => {
      resolved = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(resolved).toBe(false);
    stream.hold = false;
    while (stream.pending.length > 0) stream.pending.shift()?.();
    await waiting;
    expect(resolved).toBe(true);
  });

  it("passes the destination's error to the caller", async () => {
    const stream = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error("upload refused"), { code: 503 }));
      },
    });
    const sink = new StreamLineSink(stream, 8);
    sink.line("0123456789");
    await new Promise((r) => setImmediate(r));
    await expect(sink.pump()).rejects.toThrow("upload refused");
    await expect(sink.close()).rejects.toThrow("upload refused");
  });

  it("abort destroys the destination without finishing it", async () => {
    const stream = new Recorder();
    let finished = false;
    stream.on("finish", () => {
      finished = true;
    });
    const sink = new StreamLineSink(stream, 8);
    sink.line("partial");
    sink.abort(new Error("processing failed"));
    await new Promise((r) => setImmediate(r));
    expect(stream.destroyed).toBe(true);
    expect(finished).toBe(false);
  });
});

describe("LazyLineSink", () => {
  it("opens its destination only on the first line", async () => {
    let opened = 0;
    const stream = new Recorder();
    const sink = new LazyLineSink(() => {
      opened += 1;
      return new StreamLineSink(stream);
    });
    await sink.close();
    expect([opened, sink.opened, sink.bytes]).toEqual([0, false, 0]);

    const used = new LazyLineSink(() => {
      opened += 1;
      return new StreamLineSink(stream);
    });
    used.line("x");
    used.line("y");
    await used.close();
    expect([opened, used.opened, stream.text]).toEqual([1, true, "x\ny\n"]);
  });
});

describe("needsNoEscape", () => {
  it("finds every byte JSON escapes in a string, at every position and alignment, and nothing else", () => {
    const buf = Buffer.allocUnsafeSlow(64);
    const words = new Int32Array(buf.buffer, 0, 16);
    const mustEscape = (b: number) => b < 0x20 || b === 0x22 || b === 0x5c;
    for (let b = 0; b < 256; b++) {
      for (const [start, end] of [
        [0, 1],
        [1, 9],
        [3, 17],
        [4, 20],
        [5, 38],
        [0, 64],
      ] as const) {
        for (let at = start; at < end; at++) {
          buf.fill(0x61);
          buf[at] = b;
          expect(needsNoEscape(buf, words, start, end), `byte ${b} at ${at} in [${start}, ${end})`).toBe(
            !mustEscape(b),
          );
        }
      }
    }
    buf.fill(0x61);
    expect(needsNoEscape(buf, words, 0, 0)).toBe(true);
    // A byte outside the range does not count.
    buf[2] = 0x22;
    expect(needsNoEscape(buf, words, 3, 40)).toBe(true);
  });
});
