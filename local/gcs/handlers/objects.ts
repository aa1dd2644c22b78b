import type { ObjectFields, ObjectRecord } from "../backend/types.ts";
import { badRequest, invalid, methodNotAllowed, required } from "../errors.ts";
import { compileGlob } from "../glob.ts";
import { readRequestJson, sendEmpty, sendJson, stageBody } from "../http.ts";
import { validateObjectName } from "../names.ts";
import { fieldsOf, parseObjectFields, patchObjectFields } from "../object-fields.ts";
import { checkPreconditions, type Preconditions, parseInt64, parsePreconditions } from "../preconditions.ts";
import { objectResource } from "../resources.ts";
import { maxResults } from "./buckets.ts";
import { queryFlag, type RequestContext } from "./context.ts";
import { sendMedia } from "./media.ts";

/** GCS's compose limit. */
const MAX_COMPOSE_SOURCES = 32;

/** An int64 query parameter (a generation, a byte count), when present; a malformed one is a 400 naming it. */
export function int64Param(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === "") return undefined;
  return parseInt64(name, raw);
}

/** Stores `source`'s bytes again as `bucket`/`name` (a link, no copy of the data) with `fields`: a copy. */
export function commitCopy(
  ctx: RequestContext,
  source: ObjectRecord,
  bucket: string,
  name: string,
  fields: ObjectFields,
  preconditions: Preconditions,
): Promise<ObjectRecord> {
  return ctx.store.commitObject({
    bucket,
    name,
    data: { linkFrom: source },
    size: source.size,
    ...(source.md5Hash === undefined ? {} : { md5Hash: source.md5Hash }),
    crc32c: source.crc32c,
    fields,
    ...(source.componentCount === undefined ? {} : { componentCount: source.componentCount }),
    preconditions,
  });
}

/** `generation` (or `sourceGeneration`) query parameter, when present. */
export function generationParam(
  query: URLSearchParams,
  name: "generation" | "sourceGeneration" = "generation",
): number | undefined {
  return int64Param(query, name);
}

/** `/b/<bucket>/o`: objects.list. */
export async function handleObjects(ctx: RequestContext, bucket: string): Promise<void> {
  if (ctx.req.method !== "GET") throw methodNotAllowed();
  const q = ctx.query;
  const glob = q.get("matchGlob");
  const page = ctx.store.listObjects(bucket, {
    prefix: q.get("prefix") ?? "",
    delimiter: q.get("delimiter") || undefined,
    startOffset: q.get("startOffset") || undefined,
    endOffset: q.get("endOffset") || undefined,
    glob: glob ? compileGlob(glob) : undefined,
    includeTrailingDelimiter: queryFlag(q, "includeTrailingDelimiter"),
    versions: queryFlag(q, "versions"),
    maxResults: maxResults(q, 1000),
    pageToken: q.get("pageToken") || undefined,
  });
  const body: Record<string, unknown> = { kind: "storage#objects" };
  if (page.nextPageToken) body.nextPageToken = page.nextPageToken;
  if (page.prefixes.length > 0) body.prefixes = page.prefixes;
  if (page.items.length > 0) body.items = page.items.map((r) => objectResource(r, ctx.baseUrl));
  sendJson(ctx.res, 200, body);
}

/** `/b/<bucket>/o/<object>`: objects.get (metadata, or bytes with `alt=media`), patch, update, delete. */
export async function handleObject(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  const generation = generationParam(ctx.query);
  const pre = parsePreconditions(ctx.query);
  switch (ctx.req.method) {
    case "GET":
    case "HEAD": {
      const record = ctx.store.getObject(bucket, name, generation);
      checkPreconditions(pre, record, "read");
      if (ctx.query.get("alt") === "media") {
        await sendMedia(ctx, record, ctx.req.method === "HEAD");
        return;
      }
      sendJson(ctx.res, 200, objectResource(record, ctx.baseUrl));
      return;
    }
    case "PATCH": {
      const body = await readRequestJson(ctx.req);
      const record = await ctx.store.updateObject(bucket, name, generation, pre, (current) =>
        patchObjectFields(fieldsOf(current), body),
      );
      sendJson(ctx.res, 200, objectResource(record, ctx.baseUrl));
      return;
    }
    case "PUT": {
      const body = await readRequestJson(ctx.req);
      const fields = parseObjectFields(body);
      const record = await ctx.store.updateObject(bucket, name, generation, pre, () => fields);
      sendJson(ctx.res, 200, objectResource(record, ctx.baseUrl));
      return;
    }
    case "DELETE":
      await ctx.store.deleteObject(bucket, name, generation, pre);
      sendEmpty(ctx.res, 204);
      return;
    default:
      throw methodNotAllowed();
  }
}

