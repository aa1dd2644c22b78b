import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { Storage } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.ts";
import { createLogger } from "../../../core/logger.ts";
import { startLocalFunction } from "../../../local/functions.ts";
import { startGcsEmulator } from "../../../local/gcs/index.ts";
import { httpStatus as status, until } from "../../support/poll.ts";

describe("local functions on functions-framework", () => {
  it("serves a function's real source and stops it", async () => {
    // Plan reads clients from the registry in the bucket: give it a storage emulator with the bucket.
    const gcs = await startGcsEmulator({
      logger: createLogger({ component: "gcs-emulator", level: "warn" }),
    });
    const { bucket, product } = loadConfig("config").platform;
    await new Storage({ apiEndpoint: gcs.url, projectId: "test" }).createBucket(bucket);
    const fn = await startLocalFunction({
      name: "plan",
      rootDir: process.cwd(),
      env: { BATCHLINE_CONFIG_DIR: "config", STORAGE_EMULATOR_HOST: gcs.url },
    });
    // The plan function's shell answers GET with 405 and a JSON error.
    expect(await status(fn.url)).toBe(405);
    const res = await fetch(fn.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client: "nobody", trigger: { type: "manual" }, runKey: "k" }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message:
          `unknown client "nobody": its registry object gs://${bucket}/registry/${product}/nobody.json does not exist ` +
          "(the client was never deployed, or was offboarded; deploy its client stack to onboard it)",
        field: "client",
      },
    });
    await fn.stop();
    await gcs.stop();
    expect(await status(fn.url)).toBeNull();
  });

  it("leaves no function process behind when the process that started it is killed", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/local/start-function.ts"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout });
    const [line] = (await once(lines, "line")) as [string];
    const { url } = JSON.parse(line) as { url: string };
    expect(await status(url)).toBe(405);
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(await until(async () => (await status(url)) === null, 20_000)).toBe(true);
  });
});
