import { spawn } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../../core/runs.ts";
import { buildWorkerBundle } from "../../../worker/build.ts";
import { tempDir } from "../../support/temp.ts";
import {
  type Harness,
  jsonl,
  type PlannedRun,
  planRun,
  readObject,
  readTaskRecord,
  startHarness,
  taskEnv,
} from "./harness.ts";

/** Runs a worker command as Batch would: a fresh process with only its task's environment. */
function runWorker(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

const REPO = process.cwd();
let h: Harness;
let bundle: string;

beforeAll(async () => {
  h = await startHarness();
  // Built where no node_modules above it can be found, so the test proves the directory the build writes
  // (the bundle and the native CRC32C beside it) is all the image needs.
  bundle = join(tempDir("batchline-worker-image-"), "worker.js");
  await buildWorkerBundle(bundle);
});

afterAll(async () => {
  await h?.emulator.stop();
  if (bundle) rmSync(join(bundle, ".."), { recursive: true, force: true });
});

async function plannedTwoLines(path: string): Promise<PlannedRun> {
  return planRun(h, { inputs: [{ path, content: '{"text":"child"}\nnot json\n' }] });
}

describe("worker as a child process", () => {
  it("worker/main.ts processes its input, logs Cloud Logging JSON with task labels and exits 0", async () => {
    const run = await plannedTwoLines("child/main.jsonl");
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const result = await runWorker(
      ["--import", "tsx", "worker/main.ts"],
      { ...taskEnv(run, 0), STORAGE_EMULATOR_HOST: h.emulator.url },
      REPO,
    );

    expect(result.code, result.stderr + result.stdout).toBe(EXIT.OK);
    expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([{ text: "CHILD" }]);
    expect(jsonl(await readObject(h.bucket, entry.errors))).toHaveLength(1);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "SUCCEEDED",
      records: 1,
      badRecords: 1,
    });
    const logs = logLines(result.stdout);
    expect(logs.map((l) => l.message)).toEqual(["task started", "task succeeded with bad records"]);
    for (const log of logs) {
      expect(log["logging.googleapis.com/labels"]).toEqual({
        component: "worker",
        taskIndex: "0",
        runId: run.runId,
      });
      expect(log.severity).toBe("INFO");
    }
  });

  it("worker/main.ts exits 3 when the claimed generation is gone", async () => {
    const run = await planRun(h, {
      inputs: [{ path: "child/gone.jsonl", content: "{}\n" }],
      editEntries: (entries) => entries.map((e) => ({ ...e, generation: "1" })),
    });

    const result = await runWorker(
      ["--import", "tsx", "worker/main.ts"],
      { ...taskEnv(run, 0), STORAGE_EMULATOR_HOST: h.emulator.url },
      REPO,
    );

    expect(result.code).toBe(EXIT.PERMANENT);
    const failure = logLines(result.stdout).find((l) => l.severity === "ERROR");
    expect(failure?.message).toMatch(
      /^task failed \(permanent\): input gs:\/\/.* generation 1 does not exist/,
    );
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "FAILED",
      retryable: false,
    });
  });

  it("the bundled worker runs the same task from its build directory, with the native CRC32C", async () => {
    const run = await plannedTwoLines("child/bundle.jsonl");
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const result = await runWorker(
      [bundle],
      { ...taskEnv(run, 0), STORAGE_EMULATOR_HOST: h.emulator.url },
      join(bundle, ".."),
    );

    expect(result.code, result.stderr + result.stdout).toBe(EXIT.OK);
    expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([{ text: "CHILD" }]);
    const [meta] = await h.bucket.file(entry.output).getMetadata();
    expect(meta.metadata?.batchlineImage).toBe("europe-west2-docker.pkg.dev/test/batchline/worker:test");
    expect(logLines(result.stdout).find((l) => l.message === "task started")?.crc32c).toBe("native");
  });

  it("the bundle alone, without the native module beside it, runs the task with the JavaScript CRC32C", async () => {
    const run = await plannedTwoLines("child/bundle-alone.jsonl");
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");
    const alone = join(tempDir("batchline-worker-alone-"), "worker.js");
    copyFileSync(bundle, alone);
    try {
      const result = await runWorker(
        [alone],
        { ...taskEnv(run, 0), STORAGE_EMULATOR_HOST: h.emulator.url },
        join(alone, ".."),
      );
      expect(result.code, result.stderr + result.stdout).toBe(EXIT.OK);
      expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([{ text: "CHILD" }]);
      expect(logLines(result.stdout).find((l) => l.message === "task started")?.crc32c).toBe("js");
    } finally {
      rmSync(join(alone, ".."), { recursive: true, force: true });
    }
  });

  it("the bundled worker exits 1 when storage is unreachable", async () => {
    const run = await plannedTwoLines("child/unreachable.jsonl");

    const result = await runWorker(
      [bundle],
      { ...taskEnv(run, 0), STORAGE_EMULATOR_HOST: "http://127.0.0.1:9" },
      join(bundle, ".."),
    );

    expect(result.code).toBe(EXIT.RETRYABLE);
    expect(logLines(result.stdout).find((l) => l.severity === "ERROR")?.message).toMatch(
      /^task failed \(retryable\): .*ECONNREFUSED/,
    );
  });
});
