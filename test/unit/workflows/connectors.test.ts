// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createConnectorRegistry,
  googleOperation,
  longRunningConnector,
  parseWorkflow,
  runWorkflow,
} from "../../../local/workflows/index.ts";
import { fakeClock } from "./helpers.ts";

// A stand-in API: operations that finish after `polls` reads, and an endpoint failing N times with 503.
let server: Server;
let base: string;
const polls = new Map<string, number>();
let flakyCalls = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST" && url.pathname === "/v1/things") {
      const name = `operations/${url.searchParams.get("id")}`;
      polls.set(name, 0);
      return send(200, { name, done: false });
    }
    const op = /^\/v1\/(operations\/.+)$/.exec(url.pathname);
    if (op?.[1]) {
      const name = op[1];
      const n = (polls.get(name) ?? 0) + 1;
      polls.set(name, n);
      if (n < 3) return send(200, { name, done: false });
      if (name.endsWith("fail"))
        return send(200, { name, done: true, error: { code: 9, message: "quota gone" } });
      return send(200, { name, done: true, response: { thing: name, polls: n } });
    }
    if (url.pathname === "/flaky") {
      flakyCalls++;
      return flakyCalls <= 2 ? send(503, { error: "busy" }) : send(200, { ok: true, calls: flakyCalls });
    }
    send(404, { error: "not found" });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function registry() {
  return createConnectorRegistry({ empty: true })
    .register(
      "googleapis.things.v1.things.create",
      googleOperation({
        idempotent: false,
        params: ["id"],
        required: ["id"],
        start: async (args, ctx) =>
          (await ctx.request("POST", `${base}/v1/things`, { query: { id: args.id as string } })).body,
        pollUrl: (name) => `${base}/v1/${name}`,
      }),
    )
    .register("googleapis.things.v1.things.get", {
      idempotent: true,
      call: async (_args, ctx) => (await ctx.request("GET", `${base}/flaky`)).body,
    })
    .register(
      "googleapis.things.v1.things.notAnOperation",
      longRunningConnector({
        idempotent: true,
        start: async () => "not an object",
        poll: async () => null,
        isDone: () => true,
        failure: () => undefined,
      }),
    );
}

const create = (id: string, params = "") =>
  `- c:\n    call: googleapis.things.v1.things.create\n    args:\n      id: ${id}\n${params}    result: r\n- out:\n    return: \${r}\n`;

async function exec(source: string, clock = fakeClock()) {
  const connectors = registry();
  const rec = await runWorkflow(parseWorkflow(source, { connectors }), {
    connectors,
    clock,
    logSink: () => {},
  });
  return { rec, clock };
}

describe("long-running connectors", () => {
  it("polls with the default policy (1 s, x1.25) until done and returns the response", async () => {
    const { rec, clock } = await exec(create("ok1"));
    expect(rec).toMatchObject({ state: "SUCCEEDED", result: { thing: "operations/ok1", polls: 3 } });
    expect(clock.sleeps).toEqual([1000, 1250, 1562.5]);
  });

  it("follows connector_params.polling_policy", async () => {
    const params =
      "      connector_params:\n        polling_policy: {initial_delay: 2, multiplier: 3, max_delay: 5}\n";
    const { clock } = await exec(create("ok2", params));
    expect(clock.sleeps).toEqual([2000, 5000, 5000]);
  });

  it("returns the first answer with skip_polling", async () => {
    const { rec, clock } = await exec(create("ok3", "      connector_params: {skip_polling: true}\n"));
    expect(rec.result).toEqual({ name: "operations/ok3", done: false });
    expect(clock.sleeps).toEqual([]);
  });

  it("raises OperationError carrying the operation when it fails", async () => {
    const { rec } = await exec(create("will-fail"));
    expect(rec.error?.payload).toEqual({
      message: "googleapis.things.v1.things.create: the long-running operation failed: quota gone",
      tags: ["OperationError"],
      operation: { name: "operations/will-fail", done: true, error: { code: 9, message: "quota gone" } },
    });
  });

  it("raises TimeoutError when polling would pass connector_params.timeout", async () => {
    const { rec } = await exec(create("slow1", "      connector_params: {timeout: 2}\n"));
    expect(rec.error?.payload).toMatchObject({ tags: ["TimeoutError"] });
  });

  it("raises ResponseTypeError when the answer is not an operation object", async () => {
    const { rec } = await exec("- c:\n    call: googleapis.things.v1.things.notAnOperation\n");
    expect(rec.error?.payload).toMatchObject({ tags: ["ResponseTypeError"] });
  });
});

