import type { Readable } from "node:stream";
import type { Logger } from "../../core/logger.ts";
import type {
  BucketRecord,
  NotificationRecord,
  ObjectFields,
  ObjectRecord,
  SessionRecord,
  StagedData,
  StorageBackend,
} from "./backend/types.ts";
import { conflict, GcsError, invalid, noSuchBucket, noSuchObject, notFound } from "./errors.ts";
import { GenerationClock } from "./generation.ts";
import { type ListPage, type ListQuery, listPage, type NameIndex } from "./listing.ts";
import { KeyedMutex } from "./locks.ts";
import type { ChangeBus, ChangeEvent, EventType } from "./notifications/events.ts";
import { compareNames, lowerBound } from "./order.ts";
import { checkPreconditions, type Preconditions } from "./preconditions.ts";
import { objectResource } from "./resources.ts";

interface NameEntry {
  live?: ObjectRecord;
  /** Noncurrent generations, oldest first. */
  noncurrent: ObjectRecord[];
}

/** A bucket and the in-memory index of its objects (both backends list from memory). */
class BucketState implements NameIndex {
  record: BucketRecord;
  readonly names: string[] = [];
  readonly entries = new Map<string, NameEntry>();
  /** Object writes between precondition check and commit; a bucket with any is not empty. */
  inflight = 0;
  deleted = false;

  constructor(record: BucketRecord) {
    this.record = record;
  }

  versions(name: string): readonly ObjectRecord[] {
    const e = this.entries.get(name);
    if (!e) return [];
    return e.live ? [...e.noncurrent, e.live] : e.noncurrent;
  }

  live(name: string): ObjectRecord | undefined {
    return this.entries.get(name)?.live;
  }

  entry(name: string): NameEntry {
    let e = this.entries.get(name);
    if (!e) {
      e = { noncurrent: [] };
      this.entries.set(name, e);
      this.names.splice(lowerBound(this.names, name), 0, name);
    }
    return e;
  }

  dropIfEmpty(name: string): void {
    const e = this.entries.get(name);
    if (e && !e.live && e.noncurrent.length === 0) {
      this.entries.delete(name);
      const i = lowerBound(this.names, name);
      if (this.names[i] === name) this.names.splice(i, 1);
    }
  }

  isEmpty(): boolean {
    return this.entries.size === 0 && this.inflight === 0;
  }
}

/** The bytes of a new generation: staged upload data, or the blob of an existing object to share. */
export type NewData = { staged: StagedData } | { linkFrom: ObjectRecord };

export interface WriteRequest {
  bucket: string;
  name: string;
  data: NewData;
  size: number;
  md5Hash?: string;
  crc32c: string;
  fields: ObjectFields;
  componentCount?: number;
  preconditions: Preconditions;
}

export interface StoreOptions {
  backend: StorageBackend;
  bus: ChangeBus;
  /** Base for selfLink/mediaLink in resources events carry. */
  baseUrl: () => string;
  logger: Logger;
}

const BUCKET_READ_ONLY = new Set([
  "kind",
  "id",
  "selfLink",
  "name",
  "metageneration",
  "etag",
  "timeCreated",
  "updated",
  "projectNumber",
  "location",
  "locationType",
  "storageClass",
  "versioning",
  "labels",
]);

/**
 * The emulator's semantics over a backend: buckets, generations and metagenerations, preconditions
 * checked atomically with the commit (one lock per object name), versioning, listing, and the change
 * events every mutation emits.
 */
export class Store {
  readonly backend: StorageBackend;
  readonly clock = new GenerationClock();
  #bus: ChangeBus;
  #baseUrl: () => string;
  #log: Logger;
  #buckets = new Map<string, BucketState>();
  #locks = new KeyedMutex();
  #bucketLocks = new KeyedMutex();

  constructor(options: StoreOptions) {
    this.backend = options.backend;
    this.#bus = options.bus;
    this.#baseUrl = options.baseUrl;
    this.#log = options.logger;
  }

