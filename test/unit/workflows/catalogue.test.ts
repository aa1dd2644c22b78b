// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalogueMethod, catalogueSource } from "../../../local/workflows/connectors/catalogue.ts";
import { createConnectorRegistry, parseWorkflow } from "../../../local/workflows/index.ts";
import { stdlibFunction } from "../../../local/workflows/stdlib/index.ts";
import { deployProblems, failure, result } from "./helpers.ts";

const CATALOGUE = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "local",
  "workflows",
  "connectors",
  "catalogue.json",
);

describe("connector catalogue", () => {
  it("is generated from the googleapis package and stays small enough to commit", () => {
    expect(catalogueSource()).toMatch(/^googleapis@\d+\.\d+\.\d+ \(npm\)$/);
    expect(statSync(CATALOGUE).size).toBeLessThan(2 * 1024 * 1024);
  });

  it("gives each method its required and optional arguments, body and the standard query parameters", () => {
    const insert = catalogueMethod("googleapis.bigquery.v2.jobs.insert");
    expect(insert?.required).toEqual(["projectId"]);
    expect([...(insert?.params ?? [])]).toEqual(
      expect.arrayContaining(["projectId", "body", "fields", "alt"]),
    );
    expect(insert?.closed).toBe(false);
    const start = catalogueMethod("googleapis.compute.v1.instances.start");
    expect(start?.required).toEqual(["project", "zone", "instance"]);
    expect(start?.params.has("requestId")).toBe(true);
    expect(start?.closed).toBe(true);
    expect(
      catalogueMethod("googleapis.secretmanager.v1.projects.secrets.versions.accessString")?.required,
    ).toEqual(["secret_id"]);
    expect(catalogueMethod("googleapis.compute.v1.instances.launch")).toBeUndefined();
    expect(catalogueMethod("googleapis.nosuchapi.v1.things.get")).toBeUndefined();
  });

  it("knows every call made by Google's published workflow samples", () => {
    const fixture = JSON.parse(
      readFileSync(join(import.meta.dirname, "fixtures", "published-sample-calls.json"), "utf8"),
    ) as { calls: string[] };
    const builtIn = createConnectorRegistry();
    const unknown = fixture.calls.filter(
      (n) => !stdlibFunction(n) && !builtIn.has(n) && catalogueMethod(n) === undefined,
    );
    expect(unknown).toEqual([]);
  });
});

describe("deploy: published connectors the local cloud does not emulate", () => {
  const bigquery = `
- q:
    call: googleapis.bigquery.v2.jobs.insert
    args:
      projectId: p
      body: {configuration: {query: {query: "SELECT 1"}}}
      connector_params: {timeout: 60}
    result: r
- done:
    return: \${r}
`;

  it("deploys them and lists them among the workflow's connectors", () => {
    expect(parseWorkflow(bigquery).connectors).toEqual(["googleapis.bigquery.v2.jobs.insert"]);
    const secret = parseWorkflow(
      "- s:\n    call: googleapis.secretmanager.v1.projects.secrets.versions.accessString\n    args: {secret_id: db}\n",
    );
    expect(secret.connectors).toEqual(["googleapis.secretmanager.v1.projects.secrets.versions.accessString"]);
  });

  it("checks arguments: required ones, and unknown names where the method has no request body", () => {
    expect(
      deployProblems(
        "- v:\n    call: googleapis.compute.v1.instances.start\n    args: {project: p, zone: z, instanc: i}\n",
      ),
    ).toEqual([
      { step: "v", message: 'connector googleapis.compute.v1.instances.start has no argument "instanc"' },
      { step: "v", message: 'connector googleapis.compute.v1.instances.start needs argument "instance"' },
    ]);
    expect(
      deployProblems("- q:\n    call: googleapis.bigquery.v2.jobs.insert\n    args: {body: {}}\n")[0]
        ?.message,
    ).toBe('connector googleapis.bigquery.v2.jobs.insert needs argument "projectId"');
  });

  it("names a connector that no Google API has, and the catalogue it looked in", () => {
    expect(deployProblems("- c:\n    call: googleapis.compute.v1.instances.launch\n")[0]?.message).toBe(
      `unknown connector googleapis.compute.v1.instances.launch: no Google API method of that name in the connector catalogue (${catalogueSource()})`,
    );
  });

  it("refuses them inside expressions, as blocking calls", () => {
    expect(
      deployProblems(
        '- a:\n    assign:\n      - x: ${googleapis.compute.v1.instances.get("p", "z", "i")}\n',
      )[0]?.message,
    ).toBe(
      "googleapis.compute.v1.instances.get is a blocking call and can only be used in a call step, not in an expression",
    );
  });

  it("raises SystemError at run time naming the connector and the emulated ones", async () => {
    const e = await failure(bigquery, { connectors: createConnectorRegistry() });
    expect(e.tags).toEqual(["SystemError"]);
    expect(e.message).toBe(
      "connector googleapis.bigquery.v2.jobs.insert is not emulated by the local cloud; emulated connectors: " +
        "googleapis.pubsub.v1.projects.topics.publish, googleapis.storage.v1.objects.delete, " +
        "googleapis.storage.v1.objects.get, googleapis.storage.v1.objects.insert, googleapis.storage.v1.objects.list",
    );
  });

  it("lets try/except catch that error like any other", async () => {
    const src = `
- t:
    try:
      call: googleapis.compute.v1.instances.stop
      args: {project: p, zone: z, instance: i}
    except:
      as: e
      steps:
        - r:
            return: \${e.tags}
`;
    expect(await result(src)).toEqual(["SystemError"]);
  });
});

describe("deploy: published standard-library functions the local engine does not emulate", () => {
  it("deploys gke.*, events.* and experimental.executions.* calls with their documented arguments", () => {
    for (const src of [
      "- j:\n    call: gke.create_job\n    args: {cluster_id: c, job: {}, location: l}\n",
      "- w:\n    call: gke.await_job\n    args: {cluster_id: c, job_name: j, polling_policy: {initial_delay: 1}}\n",
      "- d:\n    call: gke.delete_job\n    args: {cluster_id: c, job_name: j}\n",
      "- r:\n    call: gke.request\n    args: {cluster_id: c, path: /api/v1/pods, method: GET}\n",
      "- c:\n    call: events.create_callback_endpoint\n    args: {http_callback_method: POST}\n",
      "- a:\n    call: events.await_callback\n    args: {callback: {url: u}, timeout: 60}\n",
      "- x:\n    call: experimental.executions.run\n    args: {workflow_id: w, argument: {}}\n",
    ]) {
      expect(() => parseWorkflow(src), src).not.toThrow();
    }
  });

  it("checks their argument names and required arguments", () => {
    expect(deployProblems("- j:\n    call: gke.create_job\n    args: {cluster: c, job: {}}\n")).toEqual([
      {
        step: "j",
        message:
          'gke.create_job has no argument "cluster" (it takes cluster_id, job, namespace, project, location, query, timeout)',
      },
      { step: "j", message: 'gke.create_job needs argument "cluster_id"' },
    ]);
  });

  it("raises SystemError naming the function when one is called", async () => {
    const e = await failure("- r:\n    call: gke.request\n    args: {cluster_id: c, path: /api}\n");
    expect(e.tags).toEqual(["SystemError"]);
    expect(e.message).toBe(
      "gke.request is not emulated by the local engine (the local cloud has no GKE cluster); it runs on Google Cloud only",
    );
    const cb = await failure("- c:\n    call: events.create_callback_endpoint\n");
    expect(cb.message).toContain("events.create_callback_endpoint is not emulated by the local engine");
  });
});
