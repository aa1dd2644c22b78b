import { randomBytes } from "node:crypto";
import { type Bucket, CRC32C } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BACKENDS, bucketName, caught, type Harness, md5Base64, startHarness } from "./helpers.ts";

function crc32cOf(data: Buffer): string {
  const crc = new CRC32C();
  crc.update(data);
  return crc.toString();
}

describe.each(BACKENDS)("objects (%s backend)", (backend) => {
  let h: Harness;
  let bucket: Bucket;
  const data = randomBytes(100_000);

  beforeAll(async () => {
    h = await startHarness(backend);
    [bucket] = await h.storage.createBucket(bucketName("objects"));
    await bucket.file("data.bin").save(data, { resumable: false, contentType: "application/x-data" });
  });
  afterAll(async () => {
    await h.close();
  });

  describe("metadata", () => {
    test("an upload's contentType, cacheControl and custom metadata are returned by getMetadata", async () => {
      const file = bucket.file("meta/with-fields.json");

      await file.save('{"a":1}', {
        resumable: false,
        metadata: {
          contentType: "application/json",
          cacheControl: "no-cache",
          metadata: { owner: "team-a", run: "42" },
        },
      });

      const [m] = await file.getMetadata();
      expect(m).toMatchObject({
        contentType: "application/json",
        cacheControl: "no-cache",
        metadata: { owner: "team-a", run: "42" },
        metageneration: "1",
        storageClass: "STANDARD",
      });
    });

    test("md5Hash and crc32c match the ones computed locally", async () => {
      const [m] = await bucket.file("data.bin").getMetadata();

      expect(m.md5Hash).toBe(md5Base64(data));
      expect(m.crc32c).toBe(crc32cOf(data));
    });

    test("setMetadata merges custom metadata, removes keys set to null and bumps metageneration", async () => {
      const file = bucket.file("meta/patched");
      await file.save("x", { resumable: false, metadata: { metadata: { keep: "1", drop: "2" } } });

      await file.setMetadata({ contentType: "text/csv", metadata: { drop: null, add: "3" } });

      const [m] = await file.getMetadata();
      expect(m.contentType).toBe("text/csv");
      expect(m.metadata).toEqual({ keep: "1", add: "3" });
      expect(m.metageneration).toBe("2");
    });

    test("setMetadata keeps the generation and the bytes", async () => {
      const file = bucket.file("meta/same-bytes");
      await file.save("bytes", { resumable: false });
      const [before] = await file.getMetadata();

      await file.setMetadata({ metadata: { k: "v" } });

      const [after] = await file.getMetadata();
      expect(after.generation).toBe(before.generation);
      expect((await file.download())[0].toString()).toBe("bytes");
    });

    test("the etag changes when the metadata changes", async () => {
      const file = bucket.file("meta/etag");
      await file.save("x", { resumable: false });
      const [before] = await file.getMetadata();

      await file.setMetadata({ metadata: { k: "v" } });

      const [after] = await file.getMetadata();
      expect(after.etag).not.toBe(before.etag);
    });

    test("an object without a declared contentType gets the type the client guessed from its name", async () => {
      const file = bucket.file("meta/guessed.html");
      await file.save("<p>", { resumable: false });

      const [m] = await file.getMetadata();

      expect(m.contentType).toBe("text/html");
    });
  });

  describe("downloads", () => {
    test("a ranged read returns exactly the requested bytes", async () => {
      const [part] = await bucket.file("data.bin").download({ start: 1000, end: 1999 });

      expect(part.equals(data.subarray(1000, 2000))).toBe(true);
    });

    test("a ranged read gets 206 with Content-Range", async () => {
      const response = await new Promise<{ statusCode: number; headers: Record<string, string> }>(
        (resolve, reject) => {
          bucket
            .file("data.bin")
            .createReadStream({ start: 10, end: 19 })
            .on("response", resolve)
            .on("error", reject)
            .resume();
        },
      );

      expect(response.statusCode).toBe(206);
      expect(response.headers["content-range"]).toBe(`bytes 10-19/${data.length}`);
    });

    test("a range that runs past the end is cut at the end", async () => {
      const [part] = await bucket
        .file("data.bin")
        .download({ start: data.length - 10, end: data.length + 500 });

      expect(part.equals(data.subarray(data.length - 10))).toBe(true);
    });

    test("a range starting past the end fails with 416", async () => {
      const err = await caught(() =>
        bucket.file("data.bin").download({ start: data.length + 1, end: data.length + 10 }),
      );

      expect(err.code).toBe(416);
    });

    test("a full download is validated by the client against the emulator's x-goog-hash", async () => {
      const [back] = await bucket.file("data.bin").download({ validation: "crc32c" });

      expect(back.equals(data)).toBe(true);
    });

    test("a gzip-encoded object is served as stored to a client that accepts gzip, and decompressed by it", async () => {
      const file = bucket.file("gz/text.txt");
      await file.save("compress me ".repeat(100), {
        resumable: false,
        gzip: true,
        contentType: "text/plain",
      });

      const [m] = await file.getMetadata();
      const [back] = await file.download();

      expect(m.contentEncoding).toBe("gzip");
      expect(back.toString()).toBe("compress me ".repeat(100));
    });

    test("the XML-style GET /bucket/object path serves the object (isPublic() reads through it)", async () => {
      const [isPublic] = await bucket.file("data.bin").isPublic();

      expect(isPublic).toBe(true);
    });

    test("the XML-style path answers 404 for an object that does not exist", async () => {
      const err = await caught(() => bucket.file("nope/xml-missing").isPublic());

      expect(err.code).toBe(404);
    });

    test("a download of an object that does not exist fails with 404", async () => {
      const err = await caught(() => bucket.file("nope/missing.bin").download());

      expect(err.code).toBe(404);
    });
  });

  describe("copy and rewrite", () => {
    test("copy within a bucket gives the destination the source's bytes, type and metadata", async () => {
      const dest = bucket.file("copies/same-bucket.bin");

      await bucket.file("data.bin").copy(dest);

      const [m] = await dest.getMetadata();
      expect(m.contentType).toBe("application/x-data");
      expect(m.md5Hash).toBe(md5Base64(data));
      expect((await dest.download())[0].equals(data)).toBe(true);
    });

    test("copy to another bucket works and leaves the source in place", async () => {
      const [other] = await h.storage.createBucket(bucketName("copy-target"));

      await bucket.file("data.bin").copy(other.file("elsewhere.bin"));

      expect((await other.file("elsewhere.bin").download())[0].equals(data)).toBe(true);
      expect((await bucket.file("data.bin").exists())[0]).toBe(true);
    });

    test("copy with new metadata replaces the fields it names", async () => {
      const dest = bucket.file("copies/retyped.bin");

      await bucket
        .file("data.bin")
        .copy(dest, { contentType: "application/octet-stream", metadata: { copied: "true" } });

      const [m] = await dest.getMetadata();
      expect(m.contentType).toBe("application/octet-stream");
      expect(m.metadata).toEqual({ copied: "true" });
    });

    test("a copy's destination is a new object with its own generation", async () => {
      const dest = bucket.file("copies/generation.bin");
      const [src] = await bucket.file("data.bin").getMetadata();

      await bucket.file("data.bin").copy(dest);

      const [m] = await dest.getMetadata();
      expect(BigInt(String(m.generation)) > BigInt(String(src.generation))).toBe(true);
      expect(m.metageneration).toBe("1");
    });

    test("a rewrite limited by maxBytesRewrittenPerCall answers with tokens until done", async () => {
      const dest = bucket.file("copies/in-steps.bin");
      const uri = `/o/data.bin/rewriteTo/b/${bucket.name}/o/${encodeURIComponent(dest.name)}`;
      const steps: Array<{ done: boolean; totalBytesRewritten: string }> = [];
      let token: string | undefined;
      for (;;) {
        const [body] = (await bucket.request({
          method: "POST",
          uri,
          qs: { maxBytesRewrittenPerCall: 40_000, ...(token ? { rewriteToken: token } : {}) },
          json: {},
        })) as unknown as [{ done: boolean; totalBytesRewritten: string; rewriteToken?: string }];
        steps.push({ done: body.done, totalBytesRewritten: body.totalBytesRewritten });
        if (body.done) break;
        token = body.rewriteToken;
      }

      expect(steps).toEqual([
        { done: false, totalBytesRewritten: "40000" },
        { done: false, totalBytesRewritten: "80000" },
        { done: true, totalBytesRewritten: "100000" },
      ]);
      expect((await dest.download())[0].equals(data)).toBe(true);
    });

    test("copying an object that does not exist fails with 404", async () => {
      const err = await caught(() => bucket.file("nope/source").copy(bucket.file("copies/never")));

      expect(err.code).toBe(404);
    });
  });

  describe("compose", () => {
    test("compose concatenates the sources in order", async () => {
      const parts = ["one-", "two-", "three"];
      for (const [i, p] of parts.entries())
        await bucket.file(`compose/part-${i}`).save(p, { resumable: false });

      await bucket.combine(
        parts.map((_, i) => `compose/part-${i}`),
        "compose/whole.txt",
      );

      expect((await bucket.file("compose/whole.txt").download())[0].toString()).toBe("one-two-three");
    });

    test("a composite object has a crc32c of its bytes, a componentCount and no md5Hash", async () => {
      await bucket.combine(["data.bin", "data.bin"], "compose/double.bin");

      const [m] = await bucket.file("compose/double.bin").getMetadata();

      expect(m.crc32c).toBe(crc32cOf(Buffer.concat([data, data])));
      expect(m.componentCount).toBe(2);
      expect(m.md5Hash).toBeUndefined();
    });

    test("composing composites adds up their component counts", async () => {
      await bucket.combine(["data.bin", "data.bin"], "compose/c2.bin");
      await bucket.combine(["compose/c2.bin", "compose/c2.bin", "data.bin"], "compose/c5.bin");

      const [m] = await bucket.file("compose/c5.bin").getMetadata();

      expect(m.componentCount).toBe(5);
      expect(m.size).toBe(String(5 * data.length));
    });

    test("compose with more than 32 sources fails with 400", async () => {
      const err = await caught(() =>
        bucket.combine(
          Array.from({ length: 33 }, () => "data.bin"),
          "compose/too-many",
        ),
      );

      expect(err.code).toBe(400);
    });

    test("compose with a missing source fails with 404", async () => {
      const err = await caught(() => bucket.combine(["data.bin", "compose/not-there"], "compose/broken"));

      expect(err.code).toBe(404);
    });
  });

  describe("move", () => {
    test("moveFileAtomic gives the new name the bytes and removes the old name", async () => {
      const from = bucket.file("move/from.txt");
      await from.save("moving", { resumable: false, contentType: "text/plain" });

      await from.moveFileAtomic("move/to.txt");

      expect((await from.exists())[0]).toBe(false);
      const [m] = await bucket.file("move/to.txt").getMetadata();
      expect(m.contentType).toBe("text/plain");
      expect((await bucket.file("move/to.txt").download())[0].toString()).toBe("moving");
    });
  });

  describe("holds", () => {
    test("an object under a temporary hold cannot be deleted (403) until the hold is released", async () => {
      const file = bucket.file("holds/held");
      await file.save("x", { resumable: false });
      await file.setMetadata({ temporaryHold: true });

      const err = await caught(() => file.delete());
      await file.setMetadata({ temporaryHold: false });
      await file.delete();

      expect(err.code).toBe(403);
      expect((await file.exists())[0]).toBe(false);
    });
  });

  describe("delete", () => {
    test("a deleted object is gone", async () => {
      const file = bucket.file("delete/me");
      await file.save("x", { resumable: false });

      await file.delete();

      expect((await file.exists())[0]).toBe(false);
    });

    test("deleting an object that does not exist fails with 404", async () => {
      const err = await caught(() => bucket.file("delete/never-was").delete());

      expect(err.code).toBe(404);
      expect(err.message).toBe(`No such object: ${bucket.name}/delete/never-was`);
    });

    test("getMetadata of an object that does not exist fails with 404", async () => {
      expect((await caught(() => bucket.file("nope/meta").getMetadata())).code).toBe(404);
    });
  });

  describe("versioning", () => {
    test("overwriting in a versioned bucket keeps the old generation readable", async () => {
      const [versioned] = await h.storage.createBucket(bucketName("versioned"), {
        versioning: { enabled: true },
      });
      await versioned.file("v").save("first", { resumable: false });
      const [first] = await versioned.file("v").getMetadata();
      await versioned.file("v").save("second", { resumable: false });

      const [old] = await versioned.file("v", { generation: Number(first.generation) }).download();
      const [current] = await versioned.file("v").download();

      expect(old.toString()).toBe("first");
      expect(current.toString()).toBe("second");
    });

    test("overwriting in an unversioned bucket drops the old generation", async () => {
      const file = bucket.file("versions/unkept");
      await file.save("first", { resumable: false });
      const [first] = await file.getMetadata();
      await file.save("second", { resumable: false });

      const err = await caught(() =>
        bucket.file(file.name, { generation: Number(first.generation) }).download(),
      );

      expect(err.code).toBe(404);
    });

    test("deleting the live object of a versioned bucket keeps it as a noncurrent version", async () => {
      const [versioned] = await h.storage.createBucket(bucketName("versioned"), {
        versioning: { enabled: true },
      });
      await versioned.file("d").save("kept", { resumable: false });
      const [m] = await versioned.file("d").getMetadata();

      await versioned.file("d").delete();

      expect((await versioned.file("d").exists())[0]).toBe(false);
      const [old] = await versioned.file("d", { generation: Number(m.generation) }).download();
      expect(old.toString()).toBe("kept");
    });

    test("deleting a generation of a versioned bucket removes it for good", async () => {
      const [versioned] = await h.storage.createBucket(bucketName("versioned"), {
        versioning: { enabled: true },
      });
      await versioned.file("g").save("one", { resumable: false });
      const [m] = await versioned.file("g").getMetadata();

      await versioned.file("g", { generation: Number(m.generation) }).delete();

      const [files] = await versioned.getFiles({ versions: true });
      expect(files).toEqual([]);
    });
  });
});

