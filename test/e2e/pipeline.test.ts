import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { areaPrefix } from "../../core/naming.ts";
import { claimMetadataSchema, manifestShardSchema, taskRecordSchema } from "../../core/runs.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import { bootE2eCloud, Inbox, jsonl, listNames, objectMetadata, readObject } from "./support.ts";

// The whole pipeline on the local cloud: uploads go through the GCS emulator, Eventarc starts the real
// workflow YAML in our engine, plan and notify run on functions-framework, tasks run the real worker, and
// results are read the way a client would: from the bucket and from its Pub/Sub topic.

let cloud: LocalCloud;
const inbox = new Inbox();
const P = "shop";

beforeAll(async () => {
  cloud = await bootE2eCloud();
  await inbox.watch(cloud, cloud.config.clients.keys());
});

afterAll(async () => {
  await inbox.close();
  await cloud?.stop();
});

const inputs = (client: string) => areaPrefix(P, client, "inputs");
const outputs = (client: string) => areaPrefix(P, client, "outputs");

async function executionsFor(resourceSuffix: string) {
  return cloud.executions().filter((e) => e.argument.includes(resourceSuffix));
}

describe("upload to message", () => {
  it("processes one file: output, provenance and a SUCCEEDED message on the client's topic", async () => {
    const up = await cloud.upload("one", "orders/day1.jsonl", jsonl(["apple", "banana", "cherry"]));
    await cloud.idle();
    const [message] = await inbox.next("one");
    expect(message?.attributes).toMatchObject({
      status: "SUCCEEDED",
      client: "one",
      product: P,
      trigger: "event",
    });
    expect(message?.body).toMatchObject({
      status: "SUCCEEDED",
      counts: { inputs: 1, succeeded: 1, failed: 0, records: 3, badRecords: 0 },
      failedInputs: [],
      trigger: { type: "event", object: up.object },
    });
    const output = `${outputs("one")}orders/day1.jsonl`;
    expect(await readObject(cloud, output)).toBe(jsonl(["APPLE", "BANANA", "CHERRY"]));
    const metadata = (await objectMetadata(cloud, output)).metadata as Record<string, string>;
    expect(metadata).toMatchObject({
      batchlineInputObject: up.object,
      batchlineInputGeneration: up.generation,
      batchlineRunId: message?.body.runId,
      batchlineJobId: message?.body.jobId,
      batchlineProcessor: "uppercase",
    });
    expect(metadata.batchlineImage).toBe(cloud.config.platform.workerImage);
    const summary = JSON.parse(
      await readObject(
        cloud,
        message?.body.locations.summary.replace(`gs://${cloud.config.platform.bucket}/`, "") ?? "",
      ),
    );
    expect(summary.inputs).toEqual([
      expect.objectContaining({ object: up.object, status: "SUCCEEDED", records: 3 }),
    ]);
  });

  it("writes malformed lines to the errors file with line numbers and counts them in the message", async () => {
    const text = `${JSON.stringify({ text: "ok" })}\nnot json at all\n${JSON.stringify({ other: 1 })}\n${JSON.stringify({ text: "fine" })}\n`;
    await cloud.upload("bad", "mixed.jsonl", text);
    await cloud.idle();
    const [message] = await inbox.next("bad");
    expect(message?.body.status).toBe("SUCCEEDED");
    expect(message?.body.counts).toMatchObject({ inputs: 1, succeeded: 1, badRecords: 2 });
    const errorsName = `${areaPrefix(P, "bad", "errors")}${message?.body.runId}/mixed.jsonl.jsonl`;
    const bad = (await readObject(cloud, errorsName))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { line: number; reason: string });
    expect(bad.map((b) => b.line)).toEqual([2, 3]);
    expect(bad[0]?.reason).toMatch(/JSON/i);
    expect(bad[1]?.reason).toMatch(/text/);
    expect(await readObject(cloud, `${outputs("bad")}mixed.jsonl`)).toBe(jsonl(["OK", "FINE"]));
  });

  it("processes an empty file into an empty output", async () => {
    await cloud.upload("bad", "empty.jsonl", "");
    await cloud.idle();
    const [message] = await inbox.next("bad");
    expect(message?.body).toMatchObject({
      status: "SUCCEEDED",
      counts: { inputs: 1, succeeded: 1, records: 0, badRecords: 0 },
    });
    expect(await readObject(cloud, `${outputs("bad")}empty.jsonl`)).toBe("");
  });

  it("handles unicode, spaces and '#' in object names", async () => {
    const path = "résumé 2026/Q1 report #1.jsonl";
    await cloud.upload("names", path, jsonl(["ünïcode"]));
    await cloud.idle();
    const [message] = await inbox.next("names");
    expect(message?.body.status).toBe("SUCCEEDED");
    expect(await readObject(cloud, `${outputs("names")}${path}`)).toBe(jsonl(["ÜNÏCODE"]));
  });

  it("ignores objects outside the inputs prefix and folder placeholders", async () => {
    const bucket = cloud.storage.bucket(cloud.config.platform.bucket);
    await bucket.file(`${outputs("outside")}stray.jsonl`).save(jsonl(["x"]));
    await bucket.file(`${P}/outside/notes.txt`).save("hello");
    await bucket.file(`${inputs("outside")}folder/`).save("");
    await cloud.idle();
    // Only the placeholder matches the trigger's path pattern; the workflow then ignores it.
    expect(await executionsFor("outside/outputs/")).toEqual([]);
    expect(await executionsFor("outside/notes.txt")).toEqual([]);
    const [placeholder] = await executionsFor("outside/inputs/folder/");
    expect(placeholder?.state).toBe("SUCCEEDED");
    expect(JSON.parse(placeholder?.result ?? "null")).toEqual({
      ignored: true,
      reason: `folder placeholder: ${inputs("outside")}folder/`,
    });
    expect(await inbox.untaken("outside")).toEqual([]);
    expect(await listNames(cloud, areaPrefix(P, "outside", "runs"))).toEqual([]);
  });

  it("processes a re-upload (a new generation) again", async () => {
    const first = await cloud.upload("reup", "prices.jsonl", jsonl(["old"]));
    await cloud.idle();
    const [m1] = await inbox.next("reup");
    const second = await cloud.upload("reup", "prices.jsonl", jsonl(["new", "newer"]));
    await cloud.idle();
    const [m2] = await inbox.next("reup");
    expect(m1?.body.status).toBe("SUCCEEDED");
    expect(m2?.body.status).toBe("SUCCEEDED");
    expect(m2?.body.runId).not.toBe(m1?.body.runId);
    expect(m2?.body.counts.records).toBe(2);
    const output = `${outputs("reup")}prices.jsonl`;
    expect(await readObject(cloud, output)).toBe(jsonl(["NEW", "NEWER"]));
    const metadata = (await objectMetadata(cloud, output)).metadata as Record<string, string>;
    expect(metadata.batchlineInputGeneration).toBe(second.generation);
    expect(second.generation).not.toBe(first.generation);
  });

  it("retries a task that crashes on its first attempt, and succeeds", async () => {
    await cloud.upload("crash", "a.jsonl", jsonl(["survive"]));
    await cloud.idle();
    const [message] = await inbox.next("crash");
    expect(message?.body.status).toBe("SUCCEEDED");
    const record = taskRecordSchema.parse(
      JSON.parse(
        await readObject(cloud, `${areaPrefix(P, "crash", "runs")}${message?.body.runId}/tasks/0.json`),
      ),
    );
    expect(record.attempt).toBe(1);
    expect(record.status).toBe("SUCCEEDED");
    expect(await readObject(cloud, `${outputs("crash")}a.jsonl`)).toBe(jsonl(["SURVIVE"]));
  });

  it("processes 50 files uploaded at once exactly once each, in few jobs", async () => {
    const names = Array.from({ length: 50 }, (_, i) => `batch/file-${String(i).padStart(2, "0")}.jsonl`);
    await Promise.all(names.map((n, i) => cloud.upload("burst", n, jsonl([`record ${i}`]))));
    await cloud.idle();
    const runs = new Map<string, number>();
    let processed = 0;
    while (processed < 50) {
      const [m] = await inbox.next("burst", 1, 60_000);
      if (!m) break;
      expect(m.body.status).toBe("SUCCEEDED");
      if (!runs.has(m.body.runId)) processed += m.body.counts.succeeded;
      runs.set(m.body.runId, m.body.counts.inputs);
    }
    expect(processed).toBe(50);
    expect(runs.size).toBeLessThanOrEqual(2);
    // Every input is in exactly one run's manifest.
    const claimedBy = new Map<string, string[]>();
    for (const runId of runs.keys()) {
      const shardNames = await listNames(cloud, `${areaPrefix(P, "burst", "runs")}${runId}/manifest/`);
      for (const shardName of shardNames) {
        const shard = manifestShardSchema.parse(JSON.parse(await readObject(cloud, shardName)));
        for (const input of shard.inputs)
          claimedBy.set(input.object, [...(claimedBy.get(input.object) ?? []), runId]);
      }
    }
    expect(claimedBy.size).toBe(50);
    expect([...claimedBy.values()].every((r) => r.length === 1)).toBe(true);
    expect(await listNames(cloud, outputs("burst"))).toHaveLength(50);
    expect(await inbox.untaken("burst")).toEqual([]);
  });
});

