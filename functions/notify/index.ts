import * as functions from "@google-cloud/functions-framework";
import { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { z } from "zod";
import { loadFunctionConfig } from "../shared/config.ts";
import { httpShell, parseRequest } from "../shared/http.ts";
import { bucketRegistry } from "../shared/registry.ts";
import { notify, notifyStageFailure } from "./notify.ts";
import { notifyRequestSchema, stageFailureRequestSchema } from "./request.ts";

// The functions-framework shell: config and the clients are built once per instance.
functions.http(
  "notify",
  httpShell({
    component: "notify",
    // Two bodies: a run to report, or (with "stage") a stage that failed before there was a run.
    schema: z.unknown(),
    init: () => {
      const config = loadFunctionConfig(process.env, import.meta.url);
      // Both clients honour STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST, so the local cloud needs nothing else.
      const storage = new Storage({ projectId: config.platform.project });
      return {
        config,
        storage,
        // Clients come from their registry objects in the platform bucket, cached per instance (30 s).
        registry: bucketRegistry(storage.bucket(config.platform.bucket), config.platform.product),
        pubsub: new PubSub({ projectId: config.platform.project }),
      };
    },
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
