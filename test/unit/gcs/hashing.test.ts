import { createHash, randomBytes } from "node:crypto";
import { CRC32C } from "@google-cloud/storage";
import { afterAll, describe, expect, test } from "vitest";
import { HashService, parseGoogHash } from "../../../local/gcs/hashing.ts";

const service = new HashService();
afterAll(async () => {
  await service.close();
});

function expected(data: Buffer): { md5Hash: string; crc32c: string } {
  const crc = new CRC32C();
  crc.update(data);
  return { md5Hash: createHash("md5").update(data).digest("base64"), crc32c: crc.toString() };
}

async function hashInChunks(data: Buffer, chunk: number, svc: HashService = service) {
  const hasher = svc.hasher();
  for (let i = 0; i < data.length; i += chunk) {
    const wait = hasher.update(data.subarray(i, i + chunk));
    if (wait) await wait;
  }
  return { sums: await hasher.digest(), bytes: hasher.bytes };
}

describe("ObjectHasher", () => {
  test.each([
    ["empty", 0, 1],
    ["small, hashed on the request thread", 1000, 100],
    ["exactly one batch", 1024 * 1024, 65536],
    ["several batches in odd chunks", 5 * 1024 * 1024 + 7, 65_521],
    ["more than the in-flight limit in one chunk", 20 * 1024 * 1024 + 3, 20 * 1024 * 1024 + 3],
  ])("%s: md5 and crc32c equal the one-shot values", async (_label, size, chunk) => {
    const data = randomBytes(size);

    const { sums, bytes } = await hashInChunks(data, chunk);

    expect(sums).toEqual(expected(data));
    expect(bytes).toBe(size);
  });

  test("uploads hashed at the same time do not mix", async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => randomBytes(2 * 1024 * 1024 + i * 1000));

    const results = await Promise.all(inputs.map((d, i) => hashInChunks(d, 40_000 + i * 3)));

    expect(results.map((r) => r.sums)).toEqual(inputs.map(expected));
  });

  test("without the MD5 thread the results are the same", async () => {
    const local = new HashService({ offload: false });
    const data = randomBytes(3 * 1024 * 1024 + 5);

    const { sums } = await hashInChunks(data, 70_000, local);

    expect(sums).toEqual(expected(data));
    await local.close();
  });

  test("a disposed hasher leaves the others working", async () => {
    const abandoned = service.hasher();
    await abandoned.update(randomBytes(2 * 1024 * 1024));
    abandoned.dispose();
    const data = randomBytes(2 * 1024 * 1024);

    const { sums } = await hashInChunks(data, 100_000);

    expect(sums).toEqual(expected(data));
  });
});

describe("parseGoogHash", () => {
  test("reads crc32c and md5 from one header or several, ignoring other algorithms", () => {
    expect(parseGoogHash("crc32c=AAAAAA==,md5=abc==")).toEqual({ crc32c: "AAAAAA==", md5: "abc==" });
    expect(parseGoogHash(["crc32c=x", "md5=y", "sha256=z"])).toEqual({ crc32c: "x", md5: "y" });
    expect(parseGoogHash(undefined)).toEqual({});
  });
});
