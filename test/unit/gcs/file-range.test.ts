import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, describe, expect, it } from "vitest";
import { FileRangeReadable } from "../../../local/gcs/backend/file-range.ts";
import { tempDir } from "../../support/temp.ts";

const dir = tempDir("batchline-file-range-");
// Not a multiple of the 1 MiB chunk, so the last chunk is short.
const data = randomBytes(5 * 1024 * 1024 + 12_345);
const path = join(dir, "blob");
writeFileSync(path, data);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A destination that copies what it is given only when it completes each write, after `delayMs`. */
function slowSink(delayMs: number): { sink: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      // Read the chunk late: if the sender reused its buffer before this callback, the copy would differ.
      setTimeout(() => {
        parts.push(Buffer.from(chunk));
        cb();
      }, delayMs);
    },
  });
  return { sink, bytes: () => Buffer.concat(parts) };
}

async function range(start: number, end: number): Promise<FileRangeReadable> {
  return new FileRangeReadable(await open(path, "r"), start, end);
}

describe("FileRangeReadable", () => {
  it.each([
    ["the whole file", 0, data.length - 1],
    ["one byte", 7, 7],
    ["a range across chunk boundaries", 1_000_000, 3_200_000],
    ["the tail", data.length - 10, data.length - 1],
  ])("read as a stream: %s", async (_label, start, end) => {
    const { sink, bytes } = slowSink(0);
    await pipeline(await range(start, end), sink);
    expect(bytes().equals(data.subarray(start, end + 1))).toBe(true);
  });

  it.each([
    ["the whole file", 0, data.length - 1],
    ["a range across chunk boundaries", 1_000_000, 3_200_000],
  ])(
    "sendTo a slow destination gives the same bytes, buffers reused only once flushed: %s",
    async (_l, start, end) => {
      const { sink, bytes } = slowSink(2);
      await (await range(start, end)).sendTo(sink);
      expect(sink.writableFinished).toBe(true);
      expect(bytes().equals(data.subarray(start, end + 1))).toBe(true);
    },
  );

  it("an empty range ends at once", async () => {
    const { sink, bytes } = slowSink(0);
    await (await range(10, 9)).sendTo(sink);
    expect(bytes().length).toBe(0);
  });

  it("a range past the end of the file ends where the file does", async () => {
    const { sink, bytes } = slowSink(0);
    await pipeline(await range(data.length - 5, data.length + 100), sink);
    expect(bytes().equals(data.subarray(data.length - 5))).toBe(true);
  });

  it("sendTo rejects when the destination fails, and closes the file", async () => {
    const stream = await range(0, data.length - 1);
    let writes = 0;
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        writes += 1;
        cb(writes === 2 ? new Error("socket reset") : null);
      },
    });
    failing.on("error", () => undefined);
    await expect(stream.sendTo(failing)).rejects.toThrow("socket reset");
    expect(stream.destroyed).toBe(true);
  });

  it("sendTo rejects when the destination closes early", async () => {
    const stream = await range(0, data.length - 1);
    const { sink } = slowSink(5);
    setTimeout(() => sink.destroy(), 3);
    await expect(stream.sendTo(sink)).rejects.toThrow(/closed before the download ended|destroyed/);
  });

  it("refuses sendTo once the stream is being read", async () => {
    const stream = await range(0, 100);
    stream.read(0);
    await new Promise((r) => setTimeout(r, 10));
    stream.read();
    await expect(stream.sendTo(slowSink(0).sink)).rejects.toThrow("already being read");
    stream.destroy();
  });
});
