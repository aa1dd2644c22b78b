// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ExecutionsClient, WorkflowsClient } from "@google-cloud/workflows";
import { PassThroughClient } from "google-auth-library";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkflowEngine } from "../../../local/workflows/index.ts";
import { startWorkflowsServer, type WorkflowsServer } from "../../../local/workflows/server.ts";
import { findGcloud } from "../../support/gcloud.ts";
import { tempDir } from "../../support/temp.ts";

// The local workflow engine behind the Workflow Executions v1 and Workflows v1 REST APIs, driven by the
// official @google-cloud/workflows clients over their REST transport, by plain fetch, and by gcloud where it
// is installed.

const PROJECT = "wf-rest-test";
const LOCATION = "europe-west2";
const PARENT = `projects/${PROJECT}/locations/${LOCATION}`;
const wf = (id: string) => `${PARENT}/workflows/${id}`;

const GREET = `
main:
  params: [args]
  steps:
    - build:
        assign:
          - greeting: \${"Hello " + args.name}
    - done:
        return:
          greeting: \${greeting}
          n: \${args.n}
`;
const FAIL = `
- check:
    raise:
      code: 7
      message: boom
`;
// Sleeps until cancelled (5 minutes is far longer than any test waits).
const SLEEPY = `
- nap:
    call: sys.sleep
    args:
      seconds: 300
- done:
    return: woke
`;

type ClientOptions = NonNullable<ConstructorParameters<typeof ExecutionsClient>[0]>;

let engine: WorkflowEngine;
let server: WorkflowsServer;
let executions: ExecutionsClient;
let workflows: WorkflowsClient;

beforeAll(async () => {
  engine = new WorkflowEngine({ projectId: PROJECT, location: LOCATION, logSink: () => {} });
  engine.deploy("greet", GREET);
  engine.deploy("fail", FAIL);
  engine.deploy("sleepy", SLEEPY);
  server = await startWorkflowsServer(engine);
  // As for the Batch client: the documented REST transport, plain HTTP, google-auth-library's no-credentials
  // client. The cast only bridges two installed copies of google-auth-library.
  const options: ClientOptions = {
    apiEndpoint: "127.0.0.1",
    port: server.port,
    protocol: "http",
    fallback: true,
    authClient: new PassThroughClient() as unknown as ClientOptions["authClient"],
  };
  executions = new ExecutionsClient(options);
  workflows = new WorkflowsClient(options);
});

afterAll(async () => {
  await executions?.close();
  await workflows?.close();
  // Nothing may be left sleeping once the file is done.
  for (const e of engine?.list() ?? []) if (e.state === "ACTIVE") await engine.cancel(e.id);
  await server?.close();
});

