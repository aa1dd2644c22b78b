import { describe, expect, it } from "vitest";
import { type ExecutionView, executionRun, executionView } from "../../../cli/operate/executions.ts";
import { inputState } from "../../../cli/operate/input-state.ts";
import { mergeRuns, type RecordedRun } from "../../../cli/operate/runs-merge.ts";
import { attemptsOf } from "../../../cli/status.ts";
import { runId } from "../../../core/ids.ts";
import type { ClaimMetadata, Manifest } from "../../../core/runs.ts";
import type { ClaimRead } from "../../../functions/shared/claims.ts";
import { taskRetryEvent, taskStateEvent } from "../../../local/batch/status.ts";

const P = "shop";
const BUCKET = "b";
const WF = "projects/p/locations/r/workflows/bl-shop-batch";
const NOW = new Date("2026-01-02T00:00:00Z");

function execution(id: string, over: Partial<ExecutionView> = {}): ExecutionView {
  return {
    name: `${WF}/executions/${id}`,
    id,
    state: "SUCCEEDED",
    createTime: "2026-01-01T10:00:00.000Z",
    endTime: null,
    argument: { client: "acme", trigger: "manual" },
    result: null,
    error: null,
    currentStep: null,
    ...over,
  };
}

function manifest(run: string, plannedAt: string, exec: string | null): Manifest {
  return {
    schemaVersion: 1,
    product: P,
    client: "acme",
    bucket: BUCKET,
    runId: run,
    jobId: `bl-shop-acme-${run}`,
    trigger: { type: "manual" },
    execution: exec,
    plannedAt,
    processor: "uppercase",
    mode: "sweep",
    inputCount: 1,
    taskCount: 1,
    rejected: [],
    shardSize: 1000,
    shards: [],
  };
}

describe("which run an execution plans", () => {
  it("keys a manual run by the execution id and an upload by the event id, as the workflow does", () => {
    const manual = execution("e1");
    expect(executionRun(manual, P, BUCKET)).toEqual({
      client: "acme",
      trigger: "manual",
      runId: runId({ product: P, client: "acme", trigger: "manual", key: "e1" }),
    });
    const upload = execution("e2", {
      argument: {
        type: "google.cloud.audit.log.v1.written",
        id: "event-9",
        data: {
          protoPayload: { resourceName: `projects/_/buckets/${BUCKET}/objects/${P}/acme/inputs/a.jsonl` },
        },
      },
    });
    expect(executionRun(upload, P, BUCKET)).toEqual({
      client: "acme",
      trigger: "event",
      runId: runId({ product: P, client: "acme", trigger: "event", key: "event-9" }),
    });
    const elsewhere = execution("e3", {
      argument: {
        type: "google.cloud.audit.log.v1.written",
        id: "event-10",
        data: {
          protoPayload: { resourceName: `projects/_/buckets/${BUCKET}/objects/${P}/acme/outputs/a.jsonl` },
        },
      },
    });
    expect(executionRun(elsewhere, P, BUCKET)).toBeNull();
  });

  it("reads the REST or gRPC shape of an execution the same way", () => {
    const view = executionView({
      name: `${WF}/executions/abc`,
      state: 3,
      startTime: { seconds: "1767261600", nanos: 500_000_000 },
      argument: '{"client":"acme","trigger":"manual"}',
      error: { payload: '{"message":"HTTP server responded with error code 400"}', context: "main.plan" },
      status: { currentSteps: [{ routine: "main", step: "plan" }] },
    });
    expect(view).toMatchObject({
      id: "abc",
      state: "FAILED",
      createTime: "2026-01-01T10:00:00.500Z",
      error: "HTTP server responded with error code 400 (main.plan)",
      currentStep: "main.plan",
    });
  });
});

