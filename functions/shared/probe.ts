import { BatchServiceClient } from "@google-cloud/batch";
import { ExecutionsClient } from "@google-cloud/workflows";
import { PassThroughClient } from "google-auth-library";
import { httpStatusOf } from "../../core/classify.ts";
import { EXECUTION_STATE_NAMES, enumName, JOB_STATE_NAMES } from "./google-enums.ts";

export { FINAL_JOB_STATES } from "./google-enums.ts";

/** What a workflow execution is doing, as far as recovery cares. */
export type ExecutionLiveness = { state: "active" } | { state: "ended"; detail: string };

/**
 * Asks the services that run a run whether it is still alive: the Workflow Executions API for the execution
 * and the Batch API for the job. Recovery (functions/plan/recover.ts) uses it to tell a run that is slow from
 * one that will never call notify. Each method throws when the service cannot answer (permissions, outage):
 * recovery then falls back to the run's lease and never guesses.
 */
export interface RunProbe {
  /** `projects/P/locations/L/workflows/W/executions/E`. An execution that no longer exists has ended. */
  execution(name: string): Promise<ExecutionLiveness>;
  /** `projects/P/locations/L/jobs/J`: the job's state name (e.g. RUNNING, SUCCEEDED), or null when there is none. */
  job(name: string): Promise<string | null>;
  close(): Promise<void>;
}

const NOT_FOUND = 5;

/**
 * NOT_FOUND as either transport reports it: gRPC code 5, or, over REST, the HTTP status (google-auth-library
 * rejects a non-2xx answer with a GaxiosError before google-gax can map it to a gRPC code).
 */
function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === NOT_FOUND || httpStatusOf(err) === 404;
}

/**
 * Options for an official Google client: none for Google's own endpoints, or, for an endpoint URL (the local
 * cloud's), its host and port over the REST transport without credentials. Throws TypeError for a bad URL.
 */
export function clientOptions(endpoint: string | undefined): Record<string, unknown> {
  if (endpoint === undefined || endpoint.trim() === "") return {};
  const url = new URL(endpoint);
  return {
    apiEndpoint: url.hostname,
    port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    protocol: url.protocol.replace(":", ""),
    fallback: true,
    authClient: new PassThroughClient(),
  };
}

/**
 * A probe over the official `@google-cloud/workflows` and `@google-cloud/batch` clients. With
 * `BATCHLINE_WORKFLOWS_ENDPOINT` / `BATCHLINE_BATCH_ENDPOINT` set (the local cloud sets them) the clients talk
 * to those endpoints over REST without credentials; otherwise to Google with Application Default Credentials.
 */
export function officialProbe(env: NodeJS.ProcessEnv): RunProbe {
  // The cast bridges two installed copies of google-auth-library whose private fields make their types differ.
  const executions = new ExecutionsClient(
    clientOptions(env.BATCHLINE_WORKFLOWS_ENDPOINT) as ConstructorParameters<typeof ExecutionsClient>[0],
  );
  const batch = new BatchServiceClient(
    clientOptions(env.BATCHLINE_BATCH_ENDPOINT) as ConstructorParameters<typeof BatchServiceClient>[0],
  );
  return {
    async execution(name) {
      try {
        const [execution] = await executions.getExecution({ name });
        const state = enumName(execution.state, EXECUTION_STATE_NAMES);
        if (state === "ACTIVE" || state === "QUEUED") return { state: "active" };
        return { state: "ended", detail: state };
      } catch (err) {
        if (isNotFound(err)) return { state: "ended", detail: "no longer exists" };
        throw err;
      }
    },
    async job(name) {
      try {
        const [job] = await batch.getJob({ name });
        return enumName(job.status?.state, JOB_STATE_NAMES);
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    async close() {
      await Promise.allSettled([executions.close(), batch.close()]);
    },
  };
}
