import { describe, expect, it } from "vitest";
import type { RunStatus } from "../../../cli/status.ts";
import { countsOf, timelineOf } from "../../../console/source.ts";
import { plotHeight, shadeOf } from "../../../console/web/layout.ts";

const T0 = Date.parse("2026-12-02T10:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();
const move = (ms: number, from: string, to: string) => ({
  time: at(ms),
  description: `Task state is updated from ${from} to ${to} on local-1`,
});

function status(tasks: RunStatus["tasks"], inputs: Partial<RunStatus["inputs"][number]>[] = []): RunStatus {
  return {
    runId: "ev-0000000000000001",
    client: "c",
    status: "RUNNING",
    execution: null,
    job: null,
    tasks,
    inputs: inputs.map((i, index) => ({
      index,
      object: `p/c/inputs/${index}`,
      generation: "1",
      output: `p/c/outputs/${index}`,
      task: null,
      status: "NO RECORD YET",
      records: null,
      badRecords: null,
      errors: null,
      reason: null,
      ...i,
    })),
    rejected: [],
    failure: null,
  };
}

describe("the run's timeline columns", () => {
  it("places each task from its first move to RUNNING to its last move to an end state, after the origin", () => {
    const t = timelineOf(
      status([
        {
          index: 0,
          state: "SUCCEEDED",
          attempts: 1,
          events: [
            move(100, "PENDING", "ASSIGNED"),
            move(200, "ASSIGNED", "RUNNING"),
            move(900, "RUNNING", "SUCCEEDED"),
          ],
        },
        {
          index: 1,
          state: "RUNNING",
          attempts: 2,
          events: [
            move(300, "ASSIGNED", "RUNNING"),
            move(500, "RUNNING", "FAILED"),
            move(600, "PENDING", "RUNNING"),
          ],
        },
        { index: 2, state: "PENDING", attempts: 0, events: [] },
        {
          index: 3,
          state: "FAILED",
          attempts: 1,
          events: [move(250, "ASSIGNED", "RUNNING"), move(450, "RUNNING", "FAILED")],
        },
      ]),
      T0,
      T0 + 1000,
    );
    expect(t).toEqual({
      origin: T0,
      now: T0 + 1000,
      states: "srqf",
      attempts: [1, 2, 0, 1],
      start: [200, 300, -1, 250],
      // A retried task that runs again has ended once, and has not ended now: its end is its last end.
      end: [900, 500, -1, 450],
    });
    expect(countsOf(t)).toEqual({ queued: 1, running: 1, retried: 1, succeeded: 1, failed: 1 });
  });

  it("without a job (not created, or deleted) takes each task's outcome from its input, with no times", () => {
    const t = timelineOf(
      status([], [{ status: "SUCCEEDED" }, { status: "FAILED" }, { status: "NO RECORD YET" }]),
      null,
      T0,
    );
    expect(t).toMatchObject({ origin: null, states: "sfq", start: [-1, -1, -1], end: [-1, -1, -1] });
  });

  it("with no origin, measures from the first task to start", () => {
    const t = timelineOf(
      status([{ index: 0, state: "RUNNING", attempts: 1, events: [move(400, "ASSIGNED", "RUNNING")] }]),
      null,
      T0 + 1000,
    );
    expect(t.origin).toBe(T0 + 400);
    expect(t.start).toEqual([0]);
  });
});

describe("how a task is drawn", () => {
  it("colours a task by state, and orange when it needed more than one attempt and did not fail", () => {
    expect(["q", "r", "s", "f"].map((s) => shadeOf(s, 1))).toEqual([
      "queued",
      "running",
      "succeeded",
      "failed",
    ]);
    expect(["r", "s", "f"].map((s) => shadeOf(s, 2))).toEqual(["retried", "retried", "failed"]);
  });

  it("gives few tasks room and caps the picture for many", () => {
    expect(plotHeight(1)).toBe(60);
    expect(plotHeight(12)).toBe(168);
    expect(plotHeight(10_000)).toBe(480);
  });
});
