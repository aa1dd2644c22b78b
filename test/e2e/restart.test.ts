import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type Message, PubSub, type Subscription } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { type ResultMessageV1, resultMessageV1Schema } from "../../core/messages.ts";
import { areaPrefix } from "../../core/naming.ts";
import { E2E_CONFIG, E2E_LOCAL, jsonl } from "./support.ts";

// The whole local cloud killed by SIGKILL mid-run (no shutdown code runs), then `batchline local up` again on
// the same directory: the run it left is settled with its one message, and every input is processed.
const BUCKET = "batchline-e2e-batch";
const CLIENT = "restart";
const INPUTS = areaPrefix("shop", CLIENT, "inputs");
const OUTPUTS = areaPrefix("shop", CLIENT, "outputs");
const RUNS = areaPrefix("shop", CLIENT, "runs");

let dir: string;
let pubsub: PubSub;
let subscription: Subscription | undefined;
const received: ResultMessageV1[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "batchline-restart-"));
  pubsub = new PubSub({
    projectId: "batchline-e2e",
    apiEndpoint: inject("pubsubEmulatorHost"),
    emulatorMode: true,
  });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await subscription?.close().catch(() => undefined);
  await subscription?.delete().catch(() => undefined);
  await pubsub.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `batchline local up` on the test directory and returns the variables it prints. */
async function localUp(): Promise<{ child: ChildProcess; env: Record<string, string> }> {
  const child = spawn(
    process.execPath,
    [
      "bin/batchline.js",
      "local",
      "up",
      "--config",
      E2E_CONFIG,
      "--local",
      E2E_LOCAL,
      "--backend",
      "fs",
      "--dir",
      dir,
      "--pubsub-emulator-host",
      inject("pubsubEmulatorHost"),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, METADATA_SERVER_DETECTION: "none" } },
  );
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const env: Record<string, string> = {};
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const m = /^export ([A-Z_]+)=(.+)$/.exec(line);
    if (m?.[1] && m[2]) env[m[1]] = m[2];
    if (line.startsWith("with those exported")) break;
  }
  if (!env.STORAGE_EMULATOR_HOST) throw new Error(`local up did not start:\n${stderr}`);
  return { child, env };
}

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it("settles the run a SIGKILLed local cloud left, and processes every input exactly once", async () => {
  const first = await localUp();
  const topic = pubsub.topic(`batch-shop-${CLIENT}-outputs`);
  [subscription] = await topic.createSubscription(`restart-test-${process.pid}`);
  subscription.on("message", (m: Message) => {
    m.ack();
    received.push(resultMessageV1Schema.parse(JSON.parse(m.data.toString("utf8"))));
  });

  let storage = new Storage({ apiEndpoint: first.env.STORAGE_EMULATOR_HOST, projectId: "batchline-e2e" });
  const files = ["k1.jsonl", "k2.jsonl", "k3.jsonl"];
  // Uploaded within the client's debounce window: one run holds all three.
  for (const f of files)
    await storage
      .bucket(BUCKET)
      .file(`${INPUTS}${f}`)
      .save(jsonl([f]), { resumable: false });
  const taskRecords = async () => {
    const [objects] = await storage.bucket(BUCKET).getFiles({ prefix: RUNS });
    return objects.map((o) => o.name).filter((n) => /\/tasks\/\d+\.json$/.test(n));
  };
  // Kill once the first task has finished and while the others are still to come.
  await until("a first task to finish", async () => (await taskRecords()).length >= 1);
  first.child.kill("SIGKILL");
  await once(first.child, "exit");

  const second = await localUp();
  storage = new Storage({ apiEndpoint: second.env.STORAGE_EMULATOR_HOST, projectId: "batchline-e2e" });
  const allInputs = files.map((f) => `${INPUTS}${f}`).sort();
  await until("the two runs' messages", () => received.length >= 2, 120_000);
  // Anything more would be a second message for a run.
  await new Promise((r) => setTimeout(r, 2_000));

  // Exactly one message per run: the interrupted run's, and the recovery run's.
  const runIds = received.map((m) => m.runId);
  expect(new Set(runIds).size).toBe(runIds.length);
  expect(received).toHaveLength(2);
  const seen = JSON.stringify(received, null, 1);
  const interrupted = received.find((m) => m.trigger.type === "event") as ResultMessageV1;
  const recovery = received.find((m) => m.trigger.type === "recovery") as ResultMessageV1;
  expect(interrupted, seen).toBeDefined();
  expect(recovery, seen).toBeDefined();
  // Killed with work done and work to come.
  expect(interrupted.counts.succeeded).toBeGreaterThan(0);
  expect(interrupted.counts.failed).toBeGreaterThan(0);
  expect(interrupted.status).toBe("FAILED");
  expect(interrupted.counts.inputs).toBe(allInputs.length);
  for (const f of interrupted.failedInputs) {
    expect(f).toMatchObject({ failures: 0, poison: false });
    expect(f.reason).toMatch(
      /^not processed: run ev-[0-9a-f]{16} was interrupted: its workflow execution .* ended/,
    );
  }
  expect(recovery).toMatchObject({ status: "SUCCEEDED", trigger: { type: "recovery" } });
  expect(recovery.counts.inputs).toBe(interrupted.counts.failed);
  expect(interrupted.counts.succeeded + recovery.counts.succeeded).toBe(allInputs.length);

  // Every input has its output, written once, by the run that processed it.
  const [outputs] = await storage.bucket(BUCKET).getFiles({ prefix: OUTPUTS });
  expect(outputs.map((o) => o.name).sort()).toEqual(allInputs.map((n) => n.replace(INPUTS, OUTPUTS)));
  const released = new Set(interrupted.failedInputs.map((f) => f.object.replace(INPUTS, OUTPUTS)));
  for (const o of outputs) {
    const [metadata] = await o.getMetadata();
    const runId = (metadata.metadata as Record<string, string>).batchlineRunId;
    expect(runId).toBe(released.has(o.name) ? recovery.runId : interrupted.runId);
    expect(String(metadata.generation)).not.toBe("");
  }
  // Nothing is left open.
  const [open] = await storage.bucket(BUCKET).getFiles({ prefix: `${RUNS}.open/` });
  expect(open.map((o) => o.name)).toEqual([]);

  second.child.kill("SIGTERM");
  const [code] = (await once(second.child, "exit")) as [number | null];
  expect(code).toBe(0);
});
