import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../../local/batch/schema.ts";
import {
  durationFromMs,
  jobFailedByTask,
  jobStateEvent,
  taskStateEvent,
} from "../../../local/batch/status.ts";

const at = new Date("2026-05-01T10:00:00.000Z");
const JOB = "projects/p/locations/l/jobs/j";
const VM = "zones/local/instances/host";

describe("status event wording", () => {
  it("job state changes", () => {
    expect(jobStateEvent("QUEUED", "SCHEDULED", JOB, at)).toEqual({
      type: "STATUS_CHANGED",
      description: `Job state is set from QUEUED to SCHEDULED for job ${JOB}.`,
      eventTime: "2026-05-01T10:00:00.000Z",
    });
  });

  it("task failures carry the exit code, the reason and taskExecution", () => {
    const timeout = taskStateEvent("RUNNING", "FAILED", VM, at, {
      exitCode: 50005,
      reason: "task runs over the maximum runtime",
    });
    expect(timeout).toEqual({
      type: "STATUS_CHANGED",
      description: `Task state is updated from RUNNING to FAILED on ${VM} due to task runs over the maximum runtime with exit code 50005.`,
      eventTime: "2026-05-01T10:00:00.000Z",
      taskState: "FAILED",
      taskExecution: { exitCode: 50005 },
    });
  });

  it("a failed job quotes the task event that failed it", () => {
    const event = taskStateEvent("RUNNING", "FAILED", VM, at, { exitCode: 1 });
    expect(jobStateEvent("RUNNING", "FAILED", JOB, at, jobFailedByTask(0, event)).description).toBe(
      `Job state is set from RUNNING to FAILED for job ${JOB}. Job failed due to task failure. Specifically, task with index 0 failed due to the following task event: "Task state is updated from RUNNING to FAILED on ${VM} with exit code 1."`,
    );
  });
});

describe("durations in the JSON mapping's form", () => {
  it("writes 0, 3, 6 or 9 fractional digits", () => {
    expect(durationFromMs(0)).toBe("0s");
    expect(durationFromMs(1500)).toBe("1.500s");
    expect(formatDuration(3600n, 0)).toBe("3600s");
    expect(formatDuration(1n, 250_000)).toBe("1.000250s");
    expect(formatDuration(0n, 1)).toBe("0.000000001s");
  });

  it("parses what the API accepts and nothing else", () => {
    expect(parseDuration("3600s")).toEqual({ seconds: 3600n, nanos: 0 });
    expect(parseDuration("0.5s")).toEqual({ seconds: 0n, nanos: 500_000_000 });
    expect(parseDuration("-1.5s")).toEqual({ seconds: -1n, nanos: -500_000_000 });
    expect(parseDuration("1h")).toBeUndefined();
    expect(parseDuration("315576000001s")).toBeUndefined();
  });
});