describe("connector calls", () => {
  it("retries a read on 503 with the idempotent policy", async () => {
    flakyCalls = 0;
    const { rec, clock } = await exec(
      "- c:\n    call: googleapis.things.v1.things.get\n    result: r\n- o:\n    return: ${r}\n",
    );
    expect(rec.result).toEqual({ ok: true, calls: 3 });
    expect(clock.sleeps).toEqual([1000, 1250]);
  });

  it("honours connector_params.retry to turn retries off", async () => {
    flakyCalls = 0;
    const { rec } = await exec(
      "- c:\n    call: googleapis.things.v1.things.get\n    args:\n      connector_params: {retry: {max_retries: 0}}\n",
    );
    expect(rec.error?.payload).toMatchObject({ tags: ["HttpError"], code: 503 });
  });

  it("rejects unknown and missing connector arguments at deploy time", () => {
    expect(() =>
      parseWorkflow("- c:\n    call: googleapis.things.v1.things.create\n    args: {ident: x}\n", {
        connectors: registry(),
      }),
    ).toThrow(/has no argument "ident"[\s\S]*needs argument "id"/);
  });

  it("fails at run time with SystemError when the run's registry lacks a deployed connector", async () => {
    const program = parseWorkflow(create("x"), { connectors: registry() });
    const rec = await runWorkflow(program, {
      connectors: createConnectorRegistry({ empty: true }),
      logSink: () => {},
    });
    expect(rec.error?.payload).toEqual({
      message:
        "connector googleapis.things.v1.things.create is not emulated by the local cloud; emulated connectors: none",
      tags: ["SystemError"],
    });
  });

  it("refuses a registration name that is not googleapis.<service>.<version>.<resource>.<method>", () => {
    expect(() =>
      createConnectorRegistry({ empty: true }).register("storage.objects.get", {
        idempotent: true,
        call: async () => null,
      }),
    ).toThrow(/is not googleapis/);
  });

  it("builds storage calls against the JSON API endpoint it is given", async () => {
    const requests: string[] = [];
    const gcs = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"kind": "storage#object"}');
    });
    await new Promise<void>((r) => gcs.listen(0, "127.0.0.1", r));
    const endpoint = `127.0.0.1:${(gcs.address() as { port: number }).port}`;
    try {
      const connectors = createConnectorRegistry({ storageEndpoint: endpoint });
      const src = `
- g:
    call: googleapis.storage.v1.objects.get
    args: {bucket: b1, object: "dir/a b.txt", alt: media}
- l:
    call: googleapis.storage.v1.objects.list
    args: {bucket: b1, prefix: dir/}
- i:
    call: googleapis.storage.v1.objects.insert
    args: {bucket: b1, name: "dir/new.json", uploadType: media, body: {x: 1}}
- d:
    call: googleapis.storage.v1.objects.delete
    args: {bucket: b1, object: dir/new.json}
`;
      const rec = await runWorkflow(parseWorkflow(src, { connectors }), { connectors, logSink: () => {} });
      expect(rec.state).toBe("SUCCEEDED");
      expect(requests).toEqual([
        "GET /storage/v1/b/b1/o/dir%2Fa%20b.txt?alt=media",
        "GET /storage/v1/b/b1/o?prefix=dir%2F",
        "POST /upload/storage/v1/b/b1/o?uploadType=media&name=dir%2Fnew.json",
        "DELETE /storage/v1/b/b1/o/dir%2Fnew.json",
      ]);
    } finally {
      gcs.closeAllConnections();
      gcs.close();
    }
  });

  it("gives the inserted object's content as given: map as JSON", async () => {
    let received = "";
    let type = "";
    const gcs = createServer((req, res) => {
      type = req.headers["content-type"] ?? "";
      req.on("data", (c) => {
        received += c;
      });
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await new Promise<void>((r) => gcs.listen(0, "127.0.0.1", r));
    try {
      const connectors = createConnectorRegistry({
        storageEndpoint: `http://127.0.0.1:${(gcs.address() as { port: number }).port}/`,
      });
      const src =
        "- i:\n    call: googleapis.storage.v1.objects.insert\n    args: {bucket: b, name: o, uploadType: media, body: {a: [1, 2.5]}}\n";
      await runWorkflow(parseWorkflow(src, { connectors }), { connectors, logSink: () => {} });
      expect([received, type]).toEqual(['{"a":[1,2.5]}', "application/json"]);
    } finally {
      gcs.closeAllConnections();
      gcs.close();
    }
  });
});
