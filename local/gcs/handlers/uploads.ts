import type { IncomingMessage } from "node:http";
import type { ObjectFields, StagedData } from "../backend/types.ts";
import { badRequest, GcsError, invalid, methodNotAllowed, notFound } from "../errors.ts";
import { type Checksums, type ObjectHasher, parseGoogHash } from "../hashing.ts";
import { parseJsonObject, readRequestJson, sendEmpty, sendJson, stageBody } from "../http.ts";
import { multipartBoundary, readMultipartUpload } from "../multipart.ts";
import { validateObjectName } from "../names.ts";
import { parseObjectFields } from "../object-fields.ts";
import { checkPreconditions, type Preconditions, parseInt64, parsePreconditions } from "../preconditions.ts";
import { type JsonObject, objectResource } from "../resources.ts";
import type { Session } from "../sessions.ts";
import { type RequestContext, requestOrigin } from "./context.ts";

/**
 * `/upload/storage/v1/b/<bucket>/o`: objects.insert with `uploadType=media|multipart|resumable`,
 * and the requests on a resumable session (`upload_id`): PUT a chunk or ask for its status, DELETE
 * to cancel.
 */
export async function handleUpload(ctx: RequestContext, bucket: string): Promise<void> {
  const uploadId = ctx.query.get("upload_id");
  if (uploadId) {
    await handleSessionRequest(ctx, uploadId);
    return;
  }
  if (ctx.req.method !== "POST") throw methodNotAllowed();
  ctx.store.getBucket(bucket);
  const uploadType =
    ctx.query.get("uploadType") ??
    (multipartBoundary(ctx.req.headers["content-type"]) ? "multipart" : "media");
  switch (uploadType) {
    case "media":
      await insertMedia(ctx, bucket);
      return;
    case "multipart":
      await insertMultipart(ctx, bucket);
      return;
    case "resumable":
      await startResumable(ctx, bucket);
      return;
    default:
      throw invalid(`Invalid value for uploadType: ${uploadType}`);
  }
}

/** uploadType=media: the body is the object; its name is the `name` parameter. */
async function insertMedia(ctx: RequestContext, bucket: string): Promise<void> {
  const name = ctx.query.get("name") ?? undefined;
  validateObjectName(name);
  const pre = parsePreconditions(ctx.query);
  checkEarly(ctx, bucket, name, pre);
  const fields: ObjectFields = {};
  const contentType = ctx.req.headers["content-type"];
  if (contentType) fields.contentType = contentType;
  const contentEncoding = ctx.query.get("contentEncoding");
  if (contentEncoding) fields.contentEncoding = contentEncoding;
  const staged = await ctx.store.backend.stage();
  const hasher = ctx.hashing.hasher();
  await stageOrDiscard(ctx, ctx.req, staged, hasher);
  await commitUpload(ctx, {
    bucket,
    name,
    staged,
    sums: await hasher.digest(),
    size: hasher.bytes,
    fields,
    pre,
    declared: parseGoogHash(ctx.req.headers["x-goog-hash"]),
  });
}

/** uploadType=multipart: a JSON metadata part, then the media part, streamed into staging. */
async function insertMultipart(ctx: RequestContext, bucket: string): Promise<void> {
  const boundary = multipartBoundary(ctx.req.headers["content-type"]);
  if (!boundary)
    throw badRequest("Content-Type must be multipart/related with a boundary for uploadType=multipart.");
  const pre = parsePreconditions(ctx.query);
  const queryName = ctx.query.get("name") ?? undefined;
  if (queryName !== undefined) {
    validateObjectName(queryName);
    checkEarly(ctx, bucket, queryName, pre);
  }
  const staged = await ctx.store.backend.stage();
  const hasher = ctx.hashing.hasher();
  let parsed: Awaited<ReturnType<typeof readMultipartUpload>>;
  try {
    parsed = await readMultipartUpload(ctx.req as AsyncIterable<Buffer>, boundary, (chunk) => {
      const hashed = hasher.update(chunk);
      const stored = staged.write(chunk);
      return hashed && stored ? Promise.all([hashed, stored]).then(() => undefined) : (hashed ?? stored);
    });
    await staged.flush();
  } catch (err) {
    hasher.dispose();
    await ctx.store.backend.discardStaged(staged.id);
    throw err;
  }
  const sums = await hasher.digest();
  try {
    const metadata = parseJsonObject(parsed.metadata);
    const name = queryName ?? (typeof metadata.name === "string" ? metadata.name : undefined);
    validateObjectName(name);
    const fields = parseObjectFields(metadata);
    if (fields.contentType === undefined && parsed.mediaContentType)
      fields.contentType = parsed.mediaContentType;
    await commitUpload(ctx, {
      bucket,
      name,
      staged,
      sums,
      size: hasher.bytes,
      fields,
      pre,
      declared: declaredChecksums(metadata),
    });
  } catch (err) {
    await ctx.store.backend.discardStaged(staged.id);
    throw err;
  }
}

