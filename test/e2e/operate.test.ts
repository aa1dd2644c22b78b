import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logging } from "@google-cloud/logging";
import { PassThroughClient } from "google-auth-library";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadClientConfig } from "../../core/config/load.ts";
import { runId as computeRunId } from "../../core/ids.ts";
import { areaPrefix, runRecordName } from "../../core/naming.ts";
import { openRunName } from "../../core/runs.ts";
import { writeRegistryObject } from "../../functions/shared/registry.ts";
import type { LocalCloud } from "../../local/cloud.ts";
import { bootE2eCloud, E2E_CONFIG, jsonl } from "./support.ts";

// The operator commands (run, runs, status, logs, inputs, retry) as people run them: processes against the
// local cloud through the official Workflows, Batch, Storage and Logging clients.

const P = "shop";
let cloud: LocalCloud;
let env: Record<string, string>;
/** The fixture config plus a client the deployed functions do not know (their plan refuses it). */
let cliConfig: string;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], config = E2E_CONFIG): Promise<Finished> {
  const child = spawn(process.execPath, ["bin/batchline.js", ...args, "--config", config], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, 120_000);
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

/** Uploads with Eventarc suspended, so the inputs are pending with no run started for them. */
async function uploadQuietly(client: string, files: Record<string, string>): Promise<void> {
  cloud.eventarc.suspend();
  try {
    for (const [path, text] of Object.entries(files)) await cloud.upload(client, path, text);
  } finally {
    cloud.eventarc.resume();
  }
}

beforeAll(async () => {
  cloud = await bootE2eCloud();
  // The local cloud serves task logs itself now (BATCHLINE_LOGGING_ENDPOINT in its variables).
  env = { ...cloud.env };
  cliConfig = mkdtempSync(join(tmpdir(), "batchline-operate-"));
  cpSync(E2E_CONFIG, cliConfig, { recursive: true });
  writeFileSync(join(cliConfig, "clients", "ghost.yaml"), "id: ghost\n");
});

afterAll(async () => {
  delete process.env.BATCHLINE_CONFIG;
  await cloud?.stop();
  if (cliConfig) rmSync(cliConfig, { recursive: true, force: true });
});

describe("run, status and logs", () => {
  let runId = "";

  it("run --wait starts a manual run, follows it and prints the client's message", async () => {
    await uploadQuietly("one", { "a.jsonl": jsonl(["apple", "avocado"]), "b.jsonl": jsonl(["banana"]) });
    const result = await cli(["run", "--client", "one", "--wait", "--poll", "1"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const m = /^run (mn-[0-9a-f]{16})$/m.exec(result.stdout);
    expect(m, result.stdout).not.toBeNull();
    runId = m?.[1] ?? "";
    const execution = /^execution (projects\/\S+\/executions\/(\S+))$/m.exec(result.stdout);
    expect(runId).toBe(
      computeRunId({ product: P, client: "one", trigger: "manual", key: execution?.[2] ?? "" }),
    );
    expect(result.stdout).toMatch(/ ACTIVE at main\.\w+/);
    const message = JSON.parse(result.stdout.slice(result.stdout.indexOf("\n{") + 1));
    expect(message).toMatchObject({
      status: "SUCCEEDED",
      runId,
      client: "one",
      trigger: { type: "manual" },
      counts: { inputs: 2, succeeded: 2, failed: 0, records: 3 },
    });

    const again = await cli(["run", "--client", "one", "--wait", "--poll", "1"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to do: client one has no pending inputs");
  });

  it("status shows the execution, the job, each task with its attempts and each input's output", async () => {
    const [result, text] = await Promise.all([
      cli(["status", runId, "--client", "one", "--json"]),
      cli(["status", runId, "--client", "one"]),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status).toMatchObject({
      runId,
      status: "SUCCEEDED",
      execution: { state: "SUCCEEDED" },
      job: { state: "SUCCEEDED" },
      failure: null,
    });
    expect(status.job.events.map((e: { description: string }) => e.description).join("\n")).toMatch(
      /from RUNNING to SUCCEEDED/,
    );
    expect(status.tasks).toEqual([
      expect.objectContaining({ index: 0, state: "SUCCEEDED", attempts: 1 }),
      expect.objectContaining({ index: 1, state: "SUCCEEDED", attempts: 1 }),
    ]);
    expect(status.inputs).toEqual([
      expect.objectContaining({
        object: `${areaPrefix(P, "one", "inputs")}a.jsonl`,
        output: `${areaPrefix(P, "one", "outputs")}a.jsonl`,
        status: "SUCCEEDED",
        records: 2,
        badRecords: 0,
      }),
      expect.objectContaining({
        object: `${areaPrefix(P, "one", "inputs")}b.jsonl`,
        output: `${areaPrefix(P, "one", "outputs")}b.jsonl`,
        status: "SUCCEEDED",
        records: 1,
      }),
    ]);

    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`run ${runId} (client one): SUCCEEDED`);
    expect(text.stdout).toContain("task 1: SUCCEEDED, 1 attempt(s)");
  });

  it("logs prints one task's lines from the logging endpoint, and only that task's", async () => {
    const [result, all] = await Promise.all([
      cli(["logs", runId, "--client", "one", "--task", "1", "--json"]),
      cli(["logs", runId, "--client", "one", "--follow", "--poll", "1"]),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(new Set(lines.map((l: { task: number }) => l.task))).toEqual(new Set([1]));
    expect(lines.map((l: { message: string }) => l.message).join("\n")).toContain("task started");

    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^task 0\.0 \S+ INFO task started/m);
    expect(all.stdout).toMatch(/^task 1\.0 \S+ INFO task started/m);
  });

  it("logs --follow waits for a run's job and prints its lines as they come, until the job ends", async () => {
    // Three tasks, one at a time, each sleeping 2 s first (the slow client): the job outlives the command's start.
    await uploadQuietly("slow", {
      "s0.jsonl": jsonl(["a"]),
      "s1.jsonl": jsonl(["b"]),
      "s2.jsonl": jsonl(["c"]),
    });
    const started = await cli(["run", "--client", "slow"]);
    expect(started.code, started.stderr).toBe(0);
    const run = /^run (mn-[0-9a-f]{16})$/m.exec(started.stdout)?.[1] ?? "";
    const follow = await cli(["logs", run, "--client", "slow", "--follow", "--poll", "1"]);
    expect(follow.code, follow.stderr).toBe(0);
    expect(follow.stdout).toMatch(/^task 0\.0 \S+ INFO task started/m);
    expect(follow.stdout).toMatch(/^task 2\.0 \S+ INFO task succeeded/m);
    const status = JSON.parse((await cli(["status", run, "--client", "slow", "--json"])).stdout);
    expect(status.job.state).toBe("SUCCEEDED");
  });

  it("the logging endpoint answers filter syntax it does not know with INVALID_ARGUMENT", async () => {
    const url = new URL(env.BATCHLINE_LOGGING_ENDPOINT ?? "");
    const client = new Logging({
      projectId: cloud.config.platform.project,
      apiEndpoint: url.hostname,
      port: Number(url.port),
      protocol: "http",
      fallback: true,
      authClient: new PassThroughClient(),
    } as unknown as ConstructorParameters<typeof Logging>[0]);
    await expect(client.getEntries({ filter: 'labels.job_uid="x" AND (' })).rejects.toMatchObject({
      message: expect.stringContaining("Unparseable filter"),
    });
    await expect(client.getEntries({ filter: 'log_id("batch_task_logs")' })).rejects.toMatchObject({
      message: expect.stringContaining("Unsupported filter: function log_id()"),
    });
  });
});

describe("runs", () => {
  it("lists a run whose plan failed, with its error, and an interrupted run", async () => {
    const ghost = await cli(["run", "--client", "ghost", "--wait", "--poll", "1"], cliConfig);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/^execution FAILED: .*unknown client \\?"ghost\\?"/m);
    const ghostRun = /^run (mn-[0-9a-f]{16})$/m.exec(ghost.stdout)?.[1];

    // A run whose execution does not exist (a crash took it) left a manifest and its open marker, no summary.
    const executionId = randomUUID();
    const { project, region } = cloud.config.platform;
    const execution = `projects/${project}/locations/${region}/workflows/${cloud.workflowId}/executions/${executionId}`;
    const lost = computeRunId({ product: P, client: "twice", trigger: "manual", key: executionId });
    const bucket = cloud.storage.bucket(cloud.config.platform.bucket);
    const now = new Date().toISOString();
    await bucket.file(runRecordName(P, "twice", lost, "manifest.json")).save(
      JSON.stringify({
        schemaVersion: 1,
        product: P,
        client: "twice",
        bucket: cloud.config.platform.bucket,
        runId: lost,
        jobId: `bl-${P}-twice-${lost}`,
        trigger: { type: "manual" },
        execution,
        plannedAt: now,
        processor: "uppercase",
        mode: "sweep",
        inputCount: 0,
        taskCount: 0,
        rejected: [],
        shardSize: 1000,
        shards: [],
      }),
    );
    await bucket.file(openRunName(areaPrefix(P, "twice", "runs"), lost)).save(
      JSON.stringify({
        schemaVersion: 1,
        runId: lost,
        jobId: `bl-${P}-twice-${lost}`,
        execution,
        openedAt: now,
        leaseExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
    const [failed, interrupted, table, ghostStatus] = await Promise.all([
      cli(["runs", "--client", "ghost", "--json"], cliConfig),
      cli(["runs", "--client", "twice", "--json"]),
      cli(["runs", "--client", "one", "--limit", "1"]),
      cli(["status", ghostRun ?? "", "--client", "ghost"], cliConfig),
    ]);
    expect(ghostStatus.code, ghostStatus.stderr).toBe(0);
    expect(ghostStatus.stdout).toContain(`run ${ghostRun} (client ghost): FAILED`);
    expect(ghostStatus.stdout).toMatch(/^failure: .*unknown client/m);
    expect(ghostStatus.stdout).toContain(`: none (never created, or deleted)`);
    expect(failed.code, failed.stderr).toBe(0);
    expect(JSON.parse(failed.stdout)).toEqual([
      expect.objectContaining({
        runId: ghostRun,
        trigger: "manual",
        inputs: null,
        status: "FAILED",
        detail: expect.stringContaining("failed before planning"),
        error: expect.stringContaining('unknown client \\"ghost\\"'),
      }),
    ]);

    expect(interrupted.code, interrupted.stderr).toBe(0);
    expect(JSON.parse(interrupted.stdout)).toEqual([
      expect.objectContaining({
        runId: lost,
        status: "INTERRUPTED",
        execution,
        detail: expect.stringContaining("no longer exists"),
      }),
    ]);

    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^RUN\s+TRIGGER\s+STARTED\s+INPUTS\s+STATUS\s+DETAIL$/);
    expect(table.stdout).toMatch(
      /^mn-[0-9a-f]{16}\s+manual\s+\S+\s+2\s+SUCCEEDED\s+2 ok, 0 failed, job SUCCEEDED$/m,
    );
    expect(table.stdout).toContain("(1 execution(s) of one had nothing to do; not shown)");
  });
});

describe("inputs and retry", () => {
  const big = jsonl(Array.from({ length: 20 }, (_, i) => `a record long enough to pass the limit ${i}`));

  it("shows each input's state as the next plan sees it, through failed to poison", async () => {
    await uploadQuietly("poison", { "big.jsonl": big, "small.jsonl": jsonl(["fits"]) });
    const first = await cli(["run", "--client", "poison", "--wait", "--poll", "1"]);
    expect(first.code).toBe(1);
    expect(first.stdout).toContain('"status": "FAILED"');

    const afterFirst = JSON.parse((await cli(["inputs", "--client", "poison", "--json"])).stdout);
    expect(afterFirst).toEqual([
      expect.objectContaining({
        path: "big.jsonl",
        state: "failed",
        failures: 1,
        reason: expect.stringContaining("over the limit of 200 bytes"),
      }),
      expect.objectContaining({ path: "small.jsonl", state: "done", failures: 0 }),
    ]);

    await cloud.engine.wait(cloud.runManually("poison").id);
    await uploadQuietly("poison", { "later.jsonl": jsonl(["later"]) });
    const [result, poisonOnly] = await Promise.all([
      cli(["inputs", "--client", "poison"]),
      cli(["inputs", "--client", "poison", "--state", "poison", "--json"]),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^big\.jsonl\s+poison\s+\d+\s+2\s+mn-[0-9a-f]{16}\s+.*over the limit of 200 bytes/m,
    );
    expect(result.stdout).toMatch(/^later\.jsonl\s+pending\s+\d+\s+0\s+-\s*$/m);
    expect(result.stdout).toMatch(/^small\.jsonl\s+done\s+\d+\s+0\s+mn-[0-9a-f]{16}\s*$/m);

    const poison = JSON.parse(poisonOnly.stdout);
    expect(poison.map((r: { path: string }) => r.path)).toEqual(["big.jsonl"]);
  });

  it("retry clears a fixed poison input, which the run it starts then processes", async () => {
    // The fix: the poison client's stack is redeployed with a config that raises its input limit, which
    // rewrites its registry object (what plan reads); plan then restarts, as a fresh instance whose registry
    // cache is empty (a deployed instance sees the change within the 30 s TTL).
    const poison = loadClientConfig(join(E2E_CONFIG, "clients", "poison.yaml"));
    const fixed = {
      ...poison,
      job: { ...poison.job, env: { ...poison.job.env, BATCHLINE_MAX_INPUT_BYTES: "100000" } },
    };
    const { platform } = cloud.config;
    await writeRegistryObject(cloud.storage.bucket(platform.bucket), platform.product, fixed);
    const plan = cloud.functions.get("plan");
    const restarts = plan?.restarts() ?? 0;
    process.kill(-(plan?.pid() ?? 0), "SIGKILL");
    const deadline = Date.now() + 30_000;
    while ((plan?.restarts() ?? 0) === restarts && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(plan?.restarts()).toBe(restarts + 1);

    const retry = await cli(["retry", "big.jsonl", "--client", "poison", "--run", "--wait", "--poll", "1"]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toMatch(/^big\.jsonl: cleared \(was poison after 2 failure\(s\)\)$/m);
    const message = JSON.parse(retry.stdout.slice(retry.stdout.indexOf("\n{") + 1));
    expect(message).toMatchObject({ status: "SUCCEEDED", counts: { inputs: 2, succeeded: 2, failed: 0 } });

    const done = JSON.parse((await cli(["inputs", "--client", "poison", "--json"])).stdout);
    expect(done.map((r: { path: string; state: string }) => `${r.path} ${r.state}`)).toEqual([
      "big.jsonl done",
      "later.jsonl done",
      "small.jsonl done",
    ]);
  });
});

describe("bad input", () => {
  it("is one line naming what was wrong, exit 2, for every command", async () => {
    const cases: [string[], string][] = [
      [
        ["runs", "--client", "one", "--limit", "none"],
        'invalid --limit "none": expected a whole number of at least 1',
      ],
      [
        ["inputs", "--client", "one", "--state", "stuck"],
        'invalid --state "stuck": expected one of pending, running, done, failed, poison, invalid',
      ],
      [["retry", "--client", "one"], "name the inputs to retry, or pass --all-failed"],
      [
        ["status", "run-1", "--client", "one"],
        '"run-1" is not a run id (ev-, sc-, mn- or rc- and 16 hex digits; see batchline runs)',
      ],
      [
        ["logs", "mn-0000000000000000", "--client", "one"],
        "client one has no run mn-0000000000000000 (no run records and no execution for it)",
      ],
      [
        ["retry", "nope.jsonl", "--client", "one"],
        `not an input of client one: nope.jsonl (no gs://batchline-e2e-batch/${areaPrefix(P, "one", "inputs")}nope.jsonl)`,
      ],
      [["run"], "error: required option '--client <id>' not specified"],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      const [args, line] = cases[i] as [string[], string];
      expect({ args, code: r.code, lines: r.stderr.trim().split("\n").length }).toEqual({
        args,
        code: 2,
        lines: 1,
      });
      expect(r.stderr).toContain(line);
    });
  });
});
