import { createHash, randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { Storage } from "@google-cloud/storage";
import { createLogger, type Logger } from "../../../core/logger.ts";
import { type GcsEmulator, type GcsEmulatorOptions, startGcsEmulator } from "../../../local/gcs/index.ts";
import { tempDir } from "../../support/temp.ts";

export const BACKENDS = ["memory", "fs"] as const;
export type BackendKind = (typeof BACKENDS)[number];

/** Errors as the Node client raises them: ApiError (JSON API) or GaxiosError (resumable upload), both with `code`. */
export interface ClientError {
  code?: number | string;
  message: string;
}

export const quietLogger = () =>
  createLogger({ component: "gcs-emulator", level: process.env.GCS_TEST_LOG_LEVEL ?? "warn" });

/** A logger whose JSON lines are kept for assertions instead of printed. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: createLogger({ component: "gcs-emulator", level: "warn", destination }), lines };
}

/** An emulator for one backend, with a client pointed at it, and cleanup. */
export interface Harness {
  emulator: GcsEmulator;
  storage: Storage;
  dir: string;
  backend: BackendKind;
  /** Restarts the emulator on the same directory (and port), as a new process would. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(
  backend: BackendKind,
  extra: Partial<GcsEmulatorOptions> = {},
): Promise<Harness> {
  const dir = tempDir(`gcs-${backend}-`);
  const options: GcsEmulatorOptions = { backend, dir, logger: quietLogger(), ...extra };
  const h: Harness = {
    emulator: await startGcsEmulator(options),
    storage: undefined as unknown as Storage,
    dir,
    backend,
    async restart() {
      const port = h.emulator.port;
      await h.emulator.stop();
      h.emulator = await startGcsEmulator({ ...options, port });
      h.storage = client(h.emulator);
    },
    async close() {
      await h.emulator.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  h.storage = client(h.emulator);
  return h;
}

export function client(emulator: GcsEmulator): Storage {
  // Retries would hide the status a test asserts on; the emulator is local and never flaky.
  return new Storage({
    apiEndpoint: emulator.url,
    projectId: "batchline-test",
    retryOptions: { autoRetry: false },
  });
}

let counter = 0;
/** A bucket name no other test uses. */
export function bucketName(label: string): string {
  counter++;
  return `${label}-${process.pid}-${counter}-${randomBytes(3).toString("hex")}`.toLowerCase().slice(0, 63);
}

/** Runs `fn` and returns what it threw (failing when it did not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<ClientError> {
  try {
    await fn();
  } catch (err) {
    return err as ClientError;
  }
  throw new Error("expected the call to fail, and it succeeded");
}

/** md5 and crc32c as GCS reports them (base64), computed locally. */
export function md5Base64(data: Buffer): string {
  return createHash("md5").update(data).digest("base64");
}

/**
 * A deterministic pseudo-random stream of `size` bytes, produced chunk by chunk (never held whole),
 * with its md5 available once it has been read to the end.
 */
export function generatedStream(size: number, seed = 1): { stream: Readable; md5: () => string } {
  const hash = createHash("md5");
  let produced = 0;
  let state = seed >>> 0 || 1;
  let digest: string | undefined;
  const chunkSize = 256 * 1024;
  const stream = new Readable({
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(chunkSize, size - produced);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i + 4 <= n; i += 4) {
        // xorshift32: cheap, deterministic, incompressible enough for checksums to mean something.
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk.writeUInt32LE(state >>> 0, i);
      }
      for (let i = n - (n % 4); i < n; i++) chunk[i] = i & 0xff;
      hash.update(chunk);
      produced += n;
      this.push(chunk);
    },
  });
  return {
    stream,
    md5: () => {
      digest ??= hash.digest("base64");
      return digest;
    },
  };
}

/** md5 (base64) of everything a readable yields. */
export async function md5OfStream(stream: Readable): Promise<{ md5: string; bytes: number }> {
  const hash = createHash("md5");
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { md5: hash.digest("base64"), bytes };
}
