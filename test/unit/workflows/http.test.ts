// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, fakeClock, result } from "./helpers.ts";

let server: Server;
let base: string;
const seen: Array<{ method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }> = [];

function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method, url: req.url, headers: req.headers, body });
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname === "/json") {
    res.writeHead(200, { "content-type": "application/json", "x-custom-thing": "yes" });
    res.end('{"int": 9007199254740993, "dbl": 2.0, "list": [1, 2.5]}');
  } else if (url.pathname === "/text") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("plain words");
  } else if (url.pathname === "/bytes") {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(Buffer.from([0, 1, 2, 255]));
  } else if (url.pathname === "/missing") {
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"error": {"code": 404, "message": "no such thing"}}');
  } else if (url.pathname === "/big") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("b".repeat(2 * 1024 * 1024 + 1));
  } else if (url.pathname === "/slow") {
    setTimeout(() => {
      res.writeHead(200);
      res.end("late");
    }, 3000);
  } else {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ method: req.method, query: url.search, body }));
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => handle(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const call = (fn: string, args: string, ret = "${r}") =>
  `- c:\n    call: ${fn}\n    args:\n${args}\n    result: r\n- out:\n    return: ${ret}\n`;

describe("http.*", () => {
  it("returns {code, headers, body} with JSON parsed keeping int and double apart", async () => {
    const src = call(
      "http.get",
      `      url: ${base}/json`,
      '${[r.code, r.headers["X-Custom-Thing"], r.body, type(r.body.int), type(r.body.dbl)]}',
    );
    expect(await result(src)).toEqual([
      200,
      "yes",
      { int: "9007199254740993", dbl: 2, list: [1, 2.5] },
      "integer",
      "double",
    ]);
  });

  it("gives text bodies as strings and other bodies as bytes", async () => {
    expect(await result(call("http.get", `      url: ${base}/text`, "${r.body}"))).toBe("plain words");
    expect(
      await result(call("http.get", `      url: ${base}/bytes`, "${[type(r.body), base64.encode(r.body)]}")),
    ).toEqual(["bytes", "AAEC/w=="]);
  });

  it("sends query parameters, headers, and a map body as JSON", async () => {
    seen.length = 0;
    const args = `      url: ${base}/echo\n      query: {a: 1, b: [x, y]}\n      headers: {X-Trace: abc}\n      body: {n: 1, f: 1.5, s: "t"}\n      auth: {type: OIDC}`;
    const r = (await result(call("http.post", args))) as {
      body: { method: string; query: string; body: string };
    };
    expect(r.body.method).toBe("POST");
    expect(r.body.query).toBe("?a=1&b=x&b=y");
    expect(r.body.body).toBe('{"n":1,"f":1.5,"s":"t"}');
    expect(seen[0]?.headers["content-type"]).toBe("application/json");
    expect(seen[0]?.headers["x-trace"]).toBe("abc");
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it("http.request takes the method as an argument", async () => {
    const r = (await result(
      call("http.request", `      method: PATCH\n      url: ${base}/echo\n      body: "raw"`),
    )) as {
      body: { method: string; body: string };
    };
    expect(r.body).toMatchObject({ method: "PATCH", body: "raw" });
  });

  it("raises HttpError with code, headers and body for a non-2xx answer", async () => {
    const e = await failure(call("http.get", `      url: ${base}/missing`));
    expect(e).toMatchObject({
      message: "HTTP server responded with error code 404",
      tags: ["HttpError"],
      code: 404,
      body: { error: { code: 404, message: "no such thing" } },
    });
    expect((e.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
  });

  it("raises TimeoutError when the server is slower than timeout", async () => {
    const e = await failure(call("http.get", `      url: ${base}/slow\n      timeout: 0.2`));
    expect(e.tags).toEqual(["TimeoutError"]);
  });

  it("raises ResourceLimitError for a response over 2 MB", async () => {
    const e = await failure(call("http.get", `      url: ${base}/big`));
    expect(e.tags).toEqual(["ResourceLimitError"]);
  });

  it("rejects an unknown auth type", async () => {
    const e = await failure(call("http.get", `      url: ${base}/echo\n      auth: {type: Basic}`));
    expect(e.tags).toEqual(["ValueError"]);
  });

  it("is retried by http.default_retry on 5xx-class failures only", async () => {
    const clock = fakeClock();
    const src = `- t:\n    try:\n      call: http.get\n      args: {url: "${base}/missing"}\n    retry: \${http.default_retry}\n`;
    expect((await failure(src, { clock })).code).toBe(404);
    expect(clock.sleeps).toEqual([]);
  });
});
