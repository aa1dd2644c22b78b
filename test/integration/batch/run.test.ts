import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { loadBatchLocalConfig } from "../../../local/batch/config.ts";
import { BatchApiError } from "../../../local/batch/errors.ts";
import { liveTaskGroups } from "../../../local/batch/process.ts";
import { staticSecretResolver } from "../../../local/batch/secrets.ts";
import type { LocalBatch, TaskEvent } from "../../../local/batch/service.ts";
import type { JobJson } from "../../../local/batch/spec.ts";
import type { StatusEvent } from "../../../local/batch/status.ts";
import { buildWorkerBundle } from "../../../worker/build.ts";
import {
  captureLogger,
  eventually,
  localBatch,
  markedSleep,
  PARENT,
  processesMatching,
  scratch,
} from "./helpers.ts";

let batch: LocalBatch | undefined;
afterEach(async () => {
  await batch?.close();
  batch = undefined;
});

function scriptJob(text: string, group: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) {
  return { taskGroups: [{ ...group, taskSpec: { runnables: [{ script: { text } }], ...spec } }] };
}

async function runJob(b: LocalBatch, id: string, body: unknown): Promise<JobJson> {
  const created = await b.createJob(PARENT, id, body);
  return b.waitForJob(created.name as string);
}

const descriptions = (events: StatusEvent[] | undefined) => (events ?? []).map((e) => e.description);
function status(job: JobJson): {
  state: string;
  statusEvents: StatusEvent[];
  taskGroups: Record<string, { counts: Record<string, string> }>;
  runDuration: string;
} {
  return job.status as never;
}

