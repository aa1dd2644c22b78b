import { BatchServiceClient } from "@google-cloud/batch";
import type { Logging } from "@google-cloud/logging";
import type { Bucket, Storage } from "@google-cloud/storage";
import { ExecutionsClient } from "@google-cloud/workflows";
import type { BatchlineConfig } from "../../core/config/load.ts";
import { workflowResourceId } from "../../core/resource-names.ts";
import { clientOptions } from "../../functions/shared/probe.ts";
import { cloudClients } from "../shared.ts";
import { UsageError } from "./usage.ts";

/**
 * The official clients an operator command uses, for GCP (Application Default Credentials) or, when the local
 * cloud's variables are set, for the local cloud's endpoints (plain HTTP, REST transport, no credentials).
 * Only their construction differs: every command then runs the same code against either.
 */
export interface OperatorCloud {
  config: BatchlineConfig;
  storage: Storage;
  bucket: Bucket;
  executions: ExecutionsClient;
  batch: BatchServiceClient;
  /**
   * Created on first use: only `logs` needs it (and, locally, BATCHLINE_LOGGING_ENDPOINT). Loaded then too: the
   * library takes seconds to load, which every other command would pay at start.
   */
  logging(): Promise<Logging>;
  /** `projects/P/locations/R/workflows/bl-<product>-batch` */
  workflow: string;
  /** `projects/P/locations/R` */
  location: string;
  /** Where the commands talk to, for messages. */
  target: string;
  close(): Promise<void>;
}

/** The variables `batchline local up` prints for the Workflows, Batch and Logging endpoints. */
export const ENDPOINT_VARIABLES = {
  workflows: "BATCHLINE_WORKFLOWS_ENDPOINT",
  batch: "BATCHLINE_BATCH_ENDPOINT",
  logging: "BATCHLINE_LOGGING_ENDPOINT",
} as const;

/** Client options for an endpoint URL (the local cloud's), or none for Google's own endpoints. */
export function endpointOptions(endpoint: string | undefined, variable: string): Record<string, unknown> {
  try {
    return clientOptions(endpoint);
  } catch {
    throw new UsageError(`${variable}=${endpoint} is not a URL such as http://127.0.0.1:8080`);
  }
}

/** True when any of the local cloud's variables is set: then every service must come from it. */
export function isLocal(env: NodeJS.ProcessEnv): boolean {
  return [
    "STORAGE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    ENDPOINT_VARIABLES.workflows,
    ENDPOINT_VARIABLES.batch,
    ENDPOINT_VARIABLES.logging,
  ].some((v) => (env[v] ?? "").trim() !== "");
}

export function operatorCloud(config: BatchlineConfig, env: NodeJS.ProcessEnv = process.env): OperatorCloud {
  const local = isLocal(env);
  const endpoint = (name: keyof typeof ENDPOINT_VARIABLES): Record<string, unknown> => {
    const variable = ENDPOINT_VARIABLES[name];
    const value = env[variable];
    // Half a local cloud would send the other half's calls to GCP with whatever credentials are around.
    if (local && (value ?? "").trim() === "") {
      throw new UsageError(
        `${variable} is not set, but other local cloud variables are: export everything \`batchline local up\` prints` +
          (name === "logging" ? " (a local cloud without a logging endpoint cannot show task logs)" : ""),
      );
    }
    return endpointOptions(value, variable);
  };
  const { platform } = config;
  const { storage, target } = cloudClients(config, env);
  // The casts bridge installed copies of google-auth-library whose private fields make their types differ.
  const executions = new ExecutionsClient(
    endpoint("workflows") as ConstructorParameters<typeof ExecutionsClient>[0],
  );
  const batch = new BatchServiceClient(
    endpoint("batch") as ConstructorParameters<typeof BatchServiceClient>[0],
  );
  let logging: Logging | undefined;
  return {
    config,
    storage,
    bucket: storage.bucket(platform.bucket),
    executions,
    batch,
    async logging() {
      const { Logging } = await import("@google-cloud/logging");
      logging ??= new Logging({
        projectId: platform.project,
        ...endpoint("logging"),
      } as ConstructorParameters<typeof Logging>[0]);
      return logging;
    },
    workflow: workflowResourceId(platform.project, platform.region, platform.product),
    location: `projects/${platform.project}/locations/${platform.region}`,
    target: local ? target : `GCP project ${platform.project} (${platform.region})`,
    async close() {
      await Promise.allSettled([executions.close(), batch.close()]);
    },
  };
}
