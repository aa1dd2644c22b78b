import { areaPrefix, clientPrefix } from "../core/naming.ts";
import { objectResourceName } from "../core/triggers.ts";
import { InfraError } from "./errors.ts";

/** An IAM condition as a role binding carries it. */
export interface IamCondition {
  title: string;
  description: string;
  expression: string;
}

/** IAM roles the stacks grant, by name, so a typo is a compile error rather than a failed apply. */
export const ROLES = {
  storageObjectCreator: "roles/storage.objectCreator",
  storageObjectViewer: "roles/storage.objectViewer",
  storageObjectUser: "roles/storage.objectUser",
  storageObjectAdmin: "roles/storage.objectAdmin",
  batchJobsEditor: "roles/batch.jobsEditor",
  batchJobsViewer: "roles/batch.jobsViewer",
  workflowsViewer: "roles/workflows.viewer",
  batchAgentReporter: "roles/batch.agentReporter",
  logWriter: "roles/logging.logWriter",
  serviceAccountUser: "roles/iam.serviceAccountUser",
  runInvoker: "roles/run.invoker",
  eventReceiver: "roles/eventarc.eventReceiver",
  workflowsInvoker: "roles/workflows.invoker",
  artifactReader: "roles/artifactregistry.reader",
  artifactWriter: "roles/artifactregistry.writer",
  secretAccessor: "roles/secretmanager.secretAccessor",
  pubsubPublisher: "roles/pubsub.publisher",
  pubsubSubscriber: "roles/pubsub.subscriber",
} as const;

// Ids are validated by core's schema, but these strings are spliced into CEL literals: refuse anything that
// could end the literal rather than trust every caller.
function celSafe(value: string, what: string): string {
  if (!/^[A-Za-z0-9._/-]+$/.test(value)) {
    throw new InfraError(`${what} ${JSON.stringify(value)} cannot be used in an IAM condition`);
  }
  return value;
}

/**
 * Lets a client create objects under its own `inputs/` only. `roles/storage.objectCreator` has no delete
 * permission, so a client can add inputs but never overwrite or remove one.
 */
export function inputsCreatorCondition(bucket: string, product: string, client: string): IamCondition {
  const prefix = celSafe(objectResourceName(bucket, areaPrefix(product, client, "inputs")), "prefix");
  return {
    title: `${client}: upload to own inputs`,
    description: `Create objects under gs://${bucket}/${areaPrefix(product, client, "inputs")} only`,
    expression: `resource.name.startsWith("${prefix}")`,
  };
}

/**
 * Lets a client read objects under its own `<product>/<client>/` and list with a prefix inside it.
 *
 * A list request is checked against the bucket, not an object, so `resource.name` alone would refuse every
 * listing; the `storage.googleapis.com/objectListPrefix` API attribute is the list request's `prefix`
 * parameter ("" when absent), so listing is granted only when the client asks for its own prefix and a
 * bucket-wide or other-client listing is refused.
 */
export function clientReaderCondition(bucket: string, product: string, client: string): IamCondition {
  const ownPrefix = celSafe(clientPrefix(product, client), "prefix");
  const objects = celSafe(objectResourceName(bucket, ownPrefix), "prefix");
  return {
    title: `${client}: read and list own objects`,
    description: `Read objects under gs://${bucket}/${ownPrefix} and list with a prefix that starts there`,
    expression:
      `(resource.type == "storage.googleapis.com/Object" && resource.name.startsWith("${objects}"))` +
      ` || api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("${ownPrefix}")`,
  };
}

/**
 * What a client's worker account reads: its own inputs and run records (the run's manifest). Reads only:
 * listing is checked against the bucket and is not granted, so the account cannot list any prefix.
 */
export function workerReaderCondition(bucket: string, product: string, client: string): IamCondition {
  const inputs = celSafe(objectResourceName(bucket, areaPrefix(product, client, "inputs")), "prefix");
  const runs = celSafe(objectResourceName(bucket, areaPrefix(product, client, "runs")), "prefix");
  return {
    title: `${client} worker: read own inputs and runs`,
    description: `Read objects under gs://${bucket}/${areaPrefix(product, client, "inputs")} and runs/`,
    expression: `resource.name.startsWith("${inputs}") || resource.name.startsWith("${runs}")`,
  };
}

/** What a client's worker account writes: its own outputs, errors and run records (task records, staging). */
export function workerWriterCondition(bucket: string, product: string, client: string): IamCondition {
  const areas = (["outputs", "errors", "runs"] as const).map((area) =>
    celSafe(objectResourceName(bucket, areaPrefix(product, client, area)), "prefix"),
  );
  return {
    title: `${client} worker: write own outputs, errors, runs`,
    description: `Create, overwrite and delete objects under gs://${bucket}/${clientPrefix(product, client)}{outputs,errors,runs}/`,
    expression: areas.map((a) => `resource.name.startsWith("${a}")`).join(" || "),
  };
}

/**
 * Lets the function build account manage the staging buckets Cloud Functions creates for sources and build
 * artifacts (`gcf-v2-sources-*`, `gcf-v2-uploads-*`), and nothing else in the project's storage.
 */
export function functionStagingCondition(): IamCondition {
  return {
    title: "Cloud Functions staging buckets only",
    description: "Objects in the gcf-v2-* buckets Cloud Functions uses to stage sources and builds",
    expression: `resource.name.startsWith("projects/_/buckets/gcf-v2-")`,
  };
}
