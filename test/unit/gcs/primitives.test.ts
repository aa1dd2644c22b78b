import { randomBytes } from "node:crypto";
import { CRC32C } from "@google-cloud/storage";
import { describe, expect, test } from "vitest";
import { crc32c, crc32cFromBase64, crc32cToBase64, crc32cUpdate } from "../../../core/crc32c.ts";
import { GcsError } from "../../../local/gcs/errors.ts";
import { GenerationClock } from "../../../local/gcs/generation.ts";
import { compileGlob } from "../../../local/gcs/glob.ts";
import { validateBucketName, validateObjectName } from "../../../local/gcs/names.ts";
import { compareNames } from "../../../local/gcs/order.ts";
import { checkPreconditions, parsePreconditions } from "../../../local/gcs/preconditions.ts";
import { parseRange } from "../../../local/gcs/range.ts";
import { objectEtag } from "../../../local/gcs/resources.ts";
import { parseRoute } from "../../../local/gcs/routes.ts";
import { thrownBy } from "../../support/thrown.ts";

describe("crc32c", () => {
  test("matches the standard check value for '123456789'", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  test("agrees with the Node client's implementation on random data of every length mod 8", () => {
    for (let len = 0; len < 40; len++) {
      const data = randomBytes(1000 + len).subarray(len % 5);
      const theirs = new CRC32C();
      theirs.update(data);
      expect(crc32cToBase64(crc32c(data))).toBe(theirs.toString());
    }
  });

  test("is the same computed in pieces as in one go", () => {
    const data = randomBytes(10_007);
    let running = 0;
    for (let i = 0; i < data.length; i += 333) running = crc32cUpdate(running, data.subarray(i, i + 333));

    expect(running).toBe(crc32c(data));
  });

  test("base64 rendering is big-endian and round-trips", () => {
    expect(crc32cToBase64(0xe3069283)).toBe(Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString("base64"));
    expect(crc32cFromBase64(crc32cToBase64(0x01020304))).toBe(0x01020304);
    expect(crc32cFromBase64("not base64 of 4 bytes")).toBeUndefined();
  });
});

describe("parseRange", () => {
  test.each([
    ["bytes=0-9", 100, { start: 0, end: 9 }],
    ["bytes=90-", 100, { start: 90, end: 99 }],
    ["bytes=-10", 100, { start: 90, end: 99 }],
    ["bytes=-1000", 100, { start: 0, end: 99 }],
    ["bytes=95-200", 100, { start: 95, end: 99 }],
  ])("%s of %i bytes is %o", (header, size, range) => {
    expect(parseRange(header, size)).toEqual(range);
  });

  test.each([
    ["bytes=100-", 100],
    ["bytes=150-160", 100],
    ["bytes=-0", 100],
    ["bytes=0-", 0],
  ])("%s of %i bytes is 416 with Content-Range bytes */size", (header, size) => {
    const err = thrownBy(GcsError, () => parseRange(header, size));
    expect(err.status).toBe(416);
    expect(err.headers["content-range"]).toBe(`bytes */${size}`);
  });

  test.each(["items=0-1", "bytes=5-2", "bytes=0-1,5-6", "garbage"])(
    "%s is ignored (whole object)",
    (header) => {
      expect(parseRange(header, 100)).toBeUndefined();
    },
  );
});

describe("compileGlob", () => {
  test.each([
    ["*.txt", "a.txt", true],
    ["*.txt", "dir/a.txt", false],
    ["**.txt", "dir/a.txt", true],
    ["a/**/b", "a/b", true],
    ["a/**/b", "a/x/y/b", true],
    ["a/**/b", "ab", false],
    ["?.txt", "a.txt", true],
    ["?.txt", "/.txt", false],
    ["[a-c]1", "b1", true],
    ["[!a-c]1", "b1", false],
    ["[!a-c]1", "d1", true],
    ["{x,y}/z", "y/z", true],
    ["{x,y}/z", "w/z", false],
    ["lit\\*", "lit*", true],
    ["lit\\*", "litx", false],
    ["a.b", "aXb", false],
    ["(a)+", "(a)+", true],
  ])("%s matches %s: %s", (glob, name, expected) => {
    expect(compileGlob(glob).test(name)).toBe(expected);
  });

  test.each(["{a,b", "[abc", "trailing\\"])("%s is refused with 400", (glob) => {
    expect(thrownBy(GcsError, () => compileGlob(glob)).status).toBe(400);
  });
});

describe("compareNames", () => {
  test("orders by code point, as GCS orders by UTF-8 bytes", () => {
    const names = ["\u{1F680}", "\uFFFD", "z", "a/b", "a", "é"];
    const byUtf8 = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

    expect([...names].sort(compareNames)).toEqual(byUtf8);
  });
});

describe("object and bucket names", () => {
  test.each(["a", "dir/file.txt", "sp ace", "#?%&", "ユニコード", "é".repeat(512)])(
    "%j is a valid object name",
    (name) => {
      expect(() => validateObjectName(name)).not.toThrow();
    },
  );

  test.each([
    ["", 400],
    [".", 400],
    ["..", 400],
    ["a\nb", 400],
    ["a\rb", 400],
    ["x".repeat(1025), 400],
    ["é".repeat(513), 400],
  ])("%j is refused with %i", (name, status) => {
    expect(thrownBy(GcsError, () => validateObjectName(name)).status).toBe(status);
  });

  test.each(["abc", "my-bucket_1", "a.b.c", "x".repeat(63)])("%s is a valid bucket name", (name) => {
    expect(() => validateBucketName(name)).not.toThrow();
  });

  test.each([
    "ab",
    "Upper",
    "-start",
    "end-",
    "x".repeat(64),
    "192.168.1.1",
    "goog-bucket",
    "my-google-bucket",
    "a..b",
  ])("%s is refused as a bucket name", (name) => {
    const err = thrownBy(GcsError, () => validateBucketName(name));
    expect(err.status).toBe(400);
    expect(err.message).toBe(`Invalid bucket name: '${name}'`);
  });
});

describe("preconditions", () => {
  const target = { generation: 5, metageneration: 2 };

  test("ifGenerationMatch=0 holds only for an absent object", () => {
    expect(() => checkPreconditions({ ifGenerationMatch: 0 }, undefined, "write")).not.toThrow();
    expect(
      thrownBy(GcsError, () => checkPreconditions({ ifGenerationMatch: 0 }, target, "write")).status,
    ).toBe(412);
  });

  test("a failed NotMatch is 304 on a read and 412 on a write", () => {
    expect(
      thrownBy(GcsError, () => checkPreconditions({ ifGenerationNotMatch: 5 }, target, "read")).status,
    ).toBe(304);
    expect(
      thrownBy(GcsError, () => checkPreconditions({ ifMetagenerationNotMatch: 2 }, target, "read")).status,
    ).toBe(304);
    expect(
      thrownBy(GcsError, () => checkPreconditions({ ifGenerationNotMatch: 5 }, target, "write")).status,
    ).toBe(412);
  });

  test("ifMetagenerationMatch fails for an absent object", () => {
    expect(
      thrownBy(GcsError, () => checkPreconditions({ ifMetagenerationMatch: 1 }, undefined, "write")).status,
    ).toBe(412);
  });

  test("parsePreconditions reads the source family separately and treats blanks as absent", () => {
    const q = new URLSearchParams(
      "ifGenerationMatch=7&ifSourceMetagenerationNotMatch=3&ifMetagenerationMatch=",
    );

    expect(parsePreconditions(q)).toEqual({ ifGenerationMatch: 7 });
    expect(parsePreconditions(q, "source")).toEqual({ ifMetagenerationNotMatch: 3 });
  });

  test("a non-numeric precondition is refused with 400", () => {
    expect(
      thrownBy(GcsError, () => parsePreconditions(new URLSearchParams("ifGenerationMatch=abc"))).status,
    ).toBe(400);
  });
});

describe("GenerationClock", () => {
  test("hands out strictly increasing microsecond generations, above anything observed", () => {
    const clock = new GenerationClock();
    const future = (Date.now() + 60_000) * 1000;
    clock.observe(future);
    const generations = Array.from({ length: 1000 }, () => clock.next());

    expect(generations[0]).toBe(future + 1);
    expect(generations.every((g, i) => i === 0 || g > (generations[i - 1] as number))).toBe(true);
  });

  test("is close to the wall clock in microseconds", () => {
    const g = new GenerationClock().next();

    expect(Math.abs(g / 1000 - Date.now())).toBeLessThan(1000);
  });
});

describe("objectEtag", () => {
  test("encodes generation and metageneration as GCS does (CAE... shape) and changes with either", () => {
    expect(objectEtag(1, 1)).toBe(Buffer.from([0x08, 0x01, 0x10, 0x01]).toString("base64"));
    expect(objectEtag(1700000000000000, 1)).not.toBe(objectEtag(1700000000000000, 2));
  });
});

describe("parseRoute", () => {
  test.each([
    ["/_health", { kind: "health" }],
    ["/storage/v1/b", { kind: "buckets" }],
    ["/b", { kind: "buckets" }],
    ["/storage/v1/b/bkt", { kind: "bucket", bucket: "bkt" }],
    ["/storage/v1/b/bkt/o", { kind: "objects", bucket: "bkt" }],
    ["/storage/v1/b/bkt/o/a%2Fb%20c%23%3F%25", { kind: "object", bucket: "bkt", object: "a/b c#?%" }],
    ["/b/bkt/o/raw/slashes/name", { kind: "object", bucket: "bkt", object: "raw/slashes/name" }],
    [
      "/storage/v1/b/src/o/a%2Fb/rewriteTo/b/dst/o/c%2Fd",
      { kind: "rewrite", bucket: "src", object: "a/b", destBucket: "dst", destObject: "c/d" },
    ],
    [
      "/storage/v1/b/src/o/a/copyTo/b/dst/o/c",
      { kind: "copy", bucket: "src", object: "a", destBucket: "dst", destObject: "c" },
    ],
    ["/storage/v1/b/bkt/o/dest/compose", { kind: "compose", bucket: "bkt", object: "dest" }],
    ["/storage/v1/b/bkt/o/compose", { kind: "object", bucket: "bkt", object: "compose" }],
    ["/storage/v1/b/bkt/notificationConfigs/3", { kind: "notification", bucket: "bkt", id: "3" }],
    ["/upload/storage/v1/b/bkt/o", { kind: "upload", bucket: "bkt" }],
    ["/resumable/upload/storage/v1/b/bkt/o", { kind: "upload", bucket: "bkt" }],
    ["/storage/v1/b/bkt/storageLayout", { kind: "storageLayout", bucket: "bkt" }],
    ["/download/storage/v1/b/bkt/o/x%20y", { kind: "download", bucket: "bkt", object: "x y" }],
    ["/bkt/some%20dir/file", { kind: "xml", bucket: "bkt", object: "some dir/file" }],
    ["/", { kind: "xmlService" }],
    ["/bkt", { kind: "xmlBucket", bucket: "bkt" }],
    ["/bkt/", { kind: "xmlBucket", bucket: "bkt" }],
    ["/storage/v1/nothing", { kind: "unknown" }],
    ["/upload/nothing", { kind: "unknown" }],
  ])("%s", (path, route) => {
    expect(parseRoute(path)).toEqual(route);
  });

  test("a malformed percent-encoding is refused with 400", () => {
    expect(thrownBy(GcsError, () => parseRoute("/storage/v1/b/bkt/o/%E0%A4%A")).status).toBe(400);
  });
});
