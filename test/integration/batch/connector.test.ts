// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerBatchConnectors } from "../../../local/batch/connector.ts";
import { type BatchServer, startBatchServer } from "../../../local/batch/server.ts";
import type { LocalBatch } from "../../../local/batch/service.ts";
import {
  ConnectorRegistry,
  type ExecutionRecord,
  parseWorkflow,
  runWorkflow,
} from "../../../local/workflows/index.ts";
import { localBatch, PARENT } from "./helpers.ts";

let batch: LocalBatch;
let server: BatchServer;
let registry: ConnectorRegistry;

beforeAll(async () => {
  batch = localBatch();
  server = await startBatchServer(batch);
  registry = registerBatchConnectors(new ConnectorRegistry(), server.url);
});

afterAll(async () => {
  await server.close();
  await batch.close();
});

/** Fast polling, so the connector notices the end of a 100 ms job quickly. */
const POLL = `
            connector_params:
              polling_policy:
                initial_delay: 0.05
                multiplier: 1
                max_delay: 0.05`;

function run(steps: string): Promise<ExecutionRecord> {
  const source = `main:\n  steps:\n${steps}`;
  return runWorkflow(parseWorkflow(source, { connectors: registry }), {
    connectors: registry,
    logSink: () => {},
  });
}

function createStep(step: string, jobId: string, text: string, extra = POLL): string {
  return `
    - ${step}:
        try:
          call: googleapis.batch.v1.projects.locations.jobs.create
          args:
            parent: ${PARENT}
            jobId: ${jobId}
            body:
              taskGroups:
                taskSpec:
                  runnables:
                    script:
                      text: "${text}"
                taskCount: 2${extra}
          result: ${step}Result
        except:
          as: e
          steps:
            - ${step}Keep:
                assign:
                  - ${step}Error: \${e}`;
}

describe("Workflows Batch connector", () => {
  it("jobs.create waits until the job SUCCEEDED and returns it", async () => {
    const rec = await run(`${createStep("create", "wf-ok", "sleep 0.1")}
    - done:
        return: \${createResult}`);
    expect(rec.state).toBe("SUCCEEDED");
    const job = rec.result as {
      name: string;
      status: { state: string; taskGroups: { group0: { counts: unknown } } };
    };
    expect(job.name).toBe(`${PARENT}/jobs/wf-ok`);
    expect(job.status.state).toBe("SUCCEEDED");
    expect(job.status.taskGroups.group0.counts).toEqual({ SUCCEEDED: "2" });
  });

  it("skip_polling returns the job as created", async () => {
    const rec = await run(`${createStep(
      "create",
      "wf-skip",
      "sleep 0.1",
      `
            connector_params:
              skip_polling: true`,
    )}
    - done:
        return: \${createResult.status.state}`);
    expect(rec.result).toBe("QUEUED");
    await batch.waitForJob(`${PARENT}/jobs/wf-skip`);
  });

  it("a FAILED job raises OperationError carrying the final job", async () => {
    const rec = await run(`${createStep("create", "wf-fail", "exit 3")}
    - done:
        return: \${createError}`);
    const error = rec.result as {
      tags: string[];
      message: string;
      operation: { name: string; status: { state: string } };
    };
    expect(error.tags).toEqual(["OperationError"]);
    expect(error.operation.name).toBe(`${PARENT}/jobs/wf-fail`);
    expect(error.operation.status.state).toBe("FAILED");
    expect(error.message).toContain(`job ${PARENT}/jobs/wf-fail ended in state FAILED`);
    expect(error.message).toContain("with exit code 3.");
  });

  it("ALREADY_EXISTS arrives as an HttpError map with code 409 and the Google error body", async () => {
    const rec = await run(`${createStep("first", "wf-dup", "true")}${createStep("second", "wf-dup", "true")}
    - done:
        return: \${secondError}`);
    const error = rec.result as {
      code: number;
      tags: string[];
      body: unknown;
      headers: Record<string, string>;
    };
    expect(error.code).toBe(409);
    expect(error.tags).toEqual(["HttpError"]);
    expect(error.body).toEqual({
      error: { code: 409, message: `Job ${PARENT}/jobs/wf-dup already exists.`, status: "ALREADY_EXISTS" },
    });
    expect(error.headers["Content-Type"]).toContain("application/json");
  });

  it("an invalid body arrives as an HttpError with code 400", async () => {
    const rec = await run(`${createStep("create", "Bad_Id", "true")}
    - done:
        return: \${createError.code}`);
    expect(rec.result).toBe(400);
  });

  it("jobs.get reads a job, jobs.delete waits for its operation, tasks.list lists tasks", async () => {
    const rec = await run(`${createStep("create", "wf-read", "true")}
    - read:
        call: googleapis.batch.v1.projects.locations.jobs.get
        args:
          name: ${PARENT}/jobs/wf-read
        result: job
    - tasks:
        call: googleapis.batch.v1.projects.locations.jobs.taskGroups.tasks.list
        args:
          parent: ${PARENT}/jobs/wf-read/taskGroups/group0
        result: tasks
    - remove:
        call: googleapis.batch.v1.projects.locations.jobs.delete
        args:
          name: ${PARENT}/jobs/wf-read${POLL.replaceAll("            ", "          ")}
        result: deleted
    - gone:
        try:
          call: googleapis.batch.v1.projects.locations.jobs.get
          args:
            name: ${PARENT}/jobs/wf-read
        except:
          as: e
          steps:
            - keep:
                assign:
                  - goneCode: \${e.code}
    - done:
        return:
          state: \${job.status.state}
          taskCount: \${len(tasks.tasks)}
          deleted: \${deleted}
          goneCode: \${goneCode}`);
    expect(rec.result).toEqual({
      state: "SUCCEEDED",
      taskCount: 2,
      deleted: { "@type": "type.googleapis.com/google.protobuf.Empty" },
      goneCode: 404,
    });
  });
});
