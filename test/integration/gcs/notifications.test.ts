import { type Message, PubSub, type Subscription } from "@google-cloud/pubsub";
import type { Bucket } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { ChangeEvent } from "../../../local/gcs/index.ts";
import { BACKENDS, bucketName, capturingLogger, caught, type Harness, startHarness } from "./helpers.ts";

const PROJECT = "batchline-test";

interface Received {
  attributes: Record<string, string>;
  data: string;
}

/** A topic with a subscription that collects every message it receives. */
interface Inbox {
  topicName: string;
  messages: Received[];
  /** Resolves with the first `n` messages once they have arrived (rejects after a timeout). */
  take(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

async function inbox(pubsub: PubSub, label: string): Promise<Inbox> {
  const id = `${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const [topic] = await pubsub.createTopic(id);
  const [subscription]: [Subscription, unknown] = await topic.createSubscription(`${id}-sub`);
  const messages: Received[] = [];
  const waiters: Array<() => void> = [];
  subscription.on("message", (m: Message) => {
    m.ack();
    messages.push({ attributes: { ...m.attributes }, data: m.data.toString("utf8") });
    for (const w of waiters.splice(0)) w();
  });
  return {
    topicName: id,
    messages,
    take: (n, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const deadline = setTimeout(
          () => reject(new Error(`got ${messages.length} of ${n} messages on ${id}`)),
          timeoutMs,
        );
        const check = () => {
          if (messages.length >= n) {
            clearTimeout(deadline);
            resolve(messages.slice(0, n));
          } else waiters.push(check);
        };
        check();
      }),
    close: async () => {
      await subscription.close();
      await subscription.delete().catch(() => undefined);
      await topic.delete().catch(() => undefined);
    },
  };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(BACKENDS)("Pub/Sub notifications (%s backend)", (backend) => {
  let h: Harness;
  let pubsub: PubSub;
  const inboxes: Inbox[] = [];

  const newInbox = async (label: string) => {
    const box = await inbox(pubsub, label);
    inboxes.push(box);
    return box;
  };

  beforeAll(async () => {
    const emulatorHost = inject("pubsubEmulatorHost");
    // universeDomain set: no probing for the GCE metadata server, which is not on loopback.
    pubsub = new PubSub({
      projectId: PROJECT,
      apiEndpoint: emulatorHost,
      emulatorMode: true,
      universeDomain: "googleapis.com",
    });
    h = await startHarness(backend, { pubsub: { emulatorHost, projectId: PROJECT } });
  });
  afterAll(async () => {
    await Promise.all(inboxes.map((b) => b.close()));
    await pubsub.close();
    await h.close();
  });

  test("createNotification returns the config, which get and getNotifications also return", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-crud"));
    const box = await newInbox("crud");

    const [notification, created] = await bucket.createNotification(box.topicName, {
      eventTypes: ["OBJECT_FINALIZE"],
      objectNamePrefix: "in/",
      customAttributes: { team: "a" },
    });

    expect(created).toMatchObject({
      kind: "storage#notification",
      id: notification.id,
      topic: `//pubsub.googleapis.com/projects/${PROJECT}/topics/${box.topicName}`,
      payload_format: "JSON_API_V1",
      event_types: ["OBJECT_FINALIZE"],
      object_name_prefix: "in/",
      custom_attributes: { team: "a" },
    });
    const [fetched] = await bucket.notification(notification.id as string).getMetadata();
    expect(fetched).toEqual(created);
    const [listed] = await bucket.getNotifications();
    expect(listed.map((n) => n.id)).toEqual([notification.id]);
  });

  test("a deleted notification config is gone and get answers 404", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-del"));
    const box = await newInbox("del");
    const [notification] = await bucket.createNotification(box.topicName);

    await notification.delete();

    expect((await bucket.getNotifications())[0]).toEqual([]);
    expect((await caught(() => notification.getMetadata())).code).toBe(404);
  });

  test("a topic that does not exist is refused with 400", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-missing"));

    const err = await caught(() => bucket.createNotification("no-such-topic-anywhere"));

    expect(err.code).toBe(400);
  });

  test("a finalize is delivered with GCS's attributes and the object resource as the body", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-final"));
    const box = await newInbox("final");
    const [notification] = await bucket.createNotification(`projects/${PROJECT}/topics/${box.topicName}`, {
      customAttributes: { team: "a" },
    });

    await bucket.file("in/report #1.csv").save("a,b\n1,2\n", { resumable: false, contentType: "text/csv" });

    const [message] = await box.take(1);
    const [metadata] = await bucket.file("in/report #1.csv").getMetadata();
    expect(message?.attributes).toEqual({
      notificationConfig: `projects/_/buckets/${bucket.name}/notificationConfigs/${notification.id}`,
      eventType: "OBJECT_FINALIZE",
      payloadFormat: "JSON_API_V1",
      bucketId: bucket.name,
      objectId: "in/report #1.csv",
      objectGeneration: String(metadata.generation),
      eventTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      team: "a",
    });
    expect(JSON.parse(message?.data ?? "")).toEqual(metadata);
  });

  test("an overwrite delivers the new finalize with overwroteGeneration and the old delete with overwrittenByGeneration", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-over"));
    await bucket.file("doc").save("one", { resumable: false });
    const [first] = await bucket.file("doc").getMetadata();
    const box = await newInbox("over");
    await bucket.createNotification(box.topicName);

    await bucket.file("doc").save("two", { resumable: false });

    const messages = await box.take(2);
    const [second] = await bucket.file("doc").getMetadata();
    const byType = Object.fromEntries(messages.map((m) => [m.attributes.eventType, m.attributes]));
    expect(byType.OBJECT_FINALIZE).toMatchObject({
      objectGeneration: String(second.generation),
      overwroteGeneration: String(first.generation),
    });
    expect(byType.OBJECT_DELETE).toMatchObject({
      objectGeneration: String(first.generation),
      overwrittenByGeneration: String(second.generation),
    });
  });

  test("an overwrite in a versioned bucket archives the old generation", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-arch"), {
      versioning: { enabled: true },
    });
    await bucket.file("doc").save("one", { resumable: false });
    const [first] = await bucket.file("doc").getMetadata();
    const box = await newInbox("arch");
    await bucket.createNotification(box.topicName, { eventTypes: ["OBJECT_ARCHIVE"] });

    await bucket.file("doc").save("two", { resumable: false });

    const [message] = await box.take(1);
    expect(message?.attributes).toMatchObject({
      eventType: "OBJECT_ARCHIVE",
      objectGeneration: String(first.generation),
    });
    expect(JSON.parse(message?.data ?? "{}").timeDeleted).toEqual(expect.any(String));
  });

  test("a metadata update is delivered as OBJECT_METADATA_UPDATE with the new metageneration", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-meta"));
    await bucket.file("doc").save("one", { resumable: false });
    const box = await newInbox("meta");
    await bucket.createNotification(box.topicName);

    await bucket.file("doc").setMetadata({ metadata: { reviewed: "yes" } });

    const [message] = await box.take(1);
    expect(message?.attributes.eventType).toBe("OBJECT_METADATA_UPDATE");
    expect(JSON.parse(message?.data ?? "{}")).toMatchObject({
      metageneration: "2",
      metadata: { reviewed: "yes" },
    });
  });

  test("payload_format NONE delivers the attributes and no body", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-none"));
    const box = await newInbox("none");
    await bucket.createNotification(box.topicName, { payloadFormat: "NONE" });

    await bucket.file("doc").save("one", { resumable: false });

    const [message] = await box.take(1);
    expect(message?.attributes).toMatchObject({
      payloadFormat: "NONE",
      eventType: "OBJECT_FINALIZE",
      objectId: "doc",
    });
    expect(message?.data).toBe("");
  });

  test("event_types and object_name_prefix filter what a config delivers", async () => {
    const [bucket] = await h.storage.createBucket(bucketName("notif-filter"));
    const everything = await newInbox("all");
    const filtered = await newInbox("filtered");
    await bucket.createNotification(everything.topicName);
    await bucket.createNotification(filtered.topicName, {
      eventTypes: ["OBJECT_DELETE"],
      objectNamePrefix: "keep/",
    });

    await bucket.file("keep/a").save("a", { resumable: false });
    await bucket.file("other/b").save("b", { resumable: false });
    await bucket.file("keep/a").delete();
    await bucket.file("other/b").delete();

    // Both configs saw the same four events at the same moments: once the unfiltered topic has all four and
    // the filtered one its expected message, anything else the filter let through would have arrived too.
    await Promise.all([everything.take(4), filtered.take(1)]);
    await settle(500);
    expect(filtered.messages.map((m) => [m.attributes.eventType, m.attributes.objectId])).toEqual([
      ["OBJECT_DELETE", "keep/a"],
    ]);
  });
});

