import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { areaPrefix } from "../../core/naming.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import { bootE2eCloud, Inbox, jsonl, listNames, objectMetadata, type Received } from "./support.ts";

// Fault injection on the local cloud: parts of it are killed mid-run, and every input must still be
// accounted for exactly once (an output, or a failure named in a message) with exactly one message per run.
let cloud: LocalCloud;
const inbox = new Inbox();
const INPUTS = areaPrefix("shop", "slow", "inputs");
const OUTPUTS = areaPrefix("shop", "slow", "outputs");

beforeAll(async () => {
  cloud = await bootE2eCloud();
  await inbox.watch(cloud, ["slow"]);
});

afterAll(async () => {
  await inbox.close();
  await cloud?.stop();
});

/** SIGKILL to a local function's whole process group, as the OOM killer or a crash would end it. */
function killFunction(name: string): void {
  const pid = cloud.functions.get(name)?.pid();
  if (pid === undefined) throw new Error(`function ${name} is not running`);
  process.kill(-pid, "SIGKILL");
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runningJobs(): number {
  const parent = `projects/${cloud.config.platform.project}/locations/${cloud.config.platform.region}`;
  return cloud.batch.listJobs(parent).jobs.filter((j) => j.status?.state === "RUNNING").length;
}

/** Exactly one message per run: nothing arrives after the ones taken. */
async function expectNoMoreMessages(): Promise<void> {
  expect((await inbox.untaken("slow")).map((m) => m.body.runId)).toEqual([]);
}

function outputOf(path: string): string {
  return `${OUTPUTS}${path}`;
}

describe("a local function that dies is restarted, and the call that hit it is retried", () => {
  it("sends the run's one message when notify was killed while the job ran", async () => {
    const restartsBefore = cloud.functions.get("notify")?.restarts() ?? 0;
    await cloud.upload("slow", "n1.jsonl", jsonl(["a", "b"]));
    await until("the job to run", () => runningJobs() > 0);
    killFunction("notify");

    const [received] = await inbox.next("slow", 1, 60_000);
    expect(received?.body).toMatchObject({
      status: "SUCCEEDED",
      counts: { inputs: 1, succeeded: 1, records: 2 },
    });
    expect(cloud.functions.get("notify")?.restarts()).toBe(restartsBefore + 1);
    await cloud.idle();
    await expectNoMoreMessages();
  });

  it("runs an upload whose plan call found the plan function dead", async () => {
    const restartsBefore = cloud.functions.get("plan")?.restarts() ?? 0;
    killFunction("plan");
    await cloud.upload("slow", "p1.jsonl", jsonl(["c"]));

    const [received] = await inbox.next("slow", 1, 60_000);
    expect(received?.body).toMatchObject({ status: "SUCCEEDED", counts: { inputs: 1, succeeded: 1 } });
    expect(received?.body.trigger).toMatchObject({ type: "event", object: `${INPUTS}p1.jsonl` });
    expect(cloud.functions.get("plan")?.restarts()).toBe(restartsBefore + 1);
    await cloud.idle();
    await expectNoMoreMessages();
    expect(await listNames(cloud, outputOf("p1.jsonl"))).toEqual([outputOf("p1.jsonl")]);
  });
});

describe("an input uploaded again while a run holds it", () => {
  it("processes the new generation in a run of its own and reports the old one by name", async () => {
    const files = ["r1.jsonl", "r2.jsonl", "r3.jsonl"];
    const first = new Map<string, string>();
    for (const f of files) first.set(f, (await cloud.upload("slow", f, jsonl([`${f} v1`]))).generation);
    await until("the job to run", () => runningJobs() > 0);
    // The last of three tasks (one at a time, a few seconds each) has certainly not read its input yet.
    const again = await cloud.upload("slow", "r3.jsonl", jsonl(["r3 v2", "r3 v2 more"]));

    await cloud.idle();
    const received: Received[] = await inbox.next("slow", 2, 60_000);
    const seen = JSON.stringify(
      received.map((m) => m.body),
      null,
      1,
    );
    await expectNoMoreMessages();
    // Every generation is accounted for exactly once across the messages.
    const outcomes = new Map<string, string>();
    for (const m of received) {
      const failed = new Map(m.body.failedInputs.map((f) => [`${f.object}#${f.generation}`, f.reason]));
      expect(m.body.counts.failed).toBe(failed.size);
      for (const key of failed.keys()) {
        expect(outcomes.has(key)).toBe(false);
        outcomes.set(key, "failed");
      }
    }
    const oldR3 = `${INPUTS}r3.jsonl#${first.get("r3.jsonl")}`;
    expect(outcomes.get(oldR3), seen).toBe("failed");
    const [withOld] = received.filter((m) =>
      m.body.failedInputs.some((f) => `${f.object}#${f.generation}` === oldR3),
    );
    expect(withOld?.body.counts).toMatchObject({ inputs: 3, succeeded: 2, failed: 1 });
    const [withNew] = received.filter((m) => m !== withOld);
    expect(withNew?.body).toMatchObject({
      status: "SUCCEEDED",
      counts: { inputs: 1, succeeded: 1, records: 2 },
    });
    // The output is the new generation's.
    const metadata = await objectMetadata(cloud, outputOf("r3.jsonl"));
    expect((metadata.metadata as Record<string, string>).batchlineInputGeneration).toBe(again.generation);
  });
});
