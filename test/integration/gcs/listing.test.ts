import type { Bucket, File, GetFilesOptions } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { BACKENDS, bucketName, caught, type Harness, startHarness } from "./helpers.ts";

const MANY = 2500;

/** Uploads `names` with a few requests in flight at a time. */
async function uploadAll(bucket: Bucket, names: string[], concurrency = 24): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++] as string;
      await bucket.file(name).save(name, { resumable: false, validation: false });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** One page: the files, the prefixes, and the token of the next page. */
async function page(
  bucket: Bucket,
  query: GetFilesOptions,
): Promise<{ names: string[]; prefixes: string[]; next?: string }> {
  const [files, nextQuery, response] = await bucket.getFiles({ ...query, autoPaginate: false });
  const body = response as { prefixes?: string[] };
  const out: { names: string[]; prefixes: string[]; next?: string } = {
    names: files.map((f: File) => f.name),
    prefixes: body.prefixes ?? [],
  };
  const token = (nextQuery as { pageToken?: string } | null)?.pageToken;
  if (token) out.next = token;
  return out;
}

/** Every page of a listing, following page tokens by hand. */
async function allPages(
  bucket: Bucket,
  query: GetFilesOptions,
): Promise<Array<{ names: string[]; prefixes: string[] }>> {
  const pages: Array<{ names: string[]; prefixes: string[] }> = [];
  let token: string | undefined;
  do {
    const p = await page(bucket, { ...query, ...(token ? { pageToken: token } : {}) });
    pages.push({ names: p.names, prefixes: p.prefixes });
    token = p.next;
  } while (token);
  return pages;
}

const manyNames = Array.from({ length: MANY }, (_, i) => `many/obj-${String(i).padStart(5, "0")}`);
const treeNames = [
  "tree/a.txt",
  "tree/b.json",
  "tree/dir1/",
  "tree/dir1/x.txt",
  "tree/dir1/sub/y.txt",
  "tree/dir2/z.txt",
  "tree/dir2/deep/er/w.txt",
  "tree/e.txt",
  "tree/f/",
  "tree/日本/ファイル.txt",
];

