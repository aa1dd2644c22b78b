import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleServer, startConsoleServer } from "../../../console/server.ts";
import { ConsoleProblem, type ConsoleSource } from "../../../console/source.ts";
import type { RunsView } from "../../../console/views.ts";
import { createLogger } from "../../../core/logger.ts";
import { SYNTHETIC_CLIENT, SYNTHETIC_RUN, syntheticSource } from "../../support/console-synthetic.ts";

// The console server over HTTP: pages, views, live feeds and actions, with a source that records what it was
// asked (the data behind it is tested in test/e2e/console.test.ts against the local cloud).

let server: ConsoleServer;
let runsReads = 0;
let runsView: RunsView = { runs: [], nothingToDo: {} };
const uploads: { client: string; path: string; body: string }[] = [];

const source: ConsoleSource = {
  ...syntheticSource({ tasks: 3 }),
  async runs() {
    runsReads++;
    return runsView;
  },
  async upload(client, path, contents) {
    if (client !== SYNTHETIC_CLIENT) throw new ConsoleProblem(404, `unknown client "${client}"`);
    uploads.push({ client, path, body: contents.toString("utf8") });
    return { object: `p/${client}/inputs/${path}`, generation: "7" };
  },
  async bucket() {
    throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1\n    at internal frames"), {
      code: "ECONNREFUSED",
    });
  },
};

beforeAll(async () => {
  server = await startConsoleServer({
    source,
    pollMs: 50,
    logger: createLogger({ component: "console-test", level: "silent" }),
  });
});

afterAll(async () => {
  await server?.close();
});

/** The events of a live feed received within `ms`. */
async function events(path: string, ms: number): Promise<{ event: string; data: unknown }[]> {
  const res = await fetch(`${server.url}api/live?path=${encodeURIComponent(path)}`, {
    signal: AbortSignal.timeout(ms),
  });
  expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  let text = "";
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      text += Buffer.from(chunk).toString();
  } catch (err) {
    if ((err as Error).name !== "TimeoutError" && (err as Error).name !== "AbortError") throw err;
  }
  return text
    .split("\n\n")
    .map((block) => {
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      return event && data ? { event, data: JSON.parse(data) as unknown } : null;
    })
    .filter((e): e is { event: string; data: unknown } => e !== null);
}

describe("the console server", () => {
  it("serves the page at every page address, its assets under a policy that allows only itself, and 404 elsewhere", async () => {
    for (const path of [
      "",
      "runs",
      "clients",
      `runs/${SYNTHETIC_CLIENT}/${SYNTHETIC_RUN}`,
      "bucket",
      "messages/x",
    ]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain('<script defer src="/assets/app.js"></script>');
    }
    const script = await fetch(`${server.url}assets/app.js`);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(script.headers.get("content-security-policy")).toMatch(/^default-src 'self'/);
    expect((await script.text()).length).toBeGreaterThan(1000);
    expect((await fetch(`${server.url}nowhere`)).status).toBe(404);
  });

  it("answers views as JSON, and a bad request with its status and a one-line error", async () => {
    const run = await fetch(`${server.url}api/runs/${SYNTHETIC_CLIENT}/${SYNTHETIC_RUN}`);
    expect(run.status).toBe(200);
    expect(((await run.json()) as { timeline: { states: string } }).timeline.states).toHaveLength(3);

    const missing = await fetch(`${server.url}api/runs/${SYNTHETIC_CLIENT}/ev-0000000000000000`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "no such run" });

    const badTask = await fetch(`${server.url}api/logs/${SYNTHETIC_CLIENT}/${SYNTHETIC_RUN}?task=x`);
    expect(badTask.status).toBe(400);
    expect(await badTask.json()).toEqual({ error: 'task must be a task index (0, 1, ...), not "x"' });

    // A failed call to a service: 502 and its first line, with what to check; never a stack.
    const down = await fetch(`${server.url}api/bucket?prefix=`);
    expect(down.status).toBe(502);
    const { error } = (await down.json()) as { error: string };
    expect(error).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:1 \(nothing answers there/);
    expect(error).not.toContain("internal frames");
  });

  it("sends a live view at once, then again only when it changed", async () => {
    runsView = { runs: [], nothingToDo: {} };
    const before = runsReads;
    setTimeout(() => {
      runsView = { runs: [], nothingToDo: { [SYNTHETIC_CLIENT]: 1 } };
    }, 400);
    const got = await events("/api/runs", 900);
    // Read about every 50 ms, sent twice: the first view and the changed one.
    expect(runsReads - before).toBeGreaterThan(5);
    expect(got).toEqual([
      { event: "view", data: { runs: [], nothingToDo: {} } },
      { event: "view", data: { runs: [], nothingToDo: { [SYNTHETIC_CLIENT]: 1 } } },
    ]);
  });

  it("sends a view's problem as a problem event, and refuses a feed of something that is not a view", async () => {
    expect(await events(`/api/runs/${SYNTHETIC_CLIENT}/ev-0000000000000000`, 300)).toEqual([
      { event: "problem", data: { error: "no such run", status: 404 } },
    ]);
    const res = await fetch(`${server.url}api/live?path=${encodeURIComponent("/etc/passwd")}`);
    expect(res.status).toBe(404);
  });

  it("acts only with the console's header, and passes an upload's name and bytes to the source", async () => {
    const url = `${server.url}api/clients/${SYNTHETIC_CLIENT}/upload?path=${encodeURIComponent("a/b.jsonl")}`;
    const refused = await fetch(url, { method: "POST", body: "x" });
    expect(refused.status).toBe(403);
    expect(uploads).toEqual([]);

    const ok = await fetch(url, {
      method: "POST",
      body: '{"text":"hi"}\n',
      headers: { "x-batchline-console": "1" },
    });
    expect(await ok.json()).toEqual({ object: `p/${SYNTHETIC_CLIENT}/inputs/a/b.jsonl`, generation: "7" });
    expect(uploads).toEqual([{ client: SYNTHETIC_CLIENT, path: "a/b.jsonl", body: '{"text":"hi"}\n' }]);

    const retry = await fetch(`${server.url}api/clients/${SYNTHETIC_CLIENT}/retry`, {
      method: "POST",
      body: "not json",
      headers: { "x-batchline-console": "1" },
    });
    expect(retry.status).toBe(400);
    expect(await retry.json()).toEqual({ error: 'the body must be JSON: {"input": "<path under inputs/>"}' });
  });
});
