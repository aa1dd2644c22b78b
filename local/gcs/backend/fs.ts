import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FileRangeReadable } from "./file-range.ts";
import type { BucketRecord, ObjectRecord, SessionRecord, StagedData, StorageBackend } from "./types.ts";

/** Large enough that disk writes overlap with reading the socket, small enough to bound memory per upload. */
const WRITE_HIGH_WATER = 4 * 1024 * 1024;
const READ_HIGH_WATER = 1024 * 1024;

/**
 * Keeps everything under one directory, so a restarted emulator on the same directory sees the same
 * buckets, objects and unfinished resumable uploads. Object names never become paths: a generation's
 * metadata is `objects/<bucket>/<sha256(name) prefix>/<sha256(name)>-<generation>.json` and its bytes a
 * blob under `blobs/` named by a random id. Bytes are staged in `staging/` and renamed into place, and
 * JSON is written to `tmp/` and renamed, so nothing is ever seen half-written.
 *
 * Layout:
 *   buckets/<bucket>.json
 *   objects/<bucket>/<xx>/<sha256(name)>-<generation>.json
 *   blobs/<xx>/<blobId>
 *   staging/<id>            bytes of an upload in progress
 *   uploads/<id>.json       resumable sessions
 *   tmp/                    JSON being written
 */
export class FsBackend implements StorageBackend {
  readonly kind = "fs" as const;
  readonly dir: string;
  #madeDirs = new Set<string>();
  #open = new Map<string, FsStaged>();

  constructor(dir: string) {
    this.dir = dir;
  }

  async load() {
    for (const sub of ["buckets", "objects", "blobs", "staging", "uploads", "tmp"]) {
      await this.#mkdir(join(this.dir, sub));
    }
    await rm(join(this.dir, "tmp"), { recursive: true, force: true });
    await this.#mkdir(join(this.dir, "tmp"), true);

    const buckets: BucketRecord[] = [];
    for (const file of await readdir(join(this.dir, "buckets"))) {
      if (!file.endsWith(".json")) continue;
      buckets.push(JSON.parse(await readFile(join(this.dir, "buckets", file), "utf8")) as BucketRecord);
    }
    const objects: ObjectRecord[] = [];
    const liveBlobs = new Set<string>();
    for (const bucket of buckets) {
      const root = join(this.dir, "objects", bucket.name);
      for (const fan of await readdirIfExists(root)) {
        for (const file of await readdirIfExists(join(root, fan))) {
          if (!file.endsWith(".json")) continue;
          const record = JSON.parse(await readFile(join(root, fan, file), "utf8")) as ObjectRecord;
          objects.push(record);
          liveBlobs.add(record.blobId);
        }
      }
    }
    const sessions: SessionRecord[] = [];
    for (const file of await readdir(join(this.dir, "uploads"))) {
      if (!file.endsWith(".json")) continue;
      sessions.push(JSON.parse(await readFile(join(this.dir, "uploads", file), "utf8")) as SessionRecord);
    }
    // Bytes nobody refers to are what a crash between two steps of a commit leaves behind.
    const sessionIds = new Set(sessions.map((s) => s.id));
    for (const file of await readdir(join(this.dir, "staging"))) {
      if (!sessionIds.has(file)) await rm(join(this.dir, "staging", file), { force: true });
    }
    for (const fan of await readdir(join(this.dir, "blobs"))) {
      for (const file of await readdirIfExists(join(this.dir, "blobs", fan))) {
        if (!liveBlobs.has(file)) await rm(join(this.dir, "blobs", fan, file), { force: true });
      }
    }
    return { buckets, objects, sessions };
  }

  async saveBucket(bucket: BucketRecord): Promise<void> {
    await this.#writeJson(join(this.dir, "buckets", `${bucket.name}.json`), bucket);
  }

  async removeBucket(name: string): Promise<void> {
    await rm(join(this.dir, "buckets", `${name}.json`), { force: true });
    await rm(join(this.dir, "objects", name), { recursive: true, force: true });
    this.#madeDirs.clear();
  }

  async stage(id?: string): Promise<StagedData> {
    const stagedId = id ?? randomUUID();
    const staged = new FsStaged(stagedId, join(this.dir, "staging", stagedId), 0);
    this.#open.set(stagedId, staged);
    await staged.ready;
    return staged;
  }

