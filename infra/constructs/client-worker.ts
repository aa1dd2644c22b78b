import { ArtifactRegistryRepositoryIamMember } from "@cdktf/provider-google/lib/artifact-registry-repository-iam-member/index.js";
import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member/index.js";
import { SecretManagerSecretIamMember } from "@cdktf/provider-google/lib/secret-manager-secret-iam-member/index.js";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account/index.js";
import { ServiceAccountIamMember } from "@cdktf/provider-google/lib/service-account-iam-member/index.js";
import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member/index.js";
import { Construct } from "constructs";
import { resolveJobSettings } from "../../core/config/load.ts";
import type { ClientConfig, PlatformConfig } from "../../core/config/schema.ts";
import { ROLES, workerReaderCondition, workerWriterCondition } from "../iam.ts";
import {
  clientWorkerAccountId,
  parseArtifactRegistryImage,
  platformAccountId,
  serviceAccountEmail,
  serviceAccountMember,
} from "../names.ts";
import { terraformLiteral } from "../terraform-literal.ts";
import { secretsOf } from "./pipeline-access.ts";

export interface ClientWorkerProps {
  platform: PlatformConfig;
  client: ClientConfig;
}

/**
 * The identity the client's Batch tasks run as (`blw-<product>-<client>`; plan puts it in every job of the
 * client). It reads only the client's inputs and run records and writes only its outputs, errors and run
 * records, so one client's workload, whatever its image does, can never touch another client's objects.
 * It pulls the platform's worker image and, when it is in Artifact Registry, the client's own image, and
 * reads the client's secrets. The workflow may create jobs that run as it (actAs on this account only).
 */
export class ClientWorker extends Construct {
  readonly account: ServiceAccount;

  constructor(scope: Construct, id: string, props: ClientWorkerProps) {
    super(scope, id);
    const { platform, client } = props;
    const { project, product, bucket } = platform;
    this.account = new ServiceAccount(this, "account", {
      project,
      accountId: clientWorkerAccountId(product, client.id),
      displayName: `Batchline worker for ${client.id}`.slice(0, 100),
      // A display name is the client's own text: Terraform must not read a ${ in it as its own.
      description: terraformLiteral(
        `Batch tasks of ${client.displayName ?? client.id}: its own inputs, outputs, errors and runs only`,
      ),
    });
    const member = this.account.member;
    // The Batch agent on the job's VMs reports task state; tasks' output goes to Cloud Logging.
    for (const [key, role] of [
      ["agent", ROLES.batchAgentReporter],
      ["logs", ROLES.logWriter],
    ] as const) {
      new ProjectIamMember(this, key, { project, role, member });
    }
    new StorageBucketIamMember(this, "read", {
      bucket,
      role: ROLES.storageObjectViewer,
      member,
      condition: workerReaderCondition(bucket, product, client.id),
    });
    new StorageBucketIamMember(this, "write", {
      bucket,
      role: ROLES.storageObjectUser,
      member,
      condition: workerWriterCondition(bucket, product, client.id),
    });
    const job = resolveJobSettings(platform, client);
    const repositories = new Map<string, { project: string; location: string; repository: string }>();
    for (const image of [platform.workerImage, job.container?.imageUri]) {
      const ref = image === undefined ? undefined : parseArtifactRegistryImage(image);
      if (ref) repositories.set(`${ref.project}/${ref.location}/${ref.repository}`, ref);
    }
    for (const [key, ref] of repositories) {
      new ArtifactRegistryRepositoryIamMember(this, `pull-${key.replaceAll("/", "-")}`, {
        project: ref.project,
        location: ref.location,
        repository: ref.repository,
        role: ROLES.artifactReader,
        member,
      });
    }
    // The member differs per client, so two clients sharing a secret never share a binding.
    for (const secret of secretsOf(Object.values(job.secrets ?? {}))) {
      new SecretManagerSecretIamMember(this, `secret-${secret.project}-${secret.secret}`, {
        project: secret.project,
        secretId: secret.secret,
        role: ROLES.secretAccessor,
        member,
      });
    }
    new ServiceAccountIamMember(this, "actas-workflow", {
      serviceAccountId: this.account.name,
      role: ROLES.serviceAccountUser,
      member: serviceAccountMember(serviceAccountEmail(platformAccountId(product, "workflow"), project)),
    });
  }
}
