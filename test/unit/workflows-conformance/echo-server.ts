import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Loopback HTTP server that the conformance cases call through `http.*`.
 * Routes (every method):
 * - `/echo[/...]`      200, JSON `{method, path, query, headers, body}`; body is parsed when it is JSON.
 * - `/status/<code>`   that status, JSON body `{"status": <code>}`.
 * - `/slow?ms=N`       waits N ms, then 200 JSON `{"slept": N}`.
 * - `/text`            200, `text/plain` body `hello text`.
 * - `/flaky/<key>?fail=N&status=S`  answers S (default 503) to the first N calls for that key, then 200
 *                      JSON `{"attempts": n}`; `/count/<key>` returns `{"count": n}` without counting itself.
 */
export interface EchoServer {
  url: string;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "x-echo": "1" });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startEchoServer(): Promise<EchoServer> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const raw = await readBody(req);
      const parts = url.pathname.split("/").filter((p) => p.length > 0);
      const route = parts[0] ?? "";
      if (route === "echo") {
        const text = raw.toString("utf8");
        let body: unknown = text.length > 0 ? text : null;
        if ((req.headers["content-type"] ?? "").includes("json") && text.length > 0) {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        sendJson(res, 200, {
          method: req.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams.entries()),
          headers: req.headers,
          body,
        });
        return;
      }
      if (route === "status") {
        const code = Number(parts[1] ?? "500");
        sendJson(res, code, { status: code });
        return;
      }
      if (route === "slow") {
        const ms = Number(url.searchParams.get("ms") ?? "1000");
        const timer = setTimeout(() => sendJson(res, 200, { slept: ms }), ms);
        res.on("close", () => clearTimeout(timer));
        return;
      }
      if (route === "text") {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        res.end("hello text");
        return;
      }
      if (route === "flaky") {
        const key = parts[1] ?? "default";
        const n = (hits.get(key) ?? 0) + 1;
        hits.set(key, n);
        const fail = Number(url.searchParams.get("fail") ?? "1");
        const status = Number(url.searchParams.get("status") ?? "503");
        if (n <= fail) sendJson(res, status, { attempt: n });
        else sendJson(res, 200, { attempts: n });
        return;
      }
      if (route === "count") {
        sendJson(res, 200, { count: hits.get(parts[1] ?? "default") ?? 0 });
        return;
      }
      sendJson(res, 404, { error: "no such route", path: url.pathname });
    })().catch((err: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
