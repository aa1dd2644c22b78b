import { WorkflowsWorkflow } from "@cdktf/provider-google/lib/workflows-workflow/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { terraformLiteral } from "../terraform-literal.ts";

export interface BatchWorkflowProps {
  project: string;
  region: string;
  name: string;
  /** Email of the account executions run as. */
  serviceAccountEmail: string;
  /** The workflow definition, as read from workflows/batch.workflows.yaml. */
  source: string;
  /** `user_env_vars`, from runtime-env.ts's WORKFLOW_ENV. */
  env: Record<string, string>;
  dependsOn?: ITerraformDependable[];
}

/** The product's one workflow; every client's trigger and schedule starts it. */
export class BatchWorkflow extends Construct {
  readonly workflow: WorkflowsWorkflow;

  constructor(scope: Construct, id: string, props: BatchWorkflowProps) {
    super(scope, id);
    this.workflow = new WorkflowsWorkflow(this, "workflow", {
      project: props.project,
      region: props.region,
      name: props.name,
      description: "Batchline: plan a client's inputs, run them as a Batch job, notify the client",
      serviceAccount: props.serviceAccountEmail,
      // The source is full of ${…} Workflows expressions, which Terraform must not read as its own.
      sourceContents: terraformLiteral(props.source),
      userEnvVars: props.env,
      callLogLevel: "LOG_ERRORS_ONLY",
      // The definition lives in git; re-creating the workflow loses nothing, and offboarding must be able to
      // destroy the stack.
      deletionProtection: false,
      dependsOn: props.dependsOn,
    });
  }
}
