import { createHash, type Hash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { crc32cToBase64, crc32cUpdate } from "../../core/crc32c.ts";

/** The checksums GCS keeps for an object, both base64. */
export interface Checksums {
  md5Hash: string;
  crc32c: string;
}

/** Bytes copied into one message to the MD5 thread. Uploads smaller than this never leave the main thread. */
const BATCH = 1024 * 1024;
/** Most bytes handed to the MD5 thread and not yet hashed, per upload, before the upload waits. */
const IN_FLIGHT = 8 * BATCH;

// The MD5 thread: one Hash per upload, fed batches it takes ownership of, acknowledged as they are hashed.
// Plain CommonJS evaluated in the worker, so it runs the same under tsx, vitest or compiled JavaScript.
const MD5_WORKER = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  if (m.op === "update") {
    let h = hashes.get(m.id);
    if (!h) { h = createHash("md5"); hashes.set(m.id, h); }
    h.update(new Uint8Array(m.data));
    parentPort.postMessage({ op: "ack", id: m.id, bytes: m.data.byteLength });
  } else if (m.op === "digest") {
    const h = hashes.get(m.id) || createHash("md5");
    hashes.delete(m.id);
    parentPort.postMessage({ op: "digest", id: m.id, md5: h.digest("base64") });
  } else if (m.op === "drop") {
    hashes.delete(m.id);
  }
});
`;

type WorkerReply = { op: "ack"; id: number; bytes: number } | { op: "digest"; id: number; md5: string };

interface Job {
  onAck: (bytes: number) => void;
  onDigest: (md5: string) => void;
  onError: (err: Error) => void;
}

/**
 * Hashing for uploads. MD5 (node:crypto, ~0.6 GB/s here) is the slowest thing an upload does, so for
 * anything over 1 MiB it runs on its own thread while the request thread reads the socket, computes the
 * CRC32C and writes the bytes; the two overlap instead of adding up.
 */
export class HashService {
  #worker: Worker | undefined;
  #jobs = new Map<number, Job>();
  #nextId = 1;
  #failed: Error | undefined;

  constructor(options: { offload?: boolean } = {}) {
    if (options.offload === false) return;
    const worker = new Worker(MD5_WORKER, { eval: true });
    worker.unref();
    worker.on("message", (m: WorkerReply) => {
      const job = this.#jobs.get(m.id);
      if (!job) return;
      if (m.op === "ack") job.onAck(m.bytes);
      else {
        this.#jobs.delete(m.id);
        job.onDigest(m.md5);
      }
    });
    worker.on("error", (err) => this.#fail(err));
    worker.on("exit", (code) => {
      if (this.#worker) this.#fail(new Error(`MD5 thread exited with code ${code}`));
    });
    this.#worker = worker;
  }

  hasher(): ObjectHasher {
    return new ObjectHasher(this.#worker && !this.#failed ? this : undefined);
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  /** @internal */
  register(job: Job): number {
    if (this.#failed) throw this.#failed;
    const id = this.#nextId++;
    this.#jobs.set(id, job);
    return id;
  }

  /** @internal */
  post(
    message: { op: "update"; id: number; data: ArrayBuffer } | { op: "digest" | "drop"; id: number },
  ): void {
    if (!this.#worker) throw this.#failed ?? new Error("hash service is closed");
    if (message.op === "update") this.#worker.postMessage(message, [message.data]);
    else this.#worker.postMessage(message);
    if (message.op === "drop") this.#jobs.delete(message.id);
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const job of this.#jobs.values()) job.onError(err);
    this.#jobs.clear();
    this.#worker = undefined;
  }
}

/** Running MD5 and CRC32C over the bytes of one upload, fed chunk by chunk. */
export class ObjectHasher {
  #service: HashService | undefined;
  #crc = 0;
  #bytes = 0;
  /** Bytes not yet sent to the MD5 thread (all of them, while the upload is under one batch). */
  #batch: Uint8Array | undefined;
  #batchLength = 0;
  #job: number | undefined;
  #inFlight = 0;
  #error: Error | undefined;
  #drained: (() => void) | undefined;
  #digested: { resolve: (md5: string) => void; reject: (err: Error) => void } | undefined;
  #md5: Hash | undefined;

  constructor(service?: HashService) {
    this.#service = service;
    if (!service) this.#md5 = createHash("md5");
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Adds a chunk; the returned promise, when there is one, resolves once the MD5 thread has caught up. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#error) return Promise.reject(this.#error);
    this.#crc = crc32cUpdate(this.#crc, chunk);
    this.#bytes += chunk.length;
    if (this.#md5) {
      this.#md5.update(chunk);
      return undefined;
    }
    let offset = 0;
    while (offset < chunk.length) {
      // Not zero-filled, and backed by its own ArrayBuffer so it can be transferred to the MD5 thread.
      this.#batch ??= Buffer.allocUnsafeSlow(BATCH);
      const n = Math.min(chunk.length - offset, BATCH - this.#batchLength);
      this.#batch.set(chunk.subarray(offset, offset + n), this.#batchLength);
      this.#batchLength += n;
      offset += n;
      if (this.#batchLength === BATCH) this.#send();
    }
    if (this.#inFlight <= IN_FLIGHT) return undefined;
    return new Promise((resolve, reject) => {
      this.#drained = () => (this.#error ? reject(this.#error) : resolve());
    });
  }

  /** The checksums of everything added; the hasher is finished afterwards. */
  async digest(): Promise<Checksums> {
    if (this.#error) throw this.#error;
    const crc32c = crc32cToBase64(this.#crc);
    if (this.#md5) return { md5Hash: this.#md5.digest("base64"), crc32c };
    if (this.#job === undefined) {
      // Under one batch: hashing here is quicker than a round trip to the MD5 thread.
      const md5 = createHash("md5");
      if (this.#batch) md5.update(this.#batch.subarray(0, this.#batchLength));
      this.#batch = undefined;
      return { md5Hash: md5.digest("base64"), crc32c };
    }
    if (this.#batchLength > 0) this.#send();
    const service = this.#service as HashService;
    const md5Hash = await new Promise<string>((resolve, reject) => {
      this.#digested = { resolve, reject };
      service.post({ op: "digest", id: this.#job as number });
    });
    return { md5Hash, crc32c };
  }

  /** Frees the MD5 thread's state for an upload that will not be finished. */
  dispose(): void {
    if (this.#job !== undefined && this.#service) {
      try {
        this.#service.post({ op: "drop", id: this.#job });
      } catch {
        // the thread is gone, and its state with it
      }
    }
    this.#job = undefined;
    this.#batch = undefined;
  }

  #send(): void {
    const service = this.#service as HashService;
    this.#job ??= service.register({
      onAck: (bytes) => {
        this.#inFlight -= bytes;
        if (this.#inFlight <= IN_FLIGHT && this.#drained) {
          const wake = this.#drained;
          this.#drained = undefined;
          wake();
        }
      },
      onDigest: (md5) => this.#digested?.resolve(md5),
      onError: (err) => {
        this.#error = err;
        this.#digested?.reject(err);
        this.#drained?.();
      },
    });
    const batch = this.#batch as Uint8Array;
    // A full batch is handed over as is; only the last, partial one is cut to length.
    const data = (
      this.#batchLength === BATCH ? batch.buffer : batch.buffer.slice(0, this.#batchLength)
    ) as ArrayBuffer;
    this.#inFlight += this.#batchLength;
    this.#batch = undefined;
    this.#batchLength = 0;
    service.post({ op: "update", id: this.#job, data });
  }
}

/**
 * Parses an `X-Goog-Hash` header (`crc32c=...,md5=...`, possibly repeated) into the values it names.
 * Unknown algorithms are ignored, as GCS does.
 */
export function parseGoogHash(header: string | string[] | undefined): { md5?: string; crc32c?: string } {
  const out: { md5?: string; crc32c?: string } = {};
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const part of value.split(",")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      const key = part.slice(0, eq).trim().toLowerCase();
      const v = part.slice(eq + 1).trim();
      if (key === "md5") out.md5 = v;
      else if (key === "crc32c") out.crc32c = v;
    }
  }
  return out;
}