/** uploadType=resumable: opens a session and answers with its URI in `Location`. */
async function startResumable(ctx: RequestContext, bucket: string): Promise<void> {
  const metadata = await readRequestJson(ctx.req);
  const name = ctx.query.get("name") ?? (typeof metadata.name === "string" ? metadata.name : undefined);
  validateObjectName(name);
  const pre = parsePreconditions(ctx.query);
  checkEarly(ctx, bucket, name, pre);
  const fields = parseObjectFields(metadata);
  const uploadType = ctx.req.headers["x-upload-content-type"];
  if (fields.contentType === undefined && typeof uploadType === "string" && uploadType !== "")
    fields.contentType = uploadType;
  const declaredLength = ctx.req.headers["x-upload-content-length"];
  const declared = declaredChecksums(metadata);
  const session = await ctx.sessions.create({
    bucket,
    name,
    fields,
    preconditions: pre,
    ...(typeof declaredLength === "string" && declaredLength !== ""
      ? { declaredSize: parseInt64("X-Upload-Content-Length", declaredLength) }
      : {}),
    ...(declared.md5 ? { expectedMd5: declared.md5 } : {}),
    ...(declared.crc32c ? { expectedCrc32c: declared.crc32c } : {}),
  });
  const location = `${requestOrigin(ctx)}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.record.id}`;
  ctx.log.debug({ bucket, object: name, uploadId: session.record.id }, "resumable upload started");
  sendEmpty(ctx.res, 200, { location });
}

type ContentRange =
  | { kind: "status"; total?: number }
  | { kind: "data"; start: number; end?: number; total?: number };

// `Content-Range` of a session request: "bytes */*" or "bytes */N" asks for status (N also finishes an
// upload whose bytes are all there), "bytes a-b/N" or "bytes a-b/*" carries a chunk, "bytes a-*/N" or
// "bytes a-*/*" carries the rest of the object in one request (the Node client's single-request mode).
// No header at all: the whole object.
function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined || header.trim() === "") return { kind: "data", start: 0 };
  const status = /^bytes\s+\*\/(\*|\d+)$/i.exec(header.trim());
  if (status) return status[1] === "*" ? { kind: "status" } : { kind: "status", total: Number(status[1]) };
  const data = /^bytes\s+(\d+)-(\d+|\*)\/(\*|\d+)$/i.exec(header.trim());
  if (!data) throw badRequest(`Failed to parse Content-Range header: ${header}`);
  const range: ContentRange = { kind: "data", start: Number(data[1]) };
  if (data[2] !== "*") range.end = Number(data[2]);
  if (data[3] !== "*") range.total = Number(data[3]);
  if (range.end !== undefined && range.end < range.start)
    throw badRequest(`Invalid Content-Range header: ${header}`);
  if (range.total !== undefined && range.end !== undefined && range.end >= range.total) {
    throw badRequest(`Invalid Content-Range header: ${header}`);
  }
  return range;
}

/** How a finished upload is answered: the JSON API sends the object resource, the XML API headers. */
export type FinishedResponder = (ctx: RequestContext, resource: JsonObject) => void;

