import * as functions from "@google-cloud/functions-framework";
import { httpShell } from "../shared/http.ts";
import { instanceClients } from "../shared/instance.ts";
import { officialProbe } from "../shared/probe.ts";
import { plan } from "./plan.ts";
import { planRequestSchema } from "./request.ts";

// The functions-framework shell: config and the storage client are built once per instance.
functions.http(
  "plan",
  httpShell({
    component: "plan",
    schema: planRequestSchema,
    // The probe's Workflows and Batch clients honour BATCHLINE_WORKFLOWS_ENDPOINT / BATCHLINE_BATCH_ENDPOINT.
    // Pub/Sub and the probe are for recovery: settling a run whose execution ended without notify (recover.ts).
    init: () => ({ ...instanceClients(import.meta.url), probe: officialProbe(process.env) }),
    project: (deps) => deps.config.platform.project,
    handle: (body, deps, logger) => plan(body, { ...deps, now: () => new Date(), logger }),
  }),
);