/**
 * objects.rewrite and objects.copy: a new generation of the destination sharing the source's bytes.
 * Destination metadata comes from the source, with each field the request body names replaced.
 * `ifSource...` preconditions apply to the source, `if...` ones to the destination. A rewrite honours
 * `maxBytesRewrittenPerCall` by answering `done: false` with a token until the byte budget covers the
 * object, as GCS does for large rewrites; the copy itself happens on the final call.
 */
export async function handleRewrite(
  ctx: RequestContext,
  route: { kind: "rewrite" | "copy"; bucket: string; object: string; destBucket: string; destObject: string },
): Promise<void> {
  if (ctx.req.method !== "POST") throw methodNotAllowed();
  validateObjectName(route.destObject);
  const body = await readRequestJson(ctx.req);
  const source = ctx.store.getObject(
    route.bucket,
    route.object,
    generationParam(ctx.query, "sourceGeneration"),
  );
  checkPreconditions(parsePreconditions(ctx.query, "source"), source, "write");
  ctx.store.getBucket(route.destBucket);

  if (route.kind === "rewrite") {
    const budget = int64Param(ctx.query, "maxBytesRewrittenPerCall");
    const token = ctx.query.get("rewriteToken");
    const doneBefore = token ? readRewriteToken(token, source) : 0;
    if (budget !== undefined && budget > 0 && doneBefore + budget < source.size) {
      const done = doneBefore + budget;
      sendJson(ctx.res, 200, {
        kind: "storage#rewriteResponse",
        totalBytesRewritten: String(done),
        objectSize: String(source.size),
        done: false,
        rewriteToken: rewriteToken(source, done),
      });
      return;
    }
  }

  const fields = overrideFields(fieldsOf(source), body);
  const record = await commitCopy(
    ctx,
    source,
    route.destBucket,
    route.destObject,
    fields,
    parsePreconditions(ctx.query),
  );
  const resource = objectResource(record, ctx.baseUrl);
  if (route.kind === "copy") {
    sendJson(ctx.res, 200, resource);
    return;
  }
  sendJson(ctx.res, 200, {
    kind: "storage#rewriteResponse",
    totalBytesRewritten: String(record.size),
    objectSize: String(record.size),
    done: true,
    resource,
  });
}

/** objects.move: the destination gets a new generation with the source's bytes, then the source goes. */
export async function handleMove(
  ctx: RequestContext,
  route: { bucket: string; object: string; destObject: string },
): Promise<void> {
  if (ctx.req.method !== "POST") throw methodNotAllowed();
  validateObjectName(route.destObject);
  await readRequestJson(ctx.req);
  const source = ctx.store.getObject(route.bucket, route.object);
  const sourcePre = parsePreconditions(ctx.query, "source");
  checkPreconditions(sourcePre, source, "write");
  const record = await ctx.store.commitObject({
    bucket: route.bucket,
    name: route.destObject,
    data: { linkFrom: source },
    size: source.size,
    ...(source.md5Hash === undefined ? {} : { md5Hash: source.md5Hash }),
    crc32c: source.crc32c,
    fields: fieldsOf(source),
    ...(source.componentCount === undefined ? {} : { componentCount: source.componentCount }),
    preconditions: parsePreconditions(ctx.query),
  });
  await ctx.store.deleteObject(route.bucket, route.object, source.generation, {});
  sendJson(ctx.res, 200, objectResource(record, ctx.baseUrl));
}

