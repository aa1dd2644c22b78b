import { invalid, methodNotAllowed, required } from "../errors.ts";
import { readRequestJson, sendEmpty, sendJson } from "../http.ts";
import { validateBucketName } from "../names.ts";
import { parseInt64, parsePreconditions } from "../preconditions.ts";
import { bucketResource } from "../resources.ts";
import type { RequestContext } from "./context.ts";

/** `/b`: buckets.list (GET) and buckets.insert (POST), both scoped by the `project` parameter. */
export async function handleBuckets(ctx: RequestContext): Promise<void> {
  const method = ctx.req.method;
  const project = ctx.query.get("project");
  if (method === "POST") {
    const body = await readRequestJson(ctx.req);
    if (!project) throw required("Required parameter: project");
    const name = body.name;
    if (typeof name !== "string") throw required();
    validateBucketName(name);
    const record = await ctx.store.createBucket(project, body);
    ctx.log.debug({ bucket: name, project }, "bucket created");
    sendJson(ctx.res, 200, bucketResource(record, ctx.baseUrl));
    return;
  }
  if (method === "GET") {
    if (!project) throw required("Required parameter: project");
    const all = ctx.store.listBuckets(project, ctx.query.get("prefix") ?? "");
    const max = maxResults(ctx.query, 1000);
    const token = ctx.query.get("pageToken");
    const after = token ? Buffer.from(token, "base64url").toString("utf8") : undefined;
    const start = after === undefined ? 0 : all.findIndex((b) => b.name > after);
    const from = start < 0 ? all.length : start;
    const page = all.slice(from, from + max);
    // Like GCS, an empty page has no `items` at all.
    const body: Record<string, unknown> = { kind: "storage#buckets" };
    if (page.length > 0) body.items = page.map((b) => bucketResource(b, ctx.baseUrl));
    const last = page[page.length - 1];
    if (from + max < all.length && last)
      body.nextPageToken = Buffer.from(last.name, "utf8").toString("base64url");
    sendJson(ctx.res, 200, body);
    return;
  }
  throw methodNotAllowed();
}

/** `/b/<bucket>`: buckets.get, patch, update and delete. */
export async function handleBucket(ctx: RequestContext, bucket: string): Promise<void> {
  const pre = parsePreconditions(ctx.query);
  switch (ctx.req.method) {
    case "GET": {
      const record = ctx.store.checkBucketRead(bucket, pre);
      sendJson(ctx.res, 200, bucketResource(record, ctx.baseUrl));
      return;
    }
    case "PATCH":
    case "PUT": {
      const body = await readRequestJson(ctx.req);
      const record = await ctx.store.updateBucket(bucket, body, pre, ctx.req.method === "PUT");
      sendJson(ctx.res, 200, bucketResource(record, ctx.baseUrl));
      return;
    }
    case "DELETE":
      await ctx.store.deleteBucket(bucket, pre);
      ctx.log.debug({ bucket }, "bucket deleted");
      sendEmpty(ctx.res, 204);
      return;
    default:
      throw methodNotAllowed();
  }
}

/**
 * `/b/<bucket>/storageLayout`: buckets.getStorageLayout, which the Cloud SDK asks before recursive
 * copies, moves and deletes to learn whether the bucket has a hierarchical namespace. The emulator's
 * buckets are flat (no folders API), so `hierarchicalNamespace.enabled` is always false.
 */
export async function handleStorageLayout(ctx: RequestContext, bucket: string): Promise<void> {
  if (ctx.req.method !== "GET") throw methodNotAllowed();
  const record = ctx.store.getBucket(bucket);
  const body: Record<string, unknown> = {
    kind: "storage#storageLayout",
    bucket: record.name,
    location: record.location,
    locationType: record.locationType,
  };
  const placement = record.extra.customPlacementConfig;
  if (placement !== undefined) body.customPlacementConfig = placement;
  body.hierarchicalNamespace = { enabled: false };
  sendJson(ctx.res, 200, body);
}

/** `maxResults`, capped at `cap` as GCS caps it. */
export function maxResults(query: URLSearchParams, cap: number): number {
  const raw = query.get("maxResults");
  if (raw === null || raw === "") return cap;
  const n = parseInt64("maxResults", raw);
  if (n < 0) throw invalid(`Invalid value for maxResults: ${raw}`);
  return n === 0 ? cap : Math.min(n, cap);
}
