import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tempDir } from "../../support/temp.ts";

const BIN = join(import.meta.dirname, "../../../bin/batchline.js");

interface Running {
  proc: ChildProcess;
  lines: string[];
  url: string;
}

/** Starts `batchline local gcs ...` and waits for the line it prints for the shell. */
async function startCli(args: string[]): Promise<Running> {
  const proc = spawn(process.execPath, [BIN, "local", "gcs", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, BATCHLINE_LOG_LEVEL: "warn" },
  });
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no export line; got ${JSON.stringify(lines)}`)), 30_000);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      lines.push(line);
      const m = /^export STORAGE_EMULATOR_HOST=(http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once("exit", (code) =>
      reject(new Error(`exited with ${code} before listening: ${lines.join("\n")}`)),
    );
  });
  return { proc, lines, url };
}

async function stop(r: Running, signal: NodeJS.Signals): Promise<number | null> {
  r.proc.kill(signal);
  const [code] = (await once(r.proc, "exit")) as [number | null];
  return code;
}

describe("batchline local gcs", () => {
  let dir: string;

  beforeAll(async () => {
    dir = tempDir("gcs-cli-");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("prints its endpoint and the STORAGE_EMULATOR_HOST line, and answers /_health", async () => {
    const r = await startCli([]);
    try {
      const health = await fetch(`${r.url}/_health`);

      expect(r.lines[0]).toBe(`GCS emulator on ${r.url} (memory backend)`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok", backend: "memory" });
    } finally {
      await stop(r, "SIGTERM");
    }
  });

  test.each(["SIGINT", "SIGTERM"] as const)("stops cleanly with exit code 0 on %s", async (signal) => {
    const r = await startCli([]);

    expect(await stop(r, signal)).toBe(0);
  });

  test("with the fs backend, a bucket made through the official client is there after a restart", async () => {
    const first = await startCli(["--backend", "fs", "--dir", dir]);
    await new Storage({ apiEndpoint: first.url, projectId: "cli" }).createBucket("cli-kept");
    await stop(first, "SIGTERM");

    const second = await startCli(["--backend", "fs", "--dir", dir]);
    try {
      const [exists] = await new Storage({ apiEndpoint: second.url, projectId: "cli" })
        .bucket("cli-kept")
        .exists();
      expect(exists).toBe(true);
    } finally {
      await stop(second, "SIGTERM");
    }
  });

  test("an unknown backend is refused with exit code 2 and says why", async () => {
    const proc = spawn(process.execPath, [BIN, "local", "gcs", "--backend", "s3"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const [code] = (await once(proc, "exit")) as [number | null];

    expect(code).toBe(2);
    expect(stderr).toContain('invalid --backend "s3": expected memory or fs');
  });
});