/** Polls `get` until `done` holds (the way a caller of the API waits), failing after `ms`. */
async function until<T>(get: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not done after ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * How a call through the clients' REST transport fails: the auth client's fetch (gaxios) rejects a non-2xx
 * answer itself, before google-gax could turn it into a GoogleError, so what arrives is a GaxiosError whose
 * `code` is the HTTP status and whose message is the Google API error body.
 */
async function rejection(call: Promise<unknown>): Promise<{ http: number; error: Record<string, unknown> }> {
  try {
    await call;
  } catch (err) {
    const e = err as { code: number; message: string };
    return { http: e.code, error: (JSON.parse(e.message) as { error: Record<string, unknown> }).error };
  }
  throw new Error("the call succeeded");
}

const getExecution = (name: string) => async () => (await executions.getExecution({ name }))[0];

describe("official ExecutionsClient over REST", () => {
  it("creates an execution with an argument, and gets it until it has succeeded with its result", async () => {
    const [created] = await executions.createExecution({
      parent: wf("greet"),
      execution: {
        argument: JSON.stringify({ name: "client", n: 3 }),
        labels: { suite: "rest", case: "create" },
        callLogLevel: "LOG_ERRORS_ONLY",
      },
    });
    expect(created.name).toMatch(new RegExp(`^${wf("greet")}/executions/[0-9a-f-]{36}$`));
    expect(created.state).toBe("ACTIVE");
    expect(created.workflowRevisionId).toBe(engine.getWorkflow("greet").revisionId);

    const done = await until(getExecution(created.name as string), (e) => e.state !== "ACTIVE");
    expect(done.state).toBe("SUCCEEDED");
    expect(JSON.parse(done.result as string)).toEqual({ greeting: "Hello client", n: 3 });
    expect(JSON.parse(done.argument as string)).toEqual({ name: "client", n: 3 });
    expect(done.labels).toEqual({ suite: "rest", case: "create" });
    expect(done.callLogLevel).toBe("LOG_ERRORS_ONLY");
    expect(done.error).toBeNull();
    const start = Number(done.startTime?.seconds) * 1000 + (done.startTime?.nanos ?? 0) / 1e6;
    const end = Number(done.endTime?.seconds) * 1000 + (done.endTime?.nanos ?? 0) / 1e6;
    expect(end).toBeGreaterThanOrEqual(start);
    expect(done.duration).not.toBeNull();

    // The BASIC view leaves out argument, result, labels.
    const [basic] = await executions.getExecution({ name: created.name, view: "BASIC" });
    expect(basic).toMatchObject({ name: created.name, state: "SUCCEEDED", argument: "", result: "" });
    expect(basic.labels).toEqual({});
  });

  it("reports a failing workflow as FAILED with the error's payload and context", async () => {
    const [created] = await executions.createExecution({ parent: wf("fail"), execution: {} });
    const failed = await until(getExecution(created.name as string), (e) => e.state !== "ACTIVE");
    expect(failed.state).toBe("FAILED");
    expect(JSON.parse(failed.error?.payload as string)).toEqual({ code: 7, message: "boom" });
    expect(failed.error?.context).toContain('in step "check", routine "main"');
    expect(failed.result).toBe("");
    expect(failed.argument).toBe("null");
  });

  it("lists newest first, filtered by state and label, page by page", async () => {
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const [e] = await executions.createExecution({
        parent: wf("greet"),
        execution: { argument: JSON.stringify({ name: `p${i}`, n: i }), labels: { suite: "paging" } },
      });
      names.push(e.name as string);
    }
    for (const name of names) await until(getExecution(name), (e) => e.state !== "ACTIVE");
    const newestFirst = [...names].reverse();

    // One page at a time, following nextPageToken by hand.
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const [page, , response] = await executions.listExecutions(
        { parent: wf("greet"), filter: 'labels.suite="paging"', pageSize: 2, pageToken },
        { autoPaginate: false },
      );
      expect(page.length).toBeLessThanOrEqual(2);
      // The default BASIC view: no argument or result.
      for (const e of page) expect(e.argument).toBe("");
      seen.push(...page.map((e) => e.name as string));
      pageToken = response?.nextPageToken || undefined;
      pages++;
    } while (pageToken);
    expect(seen).toEqual(newestFirst);
    expect(pages).toBe(3);

    // The client's own paging, FULL view, oldest first.
    const all: string[] = [];
    for await (const e of executions.listExecutionsAsync(
      {
        parent: wf("greet"),
        filter: 'labels.suite="paging" AND state="SUCCEEDED"',
        orderBy: "createTime",
        view: "FULL",
        pageSize: 2,
      },
      { autoPaginate: false },
    )) {
      expect(JSON.parse(e.result as string).greeting).toMatch(/^Hello p\d$/);
      all.push(e.name as string);
    }
    expect(all).toEqual(names);

    const [failedOnly] = await executions.listExecutions({ parent: wf("greet"), filter: "state=FAILED" });
    expect(failedOnly).toEqual([]);
  });

  it("cancels a sleeping execution, and refuses to cancel it again", async () => {
    const [created] = await executions.createExecution({ parent: wf("sleepy"), execution: {} });
    const name = created.name as string;
    // The engine says which step it is in.
    const sleeping = await until(getExecution(name), (e) => (e.status?.currentSteps?.length ?? 0) > 0);
    expect(sleeping.state).toBe("ACTIVE");
    expect(sleeping.status?.currentSteps).toEqual([{ routine: "main", step: "nap" }]);
    const [active] = await executions.listExecutions({ parent: wf("sleepy"), filter: 'stepName="nap"' });
    expect(active.map((e) => e.name)).toEqual([name]);

    const [cancelled] = await executions.cancelExecution({ name });
    expect(cancelled.state).toBe("CANCELLED");
    expect(cancelled.endTime).not.toBeNull();
    expect((await executions.getExecution({ name }))[0].state).toBe("CANCELLED");

    expect(await rejection(executions.cancelExecution({ name }))).toMatchObject({
      http: 400,
      error: {
        status: "FAILED_PRECONDITION",
        message: expect.stringMatching(/is CANCELLED and cannot be cancelled/),
      },
    });
  });

  it("answers NOT_FOUND for an unknown execution or workflow, INVALID_ARGUMENT for an argument that is not JSON", async () => {
    expect(await rejection(executions.getExecution({ name: `${wf("greet")}/executions/nope` }))).toEqual({
      http: 404,
      error: {
        code: 404,
        status: "NOT_FOUND",
        message: `Resource '${wf("greet")}/executions/nope' was not found`,
      },
    });
    // An execution is found only under its own workflow.
    const [e] = await executions.createExecution({ parent: wf("fail"), execution: {} });
    const id = (e.name as string).split("/").pop();
    expect(
      await rejection(executions.getExecution({ name: `${wf("greet")}/executions/${id}` })),
    ).toMatchObject({
      error: { status: "NOT_FOUND" },
    });
    expect(
      await rejection(executions.createExecution({ parent: wf("missing"), execution: {} })),
    ).toMatchObject({
      http: 404,
      error: { status: "NOT_FOUND", message: `Resource '${wf("missing")}' was not found` },
    });
    expect(
      await rejection(
        executions.listExecutions({ parent: `projects/other/locations/${LOCATION}/workflows/greet` }),
      ),
    ).toMatchObject({ http: 404, error: { status: "NOT_FOUND" } });
    expect(
      await rejection(
        executions.createExecution({ parent: wf("greet"), execution: { argument: "{not json" } }),
      ),
    ).toMatchObject({
      http: 400,
      error: { status: "INVALID_ARGUMENT", message: expect.stringContaining("not valid JSON") },
    });
    expect(
      await rejection(
        executions.createExecution({ parent: wf("greet"), execution: { labels: { Bad: "x" } } }),
      ),
    ).toMatchObject({ http: 400, error: { status: "INVALID_ARGUMENT" } });
  });
});

