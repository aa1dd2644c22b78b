import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { FileRangeReadable } from "./backend/file-range.ts";
import type { StagedData } from "./backend/types.ts";
import { GcsError } from "./errors.ts";
import type { ObjectHasher } from "./hashing.ts";

/** Most bytes of a JSON request body read into memory. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-length": "0", ...headers });
  res.end();
}

export function sendError(res: ServerResponse, err: GcsError): void {
  const body = err.body();
  if (body === "") {
    sendEmpty(res, err.status, err.headers);
    return;
  }
  res.writeHead(err.status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": String(Buffer.byteLength(body)),
    ...err.headers,
  });
  res.end(body);
}

/** Reads and parses a JSON body; an empty body is `{}`. */
export async function readRequestJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) throw new GcsError(413, "uploadTooLarge", "Request body is too large.");
    chunks.push(chunk);
  }
  return parseJsonObject(Buffer.concat(chunks));
}

export function parseJsonObject(bytes: Buffer): Record<string, unknown> {
  const text = bytes.toString("utf8").trim();
  if (text === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GcsError(400, "parseError", "Parse Error");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new GcsError(400, "parseError", "Parse Error");
  }
  return value as Record<string, unknown>;
}

/**
 * Copies a request body into staged data, hashing as it goes, with backpressure both ways. The first
 * `skip` bytes are dropped (a resumable chunk re-sending bytes already persisted). Resolves with the
 * bytes staged; rejects if the client goes away, after everything received so far is staged.
 */
export async function stageBody(
  source: AsyncIterable<Buffer>,
  staged: StagedData,
  hasher: ObjectHasher | undefined,
  skip = 0,
): Promise<number> {
  let toSkip = skip;
  let written = 0;
  try {
    for await (const raw of source) {
      let chunk = raw;
      if (toSkip > 0) {
        if (chunk.length <= toSkip) {
          toSkip -= chunk.length;
          continue;
        }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      written += chunk.length;
      const hashed = hasher?.update(chunk);
      const stored = staged.write(chunk);
      if (hashed) await hashed;
      if (stored) await stored;
    }
  } finally {
    await staged.flush();
  }
  return written;
}

/** Streams `body` to the response with backpressure; a client that goes away just ends it. */
export async function streamTo(res: ServerResponse, body: Readable): Promise<void> {
  try {
    if (body instanceof FileRangeReadable) await body.sendTo(res);
    else await pipeline(body, res);
  } catch {
    body.destroy();
  }
}
