import { ArtifactRegistryRepositoryIamMember } from "@cdktf/provider-google/lib/artifact-registry-repository-iam-member/index.js";
import { ServiceAccountIamMember } from "@cdktf/provider-google/lib/service-account-iam-member/index.js";
import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member/index.js";
import { Construct } from "constructs";
import { ROLES } from "../iam.ts";
import type { ArtifactRepository } from "./artifact-repository.ts";
import type { PlatformBucket } from "./platform-bucket.ts";
import type { ServiceAccounts } from "./service-accounts.ts";

/** A Secret Manager secret a job reads, from `projects/P/secrets/S/versions/V`. */
export interface SecretRef {
  project: string;
  secret: string;
}

/** The distinct secrets behind a list of version refs, in a stable order. */
export function secretsOf(versionRefs: Iterable<string>): SecretRef[] {
  const byKey = new Map<string, SecretRef>();
  for (const ref of versionRefs) {
    const m = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/[^/]+$/.exec(ref);
    if (!m?.[1] || !m[2]) continue;
    byKey.set(`${m[1]}/${m[2]}`, { project: m[1], secret: m[2] });
  }
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, s]) => s);
}

export interface PipelineAccessProps {
  accounts: ServiceAccounts;
  bucket: PlatformBucket;
  repository: ArtifactRepository;
  /** Bucket holding the function bundles (not managed here: it exists before the first deploy). */
  functionsBucket: string;
}

/**
 * Grants among the platform's own parts, each on the one resource it concerns: the data bucket, the image
 * repository, the bundle bucket, the worker account and the jobs' secrets. Invoking the functions is
 * granted next to the functions (PipelineFunctions).
 * Jobs' secrets are granted in each client stack to that client's own worker account (ClientWorker), one
 * binding per client and secret, so nothing here depends on the client list.
 */
export class PipelineAccess extends Construct {
  constructor(scope: Construct, id: string, props: PipelineAccessProps) {
    super(scope, id);
    const { accounts } = props;
    const bucket = props.bucket.bucket.name;

    // plan and notify read inputs and write claims, manifests and summaries. objectUser is
    // create/get/list/update/delete on objects only. Batch tasks get no bucket-wide grant: each client's
    // run as that client's own worker account, limited to its prefixes (ClientWorker, in its lane).
    for (const role of ["plan", "notify"] as const) {
      new StorageBucketIamMember(this, `bucket-${role}`, {
        bucket,
        role: ROLES.storageObjectUser,
        member: accounts.member(role),
      });
    }

    new ArtifactRegistryRepositoryIamMember(this, "repository-worker", {
      project: props.repository.repository.project,
      location: props.repository.repository.location,
      repository: props.repository.repository.name,
      role: ROLES.artifactReader,
      member: accounts.member("worker"),
    });
    new ArtifactRegistryRepositoryIamMember(this, "repository-builder", {
      project: props.repository.repository.project,
      location: props.repository.repository.location,
      repository: props.repository.repository.name,
      role: ROLES.artifactWriter,
      member: accounts.member("builder"),
    });

    // The function build reads the bundle the release uploaded.
    new StorageBucketIamMember(this, "functions-bucket-builder", {
      bucket: props.functionsBucket,
      role: ROLES.storageObjectViewer,
      member: accounts.member("builder"),
    });

    // Creating a Batch job that runs as the worker account needs actAs on that account, and only that one.
    new ServiceAccountIamMember(this, "worker-actas-workflow", {
      serviceAccountId: accounts.accounts.worker.name,
      role: ROLES.serviceAccountUser,
      member: accounts.member("workflow"),
    });
  }
}
