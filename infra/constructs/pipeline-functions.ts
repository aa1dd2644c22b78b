import { CloudRunServiceIamMember } from "@cdktf/provider-google/lib/cloud-run-service-iam-member/index.js";
import { Cloudfunctions2Function } from "@cdktf/provider-google/lib/cloudfunctions2-function/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { FUNCTION_RUNTIME, type FunctionSpec } from "../functions-spec.ts";
import { ROLES } from "../iam.ts";
import { functionName } from "../names.ts";

export interface PipelineFunctionsProps {
  project: string;
  region: string;
  product: string;
  functions: readonly FunctionSpec[];
  /** Where the bundle built by infra/bundle.ts was uploaded. */
  source: { bucket: string; object: string };
  /** Email of each function's runtime account, by the spec's `runAs`. */
  runAs: (spec: FunctionSpec) => string;
  /** `projects/P/serviceAccounts/EMAIL` of the account Cloud Build builds the functions as. */
  buildServiceAccount: string;
  /** `projects/P/locations/L/repositories/R` for the build's container images. */
  dockerRepository: string;
  /** The only member allowed to invoke the functions: the workflow's account. */
  invoker: string;
  env: Record<string, string>;
  dependsOn?: ITerraformDependable[];
}

/**
 * The HTTP functions (Cloud Functions gen2). They are reachable on their URL, but only the workflow's
 * account holds `roles/run.invoker` on their Cloud Run services, so every other caller gets 403.
 */
export class PipelineFunctions extends Construct {
  readonly functions: Map<string, Cloudfunctions2Function>;

  constructor(scope: Construct, id: string, props: PipelineFunctionsProps) {
    super(scope, id);
    this.functions = new Map();
    for (const spec of props.functions) {
      const fn = new Cloudfunctions2Function(this, spec.name, {
        project: props.project,
        location: props.region,
        name: functionName(props.product, spec.name),
        description: spec.description,
        buildConfig: {
          runtime: FUNCTION_RUNTIME,
          entryPoint: spec.entryPoint,
          source: { storageSource: { bucket: props.source.bucket, object: props.source.object } },
          serviceAccount: props.buildServiceAccount,
          dockerRepository: props.dockerRepository,
        },
        serviceConfig: {
          serviceAccountEmail: props.runAs(spec),
          availableMemory: spec.availableMemory,
          timeoutSeconds: spec.timeoutSeconds,
          minInstanceCount: 0,
          maxInstanceCount: spec.maxInstances,
          // Workflows calls over HTTPS; IAM (the invoker binding below) is what keeps everyone else out.
          ingressSettings: "ALLOW_ALL",
          allTrafficOnLatestRevision: true,
          environmentVariables: props.env,
        },
        dependsOn: props.dependsOn,
      });
      // A gen2 function is served by the Cloud Run service of the same name; invoking needs run.invoker there.
      new CloudRunServiceIamMember(this, `${spec.name}-invoker`, {
        project: props.project,
        location: fn.location,
        service: fn.name,
        role: ROLES.runInvoker,
        member: props.invoker,
      });
      this.functions.set(spec.name, fn);
    }
  }

  url(name: string): string {
    const fn = this.functions.get(name);
    if (!fn) throw new Error(`no function named ${name}`);
    return fn.url;
  }
}
