// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type GcsEmulator, startGcsEmulator } from "../../../local/gcs/index.ts";
import { createConnectorRegistry, WorkflowEngine } from "../../../local/workflows/index.ts";

// The storage and pubsub connectors against the local cloud: our GCS emulator and Google's Pub/Sub
// emulator (started once for the tier in globalSetup). What the workflow wrote is read back through the
// official client libraries.

const PROJECT = "batchline-test";
let gcs: GcsEmulator;
let storage: Storage;
let engine: WorkflowEngine;

beforeAll(async () => {
  gcs = await startGcsEmulator();
  storage = new Storage({ apiEndpoint: gcs.url, projectId: PROJECT });
  await storage.createBucket("wf-bucket");
  engine = new WorkflowEngine({
    projectId: PROJECT,
    connectors: createConnectorRegistry({
      storageEndpoint: gcs.url,
      pubsubEmulatorHost: inject("pubsubEmulatorHost"),
    }),
    logSink: () => {},
  });
});

afterAll(async () => {
  await gcs?.stop();
});

async function runOnce(id: string, source: string, argument?: unknown) {
  engine.deploy(id, source);
  return engine.wait(engine.execute(id, argument).id);
}

describe("storage connector on the GCS emulator", () => {
  it("inserts, reads, lists and deletes objects with the connector's argument shapes", async () => {
    const source = `
main:
  steps:
    - put_json:
        call: googleapis.storage.v1.objects.insert
        args:
          bucket: wf-bucket
          name: runs/r1/summary.json
          uploadType: media
          body: {count: 3, ok: true}
        result: inserted
    - put_text:
        call: googleapis.storage.v1.objects.insert
        args: {bucket: wf-bucket, name: runs/r1/notes.txt, uploadType: media, body: "plain notes"}
    - meta:
        call: googleapis.storage.v1.objects.get
        args: {bucket: wf-bucket, object: runs/r1/summary.json}
        result: meta
    - content:
        call: googleapis.storage.v1.objects.get
        args: {bucket: wf-bucket, object: runs/r1/summary.json, alt: media}
        result: content
    - listing:
        call: googleapis.storage.v1.objects.list
        args: {bucket: wf-bucket, prefix: runs/r1/}
        result: listing
    - remove:
        call: googleapis.storage.v1.objects.delete
        args: {bucket: wf-bucket, object: runs/r1/notes.txt}
    - gone:
        try:
          call: googleapis.storage.v1.objects.get
          args: {bucket: wf-bucket, object: runs/r1/notes.txt}
        except:
          as: e
          steps:
            - keep:
                assign: [missing_code: '\${e.code}']
    - done:
        return:
          inserted_name: \${inserted.name}
          size: \${meta.size}
          content: \${content}
          names: \${[listing.items[0].name, listing.items[1].name]}
          missing_code: \${missing_code}
`;
    const execution = await runOnce("storage-roundtrip", source);
    expect(execution.state).toBe("SUCCEEDED");
    const result = JSON.parse(execution.result as string);
    expect(result).toMatchObject({
      inserted_name: "runs/r1/summary.json",
      content: { count: 3, ok: true },
      missing_code: 404,
    });
    expect(result.names.sort()).toEqual(["runs/r1/notes.txt", "runs/r1/summary.json"]);
    const [data] = await storage.bucket("wf-bucket").file("runs/r1/summary.json").download();
    expect(JSON.parse(data.toString())).toEqual({ count: 3, ok: true });
    expect(String(result.size)).toBe(String(data.length));
    const [exists] = await storage.bucket("wf-bucket").file("runs/r1/notes.txt").exists();
    expect(exists).toBe(false);
  });

  it("raises HttpError 404 for a bucket that does not exist", async () => {
    const execution = await runOnce(
      "storage-missing",
      "- g:\n    call: googleapis.storage.v1.objects.list\n    args: {bucket: no-such-bucket-here}\n",
    );
    expect(execution.state).toBe("FAILED");
    expect(JSON.parse(execution.error?.payload as string)).toMatchObject({ tags: ["HttpError"], code: 404 });
  });
});

describe("pubsub connector on the Pub/Sub emulator", () => {
  it("publishes base64 data with attributes that a subscriber receives", async () => {
    const pubsub = new PubSub({
      projectId: PROJECT,
      apiEndpoint: inject("pubsubEmulatorHost"),
      emulatorMode: true,
    });
    const [topic] = await pubsub.createTopic(`wf-topic-${Date.now()}`);
    const [subscription] = await topic.createSubscription(`wf-sub-${Date.now()}`);
    const received = new Promise<{ data: string; attributes: Record<string, string> }>((resolve) => {
      subscription.on("message", (m) => {
        m.ack();
        resolve({ data: m.data.toString(), attributes: m.attributes });
      });
    });
    const source = `
main:
  params: [args]
  steps:
    - publish:
        call: googleapis.pubsub.v1.projects.topics.publish
        args:
          topic: \${args.topic}
          body:
            messages:
              - data: \${base64.encode(json.encode(args.message))}
                attributes: {runId: "r-1", status: SUCCEEDED}
        result: published
    - done:
        return: \${published}
`;
    const execution = await runOnce("publish", source, {
      topic: topic.name,
      message: { hello: "world", n: 2 },
    });
    expect(execution.state).toBe("SUCCEEDED");
    expect(JSON.parse(execution.result as string).messageIds).toHaveLength(1);
    const message = await received;
    expect(JSON.parse(message.data)).toEqual({ hello: "world", n: 2 });
    expect(message.attributes).toEqual({ runId: "r-1", status: "SUCCEEDED" });
    await subscription.close();
  });

  it("raises HttpError 404 publishing to a topic that does not exist", async () => {
    const source = `
- publish:
    call: googleapis.pubsub.v1.projects.topics.publish
    args:
      topic: projects/${PROJECT}/topics/never-created
      body: {messages: [{data: aGk=}]}
`;
    const execution = await runOnce("publish-missing", source);
    expect(JSON.parse(execution.error?.payload as string)).toMatchObject({ tags: ["HttpError"], code: 404 });
  });
});
