import * as functions from "@google-cloud/functions-framework";
import { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { loadFunctionConfig } from "../shared/config.ts";
import { httpShell } from "../shared/http.ts";
import { officialProbe } from "../shared/probe.ts";
import { bucketRegistry } from "../shared/registry.ts";
import { plan } from "./plan.ts";
import { planRequestSchema } from "./request.ts";

// The functions-framework shell: config and the storage client are built once per instance.
functions.http(
  "plan",
  httpShell({
    component: "plan",
    schema: planRequestSchema,
    init: () => {
      const config = loadFunctionConfig(process.env, import.meta.url);
      // Storage and Pub/Sub honour STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST; the probe's Workflows and Batch
      // clients BATCHLINE_WORKFLOWS_ENDPOINT / BATCHLINE_BATCH_ENDPOINT. Pub/Sub and the probe are for
      // recovery: settling a run whose execution ended without notify (recover.ts).
      const storage = new Storage({ projectId: config.platform.project });
      return {
        config,
        storage,
        // Clients come from their registry objects in the platform bucket, cached per instance (30 s).
        registry: bucketRegistry(storage.bucket(config.platform.bucket), config.platform.product),
        pubsub: new PubSub({ projectId: config.platform.project }),
        probe: officialProbe(process.env),
      };
    },
    project: (deps) => deps.config.platform.project,
    handle: (body, deps, logger) => plan(body, { ...deps, now: () => new Date(), logger }),
  }),
);
