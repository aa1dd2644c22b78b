import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../core/logger.ts";
import { BatchApiError } from "../../../local/batch/errors.ts";
import { checkJobId } from "../../../local/batch/names.ts";
import { enumsAsNumbers } from "../../../local/batch/schema.ts";
import { LocalBatch } from "../../../local/batch/service.ts";
import { validateJob } from "../../../local/batch/spec.ts";
import { tempDir } from "../../support/temp.ts";
import { thrownBy } from "../../support/thrown.ts";

const NAME = "projects/p/locations/europe-west2/jobs/j";
const script = (text = "true") => ({ script: { text } });
const job = (group: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  taskGroups: [{ taskSpec: { runnables: [script()] }, ...group }],
  ...extra,
});

describe("job id rule", () => {
  it.each(["a", "job-1", "bl-demo-acme-ev-0123456789abcdef", `a${"b".repeat(62)}`])("accepts %s", (id) => {
    expect(() => checkJobId(id)).not.toThrow();
  });

  it.each(["", "Job", "1job", "-job", "job-", "job_1", "job.1", `a${"b".repeat(63)}`])(
    "refuses %j with INVALID_ARGUMENT naming the rule",
    (id) => {
      const err = thrownBy(BatchApiError, () => checkJobId(id));
      expect(err.code).toBe(400);
      expect(err.status).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain(`Job id "${id}" is invalid`);
      expect(err.message).toContain("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$");
      expect(err.toJSON()).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    },
  );
});

describe("request body against the Batch v1 protos", () => {
  it("names an unknown field and where it is, as the JSON front end does", () => {
    const err = thrownBy(BatchApiError, () => validateJob({ ...job(), colour: "blue" }, NAME));
    expect(err.message).toBe(
      `Invalid JSON payload received. Unknown name "colour" at 'job': Cannot find field.`,
    );
    expect(err.violations).toEqual([{ field: "job", description: err.message }]);
  });

  it("finds unknown fields deep inside, with the snake_case path", () => {
    const body = {
      taskGroups: [{ taskSpec: { runnables: [{ script: { text: "x", shell: "bash" } }] }, taskCountt: 3 }],
    };
    const err = thrownBy(BatchApiError, () => validateJob(body, NAME));
    expect(err.message.split("\n")).toEqual([
      `Invalid JSON payload received. Unknown name "shell" at 'job.task_groups[0].task_spec.runnables[0].script': Cannot find field.`,
      `Invalid JSON payload received. Unknown name "taskCountt" at 'job.task_groups[0]': Cannot find field.`,
    ]);
  });

  it("refuses an enum value the proto does not define", () => {
    const body = job({
      taskSpec: {
        runnables: [script()],
        lifecyclePolicies: [{ action: "RETRY", actionCondition: { exitCodes: [1] } }],
      },
    });
    const err = thrownBy(BatchApiError, () => validateJob(body, NAME));
    expect(err.message).toBe(
      "Invalid value at 'job.task_groups[0].task_spec.lifecycle_policies[0].action' " +
        '(type.googleapis.com/google.cloud.batch.v1.LifecyclePolicy.Action), "RETRY"',
    );
  });

  it("refuses values of the wrong type", () => {
    const body = job(
      {
        taskSpec: { runnables: [script()], maxRetryCount: 1.5, maxRunDuration: "1h" },
        requireHostsFile: "yes",
      },
      { priority: "high" },
    );
    const lines = thrownBy(BatchApiError, () => validateJob(body, NAME)).message.split("\n");
    // In the order the body lists them: taskGroups first, then priority.
    expect(lines).toEqual([
      "Invalid value at 'job.task_groups[0].task_spec.max_retry_count' (TYPE_INT32), 1.5",
      `Invalid value at 'job.task_groups[0].task_spec.max_run_duration' (type.googleapis.com/google.protobuf.Duration), "1h"`,
      `Invalid value at 'job.task_groups[0].require_hosts_file' (TYPE_BOOL), "yes"`,
      `Invalid value at 'job.priority' (TYPE_INT64), "high"`,
    ]);
  });

  it("refuses both members of a oneof", () => {
    const body = { taskGroups: [{ taskSpec: { runnables: [{ script: { text: "a", path: "/b" } }] } }] };
    expect(thrownBy(BatchApiError, () => validateJob(body, NAME)).message).toContain(
      "Oneof field 'command' is already set",
    );
  });

  it("takes the JSON mapping's other spellings: snake_case, int64 as number, enum by number, one item for a list", () => {
    const parsed = validateJob(
      {
        task_groups: {
          task_count: 2,
          task_spec: { runnables: script("echo hi"), lifecycle_policies: [{ action: 2 }] },
        },
        priority: 7,
        logs_policy: { destination: "CLOUD_LOGGING" },
      },
      NAME,
    );
    expect(parsed.priority).toBe("7");
    expect(parsed.logsPolicy).toEqual({ destination: "CLOUD_LOGGING" });
    expect(parsed.taskGroups?.[0]?.taskCount).toBe("2");
    expect(parsed.taskGroups?.[0]?.taskSpec?.runnables).toEqual([{ script: { text: "echo hi" } }]);
    expect(parsed.taskGroups?.[0]?.taskSpec?.lifecyclePolicies).toEqual([{ action: "FAIL_TASK" }]);
  });

  it("ignores output-only fields in the request", () => {
    const parsed = validateJob(
      { ...job(), name: "projects/x/locations/y/jobs/other", uid: "u", status: { state: "SUCCEEDED" } },
      NAME,
    );
    expect(parsed.name).toBeUndefined();
    expect(parsed.uid).toBeUndefined();
    expect(parsed.status).toBeUndefined();
  });

  it("writes enums as numbers for clients that ask for enum-encoding=int", () => {
    const parsed = validateJob(job({}, { logsPolicy: { destination: "PATH", logsPath: "/tmp/x" } }), NAME);
    const numeric = enumsAsNumbers("google.cloud.batch.v1.Job", parsed) as {
      logsPolicy: { destination: number };
    };
    expect(numeric.logsPolicy.destination).toBe(2);
  });
});