describe.each(BACKENDS)("listing (%s backend)", (backend) => {
  let h: Harness;
  let bucket: Bucket;

  beforeAll(async () => {
    h = await startHarness(backend);
    [bucket] = await h.storage.createBucket(bucketName("listing"));
    await uploadAll(bucket, [...manyNames, ...treeNames]);
  });
  afterAll(async () => {
    await h.close();
  });

  test("2,500 objects come back in pages of at most maxResults, in name order, each exactly once", async () => {
    const pages = await allPages(bucket, { prefix: "many/", maxResults: 1000 });

    expect(pages.map((p) => p.names.length)).toEqual([1000, 1000, 500]);
    expect(pages.flatMap((p) => p.names)).toEqual(manyNames);
  });

  test("maxResults larger than 1,000 is capped at 1,000 per page", async () => {
    const first = await page(bucket, { prefix: "many/", maxResults: 5000 });

    expect(first.names).toHaveLength(1000);
    expect(first.next).toBeDefined();
  });

  test("autoPaginate returns all 2,500 objects", async () => {
    const [files] = await bucket.getFiles({ prefix: "many/" });

    expect(files.map((f) => f.name)).toEqual(manyNames);
  });

  test("a page token continues exactly after the previous page", async () => {
    const first = await page(bucket, { prefix: "many/", maxResults: 7 });
    const second = await page(bucket, { prefix: "many/", maxResults: 7, pageToken: first.next as string });

    expect(first.names).toEqual(manyNames.slice(0, 7));
    expect(second.names).toEqual(manyNames.slice(7, 14));
  });

  test("the last page has no next page token", async () => {
    const last = await page(bucket, { prefix: "many/", maxResults: 1000, startOffset: "many/obj-02000" });

    expect(last.names).toHaveLength(500);
    expect(last.next).toBeUndefined();
  });

  test("a page token the emulator did not issue is refused with 400", async () => {
    const err = await caught(() =>
      bucket.getFiles({ prefix: "many/", pageToken: "not-a-token", autoPaginate: false }),
    );
    expect(err.code).toBe(400);
  });

  test("delimiter '/' returns the direct children as items and the subdirectories as prefixes", async () => {
    const p = await page(bucket, { prefix: "tree/", delimiter: "/" });

    expect(p.names).toEqual(["tree/a.txt", "tree/b.json", "tree/e.txt"]);
    expect(p.prefixes).toEqual(["tree/dir1/", "tree/dir2/", "tree/f/", "tree/日本/"]);
  });

  test("delimiter listing at the bucket root collapses everything into top-level prefixes", async () => {
    const p = await page(bucket, { delimiter: "/" });

    expect(p.names).toEqual([]);
    expect(p.prefixes).toEqual(["many/", "tree/"]);
  });

  test("maxResults counts prefixes and items together, and paging keeps each prefix once", async () => {
    const pages = await allPages(bucket, { prefix: "tree/", delimiter: "/", maxResults: 2 });

    expect(pages.map((p) => p.names.length + p.prefixes.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flatMap((p) => p.names)).toEqual(["tree/a.txt", "tree/b.json", "tree/e.txt"]);
    expect(pages.flatMap((p) => p.prefixes)).toEqual(["tree/dir1/", "tree/dir2/", "tree/f/", "tree/日本/"]);
  });

  test("includeTrailingDelimiter also returns objects whose names end in the delimiter", async () => {
    const p = await page(bucket, { prefix: "tree/", delimiter: "/", includeTrailingDelimiter: true });

    expect(p.names).toEqual(["tree/a.txt", "tree/b.json", "tree/dir1/", "tree/e.txt", "tree/f/"]);
    expect(p.prefixes).toEqual(["tree/dir1/", "tree/dir2/", "tree/f/", "tree/日本/"]);
  });

  test("startOffset is inclusive and endOffset exclusive", async () => {
    const p = await page(bucket, { startOffset: "many/obj-00010", endOffset: "many/obj-00015" });

    expect(p.names).toEqual(manyNames.slice(10, 15));
  });

  test("startOffset and endOffset combine with prefix and delimiter", async () => {
    const p = await page(bucket, {
      prefix: "tree/",
      delimiter: "/",
      startOffset: "tree/b",
      endOffset: "tree/e",
    });

    expect(p.names).toEqual(["tree/b.json"]);
    expect(p.prefixes).toEqual(["tree/dir1/", "tree/dir2/"]);
  });

  test("matchGlob '*' does not cross '/'", async () => {
    const p = await page(bucket, { matchGlob: "tree/*.txt" });

    expect(p.names).toEqual(["tree/a.txt", "tree/e.txt"]);
  });

  test("matchGlob '**' crosses '/' and '**/' matches zero or more directories", async () => {
    const p = await page(bucket, { matchGlob: "tree/**/*.txt" });

    expect(p.names).toEqual([
      "tree/a.txt",
      "tree/dir1/sub/y.txt",
      "tree/dir1/x.txt",
      "tree/dir2/deep/er/w.txt",
      "tree/dir2/z.txt",
      "tree/e.txt",
      "tree/日本/ファイル.txt",
    ]);
  });

  test("matchGlob supports '?', character classes and alternatives", async () => {
    const p = await page(bucket, { matchGlob: "{tree/[ab].*,many/obj-0000?}" });

    expect(p.names).toEqual([...manyNames.slice(0, 10), "tree/a.txt", "tree/b.json"]);
  });

  test("matchGlob with a delimiter only reports prefixes that hold a match", async () => {
    const p = await page(bucket, { prefix: "tree/", delimiter: "/", matchGlob: "**/*.json" });

    expect(p.names).toEqual(["tree/b.json"]);
    expect(p.prefixes).toEqual([]);
  });

  test("listing a bucket that does not exist fails with 404", async () => {
    const err = await caught(() => h.storage.bucket(bucketName("nope")).getFiles());
    expect(err.code).toBe(404);
  });
});

describe.each(BACKENDS)("listing versions (%s backend)", (backend) => {
  let h: Harness;
  let bucket: Bucket;
  const generations: string[] = [];

  beforeAll(async () => {
    h = await startHarness(backend);
    [bucket] = await h.storage.createBucket(bucketName("versions"), { versioning: { enabled: true } });
    for (const content of ["v1", "v2", "v3"]) {
      await bucket.file("doc.txt").save(content, { resumable: false });
      const [m] = await bucket.file("doc.txt").getMetadata();
      generations.push(String(m.generation));
    }
    await bucket.file("other.txt").save("other", { resumable: false });
    await bucket.file("gone.txt").save("gone", { resumable: false });
    await bucket.file("gone.txt").delete();
  });
  afterAll(async () => {
    await h.close();
  });

  test("without versions only live objects are listed", async () => {
    const p = await page(bucket, {});

    expect(p.names).toEqual(["doc.txt", "other.txt"]);
  });

  test("versions=true lists every generation, oldest first within a name, noncurrent ones with timeDeleted", async () => {
    const [files] = await bucket.getFiles({ versions: true });

    expect(files.map((f) => [f.name, String(f.metadata.generation)])).toEqual([
      ["doc.txt", generations[0]],
      ["doc.txt", generations[1]],
      ["doc.txt", generations[2]],
      ["gone.txt", expect.any(String)],
      ["other.txt", expect.any(String)],
    ]);
    expect(files.map((f) => f.metadata.timeDeleted !== undefined)).toEqual([true, true, false, true, false]);
  });

  test("versions=true pages split between generations of one name without losing any", async () => {
    const pages = await allPages(bucket, { versions: true, maxResults: 2 });

    expect(pages.map((p) => p.names)).toEqual([
      ["doc.txt", "doc.txt"],
      ["doc.txt", "gone.txt"],
      ["other.txt"],
    ]);
  });

  test("a noncurrent generation can be read by its generation number", async () => {
    const [content] = await bucket.file("doc.txt", { generation: Number(generations[0]) }).download();

    expect(content.toString()).toBe("v1");
  });

  test("generations are int64 decimal strings that increase with each write", async () => {
    expect(generations.every((g) => /^\d{16}$/.test(g))).toBe(true);
    const sorted = [...generations].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    expect(sorted).toEqual(generations);
    expect(new Set(generations).size).toBe(3);
  });
});
