import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { startLocalFunction } from "../../../local/functions.ts";
import { httpStatus as status, until } from "../../support/poll.ts";

describe("local functions on functions-framework", () => {
  it("serves a function's real source and stops it", async () => {
    const fn = await startLocalFunction({
      name: "plan",
      rootDir: process.cwd(),
      env: { BATCHLINE_CONFIG_DIR: "config" },
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
      error: { message: 'unknown client "nobody" (configured clients: demo)', field: "client" },
    });
    await fn.stop();
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
