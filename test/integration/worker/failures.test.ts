import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../core/logger.ts";
import { EXIT } from "../../../core/runs.ts";
import { startGcsEmulator } from "../../../local/gcs/index.ts";
import type { ProcessorFactory } from "../../../worker/processors/registry.ts";
import { runTask } from "../../../worker/task.ts";
import {
  BUCKET,
  clientFor,
  deps,
  type Harness,
  harnessForFile,
  planRun,
  readObject,
  readTaskRecord,
  taskEnv,
} from "./harness.ts";

/**
 * A TCP relay in front of the emulator that cuts the first media download after `cutAfter` bytes of
 * response, the way a dropped connection would; every other request passes untouched.
 */
async function startCuttingRelay(
  targetPort: number,
  cutAfter: number,
): Promise<{ url: string; cuts: () => number; close: () => Promise<void> }> {
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    let downloading = false;
    let relayed = 0;
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (data: Buffer) => {
      if (cuts === 0 && data.includes("alt=media")) downloading = true;
      upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => {
      if (downloading) {
        relayed += data.length;
        if (relayed > cutAfter) {
          cuts += 1;
          downloading = false;
          kill();
          return;
        }
      }
      client.write(data);
    });
    client.on("error", kill).on("close", kill);
    upstream.on("error", kill).on("close", kill);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cuts: () => cuts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port that nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function bigInput(lines: number): string {
  return `${Array.from({ length: lines }, (_, i) => JSON.stringify({ i, text: `record number ${i} with some padding` })).join("\n")}\n`;
}

let h: Harness;
harnessForFile((started) => {
  h = started;
});

describe("storage failures are retryable", () => {
  it("exits 1 when storage cannot be reached at all (and cannot leave a record)", async () => {
    const run = await planRun(h, { inputs: [{ path: "unreachable.jsonl", content: '{"text":"a"}\n' }] });
    const storage = clientFor(`http://127.0.0.1:${await closedPort()}`);

    const outcome = await runTask(taskEnv(run, 0), deps(h, { storage }));

    expect(outcome.exitCode).toBe(EXIT.RETRYABLE);
    expect(outcome.recordWritten).toBe(false);
    expect(outcome.record).toMatchObject({ status: "FAILED", retryable: true });
    expect(outcome.record?.error).toMatch(/ECONNREFUSED/);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toBeNull();
  });

  it("exits 1 when the download is cut mid-stream, leaves no output, and records why", async () => {
    const run = await planRun(h, { inputs: [{ path: "cut.jsonl", content: bigInput(60_000) }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");
    const relay = await startCuttingRelay(h.emulator.port, 1024 * 1024);
    try {
      const outcome = await runTask(taskEnv(run, 0), deps(h, { storage: clientFor(relay.url) }));

      expect(relay.cuts()).toBe(1);
      expect(outcome.exitCode).toBe(EXIT.RETRYABLE);
      expect(await readObject(h.bucket, entry.output)).toBeNull();
      const record = await readTaskRecord(h.bucket, run.runId, 0);
      expect(record).toMatchObject({ status: "FAILED", retryable: true, output: null, errors: null });
      expect(record?.error).toMatch(/ECONNRESET/);
    } finally {
      await relay.close();
    }
  });

  it("exits 1 when the emulator stops while the task is running", async () => {
    const emulator = await startGcsEmulator({
      logger: createLogger({ component: "gcs-emulator", level: "silent" }),
    });
    const storage = clientFor(emulator.url);
    await storage.createBucket(BUCKET);
    const local: Harness = { emulator, storage, bucket: storage.bucket(BUCKET) };
    const run = await planRun(local, {
      inputs: [{ path: "stopped.jsonl", content: bigInput(60_000) }],
      processor: "gated",
    });
    let stopped: Promise<void> | undefined;
    const processors = new Map<string, ProcessorFactory>([
      [
        "gated",
        () => ({
          name: "gated",
          version: "1",
          processRecord: (record, ctx) => {
            // Part-way through, take storage away under the running task.
            if (ctx.line === 1000) stopped = emulator.stop();
            return record;
          },
        }),
      ],
    ]);

    const outcome = await runTask(taskEnv(run, 0), deps(local, { storage, processors }));
    await stopped;

    expect(stopped).toBeDefined();
    expect(outcome.exitCode).toBe(EXIT.RETRYABLE);
    expect(outcome.record).toMatchObject({ status: "FAILED", retryable: true, output: null });
  });
});