describe("tasks as local processes", () => {
  it("runs taskCount tasks, never more than parallelism at once", async () => {
    batch = localBatch();
    const dir = scratch();
    const job = await runJob(
      batch,
      "parallel",
      scriptJob(`f=${dir}/$BATCH_TASK_INDEX; date +%s%N > $f; sleep 0.15; date +%s%N >> $f`, {
        taskCount: 6,
        parallelism: 2,
      }),
    );
    expect(status(job).state).toBe("SUCCEEDED");
    const spans = readdirSync(dir).map((f) =>
      readFileSync(join(dir, f), "utf8").trim().split("\n").map(BigInt),
    );
    expect(spans).toHaveLength(6);
    const running = (t: bigint) => spans.filter(([s, e]) => (s as bigint) <= t && t < (e as bigint)).length;
    const peak = Math.max(...spans.map(([s]) => running(s as bigint)));
    expect(peak).toBe(2);
  });

  it("runs IN_ORDER tasks one after another by index", async () => {
    batch = localBatch();
    const dir = scratch();
    await runJob(
      batch,
      "in-order",
      scriptJob(`date +%s%N > ${dir}/$BATCH_TASK_INDEX; sleep 0.05`, {
        taskCount: 4,
        schedulingPolicy: "IN_ORDER",
      }),
    );
    const starts = [0, 1, 2, 3].map((i) => BigInt(readFileSync(join(dir, String(i)), "utf8").trim()));
    expect([...starts].sort((a, b) => (a < b ? -1 : 1))).toEqual(starts);
  });

  it("gives every task its BATCH_* variables", async () => {
    batch = localBatch();
    const dir = scratch();
    const job = await runJob(
      batch,
      "batch-env",
      scriptJob(
        `env | grep '^BATCH_' | sort > ${dir}/$BATCH_TASK_INDEX; cat "$BATCH_HOSTS_FILE" > ${dir}/hosts`,
        {
          taskCount: 3,
          requireHostsFile: true,
        },
      ),
    );
    expect(status(job).state).toBe("SUCCEEDED");
    for (const i of [0, 1, 2]) {
      const env = readFileSync(join(dir, String(i)), "utf8")
        .trim()
        .split("\n");
      expect(env.filter((l) => !l.startsWith("BATCH_HOSTS_FILE="))).toEqual([
        "BATCH_TASK_COUNT=3",
        `BATCH_TASK_INDEX=${i}`,
        "BATCH_TASK_RETRY_ATTEMPT=0",
      ]);
      expect(env.some((l) => l.startsWith("BATCH_HOSTS_FILE=/"))).toBe(true);
    }
    expect(readFileSync(join(dir, "hosts"), "utf8").trim()).not.toBe("");
  });

  it("layers variables: task spec, then taskEnvironments by index, then the runnable's own; secrets resolved", async () => {
    batch = localBatch({
      secrets: staticSecretResolver({ "projects/p/secrets/token/versions/2": "s3cret" }),
    });
    const dir = scratch();
    const job = await runJob(batch, "layers", {
      taskGroups: [
        {
          taskEnvironments: [
            { variables: { WHO: "first", LEVEL: "task" } },
            { variables: { WHO: "second" } },
          ],
          taskSpec: {
            environment: {
              variables: { LEVEL: "spec", SHARED: "all" },
              secretVariables: { TOKEN: "projects/p/secrets/token/versions/2" },
            },
            runnables: [
              {
                script: { text: `echo "$WHO $LEVEL $SHARED $TOKEN $OWN" > ${dir}/$BATCH_TASK_INDEX` },
                environment: { variables: { OWN: "runnable" } },
              },
            ],
          },
        },
      ],
    });
    expect(status(job).state).toBe("SUCCEEDED");
    expect(job.taskGroups?.[0]?.taskCount).toBe("2");
    expect(readFileSync(join(dir, "0"), "utf8").trim()).toBe("first task all s3cret runnable");
    expect(readFileSync(join(dir, "1"), "utf8").trim()).toBe("second spec all s3cret runnable");
  });

  it("does not hand the caller's environment to tasks beyond PATH and friends", async () => {
    process.env.BATCHLINE_TEST_LEAK = "leaked";
    batch = localBatch();
    const dir = scratch();
    try {
      await runJob(batch, "no-leak", scriptJob(`echo "[$BATCHLINE_TEST_LEAK]" > ${dir}/out`));
    } finally {
      delete process.env.BATCHLINE_TEST_LEAK;
    }
    expect(readFileSync(join(dir, "out"), "utf8").trim()).toBe("[]");
  });

  it("fails a task whose secret cannot be read, naming the secret", async () => {
    batch = localBatch({ secrets: staticSecretResolver({}) });
    const job = await runJob(batch, "no-secret", {
      taskGroups: [
        {
          taskSpec: {
            runnables: [{ script: { text: "true" } }],
            environment: { secretVariables: { TOKEN: "projects/p/secrets/missing/versions/latest" } },
          },
        },
      ],
    });
    expect(status(job).state).toBe("FAILED");
    const failed = status(job).statusEvents.find((e) => e.taskState === "FAILED");
    expect(failed?.description).toContain("due to secret variable TOKEN could not be read");
    expect(failed?.description).toContain("projects/p/secrets/missing/versions/latest");
    expect(failed?.taskExecution).toEqual({ exitCode: 50000 });
  });
});

