import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runStage, type StageCommand } from "../../../worker/stage.ts";
import { tempDir } from "../../support/temp.ts";
import {
  BUCKET,
  CLIENT,
  deps,
  type Harness,
  harnessForFile,
  type PlannedRun,
  PRODUCT,
  planRun,
  readObject,
  readTaskRecord,
  taskEnv,
} from "./harness.ts";

// The staging steps around a client's container (worker/stage.ts), against the GCS emulator: the container
// itself is played by the test, writing into the staging directory as the client's image would.
let h: Harness;
harnessForFile((started) => {
  h = started;
});

const IMAGE = "europe-west2-docker.pkg.dev/test/clients/model:1";

function stage(command: StageCommand, run: PlannedRun, index: number, dir: string, attempt = 0) {
  return runStage(
    command,
    taskEnv(run, index, {
      BATCHLINE_STAGING_DIR: dir,
      BATCHLINE_IMAGE: IMAGE,
      BATCH_TASK_RETRY_ATTEMPT: String(attempt),
      BATCHLINE_MAX_INPUT_BYTES: "100",
    }),
    deps(h),
  );
}

async function names(prefix: string): Promise<string[]> {
  const [files] = await h.bucket.getFiles({ prefix });
  return files.map((f) => f.name).sort();
}

describe("stage-in", () => {
  it("downloads the claimed generation and writes the per-task env file, from an empty directory", async () => {
    const run = await planRun(h, { inputs: [{ path: "batch/a.csv", content: "item,value\nx,1\n" }] });
    const dir = tempDir("batchline-stage-");
    mkdirSync(join(dir, "out"), { recursive: true });
    writeFileSync(join(dir, "out", "left-by-an-earlier-attempt.txt"), "old");

    expect(await stage("stage-in", run, 0, dir)).toBe(0);
    expect(readFileSync(join(dir, "in", "input"), "utf8")).toBe("item,value\nx,1\n");
    expect(readFileSync(join(dir, "task.env"), "utf8")).toBe(
      [
        `BATCHLINE_INPUT_URI=gs://${BUCKET}/${PRODUCT}/${CLIENT}/inputs/batch/a.csv`,
        "BATCHLINE_INPUT_NAME=a.csv",
        `BATCHLINE_INPUT_GENERATION=${run.entries[0]?.generation}`,
        `BATCHLINE_OUTPUT_PREFIX=gs://${BUCKET}/${PRODUCT}/${CLIENT}/outputs/batch/a.csv/`,
        "",
      ].join("\n"),
    );
    expect(() => readFileSync(join(dir, "out", "left-by-an-earlier-attempt.txt"))).toThrow(/ENOENT/);
  });

  it("fails an input over the size limit permanently and records it; stage-failed then leaves the record", async () => {
    const run = await planRun(h, { inputs: [{ path: "big.bin", content: Buffer.alloc(101) }] });
    const dir = tempDir("batchline-stage-");
    expect(await stage("stage-in", run, 0, dir)).toBe(3);
    const record = await readTaskRecord(h.bucket, run.runId, 0);
    expect(record).toMatchObject({
      status: "FAILED",
      retryable: false,
      processor: "container",
      processorVersion: IMAGE,
    });
    expect(record?.error).toMatch(
      /^stage-in: input gs:\/\/.*big\.bin generation \d+ is 101 bytes, over the limit of 100 bytes/,
    );
    expect(await stage("stage-failed", run, 0, dir)).toBe(0);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toEqual(record);
  });
});

