import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { crc32cToBase64, crc32cUpdate } from "../../../core/crc32c.ts";
import { type GcsEmulator, startGcsEmulator } from "../../../local/gcs/index.ts";
import { tempDir } from "../../support/temp.ts";
import { type CliConfig, findOnPath, googleCliConfig, mustRun } from "./google-cli.ts";
import { quietLogger } from "./helpers.ts";

// The emulator driven by the Google Cloud SDK's own commands, as a user types them: `gcloud storage`
// (JSON API over HTTP), `gsutil` in JSON mode (HTTPS) and in XML mode (the XML API, through the
// emulator's CONNECT tunnel). One emulator and one SDK configuration for the file; each command
// costs a Python start-up, so commands are batched where a user would batch them.

const GCLOUD = findOnPath("gcloud");
const GSUTIL = findOnPath("gsutil");
const PROJECT = "batchline-cli-test";
const MB = 1024 * 1024;

let emulator: GcsEmulator;
let cli: CliConfig;
let work: string;

async function gcloud(args: string[], input?: Buffer) {
  return mustRun(GCLOUD as string, args, cli.gcloud, input);
}

/** The object resource the emulator holds (JSON API), or undefined when there is none. */
async function meta(bucket: string, name: string): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(`${emulator.url}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`);
  if (res.status === 404) return undefined;
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function names(bucket: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  let token = "";
  for (;;) {
    const res = await fetch(
      `${emulator.url}/storage/v1/b/${bucket}/o?prefix=${encodeURIComponent(prefix)}${token ? `&pageToken=${token}` : ""}`,
    );
    const body = (await res.json()) as { items?: Array<{ name: string }>; nextPageToken?: string };
    for (const i of body.items ?? []) out.push(i.name);
    if (!body.nextPageToken) return out;
    token = body.nextPageToken;
  }
}

interface Digests {
  sha256: string;
  md5: string;
  crc32c: string;
}

async function digestsOf(file: string): Promise<Digests> {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  let crc = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MB }) as AsyncIterable<Buffer>) {
    sha.update(chunk);
    md5.update(chunk);
    crc = crc32cUpdate(crc, chunk);
  }
  return { sha256: sha.digest("hex"), md5: md5.digest("base64"), crc32c: crc32cToBase64(crc) };
}

/** Writes `size` random bytes to `file` without holding them all. */
function writeRandom(file: string, size: number): void {
  writeFileSync(file, "");
  for (let done = 0; done < size; done += 8 * MB) {
    writeFileSync(file, randomBytes(Math.min(8 * MB, size - done)), { flag: "a" });
  }
}

/** Every file under `dir`, relative path → sha256. */
function treeOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  walk(dir);
  return out;
}

