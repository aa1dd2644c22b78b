import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_LINE_BYTES,
  parseRunLocation,
  parseWorkerEnv,
  recordLocationFrom,
  taskLabels,
} from "../../../worker/env.ts";
import { PermanentTaskError } from "../../../worker/errors.ts";
import { thrownBy } from "../../support/thrown.ts";

const URI = "gs://my-bucket/demo/acme/runs/ev-0123456789abcdef/manifest.json";
const GOOD = {
  BATCH_TASK_INDEX: "2",
  BATCH_TASK_COUNT: "5",
  BATCH_TASK_RETRY_ATTEMPT: "1",
  BATCHLINE_MANIFEST_URI: URI,
};

describe("parseWorkerEnv", () => {
  it("reads Batch's variables and the manifest location", () => {
    expect(parseWorkerEnv({ ...GOOD, BATCHLINE_JOB_ID: "job-1", BATCHLINE_IMAGE: "img:1" })).toEqual({
      taskIndex: 2,
      taskCount: 5,
      attempt: 1,
      run: {
        bucket: "my-bucket",
        product: "demo",
        client: "acme",
        runId: "ev-0123456789abcdef",
        manifest: "demo/acme/runs/ev-0123456789abcdef/manifest.json",
      },
      manifestUri: URI,
      jobId: "job-1",
      image: "img:1",
      maxLineBytes: DEFAULT_MAX_LINE_BYTES,
      maxInputBytes: undefined,
    });
  });

  it("defaults the attempt to 0 and reads the optional bounds", () => {
    const env = parseWorkerEnv({
      ...GOOD,
      BATCH_TASK_RETRY_ATTEMPT: undefined,
      BATCHLINE_MAX_LINE_BYTES: "4096",
      BATCHLINE_MAX_INPUT_BYTES: "1000",
    });
    expect([env.attempt, env.maxLineBytes, env.maxInputBytes]).toEqual([0, 4096, 1000]);
  });

  it("names every missing or bad variable and its value", () => {
    const err = thrownBy(PermanentTaskError, () =>
      parseWorkerEnv({ BATCH_TASK_INDEX: "-1", BATCH_TASK_COUNT: "0", BATCHLINE_MANIFEST_URI: "s3://x/y" }),
    );
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^bad environment: /);
    expect(err.message).toContain('BATCH_TASK_INDEX must be a whole number (got "-1")');
    expect(err.message).toContain('BATCH_TASK_COUNT must be at least 1 (got "0")');
    expect(err.message).toContain(
      'BATCHLINE_MANIFEST_URI object name "s3://x/y": is not a gs://BUCKET/OBJECT URI',
    );
  });

  it("says when a variable is missing", () => {
    expect(thrownBy(PermanentTaskError, () => parseWorkerEnv({})).message).toBe(
      "bad environment: BATCH_TASK_INDEX is missing; BATCH_TASK_COUNT is missing; BATCHLINE_MANIFEST_URI is missing",
    );
  });

  it("refuses an index at or past the task count", () => {
    expect(
      thrownBy(PermanentTaskError, () => parseWorkerEnv({ ...GOOD, BATCH_TASK_INDEX: "5" })).message,
    ).toBe('bad environment: BATCH_TASK_INDEX must be below BATCH_TASK_COUNT (5) (got "5")');
  });
});

describe("parseRunLocation", () => {
  it("refuses a URI that is not a run manifest", () => {
    expect(() => parseRunLocation("gs://b/demo/acme/inputs/a.jsonl")).toThrow(/is not a run manifest/);
    expect(() => parseRunLocation("gs://b/demo/acme/runs/../manifest.json")).toThrow(/'\.\.' segment/);
  });
});

describe("recordLocationFrom and taskLabels", () => {
  it("find where a failed task's record goes even when other variables are bad", () => {
    expect(recordLocationFrom({ ...GOOD, BATCH_TASK_COUNT: "zero" })).toEqual({
      run: parseRunLocation(URI),
      taskIndex: 2,
      attempt: 1,
    });
    expect(taskLabels(GOOD)).toEqual({ taskIndex: "2", runId: "ev-0123456789abcdef" });
  });

  it("give up without the manifest URI or a usable index", () => {
    expect(recordLocationFrom({ BATCH_TASK_INDEX: "0" })).toBeNull();
    expect(recordLocationFrom({ ...GOOD, BATCH_TASK_INDEX: "x" })).toBeNull();
    expect(recordLocationFrom({ ...GOOD, BATCH_TASK_INDEX: "99999999999999999999" })).toBeNull();
    expect(taskLabels({})).toEqual({});
  });
});
