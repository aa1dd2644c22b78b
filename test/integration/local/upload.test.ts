import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.ts";
import { BatchlineError, ObjectNameError } from "../../../core/errors.ts";
import { createLogger } from "../../../core/logger.ts";
import { type GcsEmulator, startGcsEmulator } from "../../../local/gcs/index.ts";
import { uploadInput } from "../../../local/upload.ts";

// The one way the local cloud's upload() and `batchline local upload` write an input.
const config = loadConfig("config");
let emulator: GcsEmulator;
let storage: Storage;

beforeAll(async () => {
  emulator = await startGcsEmulator({ logger: createLogger({ component: "gcs-emulator", level: "fatal" }) });
  storage = new Storage({ apiEndpoint: emulator.url, projectId: "test" });
  await storage.createBucket(config.platform.bucket);
});

afterAll(async () => {
  await emulator?.stop();
});

describe("uploadInput", () => {
  it("writes the input under the client's inputs and returns its generation", async () => {
    const bucket = storage.bucket(config.platform.bucket);
    const up = await uploadInput(
      bucket,
      config,
      "demo",
      "day1/a.jsonl",
      '{"text":"a"}\n',
      "application/x-ndjson",
    );
    expect(up.object).toBe(`${config.platform.product}/demo/inputs/day1/a.jsonl`);
    const [meta] = await bucket.file(up.object).getMetadata();
    expect(String(meta.generation)).toBe(up.generation);
    expect(meta.contentType).toBe("application/x-ndjson");
  });

  it("refuses an unknown client, naming the known ones, and writes nothing", async () => {
    const bucket = storage.bucket(config.platform.bucket);
    const err = await uploadInput(bucket, config, "nobody", "x.jsonl", "{}\n").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchlineError);
    expect((err as Error).message).toBe('unknown client "nobody" (known: demo)');
    const [files] = await bucket.getFiles({ prefix: `${config.platform.product}/nobody/` });
    expect(files).toEqual([]);
  });

  it("refuses an unsafe object name before writing (the check the local cloud's upload() used to skip)", async () => {
    const bucket = storage.bucket(config.platform.bucket);
    const err = await uploadInput(bucket, config, "demo", "bad\u0007name.jsonl", "{}\n").catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ObjectNameError);
    const [files] = await bucket.getFiles({ prefix: `${config.platform.product}/demo/inputs/bad` });
    expect(files).toEqual([]);
  });
});
