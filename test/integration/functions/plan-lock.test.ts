import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acquirePlanLock,
  PLAN_LOCK_SECONDS,
  planLockName,
  releasePlanLock,
} from "../../../functions/plan/lock.ts";
import { type GcsEmulator, startGcsEmulator } from "../../../local/gcs/index.ts";

let emulator: GcsEmulator;
let storage: Storage;
const bucketName = "plan-lock-test";

beforeAll(async () => {
  emulator = await startGcsEmulator({ logger: undefined });
  storage = new Storage({ apiEndpoint: emulator.url, projectId: "test" });
  await storage.createBucket(bucketName);
});

afterAll(async () => {
  await emulator?.stop();
});

describe("plan lock", () => {
  const name = planLockName("shop", "acme");
  const now = new Date();

  it("lives under the client's runs area", () => {
    expect(name).toBe("shop/acme/runs/.plan-lock");
  });

  it("admits one run at a time and is free again once released", async () => {
    const bucket = storage.bucket(bucketName);
    const a = await acquirePlanLock(bucket, name, "ev-aaaaaaaaaaaaaaaa", now);
    expect(a).not.toBeNull();
    expect(await acquirePlanLock(bucket, name, "ev-bbbbbbbbbbbbbbbb", now)).toBeNull();
    await releasePlanLock(bucket, name, a as string);
    const b = await acquirePlanLock(bucket, name, "ev-bbbbbbbbbbbbbbbb", now);
    expect(b).not.toBeNull();
    await releasePlanLock(bucket, name, b as string);
  });

  it("is shared by identical calls of one run", async () => {
    const bucket = storage.bucket(bucketName);
    const first = await acquirePlanLock(bucket, name, "ev-cccccccccccccccc", now);
    const again = await acquirePlanLock(bucket, name, "ev-cccccccccccccccc", now);
    expect(again).toBe(first);
    await releasePlanLock(bucket, name, first as string);
  });

  it("is taken over once its holder's time is up", async () => {
    const bucket = storage.bucket(bucketName);
    const dead = await acquirePlanLock(bucket, name, "ev-dddddddddddddddd", now);
    expect(dead).not.toBeNull();
    const later = new Date(now.getTime() + (PLAN_LOCK_SECONDS + 1) * 1000);
    const taken = await acquirePlanLock(bucket, name, "ev-eeeeeeeeeeeeeeee", later);
    expect(taken).not.toBeNull();
    expect(taken).not.toBe(dead);
    // The dead holder's late release must not free the new holder's lock.
    await releasePlanLock(bucket, name, dead as string);
    expect(await acquirePlanLock(bucket, name, "ev-ffffffffffffffff", later)).toBeNull();
    await releasePlanLock(bucket, name, taken as string);
  });
});
