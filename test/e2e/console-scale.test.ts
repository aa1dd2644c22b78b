import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ConsoleServer, startConsoleServer } from "../../console/server.ts";
import { createLogger } from "../../core/logger.ts";
import { ARTIFACTS, launchChromium } from "../support/browser.ts";
import { SYNTHETIC_CLIENT, SYNTHETIC_RUN, syntheticSource } from "../support/console-synthetic.ts";

// The scale target: a run of 10,000 tasks renders its page in under 1 s and stays responsive while
// it updates. The figure itself is recorded by bench/console.ts against an empty run's page.

const TASKS = 10_000;
let server: ConsoleServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  server = await startConsoleServer({
    source: syntheticSource({ tasks: TASKS, parallelism: 1000, taskMs: 1000 }),
    pollMs: 250,
    logger: createLogger({ component: "console-scale", level: "error" }),
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it("a run of 10,000 tasks draws its timeline in under a second and stays responsive while it updates", async () => {
  await page.goto(`${server.url}runs/${SYNTHETIC_CLIENT}/${SYNTHETIC_RUN}`);
  await page.waitForFunction(() => performance.getEntriesByName("timeline-drawn").length > 0);
  const renderMs = (await page.evaluate(
    `performance.getEntriesByName("timeline-drawn")[0].startTime`,
  )) as number;
  expect(await page.getAttribute("#timeline", "aria-label")).toMatch(/^Timeline of 10000 tasks: /);
  expect(renderMs).toBeLessThan(1000);

  // While the run moves on (a new view every 250 ms), no main-thread task blocks input for long, and each
  // redraw is quick.
  await page.evaluate(`(() => {
    window.__longest = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
    }).observe({ type: "longtask" });
  })()`);
  const drawsBefore = Number(await page.getAttribute("#timeline", "data-draws"));
  await page.waitForTimeout(3000);
  const draws = Number(await page.getAttribute("#timeline", "data-draws"));
  expect(draws - drawsBefore).toBeGreaterThanOrEqual(4);
  expect(Number(await page.getAttribute("#timeline", "data-draw-ms"))).toBeLessThan(100);
  expect((await page.evaluate("window.__longest")) as number).toBeLessThan(200);
  // And the page still answers the keyboard at once: a task number typed into the logs field is taken.
  await page.focus("#log-task");
  await page.keyboard.type("4242");
  await page.keyboard.press("Enter");
  expect(await page.inputValue("#log-task")).toBe("4242");
  await page.screenshot({ path: join(ARTIFACTS, "run-10000-tasks.png"), fullPage: true });
});
