import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { resultMessageV1Schema } from "../../../core/messages.ts";
import { writeRegistryObject } from "../../../functions/shared/registry.ts";
import { CONFIG_DIR, testConfig } from "../../fixtures/functions/config.ts";
import {
  type Gcs,
  type Inbox,
  pubsubFor,
  putJson,
  readManifest,
  startGcs,
  subscribe,
  taskRecord,
  uploadPending,
} from "../../fixtures/functions/harness.ts";

// The deployed shape: functions-framework servers whose handlers build their own clients from the
// environment (config dir, STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST), called over HTTP.
const BUCKET = "batchline-test-bucket";
const PROJECT = "batchline-test"; // platform.project of the fixture config, which the shell's PubSub uses

let gcs: Gcs;
let pubsub: PubSub;
let planUrl: string;
let notifyUrl: string;
const servers: Server[] = [];

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

beforeAll(async () => {
  gcs = await startGcs(BUCKET);
  // What the client stacks deploy: the functions read clients from their registry objects.
  for (const client of testConfig().clients.values()) await writeRegistryObject(gcs.bucket, "shop", client);
  process.env.BATCHLINE_CONFIG_DIR = CONFIG_DIR;
  process.env.STORAGE_EMULATOR_HOST = gcs.emulator.url;
  process.env.PUBSUB_EMULATOR_HOST = inject("pubsubEmulatorHost");
  delete process.env.BATCHLINE_CONFIG;
  await import("../../../functions/plan/index.ts");
  await import("../../../functions/notify/index.ts");
  const { getTestServer } = await import("@google-cloud/functions-framework/testing");
  planUrl = await listen(getTestServer("plan"));
  notifyUrl = await listen(getTestServer("notify"));
  pubsub = pubsubFor(inject("pubsubEmulatorHost"), PROJECT);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await pubsub.close();
  await gcs.stop();
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, contentType: res.headers.get("content-type") ?? "" };
}

describe("plan and notify over HTTP", () => {
  let inbox: Inbox | undefined;
  afterAll(async () => {
    await inbox?.close();
  });

  it("plans, then notifies, a run end to end", async () => {
    inbox = await subscribe(pubsub, "batch-shop-acme-outputs", `http-test-${process.pid}`);
    await uploadPending(gcs.bucket, { "shop/acme/inputs/a.jsonl": "a\n", "shop/acme/inputs/b.jsonl": "b\n" });
    const body = {
      client: "acme",
      trigger: { type: "event", object: "shop/acme/inputs/b.jsonl", eventId: "evt-1" },
      runKey: "evt-1",
    };
    const planned = await post(planUrl, body, { "x-cloud-trace-context": "abc123/1;o=1" });
    expect(planned.status).toBe(200);
    const run = planned.json as { runId: string; jobId: string; manifestUri: string; taskCount: number };
    expect(run).toMatchObject({ taskCount: 2, inputCount: 2, mode: "event" });
    expect(await post(planUrl, body)).toMatchObject({ status: 200, json: planned.json });

    const { inputs } = await readManifest(gcs.bucket, run.manifestUri.replace(`gs://${BUCKET}/`, ""));
    for (const input of inputs) {
      await putJson(
        gcs.bucket,
        `shop/acme/runs/${run.runId}/tasks/${input.index}.json`,
        taskRecord(run.runId, input),
      );
    }
    const notified = await post(notifyUrl, {
      client: "acme",
      runId: run.runId,
      manifestUri: run.manifestUri,
      jobId: run.jobId,
      jobState: "SUCCEEDED",
      jobError: null,
    });
    expect(notified.status).toBe(200);
    expect(notified.json).toMatchObject({ status: "SUCCEEDED", counts: { inputs: 2, succeeded: 2 } });
    await inbox.waitFor(1);
    expect(resultMessageV1Schema.parse(inbox.messages[0]?.data).runId).toBe(run.runId);
    expect((notified.json as { messageId: string }).messageId).toBe(inbox.messages[0]?.id);
  });

  it("answers nothing-to-do with runId null", async () => {
    const res = await post(planUrl, { client: "acme", trigger: { type: "manual" }, runKey: "idle" });
    expect(res).toMatchObject({
      status: 200,
      json: { runId: null, taskCount: 0, inputCount: 0, rejectedCount: 0 },
    });
  });

  it("answers 400 naming the field for a bad body", async () => {
    expect(await post(planUrl, { client: "acme", trigger: { type: "manual" } })).toMatchObject({
      status: 400,
      json: { error: { message: 'field "runKey" is required', field: "runKey" } },
    });
    expect(await post(planUrl, { client: "acme", trigger: { type: "upload" }, runKey: "k" })).toMatchObject({
      status: 400,
      json: { error: { field: "trigger.type" } },
    });
    const badRun = await post(notifyUrl, {
      client: "acme",
      runId: "nope",
      manifestUri: "gs://b/x",
      jobId: null,
      jobState: null,
    });
    expect(badRun).toMatchObject({
      status: 400,
      json: {
        error: {
          message: 'field "runId" must be a run id such as ev-0123456789abcdef (got "nope")',
          field: "runId",
        },
      },
    });
  });

  it("answers 400 naming an unknown client", async () => {
    expect(await post(planUrl, { client: "nobody", trigger: { type: "manual" }, runKey: "k" })).toEqual({
      status: 400,
      json: {
        error: {
          message:
            `unknown client "nobody": its registry object gs://${BUCKET}/registry/shop/nobody.json does not exist ` +
            "(the client was never deployed, or was offboarded; deploy its client stack to onboard it)",
          field: "client",
        },
      },
      text: expect.any(String),
      contentType: expect.stringContaining("application/json"),
    });
  });

  it("answers 400 for a body that is not JSON, sent as text", async () => {
    const res = await fetch(planUrl, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "client=acme",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: expect.stringMatching(/^the request body is not JSON: /) },
    });
  });

  it("answers 405 to anything but POST", async () => {
    const res = await fetch(planUrl);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(await res.json()).toEqual({ error: { message: "use POST, not GET" } });
  });

  it("answers 500 naming the topic when the client's topic does not exist", async () => {
    const [exists] = await pubsub.topic("batch-shop-nightly-outputs").exists();
    if (exists) await pubsub.topic("batch-shop-nightly-outputs").delete();
    const planned = await post(planUrl, {
      client: "nightly",
      trigger: { type: "schedule" },
      runKey: "exec-http",
    });
    const run = planned.json as { runId: string; jobId: string; manifestUri: string };
    const res = await post(notifyUrl, {
      client: "nightly",
      runId: run.runId,
      manifestUri: run.manifestUri,
      jobId: run.jobId,
      jobState: "SUCCEEDED",
    });
    expect(res.status).toBe(500);
    expect((res.json as { error: { message: string } }).error.message).toMatch(
      /^Pub\/Sub topic "batch-shop-nightly-outputs" \(projects\/batchline-test\/topics\/batch-shop-nightly-outputs\) does not exist/,
    );
  });
});
