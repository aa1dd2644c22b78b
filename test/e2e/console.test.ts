import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningConsole, startLocalConsole } from "../../console/start.ts";
import { createLogger } from "../../core/logger.ts";
import { resultMessageV1Schema } from "../../core/messages.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import { ARTIFACTS, launchChromium } from "../support/browser.ts";
import { bootE2eCloud, jsonl } from "./support.ts";

// The console in a real browser (the OS's headless Chromium) on the local cloud: what a person watching
// their clients' batches does with it, through the page only.

let cloud: LocalCloud;
let web: RunningConsole;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  cloud = await bootE2eCloud();
  web = await startLocalConsole(cloud, {
    port: 0,
    pollMs: 300,
    logger: createLogger({ component: "console-e2e", level: "error" }),
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  await cloud?.stop();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Drops a file on the page's drop zone, as dragging it from a file manager does. */
async function dropFile(name: string, contents: string): Promise<void> {
  // Runs in the page (written as text: this file is type-checked against Node's globals, not the DOM's).
  await page.evaluate(`(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([${JSON.stringify(contents)}], ${JSON.stringify(name)}, { type: "application/x-ndjson" }));
    const zone = document.getElementById("drop");
    for (const type of ["dragover", "drop"]) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  })()`);
}

/** Pixels of the timeline canvas in a colour (r, g, b). */
function pixelsOf(page: Page, [r, g, b]: [number, number, number]): Promise<number> {
  return page.evaluate(`(() => {
    const canvas = document.getElementById("timeline");
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] === ${r} && data[i + 1] === ${g} && data[i + 2] === ${b}) n++;
    return n;
  })()`);
}

describe("the console on the local cloud", () => {
  it("an upload dropped on the runs page starts a run that appears live, finishes on the timeline, and shows its message, inputs and logs", async () => {
    await page.goto(web.url);
    await page.selectOption("#upload-client", "one");
    await dropFile("console-a.jsonl", `${jsonl(["alpha", "beta"])}not json\n`);
    await expect
      .poll(() => page.textContent('[role="status"]'), { timeout: 10_000 })
      .toMatch(/uploaded gs:\/\/batchline-e2e-batch\/shop\/one\/inputs\/console-a\.jsonl \(generation \d+\)/);

    // The run appears without a reload, and ends SUCCEEDED.
    const row = page.locator("#runs tbody tr", { hasText: "one" }).first();
    await row.waitFor({ timeout: 30_000 });
    await expect.poll(() => row.locator(".badge").textContent(), { timeout: 60_000 }).toBe("SUCCEEDED");
    await shot("runs");

    await row.locator("a").click();
    await page.waitForURL(/\/runs\/one\/ev-[0-9a-f]{16}$/);
    const runId = page.url().split("/").pop() as string;
    await expect.poll(() => page.textContent("#run-status"), { timeout: 30_000 }).toBe("SUCCEEDED");
    // One mark per task, and the legend counts it as succeeded.
    await expect
      .poll(() => page.getAttribute("#timeline", "aria-label"))
      .toBe("Timeline of 1 tasks: 0 queued, 0 running, 0 retried, 1 succeeded, 0 failed");
    // The succeeded colour (#1f9d55) is painted.
    const painted = await pixelsOf(page, [0x1f, 0x9d, 0x55]);
    expect(painted).toBeGreaterThan(0);

    // The message, opened: exactly what the topic delivered to the client.
    await page.click("#message-details summary");
    const body = resultMessageV1Schema.parse(JSON.parse((await page.textContent("#message-body")) ?? ""));
    expect(body).toMatchObject({
      runId,
      client: "one",
      status: "SUCCEEDED",
      counts: { inputs: 1, records: 2, badRecords: 1 },
    });
    expect(JSON.parse((await page.textContent("#message-attributes")) ?? "")).toMatchObject({
      runId,
      status: "SUCCEEDED",
    });

    // Inputs → outputs with previews, and the bad record.
    const input = page.locator("#inputs tbody tr").first();
    await input.getByRole("button", { name: "Preview output" }).click();
    await expect.poll(() => input.locator("pre").first().textContent()).toContain("ALPHA");
    await input.getByRole("button", { name: "Preview bad records" }).click();
    await expect.poll(() => input.locator("pre").last().textContent()).toContain("not json");

    await expect
      .poll(() => page.textContent("#logs"), { timeout: 15_000 })
      .toMatch(/task 0\.0 .* INFO task started/);
    await shot("run");
  });

  it("a run's page follows it live: its tasks are drawn queued and running, then succeeded, without a reload", async () => {
    await page.goto(`${web.url}runs`);
    await page.selectOption("#upload-client", "slow");
    // This client runs one task at a time, each for a few seconds; its uploads within 2 s become one run.
    await page.setInputFiles("#upload-file", [
      { name: "first.jsonl", mimeType: "application/x-ndjson", buffer: Buffer.from(jsonl(["one"])) },
      { name: "second.jsonl", mimeType: "application/x-ndjson", buffer: Buffer.from(jsonl(["two"])) },
    ]);
    // Open the run as soon as it is planned (the runs page lists it too, but may take a refresh or two).
    const bucket = cloud.storage.bucket(cloud.config.platform.bucket);
    let runId = "";
    await expect
      .poll(
        async () => {
          const [files] = await bucket.getFiles({ prefix: "shop/slow/runs/", matchGlob: "**/manifest.json" });
          runId = files[0]?.name.split("/")[3] ?? "";
          return runId;
        },
        { timeout: 30_000, interval: 100 },
      )
      .toMatch(/^ev-[0-9a-f]{16}$/);
    await page.goto(`${web.url}runs/slow/${runId}`);
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          const label = (await page.getAttribute("#timeline", "aria-label")) ?? "";
          seen.add(label);
          return label;
        },
        { timeout: 60_000, interval: 100 },
      )
      .toBe("Timeline of 2 tasks: 0 queued, 0 running, 0 retried, 2 succeeded, 0 failed");
    // On the way it drew a task running while the other waited or was done.
    expect(
      [...seen].some((l) => /^Timeline of 2 tasks: [01] queued, 1 running, /.test(l)),
      [...seen].join("\n"),
    ).toBe(true);
    await expect.poll(() => page.textContent("#run-status"), { timeout: 30_000 }).toBe("SUCCEEDED");
    expect(await page.evaluate("performance.getEntriesByType('navigation').length")).toBe(1);
  });

  it("a failed input is retried from its run page and a manual run started from the page takes it again", async () => {
    await page.goto(`${web.url}runs`);
    await page.selectOption("#upload-client", "poison");
    // The file input, as a keyboard user reaches it; over 200 bytes, which this client's worker refuses.
    await page.setInputFiles("#upload-file", {
      name: "too-big.jsonl",
      mimeType: "application/x-ndjson",
      buffer: Buffer.from(jsonl(Array.from({ length: 20 }, (_, i) => `record number ${i}`))),
    });
    const row = page.locator("#runs tbody tr", { hasText: "poison" }).first();
    await row.waitFor({ timeout: 30_000 });
    await expect.poll(() => row.locator(".badge").textContent(), { timeout: 60_000 }).toBe("FAILED");
    await row.locator("a").click();
    await expect
      .poll(() => page.getAttribute("#timeline", "aria-label"), { timeout: 30_000 })
      .toMatch(/1 failed$/);
    const failed = page.locator("#inputs tbody tr", { hasText: "too-big.jsonl" });
    await failed.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => failed.textContent()).toMatch(/cleared: was failed after 1 failure\(s\)/);

    await page.goto(`${web.url}clients`);
    await expect.poll(() => page.textContent('[data-pending="poison"]'), { timeout: 10_000 }).toBe("1");
    await shot("clients");
    await page.selectOption("#upload-client", "poison");
    await page.getByRole("button", { name: "Start a manual run" }).click();
    const started = page.locator('[role="status"] a');
    await started.waitFor();
    const runId = (await started.textContent()) as string;
    expect(runId).toMatch(/^mn-[0-9a-f]{16}$/);
    await started.click();
    await expect.poll(() => page.textContent("#run-status"), { timeout: 60_000 }).toBe("FAILED");
    await expect.poll(() => page.textContent("#inputs")).toContain("shop/poison/inputs/too-big.jsonl");
  });

  it("the bucket browser lists a client's areas and previews an object; the topic page shows the messages it received", async () => {
    await page.goto(`${web.url}bucket?prefix=${encodeURIComponent("shop/one/")}`);
    await page.getByRole("link", { name: "inputs/" }).click();
    await page.waitForURL(/prefix=shop%2Fone%2Finputs%2F/);
    const object = page.locator("#bucket tbody tr", { hasText: "console-a.jsonl" });
    await object.getByRole("button", { name: "Preview" }).click();
    await expect.poll(() => object.locator("pre").textContent()).toContain('{"text":"alpha"}');
    await shot("bucket");

    await page.goto(`${web.url}messages/one`);
    const message = page.locator("#messages section").first();
    await message.waitFor({ timeout: 10_000 });
    expect(await message.textContent()).toMatch(/"status": "SUCCEEDED"/);
    await shot("messages");
  });

  it("batchline console serves the same pages read-only through the official clients, pointed at the emulators", async () => {
    // The command reads GCP with Application Default Credentials; the endpoint variables point the same
    // clients at the local cloud instead.
    const child = spawn(
      process.execPath,
      ["bin/batchline.js", "console", "--config", "test/fixtures/e2e/config", "--port", "0"],
      { env: { ...process.env, ...cloud.env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let url = "";
      for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
        const m =
          /^Console: (http:\/\/127\.0\.0\.1:\d+\/) \(read-only; batchline-e2e-batch on local cloud/.exec(
            line,
          );
        if (m?.[1]) {
          url = m[1];
          break;
        }
      }
      await page.goto(`${url}runs`);
      await expect
        .poll(() => page.textContent("#note"))
        .toMatch(
          /^Read-only: this console reads local cloud \(storage http:\/\/127\.0\.0\.1:\d+, pubsub 127\.0\.0\.1:\d+\) through the official clients/,
        );
      await page.locator("#runs tbody tr", { hasText: "poison" }).first().waitFor({ timeout: 15_000 });
      expect(await page.locator("#drop").count()).toBe(0);
      await shot("runs-read-only");
      const refused = await fetch(`${url}api/clients/one/run`, {
        method: "POST",
        headers: { "x-batchline-console": "1" },
      });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { error: string }).error).toBe(
        "Starting a run is only available on the local cloud (this console is read-only)",
      );
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  it("actions need the console's header, so another site's form cannot upload or start runs", async () => {
    const res = await fetch(`${web.url}api/clients/one/run`, { method: "POST" });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/x-batchline-console/);
  });
});
