import { workflowResourceId } from "../core/resource-names.ts";

// Names the local cloud uses too live in core/resource-names.ts; they are re-exported here for the stacks.
export {
  ACCOUNT_ID_PATTERN,
  clientAccountId,
  clientWorkerAccountId,
  fitName,
  PLATFORM_ROLES,
  type PlatformRole,
  platformAccountId,
  pullSubscriptionName,
  serviceAccountEmail,
  triggerName,
  workflowName,
  workflowResourceId,
} from "../core/resource-names.ts";

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

/** The IAM member string of a service account. */
export function serviceAccountMember(email: string): string {
  return `serviceAccount:${email}`;
}

/** The Workflow Executions API endpoint that starts an execution of the product's workflow. */
export function workflowExecutionsUrl(project: string, region: string, product: string): string {
  return `https://workflowexecutions.googleapis.com/v1/${workflowResourceId(project, region, product)}/executions`;
}

/** Cloud Functions gen2 name (also the name of its Cloud Run service): `bl-<product>-<function>`. */
export function functionName(product: string, fn: string): string {
  return `bl-${product}-${fn}`;
}

/** `bl-<product>-<client>-schedule` */
export function schedulerJobName(product: string, client: string): string {
  return `bl-${product}-${client}-schedule`;
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
