// Child process of bench/gcs.ts: runs either the GCS emulator or a trivial HTTP server that accepts and
// sends the same bytes (the loopback limit), so its memory is measured apart from the client's.
// Talks to the parent over IPC: sends {ready, url} once listening; answers {cmd:"peak"} with the peak
// RSS (VmHWM) since the last {cmd:"resetPeak"}; exits on {cmd:"stop"}.
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "../core/logger.ts";
import { startGcsEmulator } from "../local/gcs/index.ts";

type Command = { cmd: "peak" } | { cmd: "resetPeak" } | { cmd: "stop" };

const [mode = "emulator", backend = "fs", dir = ""] = process.argv.slice(2);

/** Peak resident set size of this process in bytes (Linux VmHWM). */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

/** Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs). */
function resetPeak(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    // Not permitted here: the peak then covers the process's whole life, which only overstates it.
  }
}

async function startPlain(): Promise<{ url: string; stop: () => Promise<void> }> {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  const server = createServer((req, res) => {
    if (req.method === "PUT" || req.method === "POST") {
      let n = 0;
      req.on("data", (c: Buffer) => {
        n += c.length;
      });
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ bytes: n }));
      });
      return;
    }
    const size = Number(new URL(req.url ?? "/", "http://x").searchParams.get("size") ?? 0);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(block.length, size - sent);
        sent += n;
        if (!res.write(n === block.length ? block : block.subarray(0, n))) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function main(): Promise<void> {
  const running =
    mode === "plain"
      ? await startPlain()
      : await startGcsEmulator({
          backend: backend === "memory" ? "memory" : "fs",
          dir,
          logger: createLogger({ component: "gcs-emulator", level: "warn" }),
        }).then((e) => ({ url: e.url, stop: () => e.stop() }));
  process.on("message", (message: Command) => {
    if (message.cmd === "peak") process.send?.({ peak: peakRss() });
    else if (message.cmd === "resetPeak") {
      resetPeak();
      process.send?.({ reset: true });
    } else if (message.cmd === "stop") {
      void running.stop().then(() => process.exit(0));
    }
  });
  // The benchmark talks to us over IPC; if it dies without sending "stop" (killed, crashed), the channel
  // closes, and this server must not outlive it.
  process.once("disconnect", () => {
    void running.stop().then(() => process.exit(0));
  });
  process.send?.({ ready: true, url: running.url });
}

void main();
