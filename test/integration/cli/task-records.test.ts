import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readTaskRecords } from "../../../cli/operate/records.ts";
import { createLogger } from "../../../core/logger.ts";
import { runRecordName } from "../../../core/naming.ts";
import type { TaskRecord } from "../../../core/runs.ts";
import { type GcsEmulator, startGcsEmulator } from "../../../local/gcs/index.ts";

// `batchline status` and the console read a live run's task records (a run without a summary yet). The
// listing prefix is a folder, which ends in "/": a name check meant for object names once refused it.

let gcs: GcsEmulator;
let storage: Storage;

beforeAll(async () => {
  gcs = await startGcsEmulator({
    backend: "memory",
    logger: createLogger({ component: "test", level: "silent" }),
  });
  storage = new Storage({ apiEndpoint: gcs.url, projectId: "p" });
  await storage.createBucket("records-test");
});

afterAll(async () => {
  await gcs?.stop();
});

it("reads the task records a live run's tasks wrote so far, by task index", async () => {
  const bucket = storage.bucket("records-test");
  const record = (index: number): TaskRecord => ({
    schemaVersion: 1,
    runId: "ev-0123456789abcdef",
    index,
    attempt: 0,
    input: { object: `shop/c/inputs/${index}.jsonl`, generation: "1" },
    status: "SUCCEEDED",
    retryable: false,
    error: null,
    records: 3,
    badRecords: 0,
    bytesIn: 30,
    bytesOut: 30,
    output: `shop/c/outputs/${index}.jsonl`,
    errors: null,
    processor: "uppercase",
    processorVersion: "1",
    startedAt: "2026-12-02T10:00:00.000Z",
    finishedAt: "2026-12-02T10:00:01.000Z",
    durationMs: 1000,
  });
  for (const index of [0, 2]) {
    await bucket
      .file(runRecordName("shop", "c", "ev-0123456789abcdef", `tasks/${index}.json`))
      .save(JSON.stringify(record(index)));
  }
  // Another run's record, under a name that starts the same way, is not this run's.
  await bucket
    .file(runRecordName("shop", "c", "ev-0123456789abcdee", "tasks/1.json"))
    .save(JSON.stringify(record(1)));

  const records = await readTaskRecords(bucket, "shop", "c", "ev-0123456789abcdef");
  expect([...records.keys()].sort()).toEqual([0, 2]);
  expect(records.get(2)).toEqual(record(2));
});
