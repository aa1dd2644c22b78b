import type { BatchlineConfig } from "./config/load.ts";

/**
 * The user environment variables `workflows/batch.workflows.yaml` reads, built in one place for the
 * deployed workflow (infra) and the local engine alike. The workflow holds no config of its own.
 */
export interface WorkflowEndpoints {
  /** URL of the plan function. */
  planUrl: string;
  /** URL of the notify function. */
  notifyUrl: string;
  /** Email of the service account Batch jobs run as. */
  batchServiceAccount: string;
  /** Seconds between job polls while attaching to an existing job (cloud: 30, local: 1). */
  pollSeconds: number;
}

export const WORKFLOW_ENV_NAMES = [
  "BATCHLINE_PRODUCT",
  "BATCHLINE_BUCKET",
  "BATCHLINE_REGION",
  "BATCHLINE_PLAN_URL",
  "BATCHLINE_NOTIFY_URL",
  "BATCHLINE_WORKER_IMAGE",
  "BATCHLINE_BATCH_SERVICE_ACCOUNT",
  "BATCHLINE_POLL_SECONDS",
] as const;

export function workflowEnv(config: BatchlineConfig, endpoints: WorkflowEndpoints): Record<string, string> {
  const { platform } = config;
  return {
    BATCHLINE_PRODUCT: platform.product,
    BATCHLINE_BUCKET: platform.bucket,
    BATCHLINE_REGION: platform.region,
    BATCHLINE_PLAN_URL: endpoints.planUrl,
    BATCHLINE_NOTIFY_URL: endpoints.notifyUrl,
    BATCHLINE_WORKER_IMAGE: platform.workerImage,
    BATCHLINE_BATCH_SERVICE_ACCOUNT: endpoints.batchServiceAccount,
    BATCHLINE_POLL_SECONDS: String(endpoints.pollSeconds),
  };
}
