import * as functions from "@google-cloud/functions-framework";
import { PubSub } from "@google-cloud/pubsub";
import { Storage } from "@google-cloud/storage";
import { loadFunctionConfig } from "../shared/config.ts";
import { httpShell } from "../shared/http.ts";
import { notify } from "./notify.ts";
import { notifyRequestSchema } from "./request.ts";

// The functions-framework shell: config and the clients are built once per instance.
functions.http(
  "notify",
  httpShell({
    component: "notify",
    schema: notifyRequestSchema,
    init: () => {
      const config = loadFunctionConfig(process.env, import.meta.url);
      // Both clients honour STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST, so the local cloud needs nothing else.
      return {
        config,
        storage: new Storage({ projectId: config.platform.project }),
        pubsub: new PubSub({ projectId: config.platform.project }),
      };
    },
    project: (deps) => deps.config.platform.project,
    handle: (body, deps, logger) => notify(body, { ...deps, now: () => new Date(), logger }),
  }),
);
