import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { topicName } from "../../core/ids.ts";
import { areaPrefix } from "../../core/naming.ts";
import { undeliveredSchema } from "../../core/runs.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import type { Execution } from "../../local/workflows/index.ts";
import { bootE2eCloud, Inbox, jsonl, listNames, readObject } from "./support.ts";

// Every failure reaches the client: a stage that fails ends with a FAILED message that names the stage and
// the inputs, and the execution fails as well, so the failure is visible where executions are watched.
let cloud: LocalCloud;
const inbox = new Inbox();

beforeAll(async () => {
  cloud = await bootE2eCloud();
  await inbox.watch(cloud, ["refused", "noplan"]);
});

afterAll(async () => {
  await inbox.close();
  await cloud?.stop();
});

function executionsOf(client: string): Execution[] {
  return cloud.executions().filter((e) => {
    const argument = JSON.parse(e.argument) as { data?: { protoPayload?: { resourceName?: string } } };
    return (argument.data?.protoPayload?.resourceName ?? "").includes(`/objects/shop/${client}/inputs/`);
  });
}

describe("a stage that fails reaches the client", () => {
  it("a job Batch refuses: a FAILED message naming the job and the input, and a FAILED execution", async () => {
    const { object } = await cloud.upload("refused", "a.jsonl", jsonl(["a"]));
    await cloud.idle();

    const [received] = await inbox.next("refused");
    expect(received?.body.status).toBe("FAILED");
    expect(received?.body.jobId).toBeNull();
    expect(received?.body.error?.message).toMatch(
      /^job bl-shop-refused-ev-[0-9a-f]{16} could not be created: /,
    );
    expect(received?.body.error?.message).toMatch(/parallelism/);
    expect(received?.body.failedInputs.map((f) => f.object)).toEqual([object]);
    const [execution] = executionsOf("refused");
    expect(execution?.state).toBe("FAILED");
    expect(execution?.error?.payload).toMatch(
      /failed: job .* could not be created.*the client was sent a FAILED message/,
    );
    expect(await inbox.untaken("refused")).toEqual([]);
  });

  it("a deleted topic: the message is kept as undelivered, the execution fails, and the next plan publishes it", async () => {
    const topic = cloud.pubsub.topic(topicName("shop", "deadtopic"));
    await topic.delete();
    await cloud.upload("deadtopic", "a.jsonl", jsonl(["a"]));
    await cloud.idle();

    const [first] = executionsOf("deadtopic");
    expect(first?.state).toBe("FAILED");
    expect(first?.error?.payload).toMatch(/batch-shop-deadtopic-outputs.* does not exist/);
    expect(first?.error?.payload).toMatch(
      /the message is kept at gs:\/\/batchline-e2e-batch\/shop\/deadtopic\/runs\/\.undelivered\//,
    );
    const kept = await listNames(cloud, `${areaPrefix("shop", "deadtopic", "runs")}.undelivered/`);
    expect(kept).toHaveLength(1);
    const undelivered = undeliveredSchema.parse(JSON.parse(await readObject(cloud, kept[0] ?? "")));
    expect(undelivered.message).toMatchObject({ status: "SUCCEEDED", client: "deadtopic" });

    // The topic is back (the client's stack was deployed again); the next upload's plan publishes the kept
    // message first, then its own run's.
    await topic.create();
    await inbox.watch(cloud, ["deadtopic"]);
    await cloud.upload("deadtopic", "b.jsonl", jsonl(["b"]));
    await cloud.idle();
    const received = await inbox.next("deadtopic", 2);
    const runIds = received.map((m) => m.body.runId);
    expect(new Set(runIds).size).toBe(2);
    expect(runIds).toContain(undelivered.runId);
    expect(received.find((m) => m.body.runId === undelivered.runId)?.body).toEqual(undelivered.message);
    expect(await inbox.untaken("deadtopic")).toEqual([]);
    expect(await listNames(cloud, `${areaPrefix("shop", "deadtopic", "runs")}.undelivered/`)).toEqual([]);
    expect(await listNames(cloud, `${areaPrefix("shop", "deadtopic", "runs")}.open/`)).toEqual([]);
  });

  it("plan unreachable past its retries: a FAILED message naming the stage and the input, and a FAILED execution", async () => {
    // Stopped, not killed: the local cloud does not bring back a function it stopped itself.
    await cloud.functions.get("plan")?.stop();
    const { object, generation } = await cloud.upload("noplan", "a.jsonl", jsonl(["a"]));
    await cloud.idle();

    const [received] = await inbox.next("noplan", 1, 120_000);
    expect(received?.body.status).toBe("FAILED");
    expect(received?.body.error?.message).toMatch(/^the plan stage failed: /);
    expect(received?.body.failedInputs).toEqual([
      {
        object,
        generation,
        reason: expect.stringMatching(
          /^not processed: the plan stage failed: .*; it is pending again for the next run$/,
        ),
        failures: 0,
        poison: false,
      },
    ]);
    const [execution] = executionsOf("noplan");
    expect(execution?.state).toBe("FAILED");
    expect(execution?.error?.payload).toMatch(/the plan stage of client noplan failed/);
    expect(await inbox.untaken("noplan")).toEqual([]);
  });
});
