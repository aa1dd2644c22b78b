import { BatchServiceClient } from "@google-cloud/batch";
import { PassThroughClient } from "google-auth-library";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchServer, startBatchServer } from "../../../local/batch/server.ts";
import type { LocalBatch } from "../../../local/batch/service.ts";
import { eventually, localBatch, PARENT } from "./helpers.ts";

type ClientOptions = NonNullable<ConstructorParameters<typeof BatchServiceClient>[0]>;

let batch: LocalBatch;
let server: BatchServer;
let client: BatchServiceClient;

beforeAll(async () => {
  batch = localBatch();
  server = await startBatchServer(batch);
  // The client library's documented REST transport, plain HTTP, google-auth-library's no-credentials client
  // ("Local Emulators"): nothing patched. The cast only bridges two installed copies of google-auth-library
  // (10.9.1 at the top, 10.5.0 under google-gax) whose private fields make their class types differ.
  const authClient = new PassThroughClient() as unknown as ClientOptions["authClient"];
  client = new BatchServiceClient({
    apiEndpoint: "127.0.0.1",
    port: server.port,
    protocol: "http",
    fallback: true,
    authClient,
  });
});

afterAll(async () => {
  await client.close();
  await server.close();
  await batch.close();
});

const simpleJob = (text = "echo hi", taskCount = 2) => ({
  taskGroups: [
    { taskCount, taskSpec: { runnables: [{ script: { text } }], maxRunDuration: { seconds: 60 } } },
  ],
  labels: { suite: "rest" },
});

describe("official @google-cloud/batch client over REST", () => {
  it("creates, gets, lists jobs and tasks, and deletes through the long-running operation", async () => {
    const [created] = await client.createJob({ parent: PARENT, jobId: "client-job", job: simpleJob() });
    expect(created.name).toBe(`${PARENT}/jobs/client-job`);
    expect(created.status?.state).toBe("QUEUED");
    expect(created.taskGroups?.[0]?.taskSpec?.maxRunDuration?.seconds).toBe("60");

    await batch.waitForJob(created.name as string);
    const [job] = await client.getJob({ name: created.name });
    expect(job.status?.state).toBe("SUCCEEDED");
    expect(job.labels).toEqual({ suite: "rest" });
    expect(job.status?.taskGroups?.group0?.counts).toEqual({ SUCCEEDED: "2" });
    expect(job.status?.statusEvents?.map((e) => e.description)).toContain(
      `Job state is set from RUNNING to SUCCEEDED for job ${created.name}.`,
    );

    const [jobs] = await client.listJobs({ parent: PARENT, filter: "labels.suite=rest" });
    expect(jobs.map((j) => j.name)).toContain(created.name);

    const [tasks] = await client.listTasks({ parent: `${created.name}/taskGroups/group0` });
    expect(tasks.map((t) => [t.name, t.status?.state])).toEqual([
      [`${created.name}/taskGroups/group0/tasks/0`, "SUCCEEDED"],
      [`${created.name}/taskGroups/group0/tasks/1`, "SUCCEEDED"],
    ]);
    const [task] = await client.getTask({ name: `${created.name}/taskGroups/group0/tasks/1` });
    expect(task.status?.statusEvents?.map((e) => e.taskState)).toEqual(["ASSIGNED", "RUNNING", "SUCCEEDED"]);

    const [operation] = await client.deleteJob({ name: created.name });
    await operation.promise();
    expect(operation.done).toBe(true);
    await expect(client.getJob({ name: created.name })).rejects.toThrow(/NOT_FOUND/);
  });

  it("gets ALREADY_EXISTS for a taken job id and INVALID_ARGUMENT for a bad one", async () => {
    await client.createJob({ parent: PARENT, jobId: "client-dup", job: simpleJob("true", 1) });
    await expect(
      client.createJob({ parent: PARENT, jobId: "client-dup", job: simpleJob("true", 1) }),
    ).rejects.toThrow(/ALREADY_EXISTS/);
    await expect(
      client.createJob({ parent: PARENT, jobId: "Client_Dup", job: simpleJob("true", 1) }),
    ).rejects.toThrow(/INVALID_ARGUMENT/);
  });
});

describe("REST endpoints with plain fetch", () => {
  const url = (path: string) => `${server.url}/v1/${path}`;
  const post = (path: string, body: unknown) =>
    fetch(url(path), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("answers errors as Google API error bodies: 400, 404, 409", async () => {
    const bad = await post(`${PARENT}/jobs?jobId=fetch-bad`, {
      taskGroups: [{ taskSpec: { runnables: [] } }],
      extra: 1,
    });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as {
      error: { code: number; status: string; message: string; details: unknown[] };
    };
    expect(badBody.error).toMatchObject({
      code: 400,
      status: "INVALID_ARGUMENT",
      message: `Invalid JSON payload received. Unknown name "extra" at 'job': Cannot find field.`,
    });
    expect(badBody.error.details).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [{ field: "job", description: badBody.error.message }],
      },
    ]);

    const missing = await fetch(url(`${PARENT}/jobs/none`));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: { code: 404, message: `Job ${PARENT}/jobs/none not found.`, status: "NOT_FOUND" },
    });

    const body = { taskGroups: [{ taskSpec: { runnables: [{ script: { text: "true" } }] } }] };
    expect((await post(`${PARENT}/jobs?job_id=fetch-twice`, body)).status).toBe(200);
    const again = await post(`${PARENT}/jobs?jobId=fetch-twice`, body);
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { status: string } }).error.status).toBe("ALREADY_EXISTS");
  });

  it("refuses unknown query parameters as the front end does", async () => {
    const res = await fetch(url(`${PARENT}/jobs?colour=red`));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      `Invalid JSON payload received. Unknown name "colour": Cannot bind query parameter. Field 'colour' could not be found in request message.`,
    );
  });

  it("writes enums as numbers when asked with $alt=json;enum-encoding=int", async () => {
    const res = await post(`${PARENT}/jobs?jobId=fetch-enums&%24alt=json%3Benum-encoding%3Dint`, {
      taskGroups: [{ taskSpec: { runnables: [{ script: { text: "true" } }] } }],
      logsPolicy: { destination: "CLOUD_LOGGING" },
    });
    const job = (await res.json()) as { status: { state: number }; logsPolicy: { destination: number } };
    expect(job.status.state).toBe(1);
    expect(job.logsPolicy.destination).toBe(1);
  });

  it("DELETE returns an Operation that operations.get reports done", async () => {
    await post(`${PARENT}/jobs?jobId=fetch-delete`, {
      taskGroups: [{ taskSpec: { runnables: [{ script: { text: "sleep 5" } }] } }],
    });
    const res = await fetch(url(`${PARENT}/jobs/fetch-delete`), { method: "DELETE" });
    const op = (await res.json()) as { name: string; done: boolean; metadata: Record<string, unknown> };
    expect(op.name).toMatch(
      /^projects\/batchline-test\/locations\/europe-west2\/operations\/operation-\d+-[0-9a-f-]+$/,
    );
    expect(op.metadata).toMatchObject({
      "@type": "type.googleapis.com/google.cloud.batch.v1.OperationMetadata",
      target: `${PARENT}/jobs/fetch-delete`,
      verb: "delete",
      apiVersion: "v1",
    });
    const done = await eventually(async () => {
      const polled = (await (await fetch(url(op.name))).json()) as { done: boolean };
      return polled.done;
    });
    expect(done).toBe(true);
    expect((await fetch(url(`${PARENT}/jobs/fetch-delete`))).status).toBe(404);
  });
});