describe("retries and lifecycle policies", () => {
  it("retries a failing task up to maxRetryCount, with BATCH_TASK_RETRY_ATTEMPT counting, and keeps each attempt's log", async () => {
    batch = localBatch();
    const job = await runJob(
      batch,
      "retry-then-pass",
      scriptJob(
        'echo "attempt $BATCH_TASK_RETRY_ATTEMPT"; [ "$BATCH_TASK_RETRY_ATTEMPT" -ge 2 ] || exit 1',
        {},
        { maxRetryCount: 3 },
      ),
    );
    expect(status(job).state).toBe("SUCCEEDED");
    const name = job.name as string;
    expect(await batch.taskLog(name, 0, 0)).toBe("attempt 0\n");
    expect(await batch.taskLog(name, 0, 1)).toBe("attempt 1\n");
    expect(await batch.taskLog(name, 0)).toBe("attempt 2\n");
    const task = batch.getTask(`${name}/taskGroups/group0/tasks/0`);
    expect(task.status.statusEvents.filter((e) => e.taskState === "FAILED")).toHaveLength(2);
  });

  it("fails the task once the retries are used up", async () => {
    batch = localBatch();
    const job = await runJob(batch, "retry-out", scriptJob("exit 1", {}, { maxRetryCount: 2 }));
    expect(status(job).state).toBe("FAILED");
    const task = batch.getTask(`${job.name}/taskGroups/group0/tasks/0`);
    expect(task.status.state).toBe("FAILED");
    expect(task.status.statusEvents.filter((e) => e.taskState === "RUNNING")).toHaveLength(3);
  });

  it("FAIL_TASK on exit 3 stops retries at once", async () => {
    batch = localBatch();
    const job = await runJob(
      batch,
      "fail-task",
      scriptJob(
        "exit 3",
        {},
        {
          maxRetryCount: 3,
          lifecyclePolicies: [{ action: "FAIL_TASK", actionCondition: { exitCodes: [3] } }],
        },
      ),
    );
    expect(status(job).state).toBe("FAILED");
    const events = batch.getTask(`${job.name}/taskGroups/group0/tasks/0`).status.statusEvents;
    expect(events.filter((e) => e.taskState === "RUNNING")).toHaveLength(1);
    expect(events.at(-1)?.taskExecution).toEqual({ exitCode: 3 });
  });

  it("RETRY_TASK on 50001 retries, and with the pipeline's two policies exit 1 still gets the default retries", async () => {
    batch = localBatch();
    const policies = [
      { action: "RETRY_TASK", actionCondition: { exitCodes: [50001] } },
      { action: "FAIL_TASK", actionCondition: { exitCodes: [3] } },
    ];
    const preempted = await runJob(
      batch,
      "retry-preempted",
      scriptJob(
        '[ "$BATCH_TASK_RETRY_ATTEMPT" -ge 1 ] || exit 50001',
        {},
        { maxRetryCount: 2, lifecyclePolicies: policies },
      ),
    );
    expect(status(preempted).state).toBe("SUCCEEDED");
    const transient = await runJob(
      batch,
      "retry-transient",
      scriptJob(
        '[ "$BATCH_TASK_RETRY_ATTEMPT" -ge 2 ] || exit 1',
        {},
        { maxRetryCount: 2, lifecyclePolicies: policies },
      ),
    );
    expect(status(transient).state).toBe("SUCCEEDED");
  });

  it("a lone RETRY_TASK policy fails unlisted exit codes without retrying", async () => {
    batch = localBatch();
    const job = await runJob(
      batch,
      "retry-only-listed",
      scriptJob(
        "exit 1",
        {},
        {
          maxRetryCount: 3,
          lifecyclePolicies: [{ action: "RETRY_TASK", actionCondition: { exitCodes: [50001] } }],
        },
      ),
    );
    expect(status(job).state).toBe("FAILED");
    const events = batch.getTask(`${job.name}/taskGroups/group0/tasks/0`).status.statusEvents;
    expect(events.filter((e) => e.taskState === "RUNNING")).toHaveLength(1);
  });
});