describe("merging executions with run records", () => {
  const summaryOf = (run: string, status: string) => ({
    schemaVersion: 1 as const,
    runId: run,
    jobId: null,
    jobState: "SUCCEEDED",
    inputs: [],
    message: { status, error: null },
    messageId: "1",
  });

  it("shows finished, running, interrupted and failed-before-planning runs, newest first, and skips no-ops", () => {
    const finished = runId({ product: P, client: "acme", trigger: "manual", key: "e-finished" });
    const live = runId({ product: P, client: "acme", trigger: "manual", key: "e-live" });
    const lost = runId({ product: P, client: "acme", trigger: "manual", key: "e-lost" });
    const recorded: RecordedRun[] = [
      {
        manifest: manifest(finished, "2026-01-01T01:00:00.000Z", `${WF}/executions/e-finished`),
        summary: summaryOf(finished, "SUCCEEDED"),
        open: null,
        execution: null,
      },
      {
        manifest: manifest(live, "2026-01-01T02:00:00.000Z", `${WF}/executions/e-live`),
        summary: null,
        open: null,
        execution: execution("e-live", { state: "ACTIVE", currentStep: "main.waitForJob" }),
      },
      {
        manifest: manifest(lost, "2026-01-01T03:00:00.000Z", `${WF}/executions/e-lost`),
        summary: null,
        open: null,
        execution: "gone",
      },
    ];
    const executions = [
      execution("e-failed", {
        state: "FAILED",
        createTime: "2026-01-01T04:00:00.000Z",
        error: "unknown client",
      }),
      execution("e-noop", { result: { status: "NOTHING_TO_DO" }, createTime: "2026-01-01T05:00:00.000Z" }),
      execution("e-other", { argument: { client: "zeta", trigger: "manual" } }),
      execution("e-finished", { createTime: "2026-01-01T00:59:00.000Z" }),
    ];
    const { rows, nothingToDo } = mergeRuns({
      recorded,
      executions,
      client: "acme",
      product: P,
      bucket: BUCKET,
      now: NOW,
      limit: 10,
    });
    expect(rows.map((r) => [r.status, r.inputs])).toEqual([
      ["FAILED", null],
      ["INTERRUPTED", 1],
      ["RUNNING", 1],
      ["SUCCEEDED", 1],
    ]);
    expect(rows[0]?.detail).toBe("failed before planning: unknown client");
    expect(rows[2]?.detail).toBe("1 task(s), at main.waitForJob");
    expect(rows[3]?.startedAt).toBe("2026-01-01T00:59:00.000Z");
    // e-other is another client's; e-noop had nothing to do.
    expect(nothingToDo).toBe(1);
    expect(
      mergeRuns({ recorded, executions, client: "acme", product: P, bucket: BUCKET, now: NOW, limit: 2 })
        .rows,
    ).toHaveLength(2);
  });

  it("lets the open marker's lease decide when no execution can be asked", () => {
    const run = runId({ product: P, client: "acme", trigger: "manual", key: "x" });
    const open = (leaseExpiresAt: string) => ({
      schemaVersion: 1 as const,
      runId: run,
      jobId: "j",
      execution: null,
      openedAt: "2026-01-01T00:00:00.000Z",
      leaseExpiresAt,
    });
    const row = (lease: string) =>
      mergeRuns({
        recorded: [
          {
            manifest: manifest(run, "2026-01-01T00:00:00.000Z", null),
            summary: null,
            open: open(lease),
            execution: null,
          },
        ],
        executions: [],
        client: "acme",
        product: P,
        bucket: BUCKET,
        now: NOW,
        limit: 5,
      }).rows[0]?.status;
    expect(row("2026-01-03T00:00:00.000Z")).toBe("RUNNING");
    expect(row("2026-01-01T12:00:00.000Z")).toBe("INTERRUPTED");
  });
});

describe("an input's state", () => {
  const rules = {
    product: P,
    client: "acme",
    now: NOW,
    maxInputFailures: 3,
    maxInputBytes: 1000,
    maxInputsPerRun: 100,
  };
  const input = { name: `${P}/acme/inputs/a.jsonl`, generation: "5", size: 10 };
  const claim = (over: Partial<ClaimMetadata>): ClaimRead => ({
    generation: "77",
    valid: true,
    claim: {
      state: "failed",
      inputGeneration: "5",
      runId: "mn-0123456789abcdef",
      failures: "1",
      leaseExpiresAt: "2026-01-01T00:00:00.000Z",
      reason: "boom",
      ...over,
    },
  });
  const state = (c: ClaimRead | undefined, i = input) => inputState(i, `${P}/acme/inputs/`, c, rules);

  it("follows what the next plan would do with it", () => {
    expect(state(undefined)).toMatchObject({ path: "a.jsonl", state: "pending", failures: 0, runId: null });
    expect(state(claim({}))).toMatchObject({ state: "failed", failures: 1, reason: "boom" });
    expect(state(claim({ failures: "3" }))).toMatchObject({ state: "poison", failures: 3, reason: "boom" });
    expect(state(claim({ state: "poison", failures: "2", reason: "too big" }))).toMatchObject({
      state: "poison",
      reason: "too big",
    });
    expect(state(claim({ state: "succeeded", failures: "0" }))).toMatchObject({ state: "done" });
    expect(state(claim({ state: "succeeded", inputGeneration: "4" }))).toMatchObject({ state: "pending" });
    expect(state(claim({ state: "running", leaseExpiresAt: "2026-01-03T00:00:00.000Z" }))).toMatchObject({
      state: "running",
    });
    expect(state(claim({ state: "running", failures: "2" }))).toMatchObject({
      state: "poison",
      failures: 3,
      reason: expect.stringContaining("lease expired"),
    });
    expect(state(undefined, { ...input, size: 5000 })).toMatchObject({
      state: "poison",
      reason: expect.stringMatching(/^the next run refuses it: input is 5000 bytes/),
    });
    expect(state({ generation: "1", valid: false, problem: "field state: bad" })).toMatchObject({
      state: "invalid",
      reason: "field state: bad",
    });
  });
});

describe("a task's attempts", () => {
  it("counts each time Batch started it running", () => {
    const at = new Date("2026-01-01T00:00:00Z");
    const events = [
      taskStateEvent("PENDING", "ASSIGNED", "i", at),
      taskStateEvent("ASSIGNED", "RUNNING", "i", at),
      taskStateEvent("RUNNING", "FAILED", "i", at, { exitCode: 137 }),
      taskRetryEvent(1, 2, at),
      taskStateEvent("PENDING", "ASSIGNED", "i", at),
      taskStateEvent("ASSIGNED", "RUNNING", "i", at),
      taskStateEvent("RUNNING", "SUCCEEDED", "i", at),
    ];
    expect(attemptsOf(events)).toBe(2);
    expect(attemptsOf(events.map((e) => ({ ...e, taskState: e.taskState === "RUNNING" ? 3 : 0 })))).toBe(2);
    expect(attemptsOf([])).toBe(0);
  });
});