  /** Loads what the backend kept and returns the resumable sessions still open. */
  async open(): Promise<SessionRecord[]> {
    const { buckets, objects, sessions } = await this.backend.load();
    for (const b of buckets) this.#buckets.set(b.name, new BucketState(b));
    objects.sort((a, b) => a.generation - b.generation);
    for (const o of objects) {
      this.clock.observe(o.generation);
      const state = this.#buckets.get(o.bucket);
      if (!state) continue;
      const entry = state.entry(o.name);
      if (o.timeDeleted !== undefined) {
        entry.noncurrent.push(o);
        continue;
      }
      // Two live generations only happen when a run stopped between committing the new one and
      // retiring the old one: finish that retirement now.
      const older = entry.live;
      entry.live = o;
      if (older) await this.#retire(state, entry, older, o.timeCreated);
    }
    for (const state of this.#buckets.values()) {
      for (const e of state.entries.values()) e.noncurrent.sort((a, b) => a.generation - b.generation);
      this.clock.observe(state.record.metageneration);
    }
    if (buckets.length > 0) {
      this.#log.info(
        { buckets: buckets.length, objects: objects.length },
        "loaded stored buckets and objects",
      );
    }
    return sessions;
  }

  // ---- buckets

  async createBucket(project: string, body: Record<string, unknown>): Promise<BucketRecord> {
    const name = body.name as string;
    return this.#bucketLocks.run(name, async () => {
      if (this.#buckets.has(name)) {
        throw conflict("Your previous request to create the named bucket succeeded and you already own it.");
      }
      const now = new Date().toISOString();
      const location = typeof body.location === "string" ? body.location.toUpperCase() : "US";
      const record: BucketRecord = {
        name,
        project,
        metageneration: 1,
        timeCreated: now,
        updated: now,
        location,
        locationType: locationTypeOf(location),
        storageClass: typeof body.storageClass === "string" ? body.storageClass.toUpperCase() : "STANDARD",
        versioning: readVersioning(body.versioning) ?? false,
        extra: bucketExtra(body),
        notifications: [],
        nextNotificationId: 1,
      };
      const labels = readLabels(body.labels);
      if (labels) record.labels = labels;
      await this.backend.saveBucket(record);
      this.#buckets.set(name, new BucketState(record));
      return record;
    });
  }

  getBucket(name: string): BucketRecord {
    return this.#state(name).record;
  }

  listBuckets(project: string, prefix: string): BucketRecord[] {
    return [...this.#buckets.values()]
      .map((s) => s.record)
      .filter((b) => b.project === project && b.name.startsWith(prefix))
      .sort((a, b) => compareNames(a.name, b.name));
  }

  /** buckets.patch (merge) or buckets.update (`replace`): versioning, labels, storage class, other fields. */
  async updateBucket(
    name: string,
    body: Record<string, unknown>,
    pre: Preconditions,
    replace: boolean,
  ): Promise<BucketRecord> {
    return this.#bucketLocks.run(name, async () => {
      const state = this.#state(name);
      checkBucketPreconditions(pre, state.record, "write");
      const current = state.record;
      const next: BucketRecord = { ...current, extra: replace ? {} : { ...current.extra } };
      if (replace) {
        next.versioning = readVersioning(body.versioning) ?? false;
        delete next.labels;
      } else {
        const v = readVersioning(body.versioning);
        if (v !== undefined) next.versioning = v;
      }
      if ("labels" in body) {
        if (body.labels === null) delete next.labels;
        else {
          const merged: Record<string, string> = replace ? {} : { ...(current.labels ?? {}) };
          for (const [k, v] of Object.entries(body.labels as Record<string, unknown>)) {
            if (v === null) delete merged[k];
            else merged[k] = String(v);
          }
          if (Object.keys(merged).length > 0) next.labels = merged;
          else delete next.labels;
        }
      }
      if (typeof body.storageClass === "string") next.storageClass = body.storageClass.toUpperCase();
      for (const [k, v] of Object.entries(body)) {
        if (BUCKET_READ_ONLY.has(k)) continue;
        if (v === null) delete next.extra[k];
        else next.extra[k] = v;
      }
      next.metageneration = current.metageneration + 1;
      next.updated = new Date().toISOString();
      await this.backend.saveBucket(next);
      state.record = next;
      return next;
    });
  }

  async deleteBucket(name: string, pre: Preconditions): Promise<void> {
    await this.#bucketLocks.run(name, async () => {
      const state = this.#state(name);
      checkBucketPreconditions(pre, state.record, "write");
      if (!state.isEmpty()) throw conflict("The bucket you tried to delete is not empty.");
      state.deleted = true;
      this.#buckets.delete(name);
      await this.backend.removeBucket(name);
    });
  }

  checkBucketRead(name: string, pre: Preconditions): BucketRecord {
    const record = this.#state(name).record;
    checkBucketPreconditions(pre, record, "read");
    return record;
  }

  // ---- objects

  /** The live generation, or the given one (live or noncurrent); 404 when there is none. */
  getObject(bucket: string, name: string, generation?: number): ObjectRecord {
    const found = this.findObject(bucket, name, generation);
    if (!found) throw noSuchObject(bucket, name);
    return found;
  }

  findObject(bucket: string, name: string, generation?: number): ObjectRecord | undefined {
    const state = this.#state(bucket);
    const entry = state.entries.get(name);
    if (!entry) return undefined;
    if (generation === undefined) return entry.live;
    if (entry.live?.generation === generation) return entry.live;
    return entry.noncurrent.find((r) => r.generation === generation);
  }

  /**
   * Makes a new generation visible: under the name's lock, checks the preconditions against the live
   * generation, commits the bytes, then retires the old generation (noncurrent when the bucket keeps
   * versions, deleted otherwise). Concurrent writers to one name are serialized: the last to commit wins,
   * or gets 412 if its preconditions no longer hold. Staged data is discarded when the write fails.
   */
  async commitObject(req: WriteRequest): Promise<ObjectRecord> {
    let state: BucketState;
    try {
      state = this.#state(req.bucket);
    } catch (err) {
      await this.#discard(req.data);
      throw err;
    }
    state.inflight++;
    try {
      return await this.#locks.run(lockKey(req.bucket, req.name), async () => {
        if (state.deleted) throw noSuchBucket();
        const entry = state.entries.get(req.name);
        const previous = entry?.live;
        checkPreconditions(req.preconditions, previous, "write");
        if (previous) assertNoHold(previous);
        const generation = this.clock.next();
        const blobId =
          "staged" in req.data
            ? await this.backend.commitStaged(req.data.staged)
            : await this.backend.linkBlob(req.data.linkFrom.blobId);
        const now = new Date(Math.floor(generation / 1000)).toISOString();
        const record: ObjectRecord = {
          ...req.fields,
          bucket: req.bucket,
          name: req.name,
          generation,
          metageneration: 1,
          size: req.size,
          crc32c: req.crc32c,
          storageClass: req.fields.storageClass ?? state.record.storageClass,
          timeCreated: now,
          updated: now,
          timeStorageClassUpdated: now,
          blobId,
        };
        if (req.md5Hash !== undefined) record.md5Hash = req.md5Hash;
        if (req.componentCount !== undefined) record.componentCount = req.componentCount;
        if (record.contentType === undefined) record.contentType = "application/octet-stream";
        await this.backend.saveObject(record);
        const e = state.entry(req.name);
        e.live = record;
        this.#emit(
          "OBJECT_FINALIZE",
          record,
          previous ? { overwroteGeneration: String(previous.generation) } : {},
        );
        if (previous) await this.#retire(state, e, previous, now, record);
        return record;
      });
    } catch (err) {
      await this.#discard(req.data);
      throw err;
    } finally {
      state.inflight--;
    }
  }

  /** objects.patch / objects.update: new metadata, same bytes and generation, metageneration + 1. */
  async updateObject(
    bucket: string,
    name: string,
    generation: number | undefined,
    pre: Preconditions,
    change: (current: ObjectRecord) => ObjectFields,
  ): Promise<ObjectRecord> {
    const state = this.#state(bucket);
    return this.#locks.run(lockKey(bucket, name), async () => {
      const current = this.getObject(bucket, name, generation);
      checkPreconditions(pre, current, "write");
      const fields = change(current);
      const next: ObjectRecord = {
        bucket: current.bucket,
        name: current.name,
        generation: current.generation,
        metageneration: current.metageneration + 1,
        size: current.size,
        crc32c: current.crc32c,
        storageClass: fields.storageClass ?? current.storageClass,
        timeCreated: current.timeCreated,
        updated: new Date().toISOString(),
        timeStorageClassUpdated: current.timeStorageClassUpdated,
        blobId: current.blobId,
        ...withoutStorageClass(fields),
      };
      if (next.contentType === undefined) next.contentType = "application/octet-stream";
      if (current.md5Hash !== undefined) next.md5Hash = current.md5Hash;
      if (current.componentCount !== undefined) next.componentCount = current.componentCount;
      if (current.timeDeleted !== undefined) next.timeDeleted = current.timeDeleted;
      if (next.storageClass !== current.storageClass) next.timeStorageClassUpdated = next.updated;
      await this.backend.saveObject(next);
      const entry = state.entry(name);
      if (entry.live === current) entry.live = next;
      else entry.noncurrent = entry.noncurrent.map((r) => (r === current ? next : r));
      this.#emit("OBJECT_METADATA_UPDATE", next, {});
      return next;
    });
  }

  /**
   * objects.delete: without a generation, the live object goes (to noncurrent when the bucket keeps
   * versions); with one, that generation is deleted for good.
   */
  async deleteObject(
    bucket: string,
    name: string,
    generation: number | undefined,
    pre: Preconditions,
  ): Promise<void> {
    const state = this.#state(bucket);
    await this.#locks.run(lockKey(bucket, name), async () => {
      const target = this.getObject(bucket, name, generation);
      checkPreconditions(pre, target, "write");
      assertNoHold(target);
      const entry = state.entry(name);
      if (generation === undefined && state.record.versioning) {
        await this.#retire(state, entry, target, new Date().toISOString());
        return;
      }
      await this.backend.removeObject(target);
      if (entry.live === target) delete entry.live;
      else entry.noncurrent = entry.noncurrent.filter((r) => r !== target);
      state.dropIfEmpty(name);
      this.#emit("OBJECT_DELETE", target, {});
    });
  }

  listObjects(bucket: string, q: ListQuery): ListPage {
    return listPage(this.#state(bucket), q);
  }

  /** Bytes `start..end` (inclusive) of a generation. */
  async openData(record: ObjectRecord, start: number, end: number): Promise<Readable> {
    try {
      return await this.backend.openBlob(record.blobId, start, end);
    } catch {
      // The generation was deleted or replaced between lookup and read.
      throw noSuchObject(record.bucket, record.name);
    }
  }

  // ---- notification configs

  async addNotification(bucket: string, config: Omit<NotificationRecord, "id">): Promise<NotificationRecord> {
    return this.#bucketLocks.run(bucket, async () => {
      const state = this.#state(bucket);
      const record: NotificationRecord = { id: String(state.record.nextNotificationId), ...config };
      const next: BucketRecord = {
        ...state.record,
        nextNotificationId: state.record.nextNotificationId + 1,
        notifications: [...state.record.notifications, record],
      };
      await this.backend.saveBucket(next);
      state.record = next;
      return record;
    });
  }

  getNotification(bucket: string, id: string): NotificationRecord {
    const found = this.#state(bucket).record.notifications.find((n) => n.id === id);
    if (!found) throw notFound(`No such notification config: ${id}`);
    return found;
  }

  async deleteNotification(bucket: string, id: string): Promise<void> {
    await this.#bucketLocks.run(bucket, async () => {
      const state = this.#state(bucket);
      if (!state.record.notifications.some((n) => n.id === id))
        throw notFound(`No such notification config: ${id}`);
      const next: BucketRecord = {
        ...state.record,
        notifications: state.record.notifications.filter((n) => n.id !== id),
      };
      await this.backend.saveBucket(next);
      state.record = next;
    });
  }

  /** The notification configs of a bucket, or none when the bucket is gone. */
  notificationsOf(bucket: string): readonly NotificationRecord[] {
    return this.#buckets.get(bucket)?.record.notifications ?? [];
  }

  // ---- internals

  #state(bucket: string): BucketState {
    const state = this.#buckets.get(bucket);
    if (!state) throw noSuchBucket();
    return state;
  }

  /** Takes `old` out of the live slot: noncurrent (kept) when the bucket keeps versions, else deleted. */
  async #retire(
    state: BucketState,
    entry: NameEntry,
    old: ObjectRecord,
    now: string,
    replacement?: ObjectRecord,
  ): Promise<void> {
    const extra = replacement ? { overwrittenByGeneration: String(replacement.generation) } : {};
    if (entry.live === old) delete entry.live;
    if (state.record.versioning) {
      const archived: ObjectRecord = { ...old, timeDeleted: now };
      await this.backend.saveObject(archived);
      entry.noncurrent.push(archived);
      this.#emit("OBJECT_ARCHIVE", archived, extra);
    } else {
      await this.backend.removeObject(old);
      state.dropIfEmpty(old.name);
      this.#emit("OBJECT_DELETE", old, extra);
    }
  }

  #emit(eventType: EventType, record: ObjectRecord, extra: Partial<ChangeEvent>): void {
    this.#bus.emit({
      eventType,
      bucket: record.bucket,
      object: objectResource(record, this.#baseUrl()),
      eventTime: new Date().toISOString(),
      ...extra,
    });
  }

  async #discard(data: NewData): Promise<void> {
    if ("staged" in data) await this.backend.discardStaged(data.staged.id).catch(() => undefined);
  }
}