if (!GCLOUD || !GSUTIL) {
  describe("the Google Cloud SDK's commands against the emulator", () => {
    test("are not run: the SDK is not installed", () => {
      console.warn(
        `gcloud/gsutil CLI tests not run: ${[!GCLOUD && "gcloud", !GSUTIL && "gsutil"].filter(Boolean).join(" and ")} not found on PATH (install the Google Cloud SDK to run them)`,
      );
      expect(GCLOUD && GSUTIL).toBeFalsy();
    });
  });
} else {
  beforeAll(async () => {
    work = tempDir("gcs-google-cli-");
    emulator = await startGcsEmulator({
      logger: quietLogger(),
      tls: { dir: join(work, "tls") },
    });
    cli = googleCliConfig({
      dir: work,
      project: PROJECT,
      storageUrl: emulator.url,
      tls: {
        caFile: emulator.caFile as string,
        httpsPort: emulator.httpsPort as number,
        httpPort: emulator.port,
      },
      storage: {
        parallel_composite_upload_enabled: "True",
        parallel_composite_upload_threshold: "150M",
        parallel_composite_upload_component_size: "50M",
      },
    });
    await gcloud(["storage", "buckets", "create", "gs://cli-up", "gs://cli-big"]);
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  describe("gcloud storage", () => {
    test("cp up and down: a small file, a 50 MB file (resumable) and stdin, with their hashes", async () => {
      const small = join(work, "small.txt");
      writeFileSync(small, `hello from gcloud\n${randomBytes(700).toString("base64")}\n`);
      const big = join(work, "big50.bin");
      writeRandom(big, 50 * 1000 * 1000);
      const stdin = randomBytes(300 * 1024);
      writeFileSync(join(work, "stdin.expected"), stdin);

      await gcloud(["storage", "cp", small, big, "gs://cli-up/up/"]);
      await gcloud(["storage", "cp", "-", "gs://cli-up/up/stdin.bin"], stdin);
      const down = join(work, "down");
      mkdirSync(down);
      await gcloud(["storage", "cp", "gs://cli-up/up/*", down]);

      for (const [local, name] of [
        [small, "small.txt"],
        [big, "big50.bin"],
        [join(work, "stdin.expected"), "stdin.bin"],
      ] as const) {
        const want = await digestsOf(local);
        const got = await digestsOf(join(down, name));
        expect(got.sha256, name).toBe(want.sha256);
        const m = await meta("cli-up", `up/${name}`);
        expect({ md5: m?.md5Hash, crc32c: m?.crc32c, size: m?.size }, name).toEqual({
          md5: want.md5,
          crc32c: want.crc32c,
          size: String(statSync(local).size),
        });
      }
      expect((await meta("cli-up", "up/small.txt"))?.contentType).toBe("text/plain");
    });

    test("cp -r of 200 files up and back down", async () => {
      const src = join(work, "tree");
      for (let d = 0; d < 4; d++) {
        mkdirSync(join(src, `d${d}`, "deeper"), { recursive: true });
        for (let i = 0; i < 50; i++) {
          const sub = i % 2 === 0 ? `d${d}` : join(`d${d}`, "deeper");
          writeFileSync(join(src, sub, `f${i}.txt`), `${d}/${i} ${randomBytes(64).toString("hex")}\n`);
        }
      }
      await gcloud(["storage", "cp", "-r", src, "gs://cli-up/"]);
      expect((await names("cli-up", "tree/")).length).toBe(200);
      const back = join(work, "tree-back");
      mkdirSync(back);
      await gcloud(["storage", "cp", "-r", "gs://cli-up/tree", back]);
      expect(treeOf(join(back, "tree"))).toEqual(treeOf(src));
    });

    test("rsync up, down, and up again with deletions; mv; rm -r", async () => {
      const a = join(work, "rs-a");
      mkdirSync(join(a, "sub"), { recursive: true });
      for (let i = 0; i < 10; i++) writeFileSync(join(a, i % 3 ? "sub" : "", `r${i}.txt`), `v1 ${i}\n`);
      await gcloud(["storage", "rsync", "-r", a, "gs://cli-up/rs"]);
      const b = join(work, "rs-b");
      mkdirSync(b);
      await gcloud(["storage", "rsync", "-r", "gs://cli-up/rs", b]);
      expect(treeOf(b)).toEqual(treeOf(a));

      writeFileSync(join(b, "sub", "r1.txt"), "v2 changed, and longer\n");
      rmSync(join(b, "r0.txt"));
      writeFileSync(join(b, "new.txt"), "new\n");
      await gcloud(["storage", "rsync", "-r", "--delete-unmatched-destination-objects", b, "gs://cli-up/rs"]);
      const remote = (await names("cli-up", "rs/")).map((n) => n.slice(3)).sort();
      expect(remote).toEqual([...treeOf(b).keys()].sort());
      for (const [path, sha] of treeOf(b)) {
        const res = await fetch(
          `${emulator.url}/download/storage/v1/b/cli-up/o/${encodeURIComponent(`rs/${path}`)}?alt=media`,
        );
        expect(
          createHash("sha256")
            .update(Buffer.from(await res.arrayBuffer()))
            .digest("hex"),
          path,
        ).toBe(sha);
      }

      await gcloud(["storage", "mv", "gs://cli-up/rs", "gs://cli-up/moved"]);
      expect(await names("cli-up", "rs/")).toEqual([]);
      expect((await names("cli-up", "moved/")).length).toBe(treeOf(b).size);

      await gcloud(["storage", "rm", "-r", "gs://cli-up/moved"]);
      expect(await names("cli-up", "moved/")).toEqual([]);
    });

    test("objects compose", async () => {
      const p1 = join(work, "c1.txt");
      const p2 = join(work, "c2.txt");
      writeFileSync(p1, "first part\n");
      writeFileSync(p2, "second part\n");
      await gcloud(["storage", "cp", p1, p2, "gs://cli-up/parts/"]);
      await gcloud([
        "storage",
        "objects",
        "compose",
        "gs://cli-up/parts/c1.txt",
        "gs://cli-up/parts/c2.txt",
        "gs://cli-up/composed.txt",
      ]);
      const r = await fetch(`${emulator.url}/cli-up/composed.txt`);
      expect(await r.text()).toBe("first part\nsecond part\n");
      const m = await meta("cli-up", "composed.txt");
      expect(m?.componentCount).toBe(2);
      expect(m?.md5Hash).toBeUndefined();
    });

    test("parallel composite upload of a 200 MB file, then a sliced download", async () => {
      const file = join(work, "p200.bin");
      writeRandom(file, 200 * 1000 * 1000);
      const want = await digestsOf(file);
      await gcloud(["storage", "cp", file, "gs://cli-big/p200.bin"]);
      const m = await meta("cli-big", "p200.bin");
      expect(m?.crc32c).toBe(want.crc32c);
      expect(m?.componentCount as number).toBeGreaterThan(1);
      // The temporary components are gone once the object is composed.
      expect(await names("cli-big")).toEqual(["p200.bin"]);
      rmSync(file);
      const down = join(work, "p200.down");
      await gcloud(["storage", "cp", "gs://cli-big/p200.bin", down]);
      expect((await digestsOf(down)).sha256).toBe(want.sha256);
      rmSync(down);
    });

    test("object names with spaces, unicode, '#' and '+'", async () => {
      const dir = join(work, "odd names");
      mkdirSync(join(dir, "sp ace"), { recursive: true });
      const files = ["sp ace/a b.txt", "ünï €ode 東京.txt", "hash#tag.txt", "plus+sign.txt", "a b#c+d é.txt"];
      for (const f of files) writeFileSync(join(dir, f), `contents of ${f}\n`);
      await gcloud(["storage", "cp", "-r", dir, "gs://cli-up/"]);
      expect((await names("cli-up", "odd names/")).sort()).toEqual(files.map((f) => `odd names/${f}`).sort());
      const ls = await gcloud(["storage", "ls", "-r", "gs://cli-up/odd names/"]);
      for (const f of files) expect(ls.stdout).toContain(`gs://cli-up/odd names/${f}`);
      const back = join(work, "odd-back");
      mkdirSync(back);
      await gcloud(["storage", "cp", "-r", "gs://cli-up/odd names", back]);
      expect(treeOf(join(back, "odd names"))).toEqual(treeOf(dir));
      await gcloud([
        "storage",
        "rm",
        "gs://cli-up/odd names/hash#tag.txt",
        "gs://cli-up/odd names/plus+sign.txt",
      ]);
      expect((await names("cli-up", "odd names/")).length).toBe(files.length - 2);
    });
  });

  describe("gsutil", () => {
    const envOf = (mode: "json" | "xml") =>
      (mode === "json" ? cli.gsutilJson : cli.gsutilXml) as NodeJS.ProcessEnv;
    const gsutil = (mode: "json" | "xml", args: string[]) => mustRun(GSUTIL as string, args, envOf(mode));

    test.each(["json", "xml"] as const)(
      "%s mode: mb, ls, cp up (small and 9 MB resumable) and down, stat, compose, rm -r",
      async (mode) => {
        const bucket = `gsutil-${mode}`;
        const dir = join(work, `gsutil-${mode}`);
        mkdirSync(dir);
        const small = join(dir, "small name+#.txt");
        writeFileSync(small, `small ${mode}\n`);
        const big = join(dir, "nine.bin");
        writeRandom(big, 9 * MB);

        await gsutil(mode, ["mb", `gs://${bucket}`]);
        expect((await gsutil(mode, ["ls"])).stdout).toContain(`gs://${bucket}/`);
        await gsutil(mode, ["cp", small, big, `gs://${bucket}/in/`]);
        for (const f of [small, big]) {
          const name = `in/${f.slice(dir.length + 1)}`;
          const want = await digestsOf(f);
          const m = await meta(bucket, name);
          expect({ md5: m?.md5Hash, crc32c: m?.crc32c }, name).toEqual({
            md5: want.md5,
            crc32c: want.crc32c,
          });
        }
        const stat = await gsutil(mode, ["stat", `gs://${bucket}/in/nine.bin`]);
        expect(stat.stdout).toContain(`Hash (md5):             ${(await digestsOf(big)).md5}`);

        const down = join(dir, "down");
        mkdirSync(down);
        await gsutil(mode, ["cp", `gs://${bucket}/in/*`, down]);
        expect(treeOf(down)).toEqual(
          new Map([...treeOf(dir)].filter(([k]) => k === "nine.bin" || k === "small name+#.txt")),
        );

        await gsutil(mode, [
          "compose",
          `gs://${bucket}/in/small name+#.txt`,
          `gs://${bucket}/in/small name+#.txt`,
          `gs://${bucket}/twice`,
        ]);
        expect(await (await fetch(`${emulator.url}/${bucket}/twice`)).text()).toBe(
          `small ${mode}\nsmall ${mode}\n`,
        );

        await gsutil(mode, ["rm", "-r", `gs://${bucket}`]);
        expect((await fetch(`${emulator.url}/storage/v1/b/${bucket}`)).status).toBe(404);
      },
    );
  });
}