/**
 * objects.compose: the destination's bytes are the sources' bytes in order (up to 32 sources from the
 * same bucket). Like GCS, a composite object has a crc32c but no md5Hash, and a componentCount.
 */
export async function handleCompose(ctx: RequestContext, bucket: string, destination: string): Promise<void> {
  if (ctx.req.method !== "POST") throw methodNotAllowed();
  validateObjectName(destination);
  const body = await readRequestJson(ctx.req);
  const sourceObjects = body.sourceObjects;
  if (!Array.isArray(sourceObjects) || sourceObjects.length === 0)
    throw required("Required field: sourceObjects");
  if (sourceObjects.length > MAX_COMPOSE_SOURCES) {
    throw invalid(
      `The number of source components provided (${sourceObjects.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`,
    );
  }
  const sources: ObjectRecord[] = [];
  for (const raw of sourceObjects) {
    const s = raw as {
      name?: unknown;
      generation?: unknown;
      objectPreconditions?: { ifGenerationMatch?: unknown };
    };
    if (typeof s.name !== "string" || s.name === "") throw required("Required field: sourceObjects.name");
    const generation =
      s.generation === undefined || s.generation === null
        ? undefined
        : parseInt64("generation", String(s.generation));
    const record = ctx.store.getObject(bucket, s.name, generation);
    const ifMatch = s.objectPreconditions?.ifGenerationMatch;
    if (ifMatch !== undefined && ifMatch !== null) {
      const pre: Preconditions = { ifGenerationMatch: parseInt64("ifGenerationMatch", String(ifMatch)) };
      checkPreconditions(pre, record, "write");
    }
    sources.push(record);
  }
  const destinationBody = (body.destination ?? {}) as Record<string, unknown>;
  const fields = parseObjectFields(destinationBody);
  const record = await composeObject(
    ctx,
    bucket,
    destination,
    sources,
    fields,
    parsePreconditions(ctx.query),
  );
  sendJson(ctx.res, 200, objectResource(record, ctx.baseUrl));
}

/** Writes `destination` as the sources' bytes in order: a composite object (crc32c, no md5Hash). */
export async function composeObject(
  ctx: RequestContext,
  bucket: string,
  destination: string,
  sources: ObjectRecord[],
  fields: ObjectFields,
  preconditions: Preconditions,
): Promise<ObjectRecord> {
  const staged = await ctx.store.backend.stage();
  const hasher = ctx.hashing.hasher();
  let crc32c: string;
  try {
    for (const source of sources) {
      const data = await ctx.store.openData(source, 0, source.size - 1);
      await stageBody(data, staged, hasher);
    }
    crc32c = (await hasher.digest()).crc32c;
  } catch (err) {
    hasher.dispose();
    await ctx.store.backend.discardStaged(staged.id);
    throw err;
  }
  const componentCount = sources.reduce((n, s) => n + (s.componentCount ?? 1), 0);
  return ctx.store.commitObject({
    bucket,
    name: destination,
    data: { staged },
    size: hasher.bytes,
    crc32c,
    fields,
    componentCount,
    preconditions,
  });
}

/** Source fields, each replaced by the request body's value when it names that field. */
function overrideFields(source: ObjectFields, body: Record<string, unknown>): ObjectFields {
  const given = parseObjectFields(body);
  return { ...source, ...given };
}

function rewriteToken(source: ObjectRecord, done: number): string {
  return Buffer.from(
    JSON.stringify({ b: source.bucket, o: source.name, g: source.generation, d: done }),
  ).toString("base64url");
}

function readRewriteToken(token: string, source: ObjectRecord): number {
  try {
    const t = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      b?: unknown;
      o?: unknown;
      g?: unknown;
      d?: unknown;
    };
    if (t.b === source.bucket && t.o === source.name && t.g === source.generation && typeof t.d === "number")
      return t.d;
  } catch {
    // fall through
  }
  throw badRequest("Invalid rewrite token.");
}
