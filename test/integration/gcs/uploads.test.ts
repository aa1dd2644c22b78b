import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { type Bucket, CRC32C } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  BACKENDS,
  bucketName,
  caught,
  generatedStream,
  type Harness,
  md5Base64,
  md5OfStream,
  startHarness,
} from "./helpers.ts";

const MiB = 1024 * 1024;

describe.each(BACKENDS)("uploads (%s backend)", (backend) => {
  let h: Harness;
  let bucket: Bucket;

  beforeAll(async () => {
    h = await startHarness(backend);
    [bucket] = await h.storage.createBucket(bucketName("uploads"));
  });
  afterAll(async () => {
    await h.close();
  });

  test("a small multipart upload stores the bytes, content type and checksums", async () => {
    const data = Buffer.from("hello, batchline\n");
    const file = bucket.file("small/multipart.txt");

    await file.save(data, { resumable: false, contentType: "text/plain" });

    const [metadata] = await file.getMetadata();
    const crc = new CRC32C();
    crc.update(data);
    expect(metadata).toMatchObject({
      name: "small/multipart.txt",
      size: String(data.length),
      contentType: "text/plain",
      md5Hash: md5Base64(data),
      crc32c: crc.toString(),
    });
    const [back] = await file.download();
    expect(back.equals(data)).toBe(true);
  });

  test("a small resumable upload stores the bytes", async () => {
    const data = randomBytes(1000);
    const file = bucket.file("small/resumable.bin");

    await file.save(data, { resumable: true });

    const [back] = await file.download();
    expect(back.equals(data)).toBe(true);
  });

  test("an empty object can be uploaded and read back", async () => {
    const file = bucket.file("small/empty");

    await file.save(Buffer.alloc(0), { resumable: false });

    const [metadata] = await file.getMetadata();
    expect(metadata.size).toBe("0");
    expect(metadata.md5Hash).toBe(md5Base64(Buffer.alloc(0)));
    const [back] = await file.download();
    expect(back.length).toBe(0);
  });

  test("a 24 MiB resumable upload streamed from a generator downloads with the same md5", async () => {
    const size = 24 * MiB;
    const source = generatedStream(size, 7);
    const file = bucket.file("large/streamed.bin");

    await pipeline(
      source.stream,
      file.createWriteStream({ resumable: true, contentType: "application/x-test" }),
    );

    const [metadata] = await file.getMetadata();
    expect(metadata.size).toBe(String(size));
    expect(metadata.md5Hash).toBe(source.md5());
    const back = await md5OfStream(file.createReadStream());
    expect(back).toEqual({ md5: source.md5(), bytes: size });
  });

  test("a 20 MiB multipart upload streamed from a generator downloads with the same md5", async () => {
    const size = 20 * MiB;
    const source = generatedStream(size, 11);
    const file = bucket.file("large/multipart.bin");

    await pipeline(source.stream, file.createWriteStream({ resumable: false }));

    const back = await md5OfStream(file.createReadStream());
    expect(back).toEqual({ md5: source.md5(), bytes: size });
  });

  test("a chunked resumable upload (1 MiB chunks) assembles the chunks in order", async () => {
    const size = 5 * MiB + 123;
    const source = generatedStream(size, 13);
    const file = bucket.file("large/chunked.bin");

    await pipeline(source.stream, file.createWriteStream({ resumable: true, chunkSize: MiB }));

    const back = await md5OfStream(file.createReadStream());
    expect(back).toEqual({ md5: source.md5(), bytes: size });
  });

  test("each chunk of a chunked upload is answered 308 with the persisted Range", async () => {
    const data = randomBytes(3 * MiB + 10);
    const file = bucket.file("large/ranges.bin");
    const ranges: string[] = [];
    const writer = file.createWriteStream({ resumable: true, chunkSize: MiB });
    writer.on("response", (resp: { status: number; headers: Record<string, string> }) => {
      if (resp.status === 308) ranges.push(new Headers(resp.headers).get("range") ?? "");
    });

    await pipeline(async function* () {
      yield data;
    }, writer);

    expect(ranges).toEqual(["bytes=0-1048575", "bytes=0-2097151", "bytes=0-3145727"]);
  });

  test("an interrupted resumable upload resumes from the bytes the emulator persisted", async () => {
    const data = randomBytes(6 * MiB);
    const file = bucket.file("large/resumed.bin");
    const [uri] = await file.createResumableUpload();

    // First attempt: stop after the emulator has acknowledged 2 MiB.
    let persisted = 0;
    const first = file.createWriteStream({ uri, chunkSize: MiB, validation: false });
    const acknowledged = new Promise<void>((resolve) => {
      first.on("response", (resp: { status: number; headers: Record<string, string> }) => {
        const range = new Headers(resp.headers).get("range");
        if (resp.status === 308 && range) persisted = Number(range.split("-")[1]) + 1;
        if (persisted >= 2 * MiB) resolve();
      });
    });
    const firstDone = pipeline(async function* () {
      for (let i = 0; i < data.length; i += 256 * 1024) yield data.subarray(i, i + 256 * 1024);
    }, first).catch(() => undefined);
    await acknowledged;
    first.destroy();
    await firstDone;
    const [visibleMidway] = await file.exists();

    // Second attempt on the same session URI: the client asks for the status and skips what is there.
    const progress: number[] = [];
    const second = file.createWriteStream({ uri, chunkSize: MiB });
    second.on("progress", (p: { bytesWritten: number }) => progress.push(p.bytesWritten));
    await pipeline(async function* () {
      yield data;
    }, second);

    expect(visibleMidway).toBe(false);
    expect(persisted).toBeGreaterThanOrEqual(2 * MiB);
    expect(progress[0]).toBeGreaterThan(persisted);
    const [back] = await file.download();
    expect(md5Base64(back)).toBe(md5Base64(data));
  });

  test("a resumable upload is not visible until it is finalized", async () => {
    const file = bucket.file("large/partial.bin");
    const [uri] = await file.createResumableUpload();
    await pipeline(
      async function* () {
        yield randomBytes(MiB);
      },
      file.createWriteStream({ uri, chunkSize: 256 * 1024, isPartialUpload: true, validation: false }),
    );

    const [exists] = await file.exists();

    expect(exists).toBe(false);
  });

  test.each([
    ["unicode", "données/日本語/ファイル 🚀.txt"],
    ["spaces", "with spaces/and more spaces .txt"],
    ["hash", "hash#tag#"],
    ["question mark", "what?is=this&x=1"],
    ["percent", "100%/%2F-literal/%25"],
    ["all of them", "mixed #1? 50% ünïcødé/…/end"],
  ])(
    "an object named with %s round-trips through upload, metadata, download and listing",
    async (_label, name) => {
      const data = Buffer.from(`content of ${name}`);
      const file = bucket.file(name);

      await file.save(data, { resumable: false });

      const [metadata] = await file.getMetadata();
      expect(metadata.name).toBe(name);
      const [back] = await file.download();
      expect(back.toString()).toBe(`content of ${name}`);
      const [files] = await bucket.getFiles({ prefix: name });
      expect(files.map((f) => f.name)).toContain(name);
    },
  );

  test("an object name of 1024 bytes is accepted", async () => {
    const name = "é".repeat(512);
    await bucket.file(name).save("x", { resumable: false });
    const [metadata] = await bucket.file(name).getMetadata();
    expect(metadata.name).toBe(name);
  });

  test("an object name longer than 1024 bytes is refused with 400", async () => {
    const err = await caught(() => bucket.file("a".repeat(1025)).save("x", { resumable: false }));
    expect(err.code).toBe(400);
    expect(err.message).toContain("1024");
  });

  test.each([
    ["a line feed", "bad\nname"],
    ["a carriage return", "bad\rname"],
  ])("an object name with %s is refused with 400", async (_label, name) => {
    const err = await caught(() => bucket.file(name).save("x", { resumable: false }));
    expect(err.code).toBe(400);
    expect(err.message).toContain("Disallowed unicode characters present in object name");
  });

  test.each([".", ".."])("an object named %j is refused with 400", async (name) => {
    const err = await caught(() => bucket.file(name).save("x", { resumable: false }));
    expect(err.code).toBe(400);
  });

  test("a multipart upload whose declared md5Hash is wrong is refused with 400 and stores nothing", async () => {
    const file = bucket.file("checksums/bad-md5");
    const err = await caught(() =>
      file.save("payload", {
        resumable: false,
        validation: false,
        metadata: { md5Hash: md5Base64(Buffer.from("other")) },
      }),
    );
    expect(err.code).toBe(400);
    expect(err.message).toContain("doesn't match calculated MD5 hash");
    expect((await file.exists())[0]).toBe(false);
  });

  test("a multipart upload whose declared crc32c is wrong is refused with 400", async () => {
    const err = await caught(() =>
      bucket
        .file("checksums/bad-crc")
        .save("payload", { resumable: false, validation: false, metadata: { crc32c: "AAAAAA==" } }),
    );
    expect(err.code).toBe(400);
    expect(err.message).toContain("doesn't match calculated CRC32C");
  });

  test("a resumable upload whose declared md5Hash is wrong is refused with 400", async () => {
    const err = await caught(() =>
      bucket.file("checksums/bad-md5-resumable").save("payload", {
        resumable: true,
        validation: false,
        metadata: { md5Hash: md5Base64(Buffer.from("other")) },
      }),
    );
    expect(err.code).toBe(400);
    expect((await bucket.file("checksums/bad-md5-resumable").exists())[0]).toBe(false);
  });

  test("an upload whose declared checksums are right is accepted", async () => {
    const data = Buffer.from("payload");
    const crc = new CRC32C();
    crc.update(data);
    const file = bucket.file("checksums/good");

    await file.save(data, {
      resumable: false,
      metadata: { md5Hash: md5Base64(data), crc32c: crc.toString() },
    });

    const [metadata] = await file.getMetadata();
    expect(metadata.md5Hash).toBe(md5Base64(data));
    expect(metadata.crc32c).toBe(crc.toString());
  });

  test("md5 validation of a resumable upload by the client passes against the emulator's md5Hash", async () => {
    const data = randomBytes(300_000);
    const file = bucket.file("checksums/client-md5");

    await file.save(data, { resumable: true, validation: "md5" });

    const [metadata] = await file.getMetadata();
    expect(metadata.md5Hash).toBe(md5Base64(data));
  });

  test("an upload to a bucket that does not exist fails with 404", async () => {
    const err = await caught(() =>
      h.storage.bucket(bucketName("missing")).file("x").save("x", { resumable: false }),
    );
    expect(err.code).toBe(404);
  });
});
