import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type { Bucket } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bucketName, capturingLogger, type Harness, md5Base64, startHarness } from "./helpers.ts";

const NAMES = ["plain.txt", "ünïcødé/ファイル 🚀", "hash#and?query=1", "100%/%2F", "spaces in/a name "];

describe("fs backend across a restart", () => {
  let h: Harness;
  let bucket: Bucket;
  const contents = new Map<string, Buffer>();
  const before = new Map<string, Record<string, unknown>>();
  let firstGeneration = "";

  beforeAll(async () => {
    // Captured: the notification config below warns that no Pub/Sub emulator is there to deliver it.
    h = await startHarness("fs", { logger: capturingLogger().logger });
    [bucket] = await h.storage.createBucket(bucketName("persist"), {
      versioning: { enabled: true },
      labels: { kept: "yes" },
    });
    for (const name of NAMES) {
      const data = randomBytes(50_000);
      contents.set(name, data);
      await bucket.file(name).save(data, {
        resumable: false,
        metadata: { contentType: "application/x-kept", metadata: { name } },
      });
    }
    await bucket.file("plain.txt").setMetadata({ metadata: { patched: "yes" } });
    await bucket.file("versioned").save("first", { resumable: false });
    firstGeneration = String((await bucket.file("versioned").getMetadata())[0].generation);
    await bucket.file("versioned").save("second", { resumable: false });
    await bucket.createNotification("projects/batchline-test/topics/kept-topic", {
      eventTypes: ["OBJECT_FINALIZE"],
    });
    for (const name of [...NAMES, "versioned"])
      before.set(name, (await bucket.file(name).getMetadata())[0] as Record<string, unknown>);

    await h.restart();
    bucket = h.storage.bucket(bucket.name);
  });
  afterAll(async () => {
    await h.close();
  });

  test("the bucket and its settings are still there", async () => {
    const [m] = await bucket.getMetadata();

    expect(m.versioning).toEqual({ enabled: true });
    expect(m.labels).toEqual({ kept: "yes" });
  });

  test.each(NAMES)("object %j has the same bytes", async (name) => {
    const [data] = await bucket.file(name).download();

    expect(md5Base64(data)).toBe(md5Base64(contents.get(name) as Buffer));
  });

  test.each(NAMES)("object %j has the same metadata, generation and metageneration", async (name) => {
    const [m] = await bucket.file(name).getMetadata();

    expect(m).toEqual(before.get(name));
  });

  test("notification configs are still there", async () => {
    const [configs] = await bucket.getNotifications();

    expect(configs.map((c) => [c.metadata.topic, c.metadata.event_types])).toEqual([
      ["//pubsub.googleapis.com/projects/batchline-test/topics/kept-topic", ["OBJECT_FINALIZE"]],
    ]);
  });

  test("noncurrent generations are still listed and readable", async () => {
    const [files] = await bucket.getFiles({ versions: true, prefix: "versioned" });
    const [old] = await bucket.file("versioned", { generation: Number(firstGeneration) }).download();

    expect(files.map((f) => f.name)).toEqual(["versioned", "versioned"]);
    expect(old.toString()).toBe("first");
  });

  test("a write after the restart gets a generation above every earlier one", async () => {
    await bucket.file("after-restart").save("new", { resumable: false });

    const [m] = await bucket.file("after-restart").getMetadata();
    const earlier = [...before.values()].map((b) => BigInt(String(b.generation)));
    expect(earlier.every((g) => BigInt(String(m.generation)) > g)).toBe(true);
  });
});

describe("a resumable upload across a restart of the fs backend", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness("fs");
  });
  afterAll(async () => {
    await h.close();
  });

  test("continues on the same session URI after the emulator restarts", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("resume-restart"));
    const data = randomBytes(3 * 1024 * 1024);
    const file = bucket.file("big.bin");
    const [uri] = await file.createResumableUpload();
    await pipeline(
      async function* () {
        yield data.subarray(0, 1024 * 1024);
      },
      file.createWriteStream({ uri, chunkSize: 256 * 1024, isPartialUpload: true, validation: false }),
    );

    await h.restart();
    const again = h.storage.bucket(bucket.name).file("big.bin");
    await pipeline(
      async function* () {
        yield data;
      },
      again.createWriteStream({ uri, chunkSize: 1024 * 1024 }),
    );

    const [back] = await again.download();
    expect(md5Base64(back)).toBe(md5Base64(data));
  });
});

describe("memory backend across a restart", () => {
  test("starts empty", async () => {
    const h = await startHarness("memory");
    try {
      const name = bucketName("forgotten");
      await h.storage.createBucket(name);

      await h.restart();

      expect((await h.storage.bucket(name).exists())[0]).toBe(false);
    } finally {
      await h.close();
    }
  });
});