describe("stage-out", () => {
  it("makes every file the container left an output object under the input's prefix, with provenance", async () => {
    const run = await planRun(h, { inputs: [{ path: "a.csv", content: "item,value\n" }] });
    const dir = tempDir("batchline-stage-");
    expect(await stage("stage-in", run, 0, dir)).toBe(0);
    mkdirSync(join(dir, "out", "plots"), { recursive: true });
    writeFileSync(join(dir, "out", "result.json"), '{"ok":true}\n');
    writeFileSync(join(dir, "out", "plots", "p1.png"), Buffer.from([137, 80, 78, 71]));

    expect(await stage("stage-out", run, 0, dir)).toBe(0);
    const prefix = `${PRODUCT}/${CLIENT}/outputs/a.csv/`;
    expect(await names(prefix)).toEqual([`${prefix}plots/p1.png`, `${prefix}result.json`]);
    expect((await readObject(h.bucket, `${prefix}result.json`))?.toString("utf8")).toBe('{"ok":true}\n');
    const [meta] = await h.bucket.file(`${prefix}plots/p1.png`).getMetadata();
    expect(meta.metadata).toMatchObject({
      batchlineInputObject: `${PRODUCT}/${CLIENT}/inputs/a.csv`,
      batchlineInputGeneration: run.entries[0]?.generation,
      batchlineRunId: run.runId,
      batchlineImage: IMAGE,
    });
    // Nothing is left staged beside the run.
    expect(await names(`${PRODUCT}/${CLIENT}/runs/${run.runId}/staging/`)).toEqual([]);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "SUCCEEDED",
      output: prefix,
      records: 2,
      bytesIn: "item,value\n".length,
      bytesOut: 12 + 4,
      input: { object: `${PRODUCT}/${CLIENT}/inputs/a.csv`, generation: run.entries[0]?.generation },
    });
    // stage-failed, which always runs, has nothing to add.
    expect(await stage("stage-failed", run, 0, dir)).toBe(0);
    expect((await readTaskRecord(h.bucket, run.runId, 0))?.status).toBe("SUCCEEDED");
  });

  it("refuses a link left in the output directory, names it, and publishes nothing", async () => {
    const run = await planRun(h, { inputs: [{ path: "l.csv", content: "x" }] });
    const dir = tempDir("batchline-stage-");
    expect(await stage("stage-in", run, 0, dir)).toBe(0);
    writeFileSync(join(dir, "out", "fine.txt"), "ok");
    symlinkSync("/etc/passwd", join(dir, "out", "secrets"));
    expect(await stage("stage-out", run, 0, dir)).toBe(3);
    expect(await names(`${PRODUCT}/${CLIENT}/outputs/l.csv/`)).toEqual([]);
    expect((await readTaskRecord(h.bucket, run.runId, 0))?.error).toBe(
      "stage-out: the workload left secrets in BATCHLINE_OUTPUT_DIR, which is not a regular file (links, sockets and devices are not uploaded)",
    );
  });
});

describe("stage-failed", () => {
  it("records a failed container with the line it wrote to BATCHLINE_ERROR_FILE, or says it wrote none", async () => {
    const run = await planRun(h, {
      inputs: [
        { path: "said.csv", content: "x" },
        { path: "silent.csv", content: "y" },
      ],
    });
    const said = tempDir("batchline-stage-");
    const silent = tempDir("batchline-stage-");
    expect(await stage("stage-in", run, 0, said)).toBe(0);
    expect(await stage("stage-in", run, 1, silent, 2)).toBe(0);
    writeFileSync(join(said, "error.txt"), "bad input:\n  row 7 has no value\n");
    // The container exited non-zero: Batch skips stage-out and runs stage-failed.
    expect(await stage("stage-failed", run, 0, said)).toBe(0);
    expect(await stage("stage-failed", run, 1, silent, 2)).toBe(0);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "FAILED",
      error: `${IMAGE} failed on attempt 0: bad input: row 7 has no value`,
      input: { object: `${PRODUCT}/${CLIENT}/inputs/said.csv` },
    });
    expect(await readTaskRecord(h.bucket, run.runId, 1)).toMatchObject({
      status: "FAILED",
      attempt: 2,
      error: `${IMAGE} failed on attempt 2 without writing BATCHLINE_ERROR_FILE (a non-zero exit, or the image could not start); see the task's status and logs`,
    });
  });
});

describe("the input-less task of an always run", () => {
  it("has no input file, empty input variables, and outputs under the run's id", async () => {
    const run = await planRun(h, { mode: "always" });
    const dir = tempDir("batchline-stage-");
    expect(await stage("stage-in", run, 0, dir)).toBe(0);
    expect(() => readFileSync(join(dir, "in", "input"))).toThrow(/ENOENT/);
    expect(readFileSync(join(dir, "task.env"), "utf8")).toContain(
      `BATCHLINE_INPUT_URI=\nBATCHLINE_INPUT_NAME=\nBATCHLINE_INPUT_GENERATION=\nBATCHLINE_OUTPUT_PREFIX=gs://${BUCKET}/${PRODUCT}/${CLIENT}/outputs/${run.runId}/\n`,
    );
    writeFileSync(join(dir, "out", "report.txt"), "nothing pending");
    expect(await stage("stage-out", run, 0, dir)).toBe(0);
    expect(await names(`${PRODUCT}/${CLIENT}/outputs/${run.runId}/`)).toEqual([
      `${PRODUCT}/${CLIENT}/outputs/${run.runId}/report.txt`,
    ]);
  });
});
