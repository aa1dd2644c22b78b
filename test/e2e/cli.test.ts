import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";

// The commands people run, as processes: what they print and how they exit.

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<Finished> {
  const child = spawn(process.execPath, ["bin/batchline.js", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, timeoutMs);
}

async function collect(child: ChildProcess, timeoutMs: number): Promise<Finished> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

describe("batchline demo (npm start)", () => {
  it("runs the examples end to end, prints the client's SUCCEEDED message and exits 0", async () => {
    const result = await run(["demo"]);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/message on the client's topic: run ev-[0-9a-f]{16} SUCCEEDED/);
    expect(result.stdout).toContain('"status": "SUCCEEDED"');
    expect(result.stdout).toContain("gs://batchline-demo-batch/demo/demo/outputs/product-reviews.jsonl");
    expect(result.stdout).toContain("Done: every input processed, SUCCEEDED");
  });

  it("--example python-client runs a client's own container, prints its message and output names, exits 0", async () => {
    const result = await run(["demo", "--example", "python-client"]);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "uploaded gs://batchline-demo-batch/demo/python-client/inputs/orders-north.csv",
    );
    expect(result.stdout).toMatch(/job bl-demo-python-client-ev-[0-9a-f]{16}: tasks 2\/2 done/);
    expect(result.stdout).toContain("Message on batch-demo-python-client-outputs");
    expect(result.stdout).toContain('"status": "SUCCEEDED"');
    for (const input of ["orders-north.csv", "orders-south.csv"]) {
      for (const file of ["scored.csv", "summary.json"]) {
        expect(result.stdout).toContain(
          `gs://batchline-demo-batch/demo/python-client/outputs/${input}/${file}`,
        );
      }
    }
    expect(result.stdout).toContain("Done: every input processed, SUCCEEDED");
  });

  it("--example names the examples there are when asked for one that is not", async () => {
    const result = await run(["demo", "--example", "cobol-client"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'no example "cobol-client" (an example is examples/<name>/client.yaml; known: python-client)',
    );
  });

  it("refuses an inputs folder with nothing to upload, saying so", async () => {
    const result = await run(["demo", "--inputs", "docs"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("the inputs folder docs has no .jsonl files to upload");
  });
});

describe("batchline local up, local upload, tail and runs", () => {
  it("runs the cloud for other tools: an upload from another process reaches tail, and runs lists it", async () => {
    const up = spawn(process.execPath, ["bin/batchline.js", "local", "up", "--backend", "memory"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.push(up);
    const env: Record<string, string> = {};
    let consoleUrl = "";
    const lines = createInterface({ input: up.stdout as NodeJS.ReadableStream });
    for await (const line of lines) {
      const m = /^export ([A-Z_]+)=(.+)$/.exec(line);
      if (m?.[1] && m[2]) env[m[1]] = m[2];
      // The last line it prints: where the web console is.
      const c = /^Console: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
      if (c?.[1]) {
        consoleUrl = c[1];
        break;
      }
    }
    const page = await fetch(consoleUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>Batchline console</title>");
    expect(Object.keys(env).sort()).toEqual([
      "BATCHLINE_BATCH_ENDPOINT",
      "BATCHLINE_LOGGING_ENDPOINT",
      "BATCHLINE_WORKFLOWS_ENDPOINT",
      "PUBSUB_EMULATOR_HOST",
      "PUBSUB_PROJECT_ID",
      "STORAGE_EMULATOR_HOST",
    ]);

    const tail = spawn(process.execPath, ["bin/batchline.js", "tail", "--client", "demo", "--count", "1"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.push(tail);
    const tailed = collect(tail, 120_000);
    // tail says it is listening once its subscription exists.
    await new Promise<void>((resolve) => {
      tail.stderr?.on("data", (c: Buffer) => {
        if (c.toString().includes("tailing")) resolve();
      });
    });

    const upload = await run(
      [
        "local",
        "upload",
        "examples/inputs/product-reviews.jsonl",
        "--client",
        "demo",
        "--as",
        "cli/reviews.jsonl",
      ],
      env,
    );
    expect(upload.code).toBe(0);
    expect(upload.stdout).toMatch(
      /^uploaded gs:\/\/batchline-demo-batch\/demo\/demo\/inputs\/cli\/reviews\.jsonl \(generation \d+, \d+ bytes\)/,
    );

    const message = await tailed;
    expect(message.code).toBe(0);
    const printed = JSON.parse(message.stdout) as {
      attributes: Record<string, string>;
      body: { status: string; runId: string };
    };
    expect(printed.attributes.status).toBe("SUCCEEDED");
    expect(printed.body.status).toBe("SUCCEEDED");

    const runs = await run(["runs", "--client", "demo", "--json"], env);
    expect(runs.code).toBe(0);
    expect(JSON.parse(runs.stdout)).toEqual([
      expect.objectContaining({
        runId: printed.body.runId,
        trigger: "event",
        inputs: 1,
        status: "SUCCEEDED",
      }),
    ]);

    up.kill("SIGTERM");
    const [code] = (await once(up, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  it("starts in a shell that still exports an earlier local cloud's variables, saying it ignores them", async () => {
    const stale = {
      STORAGE_EMULATOR_HOST: "http://127.0.0.1:1",
      PUBSUB_EMULATOR_HOST: "127.0.0.1:2",
      BATCHLINE_BATCH_ENDPOINT: "http://127.0.0.1:3",
    };
    const up = spawn(process.execPath, ["bin/batchline.js", "local", "up", "--backend", "memory"], {
      env: { ...process.env, ...stale },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.push(up);
    let stderr = "";
    up.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const env: Record<string, string> = {};
    let consoleUrl = "";
    const lines = createInterface({ input: up.stdout as NodeJS.ReadableStream });
    for await (const line of lines) {
      const m = /^export ([A-Z_]+)=(.+)$/.exec(line);
      if (m?.[1] && m[2]) env[m[1]] = m[2];
      // The last line it prints: where the web console is.
      const c = /^Console: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
      if (c?.[1]) {
        consoleUrl = c[1];
        break;
      }
    }
    const page = await fetch(consoleUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>Batchline console</title>");
    for (const [name, value] of Object.entries(stale)) {
      expect(stderr).toContain(`ignoring ${name}=${value} from the environment`);
      expect(env[name]).toMatch(/127\.0\.0\.1:\d+/);
      expect(env[name]).not.toBe(value);
    }
    expect(stderr).not.toMatch(/\n\s+at /);

    up.kill("SIGTERM");
    const [code, signal] = (await once(up, "exit")) as [number | null, NodeJS.Signals | null];
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
  });

  it("local upload without a running local cloud says what to do", async () => {
    const env = { ...process.env };
    delete env.STORAGE_EMULATOR_HOST;
    const child = spawn(
      process.execPath,
      ["bin/batchline.js", "local", "upload", "README.md", "--client", "demo"],
      {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const result = await collect(child, 60_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("STORAGE_EMULATOR_HOST is not set: start `batchline local up`");
  });
});