describe("timeouts", () => {
  it("maxRunDuration kills a sleeping task's whole tree and reports exit code 50005", async () => {
    batch = localBatch();
    const sleep = markedSleep();
    const started = Date.now();
    const job = await runJob(
      batch,
      "too-slow",
      scriptJob(`${sleep.command} & ${sleep.command}`, {}, { maxRunDuration: "0.3s" }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(status(job).state).toBe("FAILED");
    const failed = batch.getTask(`${job.name}/taskGroups/group0/tasks/0`).status.statusEvents.at(-1);
    expect(failed).toMatchObject({ taskState: "FAILED", taskExecution: { exitCode: 50005 } });
    expect(failed?.description).toMatch(
      /^Task state is updated from RUNNING to FAILED on zones\/local\/instances\/\S+ due to task runs over the maximum runtime with exit code 50005\.$/,
    );
    expect(processesMatching(sleep.marker)).toEqual([]);
  });

  it("a runnable's timeout does the same, and SIGKILL follows SIGTERM when the task ignores it", async () => {
    batch = localBatch({ killGraceMs: 200 });
    const sleep = markedSleep();
    const job = await runJob(batch, "ignores-term", {
      taskGroups: [
        {
          taskSpec: {
            runnables: [{ script: { text: `trap '' TERM; ${sleep.command}` }, timeout: "0.2s" }],
          },
        },
      ],
    });
    expect(status(job).statusEvents.find((e) => e.taskState === "FAILED")?.taskExecution).toEqual({
      exitCode: 50005,
    });
    expect(processesMatching(sleep.marker)).toEqual([]);
  });
});

describe("no orphans", () => {
  it("a task's leftover background processes end with the task", async () => {
    batch = localBatch();
    const sleep = markedSleep();
    const job = await runJob(batch, "leftovers", scriptJob(`${sleep.command} > /dev/null 2>&1 & exit 0`));
    expect(status(job).state).toBe("SUCCEEDED");
    expect(await eventually(() => processesMatching(sleep.marker).length === 0, 2_000)).toBe(true);
  });

  it("task processes die with the process that runs the service, even when it is SIGKILLed", async () => {
    const sleep = markedSleep();
    // The command goes by environment, so the host's own command line does not match the marker.
    const host = spawn(process.execPath, ["--import", "tsx", "test/fixtures/batch/host.ts"], {
      stdio: ["ignore", "pipe", "inherit"],
      // A SIGKILLed host cannot remove its work directory, so it works in one this file removes.
      env: { ...process.env, BATCH_HOST_COMMAND: sleep.command, BATCH_HOST_WORKDIR: scratch("batch-host-") },
    });
    try {
      const lines = createInterface({ input: host.stdout as NodeJS.ReadableStream });
      const [first] = (await once(lines, "line")) as [string];
      expect(first).toBe("running");
      expect(processesMatching(sleep.marker)).toHaveLength(2);
      host.kill("SIGKILL");
      await once(host, "exit");
      expect(await eventually(() => processesMatching(sleep.marker).length === 0, 5_000)).toBe(true);
    } finally {
      if (host.exitCode === null && host.signalCode === null) host.kill("SIGKILL");
    }
  });
});

describe("several runnables", () => {
  it("runs them in order; a failure skips the rest except alwaysRun; ignoreExitStatus lets it pass", async () => {
    batch = localBatch();
    const dir = scratch();
    const step = (n: string, code = 0) => ({ script: { text: `echo ${n} >> ${dir}/order; exit ${code}` } });
    const ok = await runJob(batch, "ignored", {
      taskGroups: [
        { taskSpec: { runnables: [step("a"), { ...step("b", 4), ignoreExitStatus: true }, step("c")] } },
      ],
    });
    expect(status(ok).state).toBe("SUCCEEDED");
    expect(readFileSync(join(dir, "order"), "utf8")).toBe("a\nb\nc\n");

    const dir2 = scratch();
    const step2 = (n: string, code = 0) => ({ script: { text: `echo ${n} >> ${dir2}/order; exit ${code}` } });
    const bad = await runJob(batch, "stops", {
      taskGroups: [
        {
          taskSpec: {
            runnables: [step2("a"), step2("b", 4), step2("c"), { ...step2("d", 5), alwaysRun: true }],
          },
        },
      ],
    });
    expect(status(bad).state).toBe("FAILED");
    expect(readFileSync(join(dir2, "order"), "utf8")).toBe("a\nb\nd\n");
    expect(status(bad).statusEvents.find((e) => e.taskState === "FAILED")?.taskExecution).toEqual({
      exitCode: 4,
    });
  });

  it("background runnables run alongside and are stopped when the foreground is done", async () => {
    batch = localBatch();
    const dir = scratch();
    const sleep = markedSleep();
    const job = await runJob(batch, "background", {
      taskGroups: [
        {
          taskSpec: {
            runnables: [
              { script: { text: `echo up > ${dir}/bg; ${sleep.command}` }, background: true },
              {
                script: {
                  text: `for i in 1 2 3 4 5 6 7 8 9 10; do [ -f ${dir}/bg ] && exit 0; sleep 0.05; done; exit 9`,
                },
              },
            ],
          },
        },
      ],
    });
    expect(status(job).state).toBe("SUCCEEDED");
    expect(processesMatching(sleep.marker)).toEqual([]);
  });
});

describe("states and status events", () => {
  it("goes QUEUED -> SCHEDULED -> RUNNING -> SUCCEEDED, tasks PENDING -> ASSIGNED -> RUNNING -> SUCCEEDED", async () => {
    batch = localBatch();
    const seen: TaskEvent[] = [];
    batch.onTaskEvent((e) => seen.push(e));
    const created = await batch.createJob(PARENT, "lifecycle", scriptJob("sleep 0.05", { taskCount: 2 }));
    expect(status(created).state).toBe("QUEUED");
    const job = await batch.waitForJob(created.name as string);
    const name = created.name as string;
    expect(descriptions(status(job).statusEvents)).toEqual([
      `Job state is set from QUEUED to SCHEDULED for job ${name}.`,
      `Job state is set from SCHEDULED to RUNNING for job ${name}.`,
      `Job state is set from RUNNING to SUCCEEDED for job ${name}.`,
    ]);
    expect(status(job).taskGroups.group0?.counts).toEqual({ SUCCEEDED: "2" });
    expect(status(job).runDuration).toMatch(/^\d+(\.\d{3})?s$/);
    expect(status(job).runDuration).not.toBe("0s");
    const times = status(job).statusEvents.map((e) => Date.parse(e.eventTime));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const i of [0, 1]) {
      const task = batch.getTask(`${name}/taskGroups/group0/tasks/${i}`);
      expect(task.status.statusEvents.map((e) => e.taskState)).toEqual(["ASSIGNED", "RUNNING", "SUCCEEDED"]);
      expect(task.status.statusEvents[0]?.description).toMatch(
        /^Task state is updated from PENDING to ASSIGNED on zones\/local\/instances\/\S+\.$/,
      );
    }
    const last = seen.at(-1);
    expect(last?.counts).toEqual({ SUCCEEDED: 2 });
    expect(last?.taskCount).toBe(2);
    expect(seen.filter((e) => e.state === "SUCCEEDED")).toHaveLength(2);
  });

  it("fails the job when a task fails, naming the task and quoting its event, after the others finish", async () => {
    batch = localBatch();
    const job = await runJob(
      batch,
      "one-fails",
      scriptJob('[ "$BATCH_TASK_INDEX" = 1 ] && exit 7; sleep 0.1', { taskCount: 3 }),
    );
    expect(status(job).state).toBe("FAILED");
    expect(status(job).taskGroups.group0?.counts).toEqual({ SUCCEEDED: "2", FAILED: "1" });
    const last = status(job).statusEvents.at(-1)?.description ?? "";
    expect(last).toMatch(
      new RegExp(
        `^Job state is set from RUNNING to FAILED for job ${job.name}\\. Job failed due to task failure\\. Specifically, task with index 1 failed due to the following task event: "Task state is updated from RUNNING to FAILED on zones/local/instances/\\S+ with exit code 7\\."$`,
      ),
    );
    const list = batch.listTasks(`${job.name}/taskGroups/group0`, { filter: 'status.state="FAILED"' });
    expect(list.tasks.map((t) => t.name)).toEqual([`${job.name}/taskGroups/group0/tasks/1`]);
  });

  it("lists jobs by filter and answers NOT_FOUND for unknown jobs and tasks", async () => {
    batch = localBatch();
    await runJob(batch, "list-a", { ...scriptJob("true"), labels: { team: "a" } });
    await runJob(batch, "list-b", { ...scriptJob("exit 1"), labels: { team: "b" } });
    const failed = batch.listJobs(PARENT, { filter: 'status.state="FAILED"' });
    expect(failed.jobs.map((j) => j.name)).toEqual([`${PARENT}/jobs/list-b`]);
    expect(batch.listJobs(PARENT, { filter: "labels.team=a" }).jobs.map((j) => j.name)).toEqual([
      `${PARENT}/jobs/list-a`,
    ]);
    const page = batch.listJobs(PARENT, { pageSize: 1, orderBy: "name desc" });
    expect(page.jobs.map((j) => j.name)).toEqual([`${PARENT}/jobs/list-b`]);
    expect(
      batch.listJobs(PARENT, { pageSize: 1, orderBy: "name desc", pageToken: page.nextPageToken }).jobs[0]
        ?.name,
    ).toBe(`${PARENT}/jobs/list-a`);
    expect(() => batch?.getJob(`${PARENT}/jobs/nope`)).toThrow(BatchApiError);
    expect(() => batch?.getTask(`${PARENT}/jobs/list-a/taskGroups/group0/tasks/5`)).toThrow("not found");
  });
});

describe("logs", () => {
  it("keeps stdout and stderr of each task in its log, and CLOUD_LOGGING sends the lines to the logger", async () => {
    const capture = captureLogger();
    batch = localBatch({ logger: capture.logger });
    const job = await runJob(batch, "logs", {
      ...scriptJob('echo "out $BATCH_TASK_INDEX"; echo "err $BATCH_TASK_INDEX" >&2', { taskCount: 2 }),
      logsPolicy: { destination: "CLOUD_LOGGING" },
    });
    const name = job.name as string;
    expect((await batch.taskLog(name, 1)).split("\n").filter(Boolean).sort()).toEqual(["err 1", "out 1"]);
    const taskLines = capture.lines().filter((l) => l.logName === "batch_task_logs");
    expect(taskLines.find((l) => l.message === "out 0")?.severity).toBe("INFO");
    expect(taskLines.find((l) => l.message === "err 0")?.severity).toBe("ERROR");
    expect(taskLines.find((l) => l.message === "out 1")).toMatchObject({
      job_uid: job.uid,
      task_id: `task/${job.uid}-group0-1/0/0`,
    });
  });

  it("PATH writes each attempt's log under logsPath", async () => {
    batch = localBatch();
    const logsPath = scratch("batch-logs-path-");
    const job = await runJob(batch, "logs-path", {
      ...scriptJob("echo hello"),
      logsPolicy: { destination: "PATH", logsPath },
    });
    expect(readFileSync(join(logsPath, `${job.uid}-group0-0-0.log`), "utf8")).toBe("hello\n");
  });
});

describe("containers through the image map", () => {
  const images = {
    "example.com/tools/printer:*": {
      command: [
        "node",
        "-e",
        "console.log(JSON.stringify({ args: process.argv.slice(1), cwd: process.cwd(), env: process.env.FROM }))",
      ],
      args: ["default-arg"],
      cwd: "/tmp",
      env: { FROM: "image" },
    },
  };

  it("runs the mapped command with the runnable's commands as arguments, the image's cwd and env", async () => {
    batch = localBatch({ images });
    const job = await runJob(batch, "container", {
      taskGroups: [
        {
          taskSpec: {
            runnables: [
              { container: { imageUri: "example.com/tools/printer:1.0", commands: ["a", "b"] } },
              { container: { imageUri: "example.com/tools/printer:1.0" } },
              {
                container: {
                  imageUri: "example.com/tools/printer:1.0",
                  entrypoint: "sh",
                  commands: ["-c", "echo override $FROM"],
                },
              },
            ],
            environment: { variables: { FROM: "job" } },
          },
        },
      ],
    });
    expect(status(job).state).toBe("SUCCEEDED");
    const lines = (await batch.taskLog(job.name as string, 0)).trim().split("\n");
    expect(JSON.parse(lines[0] as string)).toEqual({ args: ["a", "b"], cwd: "/tmp", env: "job" });
    expect(JSON.parse(lines[1] as string)).toEqual({ args: ["default-arg"], cwd: "/tmp", env: "job" });
    expect(lines[2]).toBe("override job");
  });

  it("the default image map runs the real worker: no environment is a permanent failure, FAIL_TASK stops retries", async () => {
    // The map points at the worker bundle, as the local cloud builds it on start.
    await buildWorkerBundle(resolve(".batchline/worker/worker.js"));
    batch = localBatch({ config: loadBatchLocalConfig("config/local.yaml") });
    const job = await runJob(batch, "worker-image", {
      taskGroups: [
        {
          taskSpec: {
            runnables: [
              {
                container: { imageUri: "europe-west2-docker.pkg.dev/batchline-demo/batchline/worker:latest" },
              },
            ],
            maxRetryCount: 2,
            lifecyclePolicies: [{ action: "FAIL_TASK", actionCondition: { exitCodes: [3] } }],
          },
        },
      ],
    });
    const events = batch.getTask(`${job.name}/taskGroups/group0/tasks/0`).status.statusEvents;
    expect(events.filter((e) => e.taskState === "RUNNING")).toHaveLength(1);
    expect(events.at(-1)?.taskExecution).toEqual({ exitCode: 3 });
    expect(await batch.taskLog(job.name as string, 0)).toContain("BATCHLINE_MANIFEST_URI");
  });

  it("fails a task whose image has no mapping, naming the image and the config file", async () => {
    batch = localBatch({ images, configFile: "config/local.yaml" });
    const job = await runJob(batch, "no-image", {
      taskGroups: [{ taskSpec: { runnables: [{ container: { imageUri: "example.com/other/thing:2" } }] } }],
    });
    expect(status(job).state).toBe("FAILED");
    const failed = status(job).statusEvents.find((e) => e.taskState === "FAILED");
    expect(failed?.taskExecution).toEqual({ exitCode: 125 });
    expect(failed?.description).toContain('container image "example.com/other/thing:2"');
    expect(failed?.description).toContain("add it under batch.images in config/local.yaml");
    expect(await batch.taskLog(job.name as string, 0)).toContain(
      'container image "example.com/other/thing:2" has no local mapping',
    );
  });
});

describe("delete and cancel", () => {
  it("delete kills running tasks, shows DELETION_IN_PROGRESS, then the job is gone and nothing is left running", async () => {
    batch = localBatch();
    const sleep = markedSleep();
    const created = await batch.createJob(
      PARENT,
      "doomed",
      scriptJob(sleep.command, { taskCount: 3, parallelism: 3 }),
    );
    const name = created.name as string;
    const waiting = batch.waitForJob(name).catch((e: unknown) => e);
    expect(await eventually(() => processesMatching(sleep.marker).length === 3)).toBe(true);
    const op = batch.deleteJob(name);
    expect(op).toMatchObject({ done: false, metadata: { verb: "delete", target: name } });
    expect(status(batch.getJob(name)).state).toBe("DELETION_IN_PROGRESS");
    expect(await eventually(() => batch?.getOperation(op.name).done === true)).toBe(true);
    expect(batch.getOperation(op.name).response).toEqual({
      "@type": "type.googleapis.com/google.protobuf.Empty",
    });
    expect(() => batch?.getJob(name)).toThrow(`Job ${name} not found.`);
    expect(((await waiting) as BatchApiError).status).toBe("NOT_FOUND");
    expect(processesMatching(sleep.marker)).toEqual([]);
    expect(liveTaskGroups()).toBe(0);
  });

  it("cancel stops running tasks, leaves the rest UNEXECUTED and ends CANCELLED", async () => {
    batch = localBatch();
    const sleep = markedSleep();
    const created = await batch.createJob(
      PARENT,
      "cancelled",
      scriptJob(sleep.command, { taskCount: 3, parallelism: 1 }),
    );
    const name = created.name as string;
    expect(await eventually(() => processesMatching(sleep.marker).length === 1)).toBe(true);
    batch.cancelJob(name);
    const job = await batch.waitForJob(name);
    expect(status(job).state).toBe("CANCELLED");
    expect(status(job).taskGroups.group0?.counts).toEqual({ FAILED: "1", UNEXECUTED: "2" });
    expect(descriptions(status(job).statusEvents).slice(-2)).toEqual([
      `Job state is set from RUNNING to CANCELLATION_IN_PROGRESS for job ${name}.`,
      `Job state is set from CANCELLATION_IN_PROGRESS to CANCELLED for job ${name}.`,
    ]);
    expect(processesMatching(sleep.marker)).toEqual([]);
    expect(() => batch?.cancelJob(name)).toThrow("cannot be cancelled");
  });
});
