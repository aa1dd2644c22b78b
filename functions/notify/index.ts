import * as functions from "@google-cloud/functions-framework";
import { z } from "zod";
import { httpShell, parseRequest } from "../shared/http.ts";
import { instanceClients } from "../shared/instance.ts";
import { notify, notifyStageFailure } from "./notify.ts";
import { notifyRequestSchema, stageFailureRequestSchema } from "./request.ts";

// The functions-framework shell: config and the clients are built once per instance.
functions.http(
  "notify",
  httpShell({
    component: "notify",
    // Two bodies: a run to report, or (with "stage") a stage that failed before there was a run.
    schema: z.unknown(),
    init: () => instanceClients(import.meta.url),
    project: (deps) => deps.config.platform.project,
    handle: (body, deps, logger) => {
      const fullDeps = { ...deps, now: () => new Date(), logger };
      const isStage = body !== null && typeof body === "object" && "stage" in body;
      return isStage
        ? notifyStageFailure(parseRequest(stageFailureRequestSchema, body), fullDeps)
        : notify(parseRequest(notifyRequestSchema, body), fullDeps);
    },
  }),
);
