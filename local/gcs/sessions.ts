import { randomBytes } from "node:crypto";
import type { SessionRecord, StagedData, StorageBackend } from "./backend/types.ts";
import type { HashService, ObjectHasher } from "./hashing.ts";
import { KeyedMutex } from "./locks.ts";
import type { JsonObject } from "./resources.ts";

/** How long a finished session still answers with its object, as GCS keeps a session for a week. */
const FINISHED_TTL_MS = 60 * 60 * 1000;

/** A resumable upload in progress: its record, its staged bytes, and running hashes while they are contiguous. */
export interface Session {
  record: SessionRecord;
  staged: StagedData;
  /** Hashes of the staged bytes; dropped when they can no longer be extended (then recomputed). */
  hasher: ObjectHasher | undefined;
}

/** Open resumable sessions, persisted through the backend so they survive a restart on fs. */
export class SessionTable {
  #backend: StorageBackend;
  #hashing: HashService;
  #sessions = new Map<string, Session>();
  /** Finished sessions: only the answer is kept (never the bytes), for clients that ask again. */
  #finished = new Map<string, { resource: JsonObject; at: number }>();
  #locks = new KeyedMutex();

  constructor(backend: StorageBackend, hashing: HashService) {
    this.#backend = backend;
    this.#hashing = hashing;
  }

  /** Re-attaches sessions a previous run left open (their staged bytes are still there). */
  async restore(records: SessionRecord[]): Promise<void> {
    for (const record of records) {
      const staged = await this.#backend.reopenStaged(record.id);
      if (!staged) {
        await this.#backend.removeSession(record.id);
        continue;
      }
      this.#sessions.set(record.id, {
        record,
        staged,
        hasher: staged.size === 0 ? this.#hashing.hasher() : undefined,
      });
    }
  }

  async create(fields: Omit<SessionRecord, "id" | "createdAt">): Promise<Session> {
    const id = randomBytes(24).toString("base64url");
    const record: SessionRecord = { ...fields, id, createdAt: new Date().toISOString() };
    const staged = await this.#backend.stage(id);
    await this.#backend.saveSession(record);
    const session: Session = { record, staged, hasher: this.#hashing.hasher() };
    this.#sessions.set(id, session);
    return session;
  }

  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  /** The object a finished session created, for a client that asks again. */
  finishedResource(id: string): JsonObject | undefined {
    this.#prune();
    return this.#finished.get(id)?.resource;
  }

  /** Runs `work` with the session to itself, so chunks of one upload never interleave. */
  withSession<T>(id: string, work: () => Promise<T>): Promise<T> {
    return this.#locks.run(id, work);
  }

  /** The object is committed: forget the bytes and remember the answer for a while. */
  async finish(session: Session, resource: JsonObject): Promise<void> {
    session.hasher?.dispose();
    session.hasher = undefined;
    this.#sessions.delete(session.record.id);
    this.#finished.set(session.record.id, { resource, at: Date.now() });
    await this.#backend.removeSession(session.record.id);
  }

  async cancel(session: Session): Promise<void> {
    session.hasher?.dispose();
    session.hasher = undefined;
    this.#sessions.delete(session.record.id);
    await this.#backend.removeSession(session.record.id);
  }

  #prune(): void {
    const now = Date.now();
    for (const [id, f] of this.#finished) {
      if (now - f.at > FINISHED_TTL_MS) this.#finished.delete(id);
    }
  }
}
