import type { BucketRecord, NotificationRecord, ObjectRecord } from "./backend/types.ts";

export type JsonObject = Record<string, unknown>;

/**
 * GCS's object etag: base64 of a small protobuf holding the generation (field 1) and the
 * metageneration (field 2), e.g. `CJ+9qe/ZnPMCEAE=`. It changes exactly when either does.
 */
export function objectEtag(generation: number, metageneration: number): string {
  return Buffer.from([0x08, ...varint(generation), 0x10, ...varint(metageneration)]).toString("base64");
}

/** A bucket's etag has the same shape with only its metageneration. */
export function bucketEtag(metageneration: number): string {
  return Buffer.from([0x08, ...varint(metageneration)]).toString("base64");
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** The `storage#object` resource (JSON_API_V1), as objects.get returns it and notifications carry it. */
export function objectResource(o: ObjectRecord, baseUrl: string): JsonObject {
  const encoded = encodeURIComponent(o.name);
  const r: JsonObject = {
    kind: "storage#object",
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${baseUrl}/storage/v1/b/${o.bucket}/o/${encoded}`,
    mediaLink: `${baseUrl}/download/storage/v1/b/${o.bucket}/o/${encoded}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType ?? "application/octet-stream",
    storageClass: o.storageClass,
    size: String(o.size),
  };
  if (o.md5Hash !== undefined) r.md5Hash = o.md5Hash;
  r.crc32c = o.crc32c;
  r.etag = objectEtag(o.generation, o.metageneration);
  if (o.contentEncoding !== undefined) r.contentEncoding = o.contentEncoding;
  if (o.contentDisposition !== undefined) r.contentDisposition = o.contentDisposition;
  if (o.contentLanguage !== undefined) r.contentLanguage = o.contentLanguage;
  if (o.cacheControl !== undefined) r.cacheControl = o.cacheControl;
  if (o.customTime !== undefined) r.customTime = o.customTime;
  if (o.metadata !== undefined && Object.keys(o.metadata).length > 0) r.metadata = { ...o.metadata };
  if (o.componentCount !== undefined) r.componentCount = o.componentCount;
  if (o.temporaryHold !== undefined) r.temporaryHold = o.temporaryHold;
  if (o.eventBasedHold !== undefined) r.eventBasedHold = o.eventBasedHold;
  r.timeCreated = o.timeCreated;
  r.updated = o.updated;
  r.timeStorageClassUpdated = o.timeStorageClassUpdated;
  r.timeFinalized = o.timeCreated;
  if (o.timeDeleted !== undefined) r.timeDeleted = o.timeDeleted;
  return r;
}

/** The `storage#bucket` resource. */
export function bucketResource(b: BucketRecord, baseUrl: string): JsonObject {
  const r: JsonObject = {
    ...b.extra,
    kind: "storage#bucket",
    selfLink: `${baseUrl}/storage/v1/b/${b.name}`,
    id: b.name,
    name: b.name,
    metageneration: String(b.metageneration),
    location: b.location,
    locationType: b.locationType,
    storageClass: b.storageClass,
    etag: bucketEtag(b.metageneration),
    timeCreated: b.timeCreated,
    updated: b.updated,
    versioning: { enabled: b.versioning },
  };
  if (b.labels !== undefined && Object.keys(b.labels).length > 0) r.labels = { ...b.labels };
  return r;
}

/** The `storage#notification` resource, snake_case as the JSON API has it. */
export function notificationResource(bucket: string, n: NotificationRecord, baseUrl: string): JsonObject {
  const r: JsonObject = {
    kind: "storage#notification",
    id: n.id,
    selfLink: `${baseUrl}/storage/v1/b/${bucket}/notificationConfigs/${n.id}`,
    topic: n.topic,
    payload_format: n.payload_format,
    etag: n.id,
  };
  if (n.event_types !== undefined) r.event_types = [...n.event_types];
  if (n.custom_attributes !== undefined) r.custom_attributes = { ...n.custom_attributes };
  if (n.object_name_prefix !== undefined) r.object_name_prefix = n.object_name_prefix;
  return r;
}
