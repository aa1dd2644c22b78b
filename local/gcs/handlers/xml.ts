import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { ObjectFields, ObjectRecord, StagedData } from "../backend/types.ts";
import { GcsError, methodNotAllowed } from "../errors.ts";
import { parseGoogHash } from "../hashing.ts";
import { stageBody } from "../http.ts";
import { tokenAfter } from "../listing.ts";
import { validateBucketName, validateObjectName } from "../names.ts";
import { parseObjectFields } from "../object-fields.ts";
import { checkPreconditions, type Preconditions, parseInt64 } from "../preconditions.ts";
import { type JsonObject, objectResource } from "../resources.ts";
import type { Store } from "../store.ts";
import { maxResults } from "./buckets.ts";
import { type RequestContext, requestOrigin } from "./context.ts";
import { sendMedia } from "./media.ts";
import { commitCopy, composeObject, generationParam } from "./objects.ts";
import { handleSessionRequest, verifyChecksums } from "./uploads.ts";

const XMLNS = "http://doc.s3.amazonaws.com/2006-03-01";
const DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>";
/** Most bytes of an XML request body (compose, multipart completion, bucket configuration). */
const MAX_XML_BYTES = 4 * 1024 * 1024;
/** The XML API's multipart upload limits (S3-compatible). */
const MAX_PARTS = 10_000;
const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_COMPOSE_SOURCES = 32;

/** An error the XML API names by its own code (`<Code>`), e.g. NoSuchUpload. */
export class XmlError extends GcsError {
  readonly code: string;
  constructor(status: number, code: string, message: string, details?: string) {
    super(status, code, message, details === undefined ? {} : { details: { details } });
    this.code = code;
  }
}

// ---------------------------------------------------------------- service: GET /

/** `GET /`: the buckets of the project in `x-goog-project-id` (ListAllMyBucketsResult). */
export async function handleXmlService(ctx: RequestContext): Promise<void> {
  await xmlErrors(ctx, async () => {
    if (ctx.req.method !== "GET" && ctx.req.method !== "HEAD") throw methodNotAllowed();
    const project = projectHeader(ctx);
    const buckets = ctx.store.listBuckets(project, "");
    const body = [
      `<ListAllMyBucketsResult xmlns='${XMLNS}'><Owner><ID>${esc(project)}</ID><DisplayName></DisplayName></Owner><Buckets>`,
      ...buckets.map(
        (b) => `<Bucket><Name>${esc(b.name)}</Name><CreationDate>${b.timeCreated}</CreationDate></Bucket>`,
      ),
      "</Buckets></ListAllMyBucketsResult>",
    ].join("");
    sendXml(ctx, 200, body);
  });
}

// ---------------------------------------------------------------- buckets: /<bucket>

/**
 * `/<bucket>`: GET lists objects (ListBucketResult, V1 `marker` paging or V2 `list-type=2`), or one
 * of the `location`, `storageClass`, `versioning` and `uploads` subresources; HEAD tells whether it
 * exists; PUT creates it (or sets `versioning`); DELETE removes it when empty.
 */
