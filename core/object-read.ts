import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { PassThrough, pipeline, type Readable, Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import type { File } from "@google-cloud/storage";
import { crc32c, crc32cToBase64 } from "./crc32c.ts";

/**
 * Streams one object's bytes (JSON API `alt=media`, of the File's generation when it has one), checking the
 * CRC32C that GCS sends in `x-goog-hash` and gunzipping an object stored gzip-encoded, as the client's
 * `createReadStream()` does.
 *
 * Why not `file.createReadStream()`: in @google-cloud/storage 8.x (teeny-request 11, node-fetch 3) the
 * response body of a streamed download is piped twice (by teeny-request into its request stream and by the
 * client into its read stream) on top of node-fetch's own pipeline, so every download larger than a few
 * socket buffers puts 11 'error' and 11 'close' listeners on one PassThrough and Node prints a
 * MaxListenersExceededWarning (upstream: googleapis/google-cloud-node#9185). Here the response is piped once.
 *
 * Errors keep the client's shapes, so the classifiers decide as before: an HTTP failure carries its status as
 * a numeric `code` (404 for an object or generation that is not there), a damaged download carries
 * `code: "CONTENT_DOWNLOAD_MISMATCH"`, socket errors keep their own code. Opening the request is retried like
 * the client's downloads (408, 429, 5xx and socket errors, before any byte arrived) unless the client was
 * made with `autoRetry: false`.
 */
export function readObject(file: File): Readable {
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  void open(file).then(
    (res) => {
      const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [res];
      const expected = expectedCrc32c(res);
      if (expected !== undefined) stages.push(new Crc32cCheck(expected, file.name));
      if (res.headers["content-encoding"] === "gzip") stages.push(createGunzip());
      pipeline([...stages, out] as [Readable, PassThrough], (err) => {
        if (err && !out.destroyed) out.destroy(err);
      });
    },
    (err: Error) => out.destroy(err),
  );
  // A consumer that gives up ends the download.
  return out;
}

/** The whole object (see readObject): for small records, in place of the client's `download()`, which goes the same warning way. */
export async function downloadObject(file: File): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of readObject(file) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** An HTTP error from storage: `code` is the status, as on the client's ApiError. */
export class ObjectReadError extends Error {
  readonly code: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ObjectReadError";
    this.code = status;
  }
}

interface ServiceView {
  apiEndpoint: string;
  customEndpoint?: boolean;
  useAuthWithCustomEndpoint?: boolean;
  retryOptions?: { autoRetry?: boolean; maxRetries?: number };
  authClient: { getRequestHeaders(url?: string): Promise<Headers | Record<string, string>> };
}

const RETRY_STATUS = (status: number) => status === 408 || status === 429 || status >= 500;

async function open(file: File): Promise<IncomingMessage> {
  const storage = file.storage as unknown as ServiceView;
  const url = new URL(
    `${storage.apiEndpoint}/storage/v1/b/${encodeURIComponent(file.bucket.name)}/o/${encodeURIComponent(file.name)}`,
  );
  url.searchParams.set("alt", "media");
  if (file.generation !== undefined) url.searchParams.set("generation", String(file.generation));
  const retries = storage.retryOptions?.autoRetry === false ? 0 : (storage.retryOptions?.maxRetries ?? 3);
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await get(url, await headersFor(storage, url));
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return res;
      const failure = new ObjectReadError(status, await errorMessage(res, status));
      if (attempt < retries && RETRY_STATUS(status)) {
        await backoff(attempt);
        continue;
      }
      throw failure;
    } catch (err) {
      const socket = typeof (err as { code?: unknown }).code === "string";
      if (err instanceof ObjectReadError || !socket || attempt >= retries) throw err;
      await backoff(attempt);
    }
  }
}

async function headersFor(storage: ServiceView, url: URL): Promise<Record<string, string>> {
  const headers: Record<string, string> = { "accept-encoding": "gzip", "cache-control": "no-store" };
  if (storage.customEndpoint && !storage.useAuthWithCustomEndpoint) return headers;
  const auth = await storage.authClient.getRequestHeaders(url.href);
  const entries = auth instanceof Headers ? [...auth.entries()] : Object.entries(auth);
  for (const [k, v] of entries) headers[k.toLowerCase()] = v;
  return headers;
}

function get(url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    request(url, { headers }, resolve).on("error", reject).end();
  });
}

/** The error body's message (JSON API `{error: {message}}`), or its text, or the status. */
async function errorMessage(res: IncomingMessage, status: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < 64 * 1024) chunks.push(chunk);
    size += chunk.length;
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string" && message !== "") return message;
  } catch {
    // Not JSON: the text itself says it.
  }
  return text.trim() || `HTTP ${status}`;
}

function backoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5000)));
}

/**
 * The CRC32C to check the bytes on the wire against, when they are the stored bytes: stored identity, or
 * stored gzip and sent gzip (GCS hashes what it stores; a decompressed transcoding cannot be checked).
 */
function expectedCrc32c(res: IncomingMessage): string | undefined {
  const stored = res.headers["x-goog-stored-content-encoding"];
  const sentGzip = res.headers["content-encoding"] === "gzip";
  if (!(stored === "identity" || (stored === "gzip" && sentGzip))) return undefined;
  const hashes = res.headers["x-goog-hash"];
  for (const part of (Array.isArray(hashes) ? hashes.join(",") : (hashes ?? "")).split(",")) {
    const at = part.indexOf("=");
    if (part.slice(0, at).trim() === "crc32c") return part.slice(at + 1).trim();
  }
  return undefined;
}

/** Passes bytes through and fails at the end when their CRC32C is not the one GCS sent. */
class Crc32cCheck extends Transform {
  readonly #expected: string;
  readonly #name: string;
  #crc = 0;
  constructor(expected: string, name: string) {
    super();
    this.#expected = expected;
    this.#name = name;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#crc = crc32c(chunk, this.#crc);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const got = crc32cToBase64(this.#crc);
    if (got === this.#expected) {
      cb();
      return;
    }
    const err = new Error(
      `the bytes of ${this.#name} did not match their CRC32C (got ${got}, GCS sent ${this.#expected}): damaged in transit, read it again`,
    ) as Error & { code: string };
    err.code = "CONTENT_DOWNLOAD_MISMATCH";
    cb(err);
  }
}