const sendResource: FinishedResponder = (ctx, resource) => sendJson(ctx.res, 200, resource);

/**
 * A request on a resumable session (JSON API `upload_id` on the upload path, or the XML API's session
 * URI): PUT/POST a chunk or ask for status, DELETE to cancel.
 */
export async function handleSessionRequest(
  ctx: RequestContext,
  uploadId: string,
  respond: FinishedResponder = sendResource,
): Promise<void> {
  const done = ctx.sessions.finishedResource(uploadId);
  if (done && ctx.req.method !== "DELETE") {
    ctx.req.resume();
    respond(ctx, done);
    return;
  }
  const session = ctx.sessions.get(uploadId);
  if (!session) throw notFound(`No such upload session: ${uploadId}`);
  if (ctx.req.method === "DELETE") {
    await ctx.sessions.withSession(uploadId, () => ctx.sessions.cancel(session));
    // GCS answers a cancelled session with 499 (Client Closed Request).
    sendEmpty(ctx.res, 499);
    return;
  }
  if (ctx.req.method !== "PUT" && ctx.req.method !== "POST") throw methodNotAllowed();
  const range = parseContentRange(headerOf(ctx.req, "content-range"));
  await ctx.sessions.withSession(uploadId, async () => {
    const finishedMeanwhile = ctx.sessions.finishedResource(uploadId);
    if (finishedMeanwhile) {
      ctx.req.resume();
      respond(ctx, finishedMeanwhile);
      return;
    }
    if (ctx.sessions.get(uploadId) !== session) throw notFound(`No such upload session: ${uploadId}`);
    const staged = session.staged;
    if (range.kind === "status") {
      ctx.req.resume();
      if (range.total !== undefined && range.total === staged.size) {
        await finishSession(ctx, session, respond);
        return;
      }
      sendIncomplete(ctx, staged.size);
      return;
    }
    if (range.start > staged.size) {
      throw badRequest(
        `Invalid request. According to the Content-Range header, the upload offset is ${range.start} byte(s), which exceeds already uploaded size of ${staged.size} byte(s).`,
      );
    }
    const skip = staged.size - range.start;
    if (session.hasher && session.hasher.bytes !== staged.size) {
      session.hasher.dispose();
      session.hasher = undefined;
    }
    try {
      await stageBody(ctx.req as AsyncIterable<Buffer>, staged, session.hasher, skip);
    } catch (err) {
      // The client went away mid-chunk: what arrived is kept, and a status query will say how much.
      ctx.log.debug({ uploadId, persisted: staged.size, err: String(err) }, "resumable chunk interrupted");
      if (!ctx.res.headersSent) ctx.res.destroy();
      return;
    }
    if (range.total !== undefined && staged.size > range.total) {
      throw badRequest(`Upload is larger than the declared total size ${range.total}.`);
    }
    const final = range.total !== undefined ? staged.size === range.total : range.end === undefined;
    if (final) {
      await finishSession(ctx, session, respond);
      return;
    }
    sendIncomplete(ctx, staged.size);
  });
}

/** 308 with `Range: bytes=0-<last>`, or no Range when nothing is persisted yet, as GCS answers. */
function sendIncomplete(ctx: RequestContext, persisted: number): void {
  const headers: Record<string, string> = {};
  if (persisted > 0) headers.range = `bytes=0-${persisted - 1}`;
  sendEmpty(ctx.res, 308, headers);
}