function lockKey(bucket: string, name: string): string {
  return `${bucket}\u0000${name}`;
}

function assertNoHold(record: ObjectRecord): void {
  if (record.temporaryHold || record.eventBasedHold) {
    const kind = record.temporaryHold ? "Temporary" : "Event-Based";
    throw new GcsError(
      403,
      "forbidden",
      `Object '${record.bucket}/${record.name}' is under active ${kind} hold and cannot be deleted, overwritten or archived until hold is removed.`,
    );
  }
}

function withoutStorageClass(fields: ObjectFields): ObjectFields {
  const { storageClass: _ignored, ...rest } = fields;
  return rest;
}

function checkBucketPreconditions(pre: Preconditions, b: BucketRecord, kind: "read" | "write"): void {
  if (pre.ifGenerationMatch !== undefined || pre.ifGenerationNotMatch !== undefined) {
    throw invalid("ifGenerationMatch and ifGenerationNotMatch do not apply to buckets.");
  }
  checkPreconditions(pre, { generation: 0, metageneration: b.metageneration }, kind);
}

function readVersioning(value: unknown): boolean | undefined {
  if (value && typeof value === "object" && "enabled" in value)
    return Boolean((value as { enabled: unknown }).enabled);
  return undefined;
}

function readLabels(value: unknown): Record<string, string> | undefined {
  if (!value || typeof value !== "object") return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (v !== null) out[k] = String(v);
  return Object.keys(out).length > 0 ? out : undefined;
}

function bucketExtra(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body))
    if (!BUCKET_READ_ONLY.has(k) && v !== null && v !== undefined) out[k] = v;
  return out;
}

const MULTI_REGIONS = new Set(["US", "EU", "ASIA"]);
const DUAL_REGIONS = new Set(["NAM4", "EUR4", "ASIA1", "EUR5", "EUR7", "EUR8"]);

function locationTypeOf(location: string): string {
  if (MULTI_REGIONS.has(location)) return "multi-region";
  if (DUAL_REGIONS.has(location)) return "dual-region";
  return "region";
}
