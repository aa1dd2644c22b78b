import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../../core/runs.ts";
import { buildWorkerBundle } from "../../../worker/build.ts";
import { tempDir } from "../../support/temp.ts";

// The bundle is built into a directory with no node_modules above it, so it can only run if it is whole.
const dir = tempDir("batchline-worker-bundle-");
const bundle = join(dir, "worker.js");

let native: string[] = [];

beforeAll(async () => {
  ({ native } = await buildWorkerBundle(bundle));
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function runBundle(env: Record<string, string>) {
  return spawnSync(process.execPath, [bundle], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
}

describe("worker bundle (worker/build.ts)", () => {
  it("is one self-contained ESM file", () => {
    const text = readFileSync(bundle, "utf8");
    expect(text.length).toBeGreaterThan(100_000);
    expect(text).not.toMatch(/from "(\.\.?\/|@google-cloud\/|zod|pino)/);
  });

  it("puts the native CRC32C package and this platform's binary beside the bundle", () => {
    expect(native[0]).toBe("@node-rs/crc32");
    expect(native.length).toBe(2);
    for (const name of native)
      expect(existsSync(join(dir, "node_modules", name, "package.json")), name).toBe(true);
  });

  it("exits 3 with a message naming the variables when the environment is bad", () => {
    const result = runBundle({});
    expect(result.status).toBe(EXIT.PERMANENT);
    const entry = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}");
    expect(entry.severity).toBe("ERROR");
    expect(entry.message).toBe(
      "task failed (permanent): bad environment: BATCH_TASK_INDEX is missing; BATCH_TASK_COUNT is missing; " +
        "BATCHLINE_MANIFEST_URI is missing",
    );
    expect(entry["logging.googleapis.com/labels"]).toEqual({ component: "worker" });
  });

  it("exits 3 for a manifest URI that is not a run manifest", () => {
    const result = runBundle({
      BATCH_TASK_INDEX: "0",
      BATCH_TASK_COUNT: "1",
      BATCHLINE_MANIFEST_URI: "gs://bucket/demo/acme/inputs/a.jsonl",
    });
    expect(result.status).toBe(EXIT.PERMANENT);
    expect(result.stdout).toContain("is not a run manifest");
  });
});
