import { afterAll, beforeAll, expect, it } from "vitest";
import { areaPrefix } from "../../core/naming.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import { bootE2eCloud, Inbox, jsonl, listNames } from "./support.ts";

// At-least-once delivery: Eventarc hands every upload event to the workflow twice (same event id).
let cloud: LocalCloud;
const inbox = new Inbox();

beforeAll(async () => {
  cloud = await bootE2eCloud({ deliverTwice: true });
  await inbox.watch(cloud, ["twice"]);
});

afterAll(async () => {
  await inbox.close();
  await cloud?.stop();
});

it("runs one job per upload when every event is delivered twice, and processes each input once", async () => {
  const files = ["a.jsonl", "b.jsonl", "c.jsonl"];
  for (const f of files) {
    await cloud.upload("twice", f, jsonl([f]));
    await cloud.idle();
  }
  // Two executions per upload: both plan the same run, one creates the job, the other attaches to it.
  expect(cloud.executions()).toHaveLength(files.length * 2);
  expect(cloud.executions().every((e) => e.state === "SUCCEEDED")).toBe(true);
  const results = cloud
    .executions()
    .map((e) => JSON.parse(e.result ?? "null") as { runId: string; jobId: string });
  const runIds = new Set(results.map((r) => r.runId));
  expect(runIds.size).toBe(files.length);
  const { jobs } = cloud.batch.listJobs(
    `projects/${cloud.config.platform.project}/locations/${cloud.config.platform.region}`,
  );
  expect(jobs).toHaveLength(files.length);

  const received = await inbox.next("twice", files.length);
  // Exactly one message per run: the duplicate execution of each run waits for the one publish.
  expect(await inbox.untaken("twice")).toEqual([]);
  expect(new Set(received.map((m) => m.body.runId))).toEqual(runIds);
  for (const m of received)
    expect(m.body).toMatchObject({ status: "SUCCEEDED", counts: { inputs: 1, succeeded: 1 } });
  for (const runId of runIds) {
    const tasks = await listNames(cloud, `${areaPrefix("shop", "twice", "runs")}${runId}/tasks/`);
    expect(tasks).toHaveLength(1);
  }
  expect(await listNames(cloud, areaPrefix("shop", "twice", "outputs"))).toHaveLength(files.length);
});

it("sends exactly one message per run when uploads are spaced out and every event comes twice", async () => {
  const before = new Set(cloud.executions().map((e) => e.id));
  const files = Array.from({ length: 8 }, (_, i) => `spaced-${i}.jsonl`);
  // A couple of seconds apart, without waiting for runs to end: duplicate executions overlap other runs.
  for (const f of files) {
    await cloud.upload("twice", f, jsonl([f]));
    await new Promise((r) => setTimeout(r, 1_500));
  }
  await cloud.idle();
  const executions = cloud.executions().filter((e) => !before.has(e.id));
  expect(executions).toHaveLength(files.length * 2);
  const runIds = new Set(
    executions
      .map((e) => JSON.parse(e.result ?? "null") as { runId: string | null })
      .map((r) => r.runId)
      .filter((id): id is string => id !== null),
  );
  const received = await inbox.next("twice", runIds.size);
  expect(await inbox.untaken("twice", 3_000)).toEqual([]);
  expect(received.map((m) => m.body.runId).sort()).toEqual([...runIds].sort());
  // Every input processed exactly once, in one of those runs.
  expect(received.reduce((n, m) => n + m.body.counts.succeeded, 0)).toBe(files.length);
  const outputs = await listNames(cloud, `${areaPrefix("shop", "twice", "outputs")}spaced-`);
  expect(outputs).toHaveLength(files.length);
});