describe("service rules beyond the schema", () => {
  it("requires task groups, a task spec and at least one runnable", () => {
    expect(thrownBy(BatchApiError, () => validateJob({}, NAME)).message).toBe(
      "job.task_groups: taskGroups is required: a job needs exactly one task group",
    );
    expect(thrownBy(BatchApiError, () => validateJob({ taskGroups: [{ taskCount: 1 }] }, NAME)).message).toBe(
      "job.task_groups[0].task_spec: taskSpec is required",
    );
    expect(
      thrownBy(BatchApiError, () => validateJob({ taskGroups: [{ taskSpec: { runnables: [] } }] }, NAME))
        .message,
    ).toBe(
      "job.task_groups[0].task_spec.runnables: a task spec needs at least one runnable (script, container or barrier)",
    );
    expect(
      thrownBy(BatchApiError, () =>
        validateJob({ taskGroups: [{ taskSpec: { runnables: [{ displayName: "x" }] } }] }, NAME),
      ).message,
    ).toBe("job.task_groups[0].task_spec.runnables[0]: a runnable needs one of container, script or barrier");
  });

  it("takes one task group only", () => {
    const body = { taskGroups: [job().taskGroups[0], job().taskGroups[0]] };
    expect(thrownBy(BatchApiError, () => validateJob(body, NAME)).message).toBe(
      "job.task_groups: Only one TaskGroup is supported now; the job has 2",
    );
  });

  it("holds the job limits: tasks, parallelism, retries, priority, task environments", () => {
    const lines = thrownBy(BatchApiError, () =>
      validateJob(
        {
          priority: 100,
          taskGroups: [
            {
              taskCount: 100_001,
              parallelism: 5_001,
              taskEnvironments: Array.from({ length: 201 }, () => ({})),
              taskSpec: { runnables: [script()], maxRetryCount: 11 },
            },
          ],
        },
        NAME,
      ),
    ).message.split("\n");
    expect(lines).toEqual([
      "job.priority: priority must be in [0, 100), got 100",
      "job.task_groups[0].task_spec.max_retry_count: maxRetryCount must be in [0, 10], got 11",
      "job.task_groups[0].task_environments: at most 200 taskEnvironments, got 201",
      "job.task_groups[0].task_count: taskCount must be between 1 and 100000, got 100001",
      "job.task_groups[0].parallelism: parallelism must be between 1 and 5000, got 5001",
    ]);
  });

  it("wants parallelism 1 for IN_ORDER", () => {
    const err = thrownBy(BatchApiError, () =>
      validateJob(job({ schedulingPolicy: "IN_ORDER", parallelism: 2, taskCount: 3 }), NAME),
    );
    expect(err.message).toBe(
      "job.task_groups[0].parallelism: Field parallelism must be 1 if the scheduling_policy is IN_ORDER",
    );
  });

  it("says clearly what the local service does not support (container volumes it emulates: see vm-paths)", () => {
    const lines = thrownBy(BatchApiError, () =>
      validateJob(
        {
          notifications: [{ pubsubTopic: "projects/p/topics/t" }],
          taskGroups: [
            {
              taskSpec: {
                runnables: [{ barrier: { name: "b" } }, { container: { imageUri: "x", volumes: ["/a:/b"] } }],
                volumes: [{ gcs: { remotePath: "bucket" }, mountPath: "/mnt/b" }],
                environment: { encryptedVariables: { keyName: "k", cipherText: "c" } },
              },
            },
          ],
        },
        NAME,
      ),
    ).message.split("\n");
    expect(lines).toEqual([
      "job.notifications: notifications (Pub/Sub job and task state messages) are not supported by the local Batch service",
      "job.task_groups[0].task_spec.runnables[0].barrier: barrier runnables are not supported by the local Batch service",
      "job.task_groups[0].task_spec.volumes: volumes (GCS, NFS, disks) are not supported by the local Batch service",
      "job.task_groups[0].task_spec.environment.encrypted_variables: encryptedVariables (Cloud KMS) is not supported by the local Batch service; use variables or secretVariables",
    ]);
  });

  it("checks labels and secret references", () => {
    const lines = thrownBy(BatchApiError, () =>
      validateJob(
        job(
          { taskSpec: { runnables: [script()], environment: { secretVariables: { TOKEN: "my-token" } } } },
          { labels: { "goog-x": "a", Bad: "b", ok: "UPPER" } },
        ),
        NAME,
      ),
    ).message.split("\n");
    expect(lines).toEqual([
      'job.labels: label "goog-x": names starting with "goog-" or "google-" are reserved for predefined labels',
      `job.labels: label key "Bad" is invalid: 1-63 lower-case letters, digits, '_' or '-', starting with a lower-case letter`,
      `job.labels: label "ok" has an invalid value "UPPER": at most 63 lower-case letters, digits, '_' or '-'`,
      'job.task_groups[0].task_spec.environment.secret_variables: secret variable TOKEN: "my-token" is not a Secret Manager secret version (projects/*/secrets/*/versions/*)',
    ]);
  });

  it("fills in what the service fills in", () => {
    const one = validateJob(job(), NAME).taskGroups?.[0];
    expect(one).toMatchObject({
      name: `${NAME}/taskGroups/group0`,
      taskCount: "1",
      parallelism: "1",
      schedulingPolicy: "AS_SOON_AS_POSSIBLE",
    });
    expect(validateJob(job({ taskCount: 40 }), NAME).taskGroups?.[0]?.parallelism).toBe("40");
    expect(validateJob(job({ taskCount: 40, parallelism: 4 }), NAME).taskGroups?.[0]?.parallelism).toBe("4");
    expect(
      validateJob(job({ taskCount: 3, schedulingPolicy: "IN_ORDER" }), NAME).taskGroups?.[0]?.parallelism,
    ).toBe("1");
  });

  it("takes the task count from taskEnvironments when they are given", () => {
    const group = validateJob(job({ taskCount: 9, taskEnvironments: [{ variables: { A: "1" } }, {}] }), NAME)
      .taskGroups?.[0];
    expect(group?.taskCount).toBe("2");
  });

  it("refuses a job definition over 1 MB", () => {
    const err = thrownBy(BatchApiError, () =>
      validateJob(job({}, { labels: { big: "x".repeat(1_000_001) } }), NAME),
    );
    expect(err.message).toMatch(/^The job definition is \d+ bytes, more than the 1000000-byte limit\.$/);
  });
});

