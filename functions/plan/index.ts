import * as functions from "@google-cloud/functions-framework";
import { Storage } from "@google-cloud/storage";
import { loadFunctionConfig } from "../shared/config.ts";
import { httpShell } from "../shared/http.ts";
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
      // Honours STORAGE_EMULATOR_HOST, so the local cloud needs nothing else.
      return { config, storage: new Storage({ projectId: config.platform.project }) };
    },
    project: (deps) => deps.config.platform.project,
    handle: (body, deps, logger) => plan(body, { ...deps, now: () => new Date(), logger }),
  }),
);
