import { randomBytes } from "node:crypto";
import type { Bucket } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ChangeEvent } from "../../../local/gcs/index.ts";
import { BACKENDS, bucketName, type ClientError, type Harness, startHarness } from "./helpers.ts";

const WRITERS = 8;

/** Settles every promise and splits the outcomes. */
async function settle<T>(promises: Array<Promise<T>>): Promise<{ ok: T[]; failed: ClientError[] }> {
  const results = await Promise.allSettled(promises);
  return {
    ok: results
      .filter((r): r is PromiseFulfilledResult<Awaited<T>> => r.status === "fulfilled")
      .map((r) => r.value),
    failed: results
      .filter((r): r is PromiseRejectedResult => r.status === "rejected")
      .map((r) => r.reason as ClientError),
  };
}

describe.each(BACKENDS)("concurrent writers to one name (%s backend)", (backend) => {
  let h: Harness;
  let bucket: Bucket;
  const events: ChangeEvent[] = [];

  beforeAll(async () => {
    h = await startHarness(backend);
    [bucket] = await h.storage.createBucket(bucketName("concurrency"));
    h.emulator.onChange((e) => {
      events.push(e);
    });
  });
  afterAll(async () => {
    await h.close();
  });

  test("without preconditions every writer succeeds and the last to finalize is what remains", async () => {
    const name = "race/plain";
    const payloads = Array.from({ length: WRITERS }, (_, i) =>
      Buffer.concat([Buffer.from(`writer ${i}:`), randomBytes(200_000)]),
    );

    const written = await Promise.all(
      payloads.map(async (payload, i) => {
        const file = bucket.file(name);
        await file.save(payload, { resumable: i % 2 === 0 });
        return { i, generation: BigInt(String(file.metadata.generation)) };
      }),
    );

    const last = written.reduce((a, b) => (b.generation > a.generation ? b : a));
    const [content] = await bucket.file(name).download();
    const [live] = await bucket.file(name).getMetadata();
    expect(new Set(written.map((w) => w.generation)).size).toBe(WRITERS);
    expect(BigInt(String(live.generation))).toBe(last.generation);
    expect(content.equals(payloads[last.i] as Buffer)).toBe(true);
  });

  test("each overwrite finalizes a new generation and deletes the one it replaced", async () => {
    const name = "race/events";
    const before = events.length;

    await Promise.all(
      Array.from({ length: WRITERS }, (_, i) => bucket.file(name).save(`w${i}`, { resumable: false })),
    );

    const mine = events.slice(before).filter((e) => e.object.name === name);
    const finalized = mine.filter((e) => e.eventType === "OBJECT_FINALIZE");
    const deleted = mine.filter((e) => e.eventType === "OBJECT_DELETE");
    expect(finalized).toHaveLength(WRITERS);
    expect(deleted).toHaveLength(WRITERS - 1);
    // Each deleted generation names the generation that replaced it, which is one that was finalized.
    const finalizedGenerations = new Set(finalized.map((e) => e.object.generation));
    for (const d of deleted) expect(finalizedGenerations.has(d.overwrittenByGeneration)).toBe(true);
  });

  test("with ifGenerationMatch=0 exactly one writer creates the object and the others get 412", async () => {
    const name = "race/create-once";

    const { ok, failed } = await settle(
      Array.from({ length: WRITERS }, (_, i) =>
        bucket
          .file(name)
          .save(`creator ${i}`, { resumable: i % 2 === 0, preconditionOpts: { ifGenerationMatch: 0 } }),
      ),
    );

    expect(ok).toHaveLength(1);
    expect(failed.map((e) => e.code)).toEqual(Array(WRITERS - 1).fill(412));
  });

  test("read-modify-write with ifGenerationMatch lets exactly one of the writers that read the same generation win", async () => {
    const name = "race/rmw";
    await bucket.file(name).save("0", { resumable: false });
    const [m] = await bucket.file(name).getMetadata();

    const { ok, failed } = await settle(
      Array.from({ length: WRITERS }, (_, i) =>
        bucket.file(name).save(`from ${i}`, {
          resumable: false,
          preconditionOpts: { ifGenerationMatch: Number(m.generation) },
        }),
      ),
    );

    expect(ok).toHaveLength(1);
    expect(failed.every((e) => e.code === 412)).toBe(true);
  });

  test("concurrent metadata patches with ifMetagenerationMatch: one wins, the rest get 412", async () => {
    const name = "race/patch";
    await bucket.file(name).save("x", { resumable: false });

    const { ok, failed } = await settle(
      Array.from({ length: WRITERS }, (_, i) =>
        bucket.file(name).setMetadata({ metadata: { writer: String(i) } }, { ifMetagenerationMatch: 1 }),
      ),
    );

    const [m] = await bucket.file(name).getMetadata();
    expect(ok).toHaveLength(1);
    expect(failed.every((e) => e.code === 412)).toBe(true);
    expect(m.metageneration).toBe("2");
  });
});