describe("schedules and failures", () => {
  it("a scheduled sweep picks up inputs whose events were lost, then finds nothing more", async () => {
    cloud.eventarc.suspend();
    await cloud.upload("sweep", "lost-1.jsonl", jsonl(["one"]));
    await cloud.upload("sweep", "lost-2.jsonl", jsonl(["two"]));
    cloud.eventarc.resume();
    await cloud.idle();
    expect(await inbox.untaken("sweep", 500)).toEqual([]);

    const sweep = cloud.engine.execute(cloud.workflowId, { client: "sweep", trigger: "schedule" });
    await cloud.engine.wait(sweep.id);
    const [message] = await inbox.next("sweep");
    expect(message?.attributes.trigger).toBe("schedule");
    expect(message?.body).toMatchObject({
      status: "SUCCEEDED",
      counts: { inputs: 2, succeeded: 2 },
      trigger: { type: "schedule" },
    });
    expect(await listNames(cloud, outputs("sweep"))).toEqual([
      `${outputs("sweep")}lost-1.jsonl`,
      `${outputs("sweep")}lost-2.jsonl`,
    ]);

    const again = cloud.engine.execute(cloud.workflowId, { client: "sweep", trigger: "schedule" });
    const done = await cloud.engine.wait(again.id);
    expect(JSON.parse(done.result ?? "null")).toMatchObject({ status: "NOTHING_TO_DO", client: "sweep" });
    expect(await inbox.untaken("sweep")).toEqual([]);
  });

  it("an `always` schedule runs and reports even with no inputs", async () => {
    const execution = cloud.engine.execute(cloud.workflowId, { client: "always", trigger: "schedule" });
    const done = await cloud.engine.wait(execution.id);
    expect(done.state).toBe("SUCCEEDED");
    const [message] = await inbox.next("always");
    expect(message?.body).toMatchObject({
      status: "SUCCEEDED",
      counts: { inputs: 0 },
      trigger: { type: "schedule" },
    });
    expect(message?.body.jobId).toMatch(/^bl-shop-always-sc-/);
  });

  it("reports a poison input by name until it is given up on, while the other inputs are processed", async () => {
    const big = jsonl(Array.from({ length: 20 }, (_, i) => `a long enough record number ${i}`));
    expect(big.length).toBeGreaterThan(200);
    cloud.eventarc.suspend();
    const poison = await cloud.upload("poison", "big.jsonl", big);
    await cloud.upload("poison", "small.jsonl", jsonl(["fits"]));
    cloud.eventarc.resume();

    const run = async () => cloud.engine.wait(cloud.runManually("poison").id);

    await run();
    const [first] = await inbox.next("poison");
    expect(first?.body).toMatchObject({ status: "FAILED", counts: { inputs: 2, succeeded: 1, failed: 1 } });
    expect(first?.body.failedInputs).toEqual([
      expect.objectContaining({
        object: poison.object,
        generation: poison.generation,
        failures: 1,
        poison: false,
      }),
    ]);
    expect(first?.body.failedInputs[0]?.reason).toMatch(/200/);
    expect(await readObject(cloud, `${outputs("poison")}small.jsonl`)).toBe(jsonl(["FITS"]));

    await run();
    const [second] = await inbox.next("poison");
    expect(second?.body).toMatchObject({ status: "FAILED", counts: { inputs: 1, failed: 1 } });
    expect(second?.body.failedInputs).toEqual([
      expect.objectContaining({ object: poison.object, failures: 2, poison: true }),
    ]);

    const third = await run();
    expect(JSON.parse(third.result ?? "null")).toMatchObject({ status: "NOTHING_TO_DO" });
    expect(await inbox.untaken("poison")).toEqual([]);
    const claim = await objectMetadata(cloud, `${areaPrefix(P, "poison", "claims")}big.jsonl`);
    const state = claimMetadataSchema.parse(claim.metadata);
    expect(state).toMatchObject({ state: "poison", failures: "2", inputGeneration: poison.generation });
    expect(state.reason).toMatch(/200/);
  });
});
