import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, test } from "vitest";
import { tempDir } from "../../support/temp.ts";

const BIN = join(import.meta.dirname, "../../../bin/batchline.js");

/** Starts `batchline local gcs --tls ...` and waits for the HTTPS line (url and CA path). */
async function startTls(args: string[]): Promise<{ proc: ChildProcess; httpsUrl: string; caFile: string }> {
  const proc = spawn(
    process.execPath,
    [BIN, "local", "gcs", "--port", "0", "--tls", "--tls-port", "0", ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, BATCHLINE_LOG_LEVEL: "warn" },
    },
  );
  const lines: string[] = [];
  const found = await new Promise<{ httpsUrl: string; caFile: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no HTTPS line; got ${JSON.stringify(lines)}`)), 30_000);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      lines.push(line);
      const m = /^HTTPS on (https:\/\/127\.0\.0\.1:\d+); its CA certificate: (\/.+\.pem)$/.exec(line);
      if (m?.[1] && m[2]) {
        clearTimeout(timer);
        resolve({ httpsUrl: m[1], caFile: m[2] });
      }
    });
    proc.once("exit", (code) => reject(new Error(`exited with ${code}: ${lines.join("\n")}`)));
  });
  return { proc, ...found };
}

async function stop(proc: ChildProcess): Promise<void> {
  proc.kill("SIGTERM");
  await once(proc, "exit");
}

function httpsStatus(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

describe("batchline local gcs --tls", () => {
  test("makes a certificate on first use, prints its CA, serves HTTPS, and reuses it next time", async () => {
    const dir = join(tempDir("gcs-cli-tls-"), "tls");
    const first = await startTls(["--tls-dir", dir]);
    let ca: Buffer;
    try {
      expect(first.caFile).toBe(join(dir, "ca.pem"));
      ca = readFileSync(first.caFile);
      expect(await httpsStatus(`${first.httpsUrl}/_health`, ca)).toBe(200);
    } finally {
      await stop(first.proc);
    }
    const second = await startTls(["--tls-dir", dir]);
    try {
      expect(readFileSync(second.caFile).equals(ca)).toBe(true);
      expect(await httpsStatus(`${second.httpsUrl}/_health`, ca)).toBe(200);
    } finally {
      await stop(second.proc);
    }
  });

  test("an invalid --tls-port is a one-line error", async () => {
    const proc = spawn(process.execPath, [BIN, "local", "gcs", "--tls", "--tls-port", "nope"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const err: Buffer[] = [];
    proc.stderr?.on("data", (c: Buffer) => err.push(c));
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(Buffer.concat(err).toString("utf8").trim()).toBe(
      'invalid --tls-port "nope": expected an integer from 0 to 65535',
    );
  });
});
