import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { BucketRecord, ObjectRecord, SessionRecord, StagedData, StorageBackend } from "./types.ts";

/** Immutable bytes as the chunks they arrived in, with each chunk's starting offset for range reads. */
interface Blob {
  chunks: Buffer[];
  offsets: number[];
  size: number;
}

class MemoryStaged implements StagedData {
  readonly id: string;
  readonly chunks: Buffer[] = [];
  readonly offsets: number[] = [];
  size = 0;
  constructor(id: string) {
    this.id = id;
  }
  write(chunk: Buffer): undefined {
    if (chunk.length === 0) return undefined;
    this.offsets.push(this.size);
    this.chunks.push(chunk);
    this.size += chunk.length;
    return undefined;
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  read(): Readable {
    return Readable.from(this.chunks.slice(), { objectMode: false });
  }
}

/** Keeps everything in this process: object bytes as received chunks, never concatenated. */
export class MemoryBackend implements StorageBackend {
  readonly kind = "memory" as const;
  #blobs = new Map<string, Blob>();
  #staged = new Map<string, MemoryStaged>();

  async load() {
    return { buckets: [] as BucketRecord[], objects: [] as ObjectRecord[], sessions: [] as SessionRecord[] };
  }
  async saveBucket(_bucket: BucketRecord): Promise<void> {}
  async removeBucket(_name: string): Promise<void> {}

  async stage(id?: string): Promise<StagedData> {
    const staged = new MemoryStaged(id ?? randomUUID());
    this.#staged.set(staged.id, staged);
    return staged;
  }
  async reopenStaged(id: string): Promise<StagedData | undefined> {
    return this.#staged.get(id);
  }
  async discardStaged(id: string): Promise<void> {
    this.#staged.delete(id);
  }
  async commitStaged(staged: StagedData): Promise<string> {
    const s = this.#staged.get(staged.id);
    if (!s || s !== staged) throw new Error(`staging area ${staged.id} is not open`);
    this.#staged.delete(staged.id);
    const blobId = randomUUID();
    this.#blobs.set(blobId, { chunks: s.chunks, offsets: s.offsets, size: s.size });
    return blobId;
  }
  async linkBlob(blobId: string): Promise<string> {
    const blob = this.#blobs.get(blobId);
    if (!blob) throw new Error(`blob ${blobId} does not exist`);
    const id = randomUUID();
    this.#blobs.set(id, blob);
    return id;
  }
  async openBlob(blobId: string, start: number, end: number): Promise<Readable> {
    const blob = this.#blobs.get(blobId);
    if (!blob) throw new Error(`blob ${blobId} does not exist`);
    return Readable.from(sliceChunks(blob, start, end), { objectMode: false });
  }
  async saveObject(_record: ObjectRecord): Promise<void> {}
  async removeObject(record: ObjectRecord): Promise<void> {
    this.#blobs.delete(record.blobId);
  }
  async saveSession(_session: SessionRecord): Promise<void> {}
  async removeSession(id: string): Promise<void> {
    this.#staged.delete(id);
  }
  async close(): Promise<void> {
    this.#blobs.clear();
    this.#staged.clear();
  }
}

/** Yields views (no copies) of the chunks covering bytes start..end inclusive. */
function* sliceChunks(blob: Blob, start: number, end: number): Generator<Buffer> {
  if (end < start) return;
  let lo = 0;
  let hi = blob.offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((blob.offsets[mid] as number) <= start) lo = mid;
    else hi = mid - 1;
  }
  for (let i = lo; i < blob.chunks.length; i++) {
    const chunk = blob.chunks[i] as Buffer;
    const offset = blob.offsets[i] as number;
    if (offset > end) break;
    const from = Math.max(0, start - offset);
    const to = Math.min(chunk.length, end - offset + 1);
    if (to > from) yield from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
  }
}