describe("the pipeline's job", () => {
  it("accepts the body workflows/batch.workflows.yaml builds (demo client values)", () => {
    const body = JSON.parse(readFileSync("test/fixtures/batch/pipeline-job.json", "utf8")) as unknown;
    const parsed = validateJob(
      body,
      "projects/batchline-demo/locations/europe-west2/jobs/bl-demo-demo-ev-0123456789abcdef",
    );
    const group = parsed.taskGroups?.[0];
    expect(group).toMatchObject({
      taskCount: "3",
      parallelism: "2",
      schedulingPolicy: "AS_SOON_AS_POSSIBLE",
    });
    expect(group?.taskSpec?.lifecyclePolicies).toHaveLength(2);
    expect(group?.taskSpec?.computeResource).toEqual({ cpuMilli: "1000", memoryMib: "2048" });
    expect(parsed.allocationPolicy).toEqual({
      instances: [{ policy: { machineType: "e2-standard-2", provisioningModel: "SPOT" } }],
      serviceAccount: { email: "blw-demo-demo@batchline-demo.iam.gserviceaccount.com" },
      labels: { "batchline-product": "demo", "batchline-client": "demo" },
    });
  });
});

describe("LocalBatch.createJob", () => {
  let batch: LocalBatch | undefined;
  afterEach(async () => {
    await batch?.close();
    batch = undefined;
  });
  const make = () =>
    new LocalBatch({
      logger: createLogger({ component: "test", level: "silent" }),
      logDir: tempDir("batchline-unit-logs-"),
    });

  it("answers ALREADY_EXISTS (409) for a job id taken in the same project and location", async () => {
    batch = make();
    await batch.createJob("projects/p/locations/l", "dup", job());
    const err = await batch.createJob("projects/p/locations/l", "dup", job()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchApiError);
    expect((err as BatchApiError).code).toBe(409);
    expect((err as BatchApiError).status).toBe("ALREADY_EXISTS");
    expect((err as BatchApiError).toJSON()).toEqual({
      error: {
        code: 409,
        message: "Job projects/p/locations/l/jobs/dup already exists.",
        status: "ALREADY_EXISTS",
      },
    });
  });

  it("allows the same id in another location", async () => {
    batch = make();
    await batch.createJob("projects/p/locations/l", "same", job());
    const other = await batch.createJob("projects/p/locations/m", "same", job());
    expect(other.name).toBe("projects/p/locations/m/jobs/same");
  });

  it("makes up a valid id when none is given, and refuses a malformed parent", async () => {
    batch = make();
    const created = await batch.createJob("projects/p/locations/l", undefined, job());
    expect(created.name).toMatch(/^projects\/p\/locations\/l\/jobs\/job-[0-9a-f-]{36}$/);
    const err = await batch.createJob("projects/p", "x", job()).catch((e: unknown) => e);
    expect((err as BatchApiError).status).toBe("INVALID_ARGUMENT");
  });

  it("returns the same job for a repeated request id instead of ALREADY_EXISTS", async () => {
    batch = make();
    const requestId = "7c0b5f4e-2d8a-4b1e-9f3c-0a1b2c3d4e5f";
    const first = await batch.createJob("projects/p/locations/l", "idem", job(), { requestId });
    const again = await batch.createJob("projects/p/locations/l", "idem", job(), { requestId });
    expect(again.uid).toBe(first.uid);
    const bad = await batch
      .createJob("projects/p/locations/l", "idem2", job(), { requestId: "nope" })
      .catch((e: unknown) => e);
    expect((bad as BatchApiError).status).toBe("INVALID_ARGUMENT");
  });

  it("starts a job QUEUED with name, uid, times and labels", async () => {
    batch = make();
    const created = await batch.createJob(
      "projects/p/locations/l",
      "fresh",
      job({}, { labels: { team: "data" } }),
    );
    expect(created).toMatchObject({
      name: "projects/p/locations/l/jobs/fresh",
      labels: { team: "data" },
      status: { state: "QUEUED", runDuration: "0s" },
    });
    expect(created.uid).toMatch(/^fresh-[0-9a-f-]{36}$/);
    expect(Date.parse(created.createTime as string)).not.toBeNaN();
  });
});
