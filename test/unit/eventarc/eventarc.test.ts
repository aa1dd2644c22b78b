import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.ts";
import { auditLogObjectCreateEvent } from "../../../local/eventarc/audit-log.ts";
import { type StorageChange, startLocalEventarc, triggersFor } from "../../../local/eventarc/index.ts";

const fixture = JSON.parse(readFileSync("test/events/audit-log/object-create.json", "utf8")) as Record<
  string,
  unknown
>;

/** Every key path of a JSON value, so two events can be compared by shape. */
function shape(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  if (Array.isArray(value)) return value.flatMap((v) => shape(v, `${prefix}[]`));
  return Object.entries(value).flatMap(([k, v]) => shape(v, prefix ? `${prefix}.${k}` : k));
}

function fakeStorage() {
  const listeners = new Set<(e: StorageChange) => void>();
  return {
    onChange(listener: (e: StorageChange) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    finalize(bucket: string, name: string, eventType = "OBJECT_FINALIZE") {
      for (const l of listeners)
        l({ eventType, bucket, object: { name, generation: "1" }, eventTime: new Date().toISOString() });
    },
    listenerCount: () => listeners.size,
  };
}

const config = loadConfig("config");
const bucket = config.platform.bucket;

describe("audit-log CloudEvent", () => {
  it("has exactly the shape of the real event fixture", () => {
    const built = auditLogObjectCreateEvent({
      project: "batchline-demo",
      bucket: "batchline-demo-batch",
      object: "demo/demo/inputs/2026/11/orders.jsonl",
      location: "europe-west2",
      principalEmail: "demo-uploader@batchline-demo.iam.gserviceaccount.com",
      time: new Date("2026-11-21T10:15:02.466Z"),
    });
    expect(shape(built).sort()).toEqual(shape(fixture).sort());
    const data = built.data as { protoPayload: Record<string, unknown> };
    expect(data.protoPayload.resourceName).toBe(
      "projects/_/buckets/batchline-demo-batch/objects/demo/demo/inputs/2026/11/orders.jsonl",
    );
    expect(built.type).toBe("google.cloud.audit.log.v1.written");
    expect(built.subject).toBe(`storage.googleapis.com/${String(data.protoPayload.resourceName)}`);
  });

  it("keeps the event id for a redelivery of the same log entry", () => {
    const args = {
      project: "p",
      bucket: "b",
      object: "o",
      location: "l",
      principalEmail: "u@x",
      time: new Date(0),
      insertId: "abc",
    };
    expect(auditLogObjectCreateEvent(args).id).toBe(auditLogObjectCreateEvent(args).id);
    expect(auditLogObjectCreateEvent({ ...args, insertId: "abd" }).id).not.toBe(
      auditLogObjectCreateEvent(args).id,
    );
  });
});

describe("local Eventarc", () => {
  it("builds one trigger per client with the infra filters and path pattern", () => {
    expect(triggersFor(config)).toContainEqual({
      name: "bl-demo-demo-inputs",
      client: "demo",
      filters: {
        type: "google.cloud.audit.log.v1.written",
        serviceName: "storage.googleapis.com",
        methodName: "storage.objects.create",
      },
      pathPattern: `/projects/_/buckets/${bucket}/objects/demo/demo/inputs/**`,
    });
  });

  it("delivers a finalize under a client's inputs to that client's trigger", async () => {
    const storage = fakeStorage();
    const delivered: Array<{ event: Record<string, unknown>; client: string }> = [];
    const eventarc = startLocalEventarc({
      config,
      storage,
      deliver: async (event, trigger) => {
        delivered.push({ event, client: trigger.client });
      },
    });
    storage.finalize(bucket, "demo/demo/inputs/a/b.jsonl");
    await eventarc.idle();
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.client).toBe("demo");
    expect(delivered[0]?.event.resourcename).toBe(
      `projects/_/buckets/${bucket}/objects/demo/demo/inputs/a/b.jsonl`,
    );
    eventarc.stop();
    expect(storage.listenerCount()).toBe(0);
  });

  it.each([
    ["outputs", bucket, "demo/demo/outputs/a.jsonl", "OBJECT_FINALIZE"],
    ["another bucket", "other-bucket", "demo/demo/inputs/a.jsonl", "OBJECT_FINALIZE"],
    ["an unknown client", bucket, "demo/nobody/inputs/a.jsonl", "OBJECT_FINALIZE"],
    ["a delete", bucket, "demo/demo/inputs/a.jsonl", "OBJECT_DELETE"],
  ])("ignores %s", async (_what, b, name, type) => {
    const storage = fakeStorage();
    const delivered: unknown[] = [];
    const eventarc = startLocalEventarc({ config, storage, deliver: async (e) => void delivered.push(e) });
    storage.finalize(b, name, type);
    await eventarc.idle();
    expect(delivered).toEqual([]);
  });

  it("delivers twice with the same event id when asked to", async () => {
    const storage = fakeStorage();
    const ids: unknown[] = [];
    const eventarc = startLocalEventarc({
      config,
      storage,
      deliverTwice: true,
      deliver: async (e) => void ids.push(e.id),
    });
    storage.finalize(bucket, "demo/demo/inputs/x.jsonl");
    await eventarc.idle();
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it("drops events while suspended, as lost audit-log entries would be", async () => {
    const storage = fakeStorage();
    const delivered: unknown[] = [];
    const eventarc = startLocalEventarc({
      config,
      storage,
      deliver: async (e) => void delivered.push(e.resourcename),
    });
    eventarc.suspend();
    storage.finalize(bucket, "demo/demo/inputs/lost.jsonl");
    eventarc.resume();
    storage.finalize(bucket, "demo/demo/inputs/kept.jsonl");
    await eventarc.idle();
    expect(delivered).toEqual([`projects/_/buckets/${bucket}/objects/demo/demo/inputs/kept.jsonl`]);
  });

  it("keeps going when a delivery fails", async () => {
    const storage = fakeStorage();
    let calls = 0;
    const eventarc = startLocalEventarc({
      config,
      storage,
      deliver: async () => {
        calls++;
        throw new Error("workflow refused");
      },
    });
    storage.finalize(bucket, "demo/demo/inputs/1.jsonl");
    storage.finalize(bucket, "demo/demo/inputs/2.jsonl");
    await eventarc.idle();
    expect(calls).toBe(2);
  });
});
