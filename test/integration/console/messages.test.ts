import { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { TopicRecorder } from "../../../console/messages.ts";
import { createLogger } from "../../../core/logger.ts";

// The console's record of a client topic's messages, on Google's Pub/Sub emulator.

const TOPIC = `console-recorder-${process.pid}`;
let pubsub: PubSub;
let recorder: TopicRecorder;

beforeAll(async () => {
  pubsub = new PubSub({
    projectId: "console-test",
    apiEndpoint: inject("pubsubEmulatorHost"),
    emulatorMode: true,
  });
  await pubsub.createTopic(TOPIC);
  recorder = new TopicRecorder(pubsub, createLogger({ component: "test", level: "silent" }));
  await recorder.start(new Map([["c", TOPIC]]));
});

afterAll(async () => {
  await recorder?.stop();
  await pubsub?.topic(TOPIC).delete();
  await pubsub?.close();
});

it("keeps what the topic carries, newest first, and after losing its subscription makes a new one and says what may be missing", async () => {
  const topic = pubsub.topic(TOPIC);
  await topic.publishMessage({ data: Buffer.from('{"n":1}'), attributes: { runId: "ev-1" } });
  await expect
    .poll(() => recorder.messages("c").map((m) => m.data), { timeout: 10_000 })
    .toEqual(['{"n":1}']);
  expect(recorder.byRun("c", "ev-1")?.attributes).toEqual({ runId: "ev-1" });
  expect(recorder.gap("c")).toBeNull();

  // As when the emulator restarts: the topic is made again, the console's subscription is gone.
  const [subscriptions] = await topic.getSubscriptions();
  expect(subscriptions.map((s) => s.name)).toEqual([
    expect.stringMatching(/\/subscriptions\/batchline-console-c-[0-9a-f]{8}$/),
  ]);
  await subscriptions[0]?.delete();
  await expect.poll(() => recorder.gap("c"), { timeout: 20_000 }).toMatch(/and was made again at /);

  await topic.publishMessage({ data: Buffer.from('{"n":2}'), attributes: { runId: "ev-2" } });
  await expect
    .poll(() => recorder.messages("c").map((m) => m.data), { timeout: 10_000 })
    .toEqual(['{"n":2}', '{"n":1}']);
  expect(recorder.gap("c")).toMatch(
    /^The console's subscription failed at \S+ and was made again at \S+: messages published in between are not shown\.$/,
  );
});