export async function handleXmlBucket(ctx: RequestContext, bucket: string): Promise<void> {
  await xmlErrors(ctx, async () => {
    const q = ctx.query;
    switch (ctx.req.method) {
      case "GET":
      case "HEAD": {
        const record = ctx.store.getBucket(bucket);
        if (ctx.req.method === "HEAD") {
          ctx.res.writeHead(200, { "content-length": "0" }).end();
          return;
        }
        if (q.has("location")) {
          sendXml(ctx, 200, `<LocationConstraint>${esc(record.location)}</LocationConstraint>`);
          return;
        }
        if (q.has("storageClass")) {
          sendXml(ctx, 200, `<StorageClass>${esc(record.storageClass)}</StorageClass>`);
          return;
        }
        if (q.has("versioning")) {
          sendXml(
            ctx,
            200,
            record.versioning
              ? "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
              : "<VersioningConfiguration/>",
          );
          return;
        }
        if (q.has("uploads")) {
          listMultipartUploads(ctx, bucket);
          return;
        }
        if (q.has("acl") || q.has("defaultObjectAcl")) {
          sendXml(ctx, 200, ownerAcl(record.project));
          return;
        }
        if (q.has("tagging")) {
          const tags = Object.entries(record.labels ?? {})
            .map(([k, v]) => `<Tag><Key>${esc(k)}</Key><Value>${esc(v)}</Value></Tag>`)
            .join("");
          sendXml(ctx, 200, `<Tagging><TagSet>${tags}</TagSet></Tagging>`);
          return;
        }
        const config = bucketConfigXml(record.extra, q);
        if (config !== undefined) {
          sendXml(ctx, 200, config);
          return;
        }
        refuseSubresource(q);
        listObjects(ctx, bucket);
        return;
      }
      case "PUT": {
        if (q.has("versioning")) {
          const status = /<Status>\s*(Enabled|Suspended)\s*<\/Status>/.exec(await readXml(ctx.req))?.[1];
          if (!status) throw malformed("VersioningConfiguration needs a Status of Enabled or Suspended.");
          await ctx.store.updateBucket(bucket, { versioning: { enabled: status === "Enabled" } }, {}, false);
          ctx.res.writeHead(200, { "content-length": "0" }).end();
          return;
        }
        refuseSubresource(q);
        const project = projectHeader(ctx);
        if (!isValidName(bucket))
          throw new XmlError(400, "InvalidBucketName", "The specified bucket is not valid.");
        const config = await readXml(ctx.req);
        const body: Record<string, unknown> = { name: bucket };
        const location = /<LocationConstraint>([^<]*)<\/LocationConstraint>/.exec(config)?.[1]?.trim();
        if (location) body.location = location;
        const storageClass = /<StorageClass>([^<]*)<\/StorageClass>/.exec(config)?.[1]?.trim();
        const classHeader = ctx.req.headers["x-goog-storage-class"];
        if (storageClass || typeof classHeader === "string") body.storageClass = storageClass ?? classHeader;
        try {
          await ctx.store.createBucket(project, body);
        } catch (err) {
          if (err instanceof GcsError && err.status === 409) {
            throw new XmlError(
              409,
              "BucketAlreadyOwnedByYou",
              "Your previous request to create the named bucket succeeded and you already own it.",
            );
          }
          throw err;
        }
        ctx.res.writeHead(200, { "content-length": "0" }).end();
        return;
      }
      case "DELETE":
        refuseSubresource(q);
        try {
          await ctx.store.deleteBucket(bucket, {});
        } catch (err) {
          if (err instanceof GcsError && err.status === 409) {
            throw new XmlError(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.");
          }
          throw err;
        }
        ctx.res.writeHead(204).end();
        return;
      default:
        throw methodNotAllowed();
    }
  });
}

function listObjects(ctx: RequestContext, bucket: string): void {
  const q = ctx.query;
  const v2 = q.get("list-type") === "2";
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") || undefined;
  const versions = q.has("versions");
  const marker = v2 ? (q.get("start-after") ?? "") : (q.get("marker") ?? "");
  const continuation = v2 ? q.get("continuation-token") : null;
  const generationMarker = q.get("generation-marker");
  let pageToken: string | undefined;
  if (continuation) pageToken = continuation;
  else if (marker !== "") {
    const generation =
      versions && generationMarker ? parseInt64("generation-marker", generationMarker) : undefined;
    pageToken = tokenAfter(marker, delimiter, generation);
  }
  const page = ctx.store.listObjects(bucket, {
    prefix,
    delimiter,
    includeTrailingDelimiter: false,
    versions,
    maxResults: maxResults(toMaxResults(q.get("max-keys")), 1000),
    ...(pageToken ? { pageToken } : {}),
  });
  const truncated = page.nextPageToken !== undefined;
  const out: string[] = [`<ListBucketResult xmlns='${XMLNS}'><Name>${esc(bucket)}</Name>`];
  out.push(`<Prefix>${esc(prefix)}</Prefix>`);
  if (v2) {
    if (q.has("start-after")) out.push(`<StartAfter>${esc(marker)}</StartAfter>`);
    if (continuation) out.push(`<ContinuationToken>${esc(continuation)}</ContinuationToken>`);
    out.push(`<KeyCount>${page.items.length + page.prefixes.length}</KeyCount>`);
    if (truncated) out.push(`<NextContinuationToken>${esc(page.nextPageToken)}</NextContinuationToken>`);
  } else {
    out.push(`<Marker>${esc(marker)}</Marker>`);
    if (versions && generationMarker)
      out.push(`<GenerationMarker>${esc(generationMarker)}</GenerationMarker>`);
    if (truncated) {
      // The last key or prefix of the page, as S3-style clients pass it back as `marker`.
      const lastItem = page.items[page.items.length - 1];
      const lastPrefix = page.prefixes[page.prefixes.length - 1];
      const next =
        lastPrefix !== undefined && (lastItem === undefined || lastPrefix > lastItem.name)
          ? lastPrefix
          : (lastItem?.name ?? "");
      out.push(`<NextMarker>${esc(next)}</NextMarker>`);
      if (versions && lastItem && next === lastItem.name) {
        out.push(`<NextGenerationMarker>${lastItem.generation}</NextGenerationMarker>`);
      }
    }
  }
  out.push(`<IsTruncated>${truncated}</IsTruncated>`);
  if (delimiter) out.push(`<Delimiter>${esc(delimiter)}</Delimiter>`);
  // Listed with `versions`, each generation is a <Version> (with IsLatest), as boto's versioned listing reads it.
  const element = versions ? "Version" : "Contents";
  for (const r of page.items) {
    out.push(
      `<${element}><Key>${esc(r.name)}</Key><Generation>${r.generation}</Generation>`,
      versions ? `<IsLatest>${r.timeDeleted === undefined}</IsLatest>` : "",
      `<MetaGeneration>${r.metageneration}</MetaGeneration>`,
      `<LastModified>${r.updated}</LastModified><ETag>${esc(xmlEtag(r))}</ETag><Size>${r.size}</Size>`,
      `<StorageClass>${r.storageClass}</StorageClass>`,
      r.timeDeleted ? `<TimeDeleted>${r.timeDeleted}</TimeDeleted>` : "",
      `</${element}>`,
    );
  }
  for (const p of page.prefixes) out.push(`<CommonPrefixes><Prefix>${esc(p)}</Prefix></CommonPrefixes>`);
  out.push("</ListBucketResult>");
  sendXml(ctx, 200, out.join(""));
}

// ---------------------------------------------------------------- objects: /<bucket>/<object>

/**
 * `/<bucket>/<object>`: GET/HEAD download, PUT upload (or copy with `x-goog-copy-source`, or compose
 * with `?compose`), DELETE; resumable uploads (`x-goog-resumable: start`, then the session URI) and
 * S3-style multipart uploads (`?uploads`, `?partNumber&uploadId`, `?uploadId`). Errors are XML.
 */
export async function handleXmlObject(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  await xmlErrors(ctx, async () => {
    const q = ctx.query;
    const uploadId = q.get("upload_id");
    if (uploadId) {
      await handleSessionRequest(ctx, uploadId, sendUploaded);
      return;
    }
    const mpu = q.get("uploadId");
    switch (ctx.req.method) {
      case "GET":
      case "HEAD": {
        if (mpu) {
          listParts(ctx, bucket, name, mpu);
          return;
        }
        const record = ctx.store.getObject(bucket, name, generationParam(q));
        if (q.has("acl")) {
          sendXml(ctx, 200, ownerAcl(ctx.store.getBucket(bucket).project));
          return;
        }
        refuseSubresource(q);
        checkPreconditions(xmlPreconditions(ctx), record, "read");
        await sendMedia(ctx, record, ctx.req.method === "HEAD", xmlEtag(record));
        return;
      }
      case "PUT":
        if (mpu) {
          await uploadPart(ctx, bucket, name, mpu);
          return;
        }
        if (q.has("compose")) {
          await compose(ctx, bucket, name);
          return;
        }
        refuseSubresource(q);
        if (ctx.req.headers["x-goog-copy-source"] !== undefined) {
          await copy(ctx, bucket, name);
          return;
        }
        await putObject(ctx, bucket, name);
        return;
      case "POST":
        if (q.has("uploads")) {
          await initiateMultipart(ctx, bucket, name);
          return;
        }
        if (mpu) {
          await completeMultipart(ctx, bucket, name, mpu);
          return;
        }
        if (String(ctx.req.headers["x-goog-resumable"] ?? "").toLowerCase() === "start") {
          await startResumable(ctx, bucket, name);
          return;
        }
        throw new XmlError(
          400,
          "InvalidArgument",
          "POST to an object needs x-goog-resumable: start, ?uploads or ?uploadId.",
        );
      case "DELETE":
        if (mpu) {
          await abortMultipart(ctx, bucket, name, mpu);
          return;
        }
        refuseSubresource(q);
        await ctx.store.deleteObject(bucket, name, generationParam(q), xmlPreconditions(ctx));
        ctx.res.writeHead(204).end();
        return;
      default:
        throw methodNotAllowed();
    }
  });
}

/**
 * Stages the request body, hashing it, and checks it against the hashes the request declared; the staged
 * bytes are discarded on any failure.
 */
async function stageChecked(ctx: RequestContext, declared: ReturnType<typeof declaredFromHeaders>) {
  const staged = await ctx.store.backend.stage();
  const hasher = ctx.hashing.hasher();
  try {
    await stageBody(ctx.req as AsyncIterable<Buffer>, staged, hasher);
  } catch (err) {
    hasher.dispose();
    await ctx.store.backend.discardStaged(staged.id);
    throw err;
  }
  const sums = await hasher.digest();
  try {
    verifyChecksums(sums, declared);
  } catch (err) {
    await ctx.store.backend.discardStaged(staged.id);
    throw err;
  }
  return { staged, size: hasher.bytes, sums };
}

/** A simple upload: the body is the object; metadata comes from headers. */
async function putObject(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  validateObjectName(name);
  const pre = xmlPreconditions(ctx);
  checkPreconditions(pre, ctx.store.findObject(bucket, name), "write");
  const fields = fieldsFromHeaders(ctx.req);
  const declared = declaredFromHeaders(ctx.req);
  const { staged, size, sums } = await stageChecked(ctx, declared);
  const record = await ctx.store.commitObject({
    bucket,
    name,
    data: { staged },
    size,
    md5Hash: sums.md5Hash,
    crc32c: sums.crc32c,
    fields,
    preconditions: pre,
  });
  sendEmptyWith(ctx, 200, uploadedHeaders(record));
}

/** `x-goog-copy-source: /bucket/object`: a new generation sharing the source's bytes. */
async function copy(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  validateObjectName(name);
  const raw = String(ctx.req.headers["x-goog-copy-source"]);
  const path = raw.startsWith("/") ? raw.slice(1) : raw;
  const slash = path.indexOf("/");
  if (slash <= 0 || slash === path.length - 1) {
    throw new XmlError(400, "InvalidArgument", `Invalid x-goog-copy-source: ${raw}`);
  }
  const srcBucket = decodeURIComponent(path.slice(0, slash));
  const srcName = decodeURIComponent(path.slice(slash + 1));
  const srcGen = header(ctx.req, "x-goog-copy-source-generation");
  const source = ctx.store.getObject(
    srcBucket,
    srcName,
    srcGen ? parseInt64("x-goog-copy-source-generation", srcGen) : undefined,
  );
  checkPreconditions(xmlPreconditions(ctx, "x-goog-copy-source-"), source, "write");
  const directive = (header(ctx.req, "x-goog-metadata-directive") ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") {
    throw new XmlError(400, "InvalidArgument", `Invalid x-goog-metadata-directive: ${directive}`);
  }
  const fields = directive === "REPLACE" ? fieldsFromHeaders(ctx.req) : fieldsOfRecord(source);
  const record = await commitCopy(ctx, source, bucket, name, fields, xmlPreconditions(ctx));
  ctx.req.resume();
  sendXml(
    ctx,
    200,
    `<CopyObjectResult><LastModified>${record.updated}</LastModified><ETag>${esc(xmlEtag(record))}</ETag></CopyObjectResult>`,
    uploadedHeaders(record),
  );
}

/** `PUT ?compose`: a ComposeRequest of up to 32 components from the same bucket. */
async function compose(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  validateObjectName(name);
  const xml = await readXml(ctx.req);
  const components = [...xml.matchAll(/<Component>([\s\S]*?)<\/Component>/g)].map((m) => m[1] as string);
  if (!/<ComposeRequest\b/.test(xml) || components.length === 0) {
    throw malformed("The ComposeRequest must name at least one Component.");
  }
  if (components.length > MAX_COMPOSE_SOURCES) {
    throw new XmlError(
      400,
      "InvalidArgument",
      `The number of source components provided (${components.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`,
    );
  }
  const sources: ObjectRecord[] = [];
  for (const c of components) {
    const srcName = unesc(/<Name>([\s\S]*?)<\/Name>/.exec(c)?.[1] ?? "");
    if (srcName === "") throw malformed("Each Component needs a Name.");
    const gen = /<Generation>\s*(\d+)\s*<\/Generation>/.exec(c)?.[1];
    const record = ctx.store.getObject(bucket, srcName, gen ? parseInt64("Generation", gen) : undefined);
    const ifMatch = /<IfGenerationMatch>\s*(\d+)\s*<\/IfGenerationMatch>/.exec(c)?.[1];
    if (ifMatch)
      checkPreconditions({ ifGenerationMatch: parseInt64("IfGenerationMatch", ifMatch) }, record, "write");
    sources.push(record);
  }
  const record = await composeObject(
    ctx,
    bucket,
    name,
    sources,
    fieldsFromHeaders(ctx.req),
    xmlPreconditions(ctx),
  );
  sendEmptyWith(ctx, 200, uploadedHeaders(record));
}

/** `POST` with `x-goog-resumable: start`: opens a session; its URI (`Location`) is this path + upload_id. */
async function startResumable(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  validateObjectName(name);
  ctx.store.getBucket(bucket);
  const pre = xmlPreconditions(ctx);
  checkPreconditions(pre, ctx.store.findObject(bucket, name), "write");
  const fields = fieldsFromHeaders(ctx.req);
  const declared = declaredFromHeaders(ctx.req);
  const declaredLength = header(ctx.req, "x-upload-content-length");
  ctx.req.resume();
  const session = await ctx.sessions.create({
    bucket,
    name,
    fields,
    preconditions: pre,
    ...(declaredLength ? { declaredSize: parseInt64("x-upload-content-length", declaredLength) } : {}),
    ...(declared.md5 ? { expectedMd5: declared.md5 } : {}),
    ...(declared.crc32c ? { expectedCrc32c: declared.crc32c } : {}),
  });
  const location = `${requestOrigin(ctx)}/${encodeURIComponent(bucket)}/${encodeObjectPath(name)}?upload_id=${session.record.id}`;
  sendEmptyWith(ctx, 201, { location });
}

/** A finished XML upload (resumable session) answers with headers, not a body. */
function sendUploaded(ctx: RequestContext, resource: JsonObject): void {
  const headers: Record<string, string> = {
    "x-goog-generation": String(resource.generation),
    "x-goog-metageneration": String(resource.metageneration),
    "x-goog-stored-content-length": String(resource.size),
    "x-goog-stored-content-encoding": String(resource.contentEncoding ?? "identity"),
    "x-goog-hash":
      typeof resource.md5Hash === "string"
        ? `crc32c=${resource.crc32c},md5=${resource.md5Hash}`
        : `crc32c=${resource.crc32c}`,
  };
  if (typeof resource.md5Hash === "string") {
    headers.etag = `"${Buffer.from(resource.md5Hash, "base64").toString("hex")}"`;
  } else if (typeof resource.etag === "string") headers.etag = `"${resource.etag}"`;
  sendEmptyWith(ctx, 200, headers);
}

function uploadedHeaders(r: ObjectRecord): Record<string, string> {
  return {
    etag: xmlEtag(r),
    "x-goog-generation": String(r.generation),
    "x-goog-metageneration": String(r.metageneration),
    "x-goog-stored-content-length": String(r.size),
    "x-goog-stored-content-encoding": r.contentEncoding ?? "identity",
    "x-goog-hash": r.md5Hash ? `crc32c=${r.crc32c},md5=${r.md5Hash}` : `crc32c=${r.crc32c}`,
  };
}

// ---------------------------------------------------------------- multipart uploads (S3-compatible)

interface Part {
  staged: StagedData;
  size: number;
  md5Hex: string;
  crc32c: string;
}

interface MultipartUpload {
  id: string;
  bucket: string;
  name: string;
  fields: ObjectFields;
  preconditions: Preconditions;
  initiated: string;
  parts: Map<number, Part>;
}

/** Multipart uploads in progress, per emulator (they do not survive a restart). */
const uploadsByStore = new WeakMap<Store, Map<string, MultipartUpload>>();

function multipartUploads(store: Store): Map<string, MultipartUpload> {
  let m = uploadsByStore.get(store);
  if (!m) {
    m = new Map();
    uploadsByStore.set(store, m);
  }
  return m;
}

function findUpload(ctx: RequestContext, bucket: string, name: string, id: string): MultipartUpload {
  const u = multipartUploads(ctx.store).get(id);
  if (!u || u.bucket !== bucket || u.name !== name) {
    throw new XmlError(
      404,
      "NoSuchUpload",
      "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.",
    );
  }
  return u;
}

async function initiateMultipart(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  validateObjectName(name);
  ctx.store.getBucket(bucket);
  ctx.req.resume();
  const id = randomBytes(24).toString("base64url");
  multipartUploads(ctx.store).set(id, {
    id,
    bucket,
    name,
    fields: fieldsFromHeaders(ctx.req),
    preconditions: xmlPreconditions(ctx),
    initiated: new Date().toISOString(),
    parts: new Map(),
  });
  sendXml(
    ctx,
    200,
    `<InitiateMultipartUploadResult xmlns='${XMLNS}'><Bucket>${esc(bucket)}</Bucket><Key>${esc(name)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
  );
}

async function uploadPart(ctx: RequestContext, bucket: string, name: string, id: string): Promise<void> {
  const upload = findUpload(ctx, bucket, name, id);
  const raw = ctx.query.get("partNumber") ?? "";
  const n = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PARTS)) {
    throw new XmlError(400, "InvalidArgument", `Part number must be an integer between 1 and ${MAX_PARTS}.`);
  }
  const { staged, size, sums } = await stageChecked(ctx, declaredFromHeaders(ctx.req));
  const md5Hex = Buffer.from(sums.md5Hash, "base64").toString("hex");
  const previous = upload.parts.get(n);
  upload.parts.set(n, { staged, size, md5Hex, crc32c: sums.crc32c });
  if (previous) await ctx.store.backend.discardStaged(previous.staged.id);
  sendEmptyWith(ctx, 200, {
    etag: `"${md5Hex}"`,
    "x-goog-hash": `crc32c=${sums.crc32c},md5=${sums.md5Hash}`,
  });
}

async function completeMultipart(
  ctx: RequestContext,
  bucket: string,
  name: string,
  id: string,
): Promise<void> {
  const upload = findUpload(ctx, bucket, name, id);
  const xml = await readXml(ctx.req);
  const listed = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => {
    const number = Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1] as string)?.[1] ?? Number.NaN);
    const etag = unesc(/<ETag>([\s\S]*?)<\/ETag>/.exec(m[1] as string)?.[1] ?? "")
      .trim()
      .replace(/^"|"$/g, "");
    return { number, etag };
  });
  if (!/<CompleteMultipartUpload\b/.test(xml) || listed.length === 0) {
    throw malformed("The CompleteMultipartUpload request must list at least one Part.");
  }
  const parts: Part[] = [];
  let last = 0;
  for (const p of listed) {
    if (!(p.number > last)) {
      throw new XmlError(400, "InvalidPartOrder", "The list of parts was not in ascending order.");
    }
    last = p.number;
    const part = upload.parts.get(p.number);
    if (!part || (p.etag !== "" && p.etag !== part.md5Hex)) {
      throw new XmlError(
        400,
        "InvalidPart",
        "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
        `part ${p.number}`,
      );
    }
    parts.push(part);
  }
  for (const part of parts.slice(0, -1)) {
    if (part.size < MIN_PART_BYTES) {
      throw new XmlError(
        400,
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size.",
      );
    }
  }
  // The object is the listed parts, in order; like GCS, it is composite: crc32c, no md5Hash.
  const staged = await ctx.store.backend.stage();
  const hasher = ctx.hashing.hasher();
  try {
    for (const part of parts) await stageBody(part.staged.read() as AsyncIterable<Buffer>, staged, hasher);
  } catch (err) {
    hasher.dispose();
    await ctx.store.backend.discardStaged(staged.id);
    throw err;
  }
  const { crc32c } = await hasher.digest();
  const record = await ctx.store.commitObject({
    bucket,
    name,
    data: { staged },
    size: hasher.bytes,
    crc32c,
    fields: upload.fields,
    componentCount: parts.length,
    preconditions: upload.preconditions,
  });
  multipartUploads(ctx.store).delete(id);
  for (const part of upload.parts.values()) await ctx.store.backend.discardStaged(part.staged.id);
  const etag = multipartEtag(parts);
  sendXml(
    ctx,
    200,
    `<CompleteMultipartUploadResult xmlns='${XMLNS}'><Location>${esc(`${requestOrigin(ctx)}/${bucket}/${encodeObjectPath(name)}`)}</Location><Bucket>${esc(bucket)}</Bucket><Key>${esc(name)}</Key><ETag>${esc(etag)}</ETag></CompleteMultipartUploadResult>`,
    { "x-goog-generation": String(record.generation), "x-goog-hash": `crc32c=${record.crc32c}` },
  );
}

async function abortMultipart(ctx: RequestContext, bucket: string, name: string, id: string): Promise<void> {
  const upload = findUpload(ctx, bucket, name, id);
  multipartUploads(ctx.store).delete(id);
  for (const part of upload.parts.values()) await ctx.store.backend.discardStaged(part.staged.id);
  ctx.res.writeHead(204).end();
}

function listParts(ctx: RequestContext, bucket: string, name: string, id: string): void {
  const upload = findUpload(ctx, bucket, name, id);
  const numbers = [...upload.parts.keys()].sort((a, b) => a - b);
  const out = [
    `<ListPartsResult xmlns='${XMLNS}'><Bucket>${esc(bucket)}</Bucket><Key>${esc(name)}</Key><UploadId>${id}</UploadId>`,
    `<StorageClass>STANDARD</StorageClass><PartNumberMarker>0</PartNumberMarker><MaxParts>${MAX_PARTS}</MaxParts><IsTruncated>false</IsTruncated>`,
  ];
  for (const n of numbers) {
    const p = upload.parts.get(n) as Part;
    out.push(`<Part><PartNumber>${n}</PartNumber><ETag>"${p.md5Hex}"</ETag><Size>${p.size}</Size></Part>`);
  }
  out.push("</ListPartsResult>");
  sendXml(ctx, 200, out.join(""));
}

function listMultipartUploads(ctx: RequestContext, bucket: string): void {
  const uploads = [...multipartUploads(ctx.store).values()]
    .filter((u) => u.bucket === bucket)
    .sort((a, b) => (a.name === b.name ? a.initiated.localeCompare(b.initiated) : a.name < b.name ? -1 : 1));
  const out = [
    `<ListMultipartUploadsResult xmlns='${XMLNS}'><Bucket>${esc(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><IsTruncated>false</IsTruncated>`,
  ];
  for (const u of uploads) {
    out.push(
      `<Upload><Key>${esc(u.name)}</Key><UploadId>${u.id}</UploadId><StorageClass>STANDARD</StorageClass><Initiated>${u.initiated}</Initiated></Upload>`,
    );
  }
  out.push("</ListMultipartUploadsResult>");
  sendXml(ctx, 200, out.join(""));
}

/**
 * The bucket configurations gsutil reads after `mb` and for `ls -L`, in their XML form: empty when the
 * bucket has none, as GCS answers. `cors`, `logging`, `website` and `billing` set through the JSON API
 * are translated; a `lifecycle` or `encryption` the emulator would have to translate is refused (501).
 */
function bucketConfigXml(extra: Record<string, unknown>, q: URLSearchParams): string | undefined {
  if (q.has("cors")) {
    const rules = Array.isArray(extra.cors) ? (extra.cors as Array<Record<string, unknown>>) : [];
    const list = (v: unknown, outer: string, inner: string) =>
      Array.isArray(v)
        ? `<${outer}>${v.map((x) => `<${inner}>${esc(String(x))}</${inner}>`).join("")}</${outer}>`
        : "";
    return `<CorsConfig>${rules
      .map(
        (r) =>
          `<Cors>${list(r.origin, "Origins", "Origin")}${list(r.method, "Methods", "Method")}${list(r.responseHeader, "ResponseHeaders", "ResponseHeader")}${r.maxAgeSeconds !== undefined ? `<MaxAgeSec>${esc(String(r.maxAgeSeconds))}</MaxAgeSec>` : ""}</Cors>`,
      )
      .join("")}</CorsConfig>`;
  }
  if (q.has("logging")) {
    const l = (extra.logging ?? {}) as Record<string, unknown>;
    if (typeof l.logBucket !== "string") return "<Logging/>";
    return `<Logging><LogBucket>${esc(l.logBucket)}</LogBucket><LogObjectPrefix>${esc(String(l.logObjectPrefix ?? ""))}</LogObjectPrefix></Logging>`;
  }
  if (q.has("websiteConfig")) {
    const w = (extra.website ?? {}) as Record<string, unknown>;
    return `<WebsiteConfiguration>${typeof w.mainPageSuffix === "string" ? `<MainPageSuffix>${esc(w.mainPageSuffix)}</MainPageSuffix>` : ""}${typeof w.notFoundPage === "string" ? `<NotFoundPage>${esc(w.notFoundPage)}</NotFoundPage>` : ""}</WebsiteConfiguration>`;
  }
  if (q.has("billing")) {
    const b = (extra.billing ?? {}) as Record<string, unknown>;
    return `<BillingConfiguration><RequesterPays>${b.requesterPays === true ? "Enabled" : "Disabled"}</RequesterPays></BillingConfiguration>`;
  }
  if (q.has("lifecycle") && extra.lifecycle === undefined) return "<LifecycleConfiguration/>";
  if (q.has("encryptionConfig") && extra.encryption === undefined) return "<EncryptionConfiguration/>";
  return undefined;
}

/**
 * The ACL GET `?acl` answers: the emulator has no ACLs (nothing is checked, as with the JSON API), so
 * every bucket and object reads as GCS's default `projectPrivate` owner entry, full control for the
 * project's owners. Setting an ACL is refused (501), not pretended.
 */
function ownerAcl(project: string): string {
  const id = esc(`project-owners-${project}`);
  return `<AccessControlList><Owner><ID>${id}</ID></Owner><Entries><Entry><Scope type='GroupById'><ID>${id}</ID></Scope><Permission>FULL_CONTROL</Permission></Entry></Entries></AccessControlList>`;
}

/** S3's multipart ETag: the MD5 of the parts' binary MD5s, then `-<part count>`. */
function multipartEtag(parts: Part[]): string {
  const md5 = createHash("md5");
  for (const p of parts) md5.update(Buffer.from(p.md5Hex, "hex"));
  return `"${md5.digest("hex")}-${parts.length}"`;
}

// ---------------------------------------------------------------- shared pieces

/** The XML API's ETag: the quoted hex MD5 of the bytes; composite objects, which have none, use their etag. */
function xmlEtag(r: ObjectRecord): string {
  if (r.md5Hash) return `"${Buffer.from(r.md5Hash, "base64").toString("hex")}"`;
  return `"${objectResource(r, "").etag as string}"`;
}

function fieldsFromHeaders(req: IncomingMessage): ObjectFields {
  const body: Record<string, unknown> = {};
  const map: Array<[string, string]> = [
    ["content-type", "contentType"],
    ["cache-control", "cacheControl"],
    ["content-disposition", "contentDisposition"],
    ["content-encoding", "contentEncoding"],
    ["content-language", "contentLanguage"],
    ["x-goog-storage-class", "storageClass"],
    ["x-goog-custom-time", "customTime"],
  ];
  for (const [h, field] of map) {
    const v = header(req, h);
    if (v !== undefined && v !== "") body[field] = v;
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith("x-goog-meta-") && typeof v === "string") metadata[k.slice("x-goog-meta-".length)] = v;
  }
  if (Object.keys(metadata).length > 0) body.metadata = metadata;
  return parseObjectFields(body);
}

function fieldsOfRecord(r: ObjectRecord): ObjectFields {
  const out: ObjectFields = {};
  if (r.contentType !== undefined) out.contentType = r.contentType;
  if (r.contentEncoding !== undefined) out.contentEncoding = r.contentEncoding;
  if (r.contentDisposition !== undefined) out.contentDisposition = r.contentDisposition;
  if (r.contentLanguage !== undefined) out.contentLanguage = r.contentLanguage;
  if (r.cacheControl !== undefined) out.cacheControl = r.cacheControl;
  if (r.customTime !== undefined) out.customTime = r.customTime;
  if (r.metadata !== undefined) out.metadata = { ...r.metadata };
  return out;
}

/** Checksums the client declared: `Content-MD5` and `x-goog-hash`. */
function declaredFromHeaders(req: IncomingMessage): { md5?: string; crc32c?: string } {
  const out: { md5?: string; crc32c?: string } = { ...parseGoogHash(req.headers["x-goog-hash"]) };
  const md5 = header(req, "content-md5");
  if (md5 !== undefined && md5 !== "") {
    if (!/^[A-Za-z0-9+/]{22}==$/.test(md5)) {
      throw new XmlError(400, "InvalidDigest", "The Content-MD5 you specified is invalid.");
    }
    out.md5 = md5;
  }
  return out;
}

/** `x-goog-if-generation-match` / `x-goog-if-metageneration-match` (with a prefix for copy sources). */
function xmlPreconditions(ctx: RequestContext, prefix = "x-goog-"): Preconditions {
  const pre: Preconditions = {};
  const g = header(ctx.req, `${prefix}if-generation-match`);
  const m = header(ctx.req, `${prefix}if-metageneration-match`);
  if (g !== undefined && g !== "") pre.ifGenerationMatch = parseInt64(`${prefix}if-generation-match`, g);
  if (m !== undefined && m !== "")
    pre.ifMetagenerationMatch = parseInt64(`${prefix}if-metageneration-match`, m);
  return pre;
}

function projectHeader(ctx: RequestContext): string {
  const project = header(ctx.req, "x-goog-project-id");
  if (!project) {
    throw new XmlError(
      400,
      "MissingSecurityHeader",
      "Your request was missing a required header.",
      "Missing x-goog-project-id header.",
    );
  }
  return project;
}

/** Subresources of the XML API the emulator does not serve (ACLs, CORS, lifecycle, ...): 501, not a wrong answer. */
function refuseSubresource(q: URLSearchParams): void {
  for (const sub of [
    "acl",
    "defaultObjectAcl",
    "cors",
    "lifecycle",
    "logging",
    "websiteConfig",
    "billing",
    "encryptionConfig",
    "tagging",
    "retention",
  ]) {
    if (q.has(sub)) {
      throw new XmlError(
        501,
        "NotImplemented",
        "A header or query you provided requested a function that is not implemented.",
        `The emulator does not serve the ?${sub} subresource.`,
      );
    }
  }
}

function isValidName(bucket: string): boolean {
  try {
    validateBucketName(bucket);
    return true;
  } catch {
    return false;
  }
}

function toMaxResults(raw: string | null): URLSearchParams {
  const q = new URLSearchParams();
  if (raw !== null) q.set("maxResults", raw);
  return q;
}

function malformed(details: string): XmlError {
  return new XmlError(
    400,
    "MalformedXML",
    "The XML you provided was not well-formed or did not validate against our published schema.",
    details,
  );
}

async function readXml(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_XML_BYTES)
      throw new XmlError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendXml(
  ctx: RequestContext,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  const text = DECLARATION + body;
  ctx.res.writeHead(status, {
    "content-type": "application/xml; charset=UTF-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  ctx.res.end(ctx.req.method === "HEAD" ? undefined : text);
}

function sendEmptyWith(ctx: RequestContext, status: number, headers: Record<string, string>): void {
  ctx.res.writeHead(status, { "content-length": "0", ...headers });
  ctx.res.end();
}

/** Runs an XML API request, answering any error in the XML API's shape. */
async function xmlErrors(ctx: RequestContext, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof GcsError) || err.status === 304) throw err;
    if (ctx.res.headersSent) {
      ctx.res.destroy();
      return;
    }
    const [code, message] = xmlCodeOf(err);
    const details = err instanceof XmlError ? err.details.details : err.message;
    const body = `<Error><Code>${code}</Code><Message>${esc(message)}</Message>${details && details !== message ? `<Details>${esc(details)}</Details>` : ""}</Error>`;
    // Let the rest of a refused request body go, so the connection can be reused.
    ctx.req.resume();
    sendXml(ctx, err.status, body, err.headers);
  }
}

function xmlCodeOf(err: GcsError): [string, string] {
  if (err instanceof XmlError) return [err.code, err.message];
  switch (err.status) {
    case 404:
      if (err.message.startsWith("The specified bucket"))
        return ["NoSuchBucket", "The specified bucket does not exist."];
      if (err.message.startsWith("No such upload session")) {
        return ["NoSuchUpload", "The requested upload was not found."];
      }
      return ["NoSuchKey", "The specified key does not exist."];
    case 409:
      return ["Conflict", err.message];
    case 412:
      return ["PreconditionFailed", "At least one of the pre-conditions you specified did not hold."];
    case 416:
      return ["InvalidRange", "The requested range cannot be satisfied."];
    case 403:
      return ["AccessDenied", err.message];
    case 405:
      return ["MethodNotAllowed", "The specified method is not allowed against this resource."];
    case 400:
      if (err.message.startsWith("Provided MD5 hash")) {
        return ["BadDigest", "The Content-MD5 you specified did not match what we received."];
      }
      if (err.message.startsWith("Provided CRC32C")) {
        return ["CrcMismatch", "The CRC32C you specified did not match what we computed."];
      }
      return ["InvalidArgument", "Invalid argument."];
    default:
      return ["InternalError", "We encountered an internal error. Please try again."];
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Object names in a URL path: each '/'-separated piece percent-encoded. */
function encodeObjectPath(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

function esc(s: string | undefined): string {
  return (s ?? "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function unesc(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&amp;/g, "&");
}