  async reopenStaged(id: string): Promise<StagedData | undefined> {
    const already = this.#open.get(id);
    if (already) return already;
    const path = join(this.dir, "staging", id);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      return undefined;
    }
    const staged = new FsStaged(id, path, size);
    this.#open.set(id, staged);
    await staged.ready;
    return staged;
  }

  async discardStaged(id: string): Promise<void> {
    const staged = this.#open.get(id);
    this.#open.delete(id);
    if (staged) await staged.close().catch(() => undefined);
    await rm(join(this.dir, "staging", id), { force: true });
  }

  async commitStaged(staged: StagedData): Promise<string> {
    const s = this.#open.get(staged.id);
    if (!s || s !== staged) throw new Error(`staging area ${staged.id} is not open`);
    await s.close();
    this.#open.delete(staged.id);
    const blobId = randomUUID();
    await rename(s.path, await this.#blobPath(blobId));
    return blobId;
  }

  async linkBlob(blobId: string): Promise<string> {
    const id = randomUUID();
    await link(await this.#blobPath(blobId), await this.#blobPath(id));
    return id;
  }

  async openBlob(blobId: string, start: number, end: number): Promise<Readable> {
    const handle = await open(await this.#blobPath(blobId), "r");
    if (end < start) {
      await handle.close();
      return Readable.from([]);
    }
    return new FileRangeReadable(handle, start, end);
  }

  async saveObject(record: ObjectRecord): Promise<void> {
    await this.#writeJson(await this.#objectPath(record), record);
  }

  async removeObject(record: ObjectRecord): Promise<void> {
    await rm(await this.#objectPath(record), { force: true });
    await rm(await this.#blobPath(record.blobId), { force: true });
  }

  async saveSession(session: SessionRecord): Promise<void> {
    await this.#writeJson(join(this.dir, "uploads", `${session.id}.json`), session);
  }

  async removeSession(id: string): Promise<void> {
    await rm(join(this.dir, "uploads", `${id}.json`), { force: true });
    await this.discardStaged(id);
  }

  async close(): Promise<void> {
    for (const staged of this.#open.values()) await staged.close().catch(() => undefined);
    this.#open.clear();
  }

  async #objectPath(record: ObjectRecord): Promise<string> {
    const hash = createHash("sha256").update(record.name).digest("hex");
    const dir = join(this.dir, "objects", record.bucket, hash.slice(0, 2));
    await this.#mkdir(dir);
    return join(dir, `${hash}-${record.generation}.json`);
  }

  async #blobPath(blobId: string): Promise<string> {
    const dir = join(this.dir, "blobs", blobId.slice(0, 2));
    await this.#mkdir(dir);
    return join(dir, blobId);
  }

  async #writeJson(path: string, value: unknown): Promise<void> {
    const tmp = join(this.dir, "tmp", randomUUID());
    await writeFile(tmp, JSON.stringify(value));
    await rename(tmp, path);
  }

  async #mkdir(dir: string, force = false): Promise<void> {
    if (!force && this.#madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.#madeDirs.add(dir);
  }
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** An append-only staging file, written through one stream so writes stay ordered and batched. */
class FsStaged implements StagedData {
  readonly id: string;
  readonly path: string;
  readonly ready: Promise<void>;
  size: number;
  #stream: WriteStream;
  #pending = 0;
  #error: Error | undefined;
  #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #closed: Promise<void> | undefined;

  constructor(id: string, path: string, size: number) {
    this.id = id;
    this.path = path;
    this.size = size;
    this.#stream = createWriteStream(path, { flags: "a", highWaterMark: WRITE_HIGH_WATER });
    this.ready = new Promise((resolve, reject) => {
      this.#stream.once("ready", () => resolve());
      this.#stream.once("error", reject);
    });
    this.#stream.on("error", (err) => {
      this.#error ??= err;
      this.#settle();
    });
  }

  write(chunk: Buffer): Promise<void> | undefined {
    if (this.#error) return Promise.reject(this.#error);
    if (chunk.length === 0) return undefined;
    this.size += chunk.length;
    this.#pending++;
    const more = this.#stream.write(chunk, (err) => {
      this.#pending--;
      if (err) this.#error ??= err;
      if (this.#pending === 0) this.#settle();
    });
    if (more) return undefined;
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.#stream.off("error", onError);
        resolve();
      };
      const onError = (err: Error) => {
        this.#stream.off("drain", onDrain);
        reject(err);
      };
      this.#stream.once("drain", onDrain);
      this.#stream.once("error", onError);
    });
  }

  flush(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  read(): Readable {
    return createReadStream(this.path, { highWaterMark: READ_HIGH_WATER });
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.flush();
      await new Promise<void>((resolve, reject) => {
        this.#stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
      });
      if (!this.#stream.closed)
        await new Promise<void>((resolve) => this.#stream.once("close", () => resolve()));
    })();
    return this.#closed;
  }

  #settle(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (this.#error) w.reject(this.#error);
      else w.resolve();
    }
  }
}
