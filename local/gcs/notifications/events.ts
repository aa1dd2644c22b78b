import type { JsonObject } from "../resources.ts";

export const EVENT_TYPES = [
  "OBJECT_FINALIZE",
  "OBJECT_METADATA_UPDATE",
  "OBJECT_DELETE",
  "OBJECT_ARCHIVE",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One change to one object, as the emulator's listeners receive it. */
export interface ChangeEvent {
  eventType: EventType;
  bucket: string;
  /** The JSON_API_V1 object resource of the generation the event is about. */
  object: JsonObject;
  /** RFC 3339. */
  eventTime: string;
  /** On OBJECT_FINALIZE that replaced a live object: the generation it replaced. */
  overwroteGeneration?: string;
  /** On OBJECT_DELETE / OBJECT_ARCHIVE caused by an overwrite: the generation that replaced it. */
  overwrittenByGeneration?: string;
}

export type ChangeListener = (event: ChangeEvent) => void | Promise<void>;

/** Fans events out to listeners; a listener that throws or rejects is logged, never fails the request. */
export class ChangeBus {
  #listeners = new Set<ChangeListener>();
  #onError: (err: unknown, event: ChangeEvent) => void;

  constructor(onError: (err: unknown, event: ChangeEvent) => void) {
    this.#onError = onError;
  }

  subscribe(listener: ChangeListener): () => void {
    // A wrapper per subscription, so the same function subscribed twice gets two independent handles.
    const wrapped: ChangeListener = (e) => listener(e);
    this.#listeners.add(wrapped);
    return () => {
      this.#listeners.delete(wrapped);
    };
  }

  emit(event: ChangeEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        const result = listener(event);
        if (result && typeof (result as Promise<void>).then === "function") {
          (result as Promise<void>).catch((err: unknown) => this.#onError(err, event));
        }
      } catch (err) {
        this.#onError(err, event);
      }
    }
  }
}
