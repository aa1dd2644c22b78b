import { ProjectIamMember } from "@cdktf/provider-google/lib/project-iam-member/index.js";
import { ServiceAccount } from "@cdktf/provider-google/lib/service-account/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { functionStagingCondition, type IamCondition, ROLES } from "../iam.ts";
import { PLATFORM_ROLES, type PlatformRole, platformAccountId } from "../names.ts";

interface ProjectGrant {
  role: string;
  condition?: IamCondition;
  why: string;
}

/**
 * Project-level roles per account. Everything narrower (the bucket, the repository, a function, another
 * account, a secret, a topic) is granted on that resource by the construct that owns it.
 */
export const PROJECT_GRANTS: Record<PlatformRole, readonly ProjectGrant[]> = {
  workflow: [
    { role: ROLES.batchJobsEditor, why: "create, get and delete the Batch jobs it runs" },
    { role: ROLES.logWriter, why: "write the workflow's call logs" },
  ],
  worker: [
    { role: ROLES.batchAgentReporter, why: "the Batch agent on the job's VMs reports task state" },
    { role: ROLES.logWriter, why: "tasks' stdout and stderr go to Cloud Logging" },
  ],
  // Recovery (functions/plan/recover.ts): plan asks whether a run's execution and job are still alive.
  plan: [
    {
      role: ROLES.workflowsViewer,
      why: "read workflow executions' state, to settle runs that ended without notify",
    },
    { role: ROLES.batchJobsViewer, why: "read a Batch job's state before settling its run" },
  ],
  notify: [],
  trigger: [
    { role: ROLES.eventReceiver, why: "receive audit-log events for the Eventarc triggers" },
    { role: ROLES.workflowsInvoker, why: "start workflow executions" },
  ],
  scheduler: [{ role: ROLES.workflowsInvoker, why: "start workflow executions" }],
  builder: [
    { role: ROLES.logWriter, why: "write function build logs" },
    {
      role: ROLES.storageObjectAdmin,
      condition: functionStagingCondition(),
      why: "read staged sources and write build output in Cloud Functions' own gcf-v2-* buckets",
    },
  ],
};

const DESCRIPTIONS: Record<PlatformRole, string> = {
  workflow: "Runs the batch workflow: calls plan and notify, creates Batch jobs",
  worker: "Identity of Batch job VMs: reads inputs, writes outputs, errors and run records",
  plan: "plan function: lists inputs, writes claims and manifests, settles runs that ended without notify",
  notify: "notify function: writes summaries, settles claims, publishes results",
  trigger: "Eventarc triggers: receive upload events and start the workflow",
  scheduler: "Cloud Scheduler jobs: start the workflow on a client's cron",
  builder: "Builds the functions' containers in Cloud Build",
};

export interface ServiceAccountsProps {
  project: string;
  product: string;
  dependsOn?: ITerraformDependable[];
}

/** One service account per platform role, with its project-level roles. */
export class ServiceAccounts extends Construct {
  readonly accounts: Record<PlatformRole, ServiceAccount>;

  constructor(scope: Construct, id: string, props: ServiceAccountsProps) {
    super(scope, id);
    const accounts = {} as Record<PlatformRole, ServiceAccount>;
    for (const role of PLATFORM_ROLES) {
      const account = new ServiceAccount(this, role, {
        project: props.project,
        accountId: platformAccountId(props.product, role),
        displayName: `Batchline ${props.product} ${role}`,
        description: DESCRIPTIONS[role],
        dependsOn: props.dependsOn,
      });
      accounts[role] = account;
      for (const grant of PROJECT_GRANTS[role]) {
        new ProjectIamMember(this, `${role}-${grant.role.replace("roles/", "").replace(/\./g, "-")}`, {
          project: props.project,
          role: grant.role,
          member: account.member,
          ...(grant.condition ? { condition: grant.condition } : {}),
        });
      }
    }
    this.accounts = accounts;
  }

  email(role: PlatformRole): string {
    return this.accounts[role].email;
  }

  member(role: PlatformRole): string {
    return this.accounts[role].member;
  }
}