describe.each(BACKENDS)("onChange listeners (%s backend)", (backend) => {
  let h: Harness;
  let bucket: Bucket;
  const events: ChangeEvent[] = [];
  let unsubscribe: () => void;
  const log = capturingLogger();

  beforeAll(async () => {
    h = await startHarness(backend, { logger: log.logger });
    [bucket] = await h.storage.createBucket(bucketName("listeners"), { versioning: { enabled: true } });
    unsubscribe = h.emulator.onChange((e) => {
      events.push(e);
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const forObject = (name: string) => events.filter((e) => e.object.name === name);

  test("an upload emits OBJECT_FINALIZE with the bucket, the object resource and the event time", async () => {
    await bucket.file("a.txt").save("a", { resumable: false });

    const [metadata] = await bucket.file("a.txt").getMetadata();
    expect(forObject("a.txt")).toEqual([
      { eventType: "OBJECT_FINALIZE", bucket: bucket.name, object: metadata, eventTime: expect.any(String) },
    ]);
  });

  test("a metadata update emits OBJECT_METADATA_UPDATE", async () => {
    await bucket.file("b.txt").save("b", { resumable: false });

    await bucket.file("b.txt").setMetadata({ contentType: "text/plain" });

    expect(forObject("b.txt").map((e) => [e.eventType, e.object.metageneration])).toEqual([
      ["OBJECT_FINALIZE", "1"],
      ["OBJECT_METADATA_UPDATE", "2"],
    ]);
  });

  test("deleting the live object of a versioned bucket emits OBJECT_ARCHIVE; deleting that generation emits OBJECT_DELETE", async () => {
    await bucket.file("c.txt").save("c", { resumable: false });
    const [m] = await bucket.file("c.txt").getMetadata();

    await bucket.file("c.txt").delete();
    await bucket.file("c.txt", { generation: Number(m.generation) }).delete();

    expect(forObject("c.txt").map((e) => e.eventType)).toEqual([
      "OBJECT_FINALIZE",
      "OBJECT_ARCHIVE",
      "OBJECT_DELETE",
    ]);
  });

  test("a listener that throws does not fail the request, and the failure is logged", async () => {
    const stop = h.emulator.onChange(() => {
      throw new Error("listener bug");
    });
    try {
      await bucket.file("d.txt").save("d", { resumable: false });

      expect((await bucket.file("d.txt").exists())[0]).toBe(true);
      expect(log.lines).toContainEqual(
        expect.objectContaining({ severity: "WARNING", message: "change listener failed", object: "d.txt" }),
      );
    } finally {
      stop();
    }
  });

  test("after unsubscribing a listener gets nothing more", async () => {
    unsubscribe();
    const count = events.length;

    await bucket.file("e.txt").save("e", { resumable: false });

    expect(events.length).toBe(count);
  });
});
