import { raise } from "../errors.ts";
import type { FunctionDef } from "./types.ts";

// Standard-library and connector functions Google publishes that the local engine does not emulate. Deploy
// (and `batchline workflows check`) accepts them with the arguments their reference pages list, as the
// service does; calling one raises SystemError naming it. SystemError is the service's tag for a failure of
// the platform rather than of the workflow, which is what a missing emulation is.
//
// Sources: "Standard library reference > events" (await_callback, create_callback_endpoint),
// "> experimental.executions" (map, run) and "Connectors reference > Kubernetes API" (gke.*). Arguments
// are listed required ones first; `required` counts them.

const NOT_EMULATED: ReadonlyArray<{ name: string; params: string[]; required: number; why: string }> = [
  {
    name: "events.create_callback_endpoint",
    params: ["http_callback_method"],
    required: 0,
    why: "callbacks need an endpoint reachable from outside the execution",
  },
  {
    name: "events.await_callback",
    params: ["callback", "timeout"],
    required: 1,
    why: "callbacks need an endpoint reachable from outside the execution",
  },
  {
    name: "experimental.executions.run",
    params: ["workflow_id", "argument", "location", "project_id"],
    required: 1,
    why: "it starts executions of other deployed workflows",
  },
  {
    // The map page lists workflow_id and arguments; location and project_id are accepted as for run.
    name: "experimental.executions.map",
    params: ["workflow_id", "arguments", "location", "project_id"],
    required: 2,
    why: "it starts executions of other deployed workflows",
  },
  ...["create_job", "await_job", "delete_job", "request"].map((fn) => ({
    name: `gke.${fn}`,
    params: {
      create_job: ["cluster_id", "job", "namespace", "project", "location", "query", "timeout"],
      await_job: [
        "cluster_id",
        "job_name",
        "namespace",
        "project",
        "location",
        "query",
        "timeout",
        "polling_policy",
      ],
      delete_job: ["cluster_id", "job_name", "namespace", "project", "location", "query", "timeout"],
      request: ["cluster_id", "path", "method", "project", "location", "timeout", "body", "headers", "query"],
    }[fn] as string[],
    required: 2,
    why: "the local cloud has no GKE cluster",
  })),
];

/** Published functions the engine accepts at deploy and refuses, by name, when called. */
export const NOT_EMULATED_FUNCTIONS: readonly FunctionDef[] = NOT_EMULATED.map((f) => ({
  name: f.name,
  params: f.params,
  required: f.required,
  blocking: true,
  fn: () =>
    raise(
      "SystemError",
      `${f.name} is not emulated by the local engine (${f.why}); it runs on Google Cloud only`,
    ),
}));
