/**
 * Generations are microseconds since the epoch, as GCS's are, and strictly increasing within the
 * emulator: two objects finalized in the same microsecond still get distinct, ordered generations.
 * They stay below 2^53 until the 2250s, so the Node client's `Number(generation)` is exact.
 */
export class GenerationClock {
  #last = 0;

  /** Never hand out anything at or below `generation` (e.g. the highest one found on disk). */
  observe(generation: number): void {
    if (generation > this.#last) this.#last = generation;
  }

  next(): number {
    const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    this.#last = now > this.#last ? now : this.#last + 1;
    return this.#last;
  }
}

/** RFC 3339 with milliseconds, as GCS renders `timeCreated`, `updated` and friends. */
export function isoFromMicros(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString();
}
