import type { Readable } from "node:stream";
import type { Preconditions } from "../preconditions.ts";

/** One generation of one object: its metadata and a reference to its immutable bytes. */
export interface ObjectRecord {
  bucket: string;
  name: string;
  generation: number;
  metageneration: number;
  size: number;
  /** Absent on composite objects, as in GCS. */
  md5Hash?: string;
  crc32c: string;
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  metadata?: Record<string, string>;
  storageClass: string;
  componentCount?: number;
  temporaryHold?: boolean;
  eventBasedHold?: boolean;
  timeCreated: string;
  updated: string;
  timeStorageClassUpdated: string;
  /** Set when this generation became noncurrent (versioned buckets keep those). */
  timeDeleted?: string;
  blobId: string;
}

/** A bucket's `notificationConfigs` entry, in the JSON API's snake_case. */
export interface NotificationRecord {
  id: string;
  /** `//pubsub.googleapis.com/projects/P/topics/T` */
  topic: string;
  payload_format: "JSON_API_V1" | "NONE";
  event_types?: string[];
  custom_attributes?: Record<string, string>;
  object_name_prefix?: string;
}

export interface BucketRecord {
  name: string;
  /** The project it was created in; `buckets.list` filters by it. */
  project: string;
  metageneration: number;
  timeCreated: string;
  updated: string;
  location: string;
  locationType: string;
  storageClass: string;
  versioning: boolean;
  labels?: Record<string, string>;
  /** Other bucket fields a caller set (cors, lifecycle, website, ...): kept and returned, not enforced. */
  extra: Record<string, unknown>;
  notifications: NotificationRecord[];
  nextNotificationId: number;
}

/** Object fields a client may set when it writes an object. */
export interface ObjectFields {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  metadata?: Record<string, string>;
  storageClass?: string;
  temporaryHold?: boolean;
  eventBasedHold?: boolean;
}

/** A resumable upload session, kept so an interrupted upload can resume (across restarts on fs). */
export interface SessionRecord {
  id: string;
  bucket: string;
  name: string;
  fields: ObjectFields;
  preconditions: Preconditions;
  /** `X-Upload-Content-Length` from the initiating request, when given. */
  declaredSize?: number;
  /** Checksums the client declared in the initiating metadata, verified at finalize. */
  expectedMd5?: string;
  expectedCrc32c?: string;
  createdAt: string;
}

/** Bytes being written: an upload in progress, invisible until committed. */
export interface StagedData {
  readonly id: string;
  /** Bytes accepted so far (those flushed plus those still being written). */
  readonly size: number;
  /** Appends a chunk; the returned promise, when there is one, resolves once more may be written. */
  write(chunk: Buffer): Promise<void> | undefined;
  /** Resolves once every accepted byte is stored (and rejects with the first write error). */
  flush(): Promise<void>;
  /** The staged bytes, from the start. */
  read(): Readable;
}

/**
 * Where buckets, objects and upload sessions live. The emulator's semantics (generations,
 * preconditions, versioning, listing) sit above this in the store; a backend only keeps things.
 * Object bytes are immutable once committed, so records can share them via `linkBlob`.
 */
export interface StorageBackend {
  readonly kind: "memory" | "fs";
  /** Everything kept from a previous run (nothing for memory). */
  load(): Promise<{ buckets: BucketRecord[]; objects: ObjectRecord[]; sessions: SessionRecord[] }>;
  saveBucket(bucket: BucketRecord): Promise<void>;
  removeBucket(name: string): Promise<void>;
  /** A new, empty staging area; `id` reopens one by that id (resumable sessions use their own id). */
  stage(id?: string): Promise<StagedData>;
  /** Reopens a staging area that survived a restart, for appending. */
  reopenStaged(id: string): Promise<StagedData | undefined>;
  discardStaged(id: string): Promise<void>;
  /** Turns staged bytes into an immutable blob and returns its id; the staging area is gone after. */
  commitStaged(staged: StagedData): Promise<string>;
  /** Another reference to the same bytes (copy/rewrite), removable independently. */
  linkBlob(blobId: string): Promise<string>;
  /** Bytes `start..end` inclusive of a blob; rejects when the blob no longer exists. */
  openBlob(blobId: string, start: number, end: number): Promise<Readable>;
  /** Creates or replaces the record of one generation. */
  saveObject(record: ObjectRecord): Promise<void>;
  /** Removes one generation's record and its blob. */
  removeObject(record: ObjectRecord): Promise<void>;
  saveSession(session: SessionRecord): Promise<void>;
  removeSession(id: string): Promise<void>;
  close(): Promise<void>;
}
