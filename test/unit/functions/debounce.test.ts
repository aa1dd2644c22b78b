import { describe, expect, it } from "vitest";
import { debounceWait, holdWait, MAX_DEBOUNCE_FACTOR } from "../../../functions/plan/plan.ts";

const now = new Date("2026-11-21T12:00:00Z");
const secondsAgo = (s: number) => now.getTime() - s * 1000;

describe("trailing debounce", () => {
  it("waits until the youngest pending input is debounceSeconds old", () => {
    expect(
      debounceWait({
        debounceSeconds: 10,
        waitedSeconds: 0,
        now,
        pendingCreated: [secondsAgo(30), secondsAgo(3)],
      }),
    ).toBe(7);
  });

  it("does not wait once the burst is quiet", () => {
    expect(
      debounceWait({
        debounceSeconds: 10,
        waitedSeconds: 0,
        now,
        pendingCreated: [secondsAgo(10), secondsAgo(40)],
      }),
    ).toBe(0);
  });

  it("waits at least a second when the remainder is fractional", () => {
    expect(
      debounceWait({ debounceSeconds: 2, waitedSeconds: 0, now, pendingCreated: [now.getTime() - 1_900] }),
    ).toBe(1);
  });

  it("stops waiting after ten windows, so steady uploads cannot starve the run", () => {
    const args = { debounceSeconds: 5, now, pendingCreated: [secondsAgo(0)] };
    expect(debounceWait({ ...args, waitedSeconds: 5 * MAX_DEBOUNCE_FACTOR - 1 })).toBe(5);
    expect(debounceWait({ ...args, waitedSeconds: 5 * MAX_DEBOUNCE_FACTOR })).toBe(0);
  });

  it("never waits without a debounce or without pending inputs", () => {
    expect(debounceWait({ debounceSeconds: 0, waitedSeconds: 0, now, pendingCreated: [secondsAgo(0)] })).toBe(
      0,
    );
    expect(debounceWait({ debounceSeconds: 10, waitedSeconds: 0, now, pendingCreated: [] })).toBe(0);
  });
});

describe("waiting for a run that holds an older generation", () => {
  it("looks again soon at first, then less often, never more than a minute apart", () => {
    expect(holdWait(0)).toBe(2);
    expect(holdWait(10)).toBe(5);
    expect(holdWait(40)).toBe(20);
    expect(holdWait(1_000)).toBe(60);
  });
});
