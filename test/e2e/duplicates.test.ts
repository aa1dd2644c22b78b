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
  const late = await inbox.untaken("twice");
  // Pub/Sub is at-least-once: a repeat is allowed only as an identical copy of a run's one message.
  const byRun = new Map<string, string>();
  for (const m of [...received, ...late]) {
    const body = JSON.stringify(m.body);
    expect(byRun.get(m.body.runId) ?? body).toBe(body);
    byRun.set(m.body.runId, body);
  }
  expect(new Set(byRun.keys())).toEqual(runIds);
  for (const m of received)
    expect(m.body).toMatchObject({ status: "SUCCEEDED", counts: { inputs: 1, succeeded: 1 } });
  for (const runId of runIds) {
    const tasks = await listNames(cloud, `${areaPrefix("shop", "twice", "runs")}${runId}/tasks/`);
    expect(tasks).toHaveLength(1);
  }
  expect(await listNames(cloud, areaPrefix("shop", "twice", "outputs"))).toHaveLength(files.length);
});
