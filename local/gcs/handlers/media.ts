import { createGunzip } from "node:zlib";
import type { ObjectRecord } from "../backend/types.ts";
import { streamTo } from "../http.ts";
import { parseRange } from "../range.ts";
import { objectEtag } from "../resources.ts";
import type { RequestContext } from "./context.ts";

/**
 * Sends an object's bytes (objects.get with `alt=media`, the download path, the XML path) with the
 * headers GCS sends: `x-goog-hash` (which the Node client verifies), `x-goog-generation`,
 * `x-goog-stored-content-encoding`, ... A `Range` gets 206 or 416. An object stored gzip-encoded is sent
 * as stored to a client that accepts gzip, and decompressed otherwise (GCS's decompressive transcoding,
 * which ignores Range). The XML API passes its own `etag` (the quoted MD5).
 */
export async function sendMedia(
  ctx: RequestContext,
  record: ObjectRecord,
  head: boolean,
  etag = objectEtag(record.generation, record.metageneration),
): Promise<void> {
  const headers: Record<string, string> = {
    "content-type": record.contentType ?? "application/octet-stream",
    "x-goog-generation": String(record.generation),
    "x-goog-metageneration": String(record.metageneration),
    "x-goog-stored-content-encoding": record.contentEncoding ?? "identity",
    "x-goog-stored-content-length": String(record.size),
    "x-goog-storage-class": record.storageClass,
    "x-goog-hash": record.md5Hash
      ? `crc32c=${record.crc32c},md5=${record.md5Hash}`
      : `crc32c=${record.crc32c}`,
    etag,
    "last-modified": new Date(record.updated).toUTCString(),
    "accept-ranges": "bytes",
    "cache-control": record.cacheControl ?? "no-cache, no-store, max-age=0, must-revalidate",
  };
  if (record.componentCount !== undefined) headers["x-goog-component-count"] = String(record.componentCount);
  if (record.contentDisposition) headers["content-disposition"] = record.contentDisposition;
  if (record.contentLanguage) headers["content-language"] = record.contentLanguage;
  for (const [k, v] of Object.entries(record.metadata ?? {})) {
    if (/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) headers[`x-goog-meta-${k}`] = encodeHeaderValue(v);
  }

  const gzipped = record.contentEncoding?.toLowerCase() === "gzip";
  const acceptsGzip = /\bgzip\b/i.test(String(ctx.req.headers["accept-encoding"] ?? ""));
  if (gzipped && !acceptsGzip) {
    ctx.res.writeHead(200, headers);
    if (head) {
      ctx.res.end();
      return;
    }
    const raw = await ctx.store.openData(record, 0, record.size - 1);
    await streamTo(ctx.res, raw.pipe(createGunzip()));
    return;
  }
  if (gzipped) headers["content-encoding"] = "gzip";

  const range = parseRange(headerValue(ctx.req.headers.range), record.size);
  const start = range?.start ?? 0;
  const end = range?.end ?? record.size - 1;
  headers["content-length"] = String(end - start + 1);
  if (range) headers["content-range"] = `bytes ${start}-${end}/${record.size}`;
  const status = range ? 206 : 200;
  if (head) {
    ctx.res.writeHead(status, headers);
    ctx.res.end();
    return;
  }
  const body = await ctx.store.openData(record, start, end);
  ctx.res.writeHead(status, headers);
  await streamTo(ctx.res, body);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Header values must be latin1 without controls; anything else is percent-encoded. */
function encodeHeaderValue(v: string): string {
  return /^[\u0020-\u007e]*$/.test(v) ? v : encodeURIComponent(v);
}