describe.each(BACKENDS)("buckets (%s backend)", (backend) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(backend);
  });
  afterAll(async () => {
    await h.close();
  });

  test("a created bucket can be fetched with its settings", async () => {
    const name = bucketName("settings");

    await h.storage.createBucket(name, {
      location: "EU",
      storageClass: "NEARLINE",
      versioning: { enabled: true },
      labels: { team: "a" },
    });

    const [m] = await h.storage.bucket(name).getMetadata();
    expect(m).toMatchObject({
      name,
      location: "EU",
      storageClass: "NEARLINE",
      versioning: { enabled: true },
      labels: { team: "a" },
    });
  });

  test("getBuckets lists the project's buckets", async () => {
    const names = [bucketName("list-a"), bucketName("list-b")];
    for (const n of names) await h.storage.createBucket(n);

    const [buckets] = await h.storage.getBuckets();

    expect(buckets.map((b) => b.name)).toEqual(expect.arrayContaining(names));
  });

  test("creating a bucket that exists fails with 409", async () => {
    const name = bucketName("twice");
    await h.storage.createBucket(name);

    const err = await caught(() => h.storage.createBucket(name));

    expect(err.code).toBe(409);
  });

  test("deleting a bucket that still has objects fails with 409", async () => {
    const [b] = await h.storage.createBucket(bucketName("full"));
    await b.file("x").save("x", { resumable: false });

    const err = await caught(() => b.delete());

    expect(err.code).toBe(409);
    expect(err.message).toBe("The bucket you tried to delete is not empty.");
  });

  test("deleting an empty bucket removes it", async () => {
    const [b] = await h.storage.createBucket(bucketName("empty"));

    await b.delete();

    expect((await b.exists())[0]).toBe(false);
  });

  test("getting a bucket that does not exist fails with 404", async () => {
    const err = await caught(() => h.storage.bucket(bucketName("absent")).getMetadata());

    expect(err.code).toBe(404);
    expect(err.message).toBe("The specified bucket does not exist.");
  });

  test("deleting a bucket that does not exist fails with 404", async () => {
    expect((await caught(() => h.storage.bucket(bucketName("absent")).delete())).code).toBe(404);
  });

  test("an invalid bucket name is refused with 400", async () => {
    const err = await caught(() => h.storage.createBucket("Invalid_Name!"));

    expect(err.code).toBe(400);
  });

  test("turning versioning on with setMetadata bumps the bucket's metageneration", async () => {
    const [b] = await h.storage.createBucket(bucketName("toggle"));

    await b.setMetadata({ versioning: { enabled: true } });

    const [m] = await b.getMetadata();
    expect(m.versioning).toEqual({ enabled: true });
    expect(m.metageneration).toBe("2");
  });
});
