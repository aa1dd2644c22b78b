/**
 * Tasks running at once across all jobs, like a machine's capacity: a waiting task of a higher-priority job
 * gets the next free slot, equal priorities go first come, first served.
 */
export class Slots {
  private used = 0;
  private readonly waiting: { priority: number; seq: number; grant: () => void }[] = [];
  private seq = 0;
  constructor(private readonly capacity: number) {}

  /** Resolves true once a slot is held, false if `signal` aborts first. */
  acquire(priority: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.used < this.capacity) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const entry = {
        priority,
        seq: this.seq++,
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(true);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
      this.waiting.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.used--;
  }
}
