import { describe, expect, it } from "vitest";
import { mapLimit } from "../../../functions/shared/limit.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("mapLimit", () => {
  it("never runs more than the limit at once and keeps the order of results", async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit(
      Array.from({ length: 50 }, (_, i) => i),
      4,
      async (n) => {
        running++;
        most = Math.max(most, running);
        await tick();
        running--;
        return n * 2;
      },
    );
    expect(most).toBe(4);
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
  });

  it("starts nothing new after an error and rejects once the calls in flight have settled", async () => {
    const started: number[] = [];
    let slowDone = false;
    let releaseSlow = () => {};
    const slow = new Promise<void>((r) => {
      releaseSlow = r;
    });
    const run = mapLimit([0, 1, 2, 3], 2, async (n) => {
      started.push(n);
      if (n === 0) throw new Error("boom 0");
      await slow;
      slowDone = true;
      return n;
    });
    let rejectedEarly = false;
    run.catch(() => {
      rejectedEarly = !slowDone;
    });
    await tick();
    releaseSlow();
    await expect(run).rejects.toThrow("boom 0");
    expect(rejectedEarly).toBe(false);
    expect(started).toEqual([0, 1]);
  });

  it("handles an empty list", async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});
