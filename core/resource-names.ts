import { createHash } from "node:crypto";
import { BatchlineError } from "./errors.ts";

/**
 * Cloud resource names that both the stacks (infra/, which re-exports them from infra/names.ts) and the local
 * cloud (local/) derive from config ids, so each side computes the same name without importing the other.
 */

/** The platform's service accounts, one per job to do; each gets only what that job needs. */
export const PLATFORM_ROLES = [
  "workflow",
  "worker",
  "plan",
  "notify",
  "trigger",
  "scheduler",
  "builder",
] as const;
export type PlatformRole = (typeof PLATFORM_ROLES)[number];

const ROLE_SUFFIX: Record<PlatformRole, string> = {
  workflow: "wf",
  worker: "worker",
  plan: "plan",
  notify: "notify",
  trigger: "trigger",
  scheduler: "sched",
  builder: "build",
};

/** GCP's service-account id rule: 6-30 characters of a-z 0-9 -, starting with a letter, not ending with '-'. */
export const ACCOUNT_ID_PATTERN = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/**
 * `readable` when it fits in `max` characters; otherwise its head plus 6 hex of its SHA-256, so two long
 * names that share a head still get different ids.
 */
export function fitName(readable: string, max: number): string {
  if (readable.length <= max) return readable;
  const hash = createHash("sha256").update(readable).digest("hex").slice(0, 6);
  const head = readable.slice(0, max - hash.length - 1).replace(/-+$/, "");
  return `${head}-${hash}`;
}

function checkedAccountId(id: string): string {
  if (!ACCOUNT_ID_PATTERN.test(id)) {
    throw new BatchlineError(`service account id "${id}" breaks GCP's rule ${ACCOUNT_ID_PATTERN}`, {
      retryable: false,
    });
  }
  return id;
}

/** `bl-<product>-<role>`, e.g. `bl-demo-wf`. */
export function platformAccountId(product: string, role: PlatformRole): string {
  return checkedAccountId(fitName(`bl-${product}-${ROLE_SUFFIX[role]}`, 30));
}

/**
 * `blc-<product>-<client>`: the account created for a client that names no uploaders. The `blc-` prefix keeps
 * client accounts apart from platform accounts whatever the client is called (a client named `wf` would
 * otherwise collide with the workflow's account).
 */
export function clientAccountId(product: string, client: string): string {
  return checkedAccountId(fitName(`blc-${product}-${client}`, 30));
}

/**
 * `blw-<product>-<client>`: the account a client's Batch tasks run as. It reads only that client's inputs and
 * writes only its outputs, errors and run records, so one client's tasks can never touch another's objects
 * (docs/architecture.md "Container workloads").
 */
export function clientWorkerAccountId(product: string, client: string): string {
  return checkedAccountId(fitName(`blw-${product}-${client}`, 30));
}

export function serviceAccountEmail(accountId: string, project: string): string {
  return `${accountId}@${project}.iam.gserviceaccount.com`;
}

/** The one workflow of a product, `bl-<product>-batch`. */
export function workflowName(product: string): string {
  return `bl-${product}-batch`;
}

/** `projects/P/locations/L/workflows/W`: how Eventarc and the Executions API name the workflow. */
export function workflowResourceId(project: string, region: string, product: string): string {
  return `projects/${project}/locations/${region}/workflows/${workflowName(product)}`;
}

/** `bl-<product>-<client>-inputs` */
export function triggerName(product: string, client: string): string {
  return fitName(`bl-${product}-${client}-inputs`, 63);
}

/** The optional pull subscription on a client's output topic: `<topic>-pull`. */
export function pullSubscriptionName(topic: string): string {
  return `${topic}-pull`;
}