/** Verifies what the client declared, commits the object, and closes the session (also on failure). */
async function finishSession(
  ctx: RequestContext,
  session: Session,
  respond: FinishedResponder,
): Promise<void> {
  const r = session.record;
  const staged = session.staged;
  try {
    if (r.declaredSize !== undefined && r.declaredSize !== staged.size) {
      throw badRequest(
        `Upload size ${staged.size} does not match the declared X-Upload-Content-Length ${r.declaredSize}.`,
      );
    }
    const sums =
      session.hasher && session.hasher.bytes === staged.size
        ? await session.hasher.digest()
        : await hashStaged(ctx, staged);
    session.hasher = undefined;
    const fromRequest = parseGoogHash(ctx.req.headers["x-goog-hash"]);
    verifyChecksums(sums, { md5: r.expectedMd5, crc32c: r.expectedCrc32c });
    verifyChecksums(sums, fromRequest);
    const record = await ctx.store.commitObject({
      bucket: r.bucket,
      name: r.name,
      data: { staged },
      size: staged.size,
      md5Hash: sums.md5Hash,
      crc32c: sums.crc32c,
      fields: r.fields,
      preconditions: r.preconditions,
    });
    const resource = objectResource(record, ctx.baseUrl);
    await ctx.sessions.finish(session, resource);
    respond(ctx, resource);
  } catch (err) {
    if (err instanceof GcsError && err.status < 500) await ctx.sessions.cancel(session);
    throw err;
  }
}

interface UploadToCommit {
  bucket: string;
  name: string;
  staged: StagedData;
  sums: Checksums;
  size: number;
  fields: ObjectFields;
  pre: Preconditions;
  declared: { md5?: string | undefined; crc32c?: string | undefined };
}

async function commitUpload(ctx: RequestContext, u: UploadToCommit): Promise<void> {
  try {
    verifyChecksums(u.sums, u.declared);
  } catch (err) {
    await ctx.store.backend.discardStaged(u.staged.id);
    throw err;
  }
  const record = await ctx.store.commitObject({
    bucket: u.bucket,
    name: u.name,
    data: { staged: u.staged },
    size: u.size,
    md5Hash: u.sums.md5Hash,
    crc32c: u.sums.crc32c,
    fields: u.fields,
    preconditions: u.pre,
  });
  sendJson(ctx.res, 200, objectResource(record, ctx.baseUrl));
}

/** 400 when a checksum the client declared differs from the one computed, as GCS rejects the upload. */
export function verifyChecksums(
  sums: Checksums,
  declared: { md5?: string | undefined; crc32c?: string | undefined },
): void {
  if (declared.md5 !== undefined && declared.md5 !== sums.md5Hash) {
    throw invalid(`Provided MD5 hash "${declared.md5}" doesn't match calculated MD5 hash "${sums.md5Hash}".`);
  }
  if (declared.crc32c !== undefined && declared.crc32c !== sums.crc32c) {
    throw invalid(`Provided CRC32C "${declared.crc32c}" doesn't match calculated CRC32C "${sums.crc32c}".`);
  }
}

function declaredChecksums(metadata: Record<string, unknown>): { md5?: string; crc32c?: string } {
  const out: { md5?: string; crc32c?: string } = {};
  if (typeof metadata.md5Hash === "string" && metadata.md5Hash !== "") out.md5 = metadata.md5Hash;
  if (typeof metadata.crc32c === "string" && metadata.crc32c !== "") out.crc32c = metadata.crc32c;
  return out;
}

/**
 * Preconditions are checked again, atomically, when the object is committed; checking them before the
 * body is read as well saves reading an upload that is bound to fail, as GCS does.
 */
function checkEarly(ctx: RequestContext, bucket: string, name: string, pre: Preconditions): void {
  checkPreconditions(pre, ctx.store.findObject(bucket, name), "write");
}

async function stageOrDiscard(
  ctx: RequestContext,
  body: IncomingMessage,
  staged: StagedData,
  hasher: ObjectHasher,
): Promise<void> {
  try {
    await stageBody(body as AsyncIterable<Buffer>, staged, hasher);
  } catch (err) {
    hasher.dispose();
    await ctx.store.backend.discardStaged(staged.id);
    throw err;
  }
}

/** Hashes staged bytes from the start: after a restart, the running hashes of a session are gone. */
async function hashStaged(ctx: RequestContext, staged: StagedData): Promise<Checksums> {
  const hasher = ctx.hashing.hasher();
  for await (const chunk of staged.read() as AsyncIterable<Buffer>) {
    const wait = hasher.update(chunk);
    if (wait) await wait;
  }
  return hasher.digest();
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
