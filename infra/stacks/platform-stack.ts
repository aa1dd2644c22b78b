import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { BatchlineConfig } from "../../core/config/load.ts";
import { workflowEnv } from "../../core/workflow-env.ts";
import { ArtifactRepository } from "../constructs/artifact-repository.ts";
import { StorageAuditLogs } from "../constructs/audit-logs.ts";
import { BatchWorkflow } from "../constructs/batch-workflow.ts";
import { PipelineAccess } from "../constructs/pipeline-access.ts";
import { PipelineAlerts } from "../constructs/pipeline-alerts.ts";
import { PipelineFunctions } from "../constructs/pipeline-functions.ts";
import { DEFAULT_RETENTION, PlatformBucket, type Retention } from "../constructs/platform-bucket.ts";
import { RequiredApis } from "../constructs/required-apis.ts";
import { ServiceAccounts } from "../constructs/service-accounts.ts";
import { PIPELINE_FUNCTIONS } from "../functions-spec.ts";
import {
  type ArtifactRegistryImage,
  defaultDeployBucket,
  functionName,
  repositoryResourceId,
  workflowName,
} from "../names.ts";
import { checkWorkflowEnv, functionEnv } from "../runtime-env.ts";
import type { InfraSettings } from "../settings.ts";
import { configureBackend, configureProvider } from "./stack-base.ts";

/** Seconds between the workflow's job polls while it waits on a Batch job. */
export const WORKFLOW_POLL_SECONDS = 30;

export interface PlatformStackProps {
  config: BatchlineConfig;
  settings: InfraSettings;
  /** The workflow definition's text. */
  workflowSource: string;
  /** The worker image, parsed, with any deploy-time tag applied. */
  workerImage: ArtifactRegistryImage;
  /** The worker image reference the jobs run. */
  workerImageRef: string;
  retention?: Retention;
}

/** `platform`: what a product's clients share. Deployed first; each client stack needs it in place. */
export class PlatformStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id);
    const { settings } = props;
    // Nothing here depends on the client list: clients reach the functions through the registry
    // (core/registry.ts, written by each client stack), so onboarding never changes this stack.
    const { platform } = props.config;
    const { project, region, product } = platform;
    configureBackend(this, id, platform, settings);
    configureProvider(this, platform);

    const apis = new RequiredApis(this, "apis", { project });
    const after = apis.services;
    new StorageAuditLogs(this, "audit-logs", { project, dependsOn: after });
    const accounts = new ServiceAccounts(this, "accounts", { project, product, dependsOn: after });
    const bucket = new PlatformBucket(this, "data", {
      project,
      name: platform.bucket,
      region,
      product,
      retention: props.retention ?? DEFAULT_RETENTION,
      dependsOn: after,
    });
    const repository = new ArtifactRepository(this, "images", {
      image: props.workerImage,
      product,
      dependsOn: after,
    });
    const functionsBucket = settings.functionsBucket ?? settings.stateBucket ?? defaultDeployBucket(project);
    new PipelineAccess(this, "access", {
      accounts,
      bucket,
      repository,
      functionsBucket,
    });

    // What the deployed code sees as the platform: the worker image carries the tag this deploy runs.
    const deployed: BatchlineConfig = {
      platform: { ...platform, workerImage: props.workerImageRef },
      clients: new Map(),
    };
    const functions = new PipelineFunctions(this, "functions", {
      project,
      region,
      product,
      functions: PIPELINE_FUNCTIONS,
      source: { bucket: functionsBucket, object: settings.functionsObject },
      runAs: (spec) => accounts.email(spec.runAs),
      buildServiceAccount: accounts.accounts.builder.id,
      dockerRepository: repositoryResourceId(props.workerImage),
      invoker: accounts.member("workflow"),
      env: functionEnv({
        project,
        region,
        product,
        bucket: platform.bucket,
        workerImage: props.workerImageRef,
        batchServiceAccount: accounts.email("worker"),
        configJson: JSON.stringify({ platform: deployed.platform }),
      }),
      dependsOn: [...after, repository.repository],
    });

    const workflow = new BatchWorkflow(this, "workflow", {
      project,
      region,
      name: workflowName(product),
      serviceAccountEmail: accounts.email("workflow"),
      source: props.workflowSource,
      env: checkWorkflowEnv(
        workflowEnv(deployed, {
          planUrl: functions.url("plan"),
          notifyUrl: functions.url("notify"),
          batchServiceAccount: accounts.email("worker"),
          pollSeconds: WORKFLOW_POLL_SECONDS,
        }),
      ),
      dependsOn: after,
    });

    new PipelineAlerts(this, "alerts", {
      project,
      product,
      workflow: workflowName(product),
      notifyFunction: functionName(product, "notify"),
      notificationChannels: platform.alerts?.notificationChannels ?? [],
      dependsOn: after,
    });

    new TerraformOutput(this, "workflow_id", { value: workflow.workflow.id });
    new TerraformOutput(this, "bucket", { value: bucket.bucket.url });
    new TerraformOutput(this, "plan_url", { value: functions.url("plan") });
    new TerraformOutput(this, "notify_url", { value: functions.url("notify") });
  }
}