describe("official WorkflowsClient over REST", () => {
  it("gets and lists the deployed workflows", async () => {
    const [greet] = await workflows.getWorkflow({ name: wf("greet") });
    expect(greet).toMatchObject({
      name: wf("greet"),
      state: "ACTIVE",
      revisionId: engine.getWorkflow("greet").revisionId,
      sourceContents: GREET,
    });
    expect(greet.createTime).not.toBeNull();

    const [list] = await workflows.listWorkflows({ parent: PARENT });
    expect(list.map((w) => w.name)).toEqual([wf("greet"), wf("fail"), wf("sleepy")]);
    const byName: string[] = [];
    for await (const w of workflows.listWorkflowsAsync(
      { parent: PARENT, orderBy: "name desc", pageSize: 1 },
      { autoPaginate: false },
    )) {
      byName.push(w.name as string);
    }
    expect(byName).toEqual([wf("sleepy"), wf("greet"), wf("fail")]);

    expect(await rejection(workflows.getWorkflow({ name: wf("missing") }))).toMatchObject({
      http: 404,
      error: { status: "NOT_FOUND" },
    });
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

  it("answers errors as Google API error bodies", async () => {
    const missing = await fetch(url(`${wf("greet")}/executions/nope`));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: {
        code: 404,
        message: `Resource '${wf("greet")}/executions/nope' was not found`,
        status: "NOT_FOUND",
      },
    });

    const unknownField = await post(`${wf("greet")}/executions`, { argument: "{}", colour: "red" });
    expect(unknownField.status).toBe(400);
    expect(((await unknownField.json()) as { error: { message: string } }).error.message).toBe(
      `Invalid JSON payload received. Unknown name "colour" at 'execution': Cannot find field.`,
    );

    const notJson = await post(`${wf("greet")}/executions`, { argument: "{" });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { status: string } }).error.status).toBe("INVALID_ARGUMENT");

    const badToken = await fetch(url(`${wf("greet")}/executions?pageToken=xyz`));
    expect(badToken.status).toBe(400);
    const badOrder = await fetch(url(`${wf("greet")}/executions?orderBy=colour`));
    expect(badOrder.status).toBe(400);
  });

  it("resumes a listing after the last execution given, whatever started since", async () => {
    const start = async (label: string) =>
      (
        (await (await post(`${wf("greet")}/executions`, { labels: { suite: label } })).json()) as {
          name: string;
        }
      ).name;
    const first = await start("resume");
    const second = await start("resume");
    const list = async (query: string) =>
      (await (
        await fetch(url(`${wf("greet")}/executions?filter=labels.suite%3Dresume&${query}`))
      ).json()) as {
        executions: Array<{ name: string }>;
        nextPageToken?: string;
      };
    const page1 = await list("pageSize=1");
    expect(page1.executions.map((e) => e.name)).toEqual([second]);
    await start("resume"); // newer than both: an offset would now give `second` again
    const page2 = await list(`pageSize=1&pageToken=${page1.nextPageToken}`);
    expect(page2.executions.map((e) => e.name)).toEqual([first]);
    expect(page2.nextPageToken).toBeUndefined();
    // A token is only good for the request it came from.
    const other = await fetch(url(`${wf("greet")}/executions?pageSize=1&pageToken=${page1.nextPageToken}`));
    expect(other.status).toBe(400);
  });

  it("writes enums as numbers when asked with $alt=json;enum-encoding=int, and names otherwise", async () => {
    const created = (await (
      await post(`${wf("greet")}/executions?%24alt=json%3Benum-encoding%3Dint`, {
        argument: '{"name": "enum", "n": 1}',
        callLogLevel: 2,
      })
    ).json()) as { name: string; state: number; callLogLevel: number };
    expect(created.state).toBe(1);
    expect(created.callLogLevel).toBe(2);
    const done = await until(
      async () => (await (await fetch(url(created.name))).json()) as { state: string; callLogLevel: string },
      (e) => e.state !== "ACTIVE",
    );
    expect(done).toMatchObject({ state: "SUCCEEDED", callLogLevel: "LOG_ERRORS_ONLY" });
  });
});

