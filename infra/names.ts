import { createHash } from "node:crypto";
import { InfraError } from "./errors.ts";

/**
 * Every cloud resource name the stacks create, derived from config ids only. The `platform` stack and the
 * `client-<name>` stacks compute the same names independently, so a client stack never needs to read the
 * platform stack's state: it can be deployed, changed or destroyed on its own once `platform` exists.
 */

/** The stack that holds everything shared by a product's clients. */
export const PLATFORM_STACK = "platform";

/** `client-<client>`: one stack per client. */
export function clientStackName(client: string): string {
  return `client-${client}`;
}

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
    throw new InfraError(`service account id "${id}" breaks GCP's rule ${ACCOUNT_ID_PATTERN}`);
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
 * `blw-<product>-<client>`: the account a container client's Batch tasks run as. It reads only that client's
 * inputs and writes only its outputs, errors and run records, so one client's image can never touch another's
 * objects (docs/architecture.md "Container workloads").
 */
export function clientWorkerAccountId(product: string, client: string): string {
  return checkedAccountId(fitName(`blw-${product}-${client}`, 30));
}

export function serviceAccountEmail(accountId: string, project: string): string {
  return `${accountId}@${project}.iam.gserviceaccount.com`;
}

/** The IAM member string of a service account. */
export function serviceAccountMember(email: string): string {
  return `serviceAccount:${email}`;
}

/** The one workflow of a product, `bl-<product>-batch`. */
export function workflowName(product: string): string {
  return `bl-${product}-batch`;
}

/** `projects/P/locations/L/workflows/W`: how Eventarc and the Executions API name the workflow. */
export function workflowResourceId(project: string, region: string, product: string): string {
  return `projects/${project}/locations/${region}/workflows/${workflowName(product)}`;
}

/** The Workflow Executions API endpoint that starts an execution of the product's workflow. */
export function workflowExecutionsUrl(project: string, region: string, product: string): string {
  return `https://workflowexecutions.googleapis.com/v1/${workflowResourceId(project, region, product)}/executions`;
}

/** Cloud Functions gen2 name (also the name of its Cloud Run service): `bl-<product>-<function>`. */
export function functionName(product: string, fn: string): string {
  return `bl-${product}-${fn}`;
}

/** `bl-<product>-<client>-inputs` */
export function triggerName(product: string, client: string): string {
  return fitName(`bl-${product}-${client}-inputs`, 63);
}

/** `bl-<product>-<client>-schedule` */
export function schedulerJobName(product: string, client: string): string {
  return `bl-${product}-${client}-schedule`;
}

/** The optional pull subscription on a client's output topic: `<topic>-pull`. */
export function pullSubscriptionName(topic: string): string {
  return `${topic}-pull`;
}

/** Where deploy state and function bundles live when nothing else is configured. */
export function defaultDeployBucket(project: string): string {
  return `${project}-batchline-deploy`;
}

export interface ArtifactRegistryImage {
  /** Repository location, e.g. `europe-west2` (or a multi-region such as `europe`). */
  location: string;
  project: string;
  repository: string;
  /** Image path inside the repository, e.g. `worker`. */
  image: string;
  /** The tag, when the reference has one. */
  tag?: string;
}

const AR_IMAGE =
  /^([a-z0-9-]+)-docker\.pkg\.dev\/([a-z][a-z0-9-]{4,28}[a-z0-9])\/([a-z][a-z0-9-]*)\/([a-z0-9._/-]+?)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$/;

/** Splits `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG]`; undefined for any other reference. */
export function parseArtifactRegistryImage(ref: string): ArtifactRegistryImage | undefined {
  const m = AR_IMAGE.exec(ref);
  if (!m?.[1] || !m[2] || !m[3] || !m[4]) return undefined;
  return { location: m[1], project: m[2], repository: m[3], image: m[4], ...(m[5] ? { tag: m[5] } : {}) };
}

/** The reference without its tag. */
export function imageRepositoryPath(ref: ArtifactRegistryImage): string {
  return `${ref.location}-docker.pkg.dev/${ref.project}/${ref.repository}/${ref.image}`;
}

/** `projects/P/locations/L/repositories/R`, the form Cloud Functions' `docker_repository` takes. */
export function repositoryResourceId(ref: ArtifactRegistryImage): string {
  return `projects/${ref.project}/locations/${ref.location}/repositories/${ref.repository}`;
}
