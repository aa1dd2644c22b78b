import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c, crc32cToBase64 } from "../../../core/crc32c.ts";
import { readObject as readObjectStream } from "../../../core/object-read.ts";
import { EXIT } from "../../../core/runs.ts";
import { BUCKET, type Harness, harnessForFile, planRun, runPlannedTask } from "./harness.ts";

let h: Harness;
harnessForFile((started) => {
  h = started;
});

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Collects every process warning emitted while `fn` runs (and the turn after it). */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (w: Error) => seen.push(`${w.name}: ${w.message}`);
  process.on("warning", listener);
  try {
    await fn();
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off("warning", listener);
  }
  return seen;
}

describe("reading an input", () => {
  it("a task over a multi-MiB input, uploaded in many chunks, emits no MaxListenersExceededWarning", async () => {
    const line = JSON.stringify({ text: "x".repeat(500) });
    const content = `${Array.from({ length: 16_000 }, () => line).join("\n")}\n`;
    const run = await planRun(h, { inputs: [{ path: "big.jsonl", content }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    let exitCode: number | undefined;
    const warnings = await warningsDuring(async () => {
      ({ exitCode } = await runPlannedTask(h, run, 0, {}, { resumableThresholdBytes: 0 }));
    });

    expect(warnings).toEqual([]);
    expect(exitCode).toBe(EXIT.OK);
    // Read back through the same reader: the client's download() of 8 MiB would print the warning itself.
    const out = await drain(readObjectStream(h.bucket.file(entry.output)));
    expect(out.length).toBe(content.length);
  });

  it("streams exactly the File's generation, checked, without a warning", async () => {
    const bytes = Buffer.alloc(6 * 1024 * 1024, 7);
    const file = h.bucket.file("read/exact.bin");
    await file.save(bytes, { resumable: false });
    const [meta] = await file.getMetadata();

    let got: Buffer = Buffer.alloc(0);
    const warnings = await warningsDuring(async () => {
      got = await drain(readObjectStream(h.bucket.file("read/exact.bin", { generation: meta.generation })));
    });

    expect(warnings).toEqual([]);
    expect(got.equals(bytes)).toBe(true);
    const other = Number(meta.generation) + 1;
    const gone = await drain(readObjectStream(h.bucket.file("read/exact.bin", { generation: other }))).catch(
      (e: unknown) => e,
    );
    expect(gone).toMatchObject({ code: 404 });
  });

  it("fails with the status as a numeric code for a generation that is gone", async () => {
    const stream = readObjectStream(h.bucket.file("read/none.bin", { generation: 1 }));
    const err = await drain(stream).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 404 });
    expect((err as Error).message).not.toBe("");
  });

  it("gunzips an object stored gzip-encoded, as the client does", async () => {
    const text = '{"a":1}\n'.repeat(10_000);
    const file = h.bucket.file("read/zipped.jsonl");
    await file.save(gzipSync(text), {
      resumable: false,
      metadata: { contentEncoding: "gzip", contentType: "application/x-ndjson" },
    });
    expect((await drain(readObjectStream(file))).toString()).toBe(text);
  });
});

describe("reading from a server that misbehaves", () => {
  let server: Server;
  let storage: Storage;
  let answers: Array<(res: import("node:http").ServerResponse) => void> = [];

  beforeAll(async () => {
    server = createServer((_req, res) => {
      const answer = answers.shift();
      if (answer) answer(res);
      else res.writeHead(500).end();
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    storage = new Storage({
      apiEndpoint: `http://127.0.0.1:${port}`,
      projectId: "test",
      retryOptions: { maxRetries: 2 },
    });
  });

  afterAll(async () => {
    server.close();
  });

  const body = Buffer.from("some bytes\n");
  const sendBody = (hash: string) => (res: import("node:http").ServerResponse) => {
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "x-goog-stored-content-encoding": "identity",
      "x-goog-hash": `crc32c=${hash},md5=AAAAAAAAAAAAAAAAAAAAAA==`,
    });
    res.end(body);
  };

  it("fails a download whose bytes do not match the CRC32C sent, with the client's code", async () => {
    answers = [sendBody(crc32cToBase64(crc32c(Buffer.from("other bytes\n"))))];
    const err = await drain(readObjectStream(storage.bucket(BUCKET).file("x"))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "CONTENT_DOWNLOAD_MISMATCH" });
  });

  it("retries a 503 when opening, then reads", async () => {
    answers = [
      (res) => res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"message":"busy"}}'),
      sendBody(crc32cToBase64(crc32c(body))),
    ];
    expect((await drain(readObjectStream(storage.bucket(BUCKET).file("x")))).equals(body)).toBe(true);
  });

  it("gives up after the client's maxRetries, with the service's message", async () => {
    const busy = (res: import("node:http").ServerResponse) =>
      res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"message":"busy"}}');
    answers = [busy, busy, busy, sendBody("unused")];
    const err = await drain(readObjectStream(storage.bucket(BUCKET).file("x"))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 503, message: "busy" });
    expect(answers).toHaveLength(1);
  });
});