const GCLOUD = findGcloud();

if (GCLOUD === undefined) {
  console.info(
    "gcloud is not on PATH: the `gcloud workflows` checks against the local endpoints are not run (install the Google Cloud CLI to run them).",
  );
} else {
  const gcloudPath = GCLOUD;
  describe("gcloud workflows pointed at the local endpoints", () => {
    let env: NodeJS.ProcessEnv;
    const where = () => ["--project", PROJECT, "--location", LOCATION];
    // Async, never spawnSync: the server answering gcloud runs in this process.
    const gcloud = async (...args: string[]) =>
      (await promisify(execFile)(gcloudPath, args, { env, timeout: 60_000 })).stdout;
    const json = async (...args: string[]) => JSON.parse(await gcloud(...args, "--format=json"));

    beforeAll(async () => {
      env = {
        ...process.env,
        CLOUDSDK_CONFIG: tempDir("wf-rest-gcloud-"),
        CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      };
      await gcloud("config", "set", "auth/disable_credentials", "true");
      await gcloud("config", "set", "api_endpoint_overrides/workflowexecutions", `${server.url}/`);
      await gcloud("config", "set", "api_endpoint_overrides/workflows", `${server.url}/`);
    });

    it("runs, describes, lists and cancels executions, and describes workflows", async () => {
      const ran = await json("workflows", "run", "greet", '--data={"name": "gcloud", "n": 2}', ...where());
      expect(ran.state).toBe("SUCCEEDED");
      expect(JSON.parse(ran.result)).toEqual({ greeting: "Hello gcloud", n: 2 });
      const id = (ran.name as string).split("/").pop() as string;

      const described = await json("workflows", "executions", "describe", id, "--workflow=greet", ...where());
      expect(described).toMatchObject({ name: ran.name, state: "SUCCEEDED", result: ran.result });

      const failed = await json("workflows", "run", "fail", ...where());
      expect(failed.state).toBe("FAILED");
      expect(JSON.parse(failed.error.payload)).toEqual({ code: 7, message: "boom" });

      const sleeping = await json("workflows", "execute", "sleepy", ...where());
      const sleepingId = (sleeping.name as string).split("/").pop() as string;
      const listed = await json("workflows", "executions", "list", "sleepy", "--page-size=1", ...where());
      expect(listed.map((e: { name: string }) => e.name)).toContain(sleeping.name);

      const cancelled = await json(
        "workflows",
        "executions",
        "cancel",
        sleepingId,
        "--workflow=sleepy",
        ...where(),
      );
      expect(cancelled.state).toBe("CANCELLED");
      await expect(
        gcloud("workflows", "executions", "cancel", sleepingId, "--workflow=sleepy", ...where()),
      ).rejects.toMatchObject({ stderr: expect.stringContaining("FAILED_PRECONDITION") });
      await expect(
        gcloud("workflows", "executions", "describe", "nope", "--workflow=greet", ...where()),
      ).rejects.toMatchObject({ stderr: expect.stringContaining("NOT_FOUND") });

      const workflow = await json("workflows", "describe", "greet", ...where());
      expect(workflow).toMatchObject({ name: wf("greet"), state: "ACTIVE", sourceContents: GREET });
      const names = (await json("workflows", "list", ...where())).map((w: { name: string }) => w.name);
      expect(names).toEqual([wf("greet"), wf("fail"), wf("sleepy")]);
    });
  });
}
