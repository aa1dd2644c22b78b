import { Token } from "cdktf";
import { InfraError } from "./errors.ts";

/**
 * The environment the deployed code runs with. The workflow's variables are core's contract
 * (core/workflow-env.ts, shared with the local engine); this file defines the functions' variables and checks
 * both against the services' limits. docs/deploy.md documents both lists (a unit test keeps them in step).
 */
export interface FunctionValues {
  project: string;
  region: string;
  product: string;
  bucket: string;
  /** Worker image, tagged, that Batch jobs run. */
  workerImage: string;
  /** Email of the service account Batch jobs run as. */
  batchServiceAccount: string;
  /** The validated platform config as JSON (`{"platform": …}`); clients are read from the registry. */
  configJson: string;
}

export interface EnvVarSpec {
  name: string;
  description: string;
  value: (v: FunctionValues) => string;
}

/** `service_config.environment_variables` of both functions. */
export const FUNCTION_ENV: readonly EnvVarSpec[] = [
  { name: "BATCHLINE_PROJECT", description: "GCP project id", value: (v) => v.project },
  {
    name: "BATCHLINE_REGION",
    description: "region of the workflow, functions and jobs",
    value: (v) => v.region,
  },
  { name: "BATCHLINE_PRODUCT", description: "product id", value: (v) => v.product },
  {
    name: "BATCHLINE_BUCKET",
    description: "the bucket holding every client's objects",
    value: (v) => v.bucket,
  },
  {
    name: "BATCHLINE_WORKER_IMAGE",
    description: "worker image Batch jobs run, with the deployed tag",
    value: (v) => v.workerImage,
  },
  {
    name: "BATCHLINE_BATCH_SERVICE_ACCOUNT",
    description: "email of the service account Batch jobs run as",
    value: (v) => v.batchServiceAccount,
  },
  {
    name: "BATCHLINE_CONFIG",
    description:
      "platform config as validated JSON; parse it with core's schemas (clients come from the registry objects)",
    value: (v) => v.configJson,
  },
];

/** Workflows' limits on user environment variables. */
export const WORKFLOW_ENV_LIMITS = {
  maxVars: 20,
  maxValueBytes: 4096,
  reservedPrefixes: ["GOOGLE", "WORKFLOWS"],
} as const;
/** Cloud Run's limit on one environment variable's value. */
export const FUNCTION_ENV_MAX_VALUE_BYTES = 32_768;

/** Values only known at apply time (tokens) cannot be measured here and are skipped. */
function oversized(env: Record<string, string>, maxBytes: number): string | undefined {
  return Object.entries(env).find(
    ([, value]) => !Token.isUnresolved(value) && Buffer.byteLength(value) > maxBytes,
  )?.[0];
}

/** Fails synth, rather than the deploy, when the workflow's variables break Workflows' limits. */
export function checkWorkflowEnv(env: Record<string, string>): Record<string, string> {
  const names = Object.keys(env);
  if (names.length > WORKFLOW_ENV_LIMITS.maxVars) {
    throw new InfraError(`the workflow has ${names.length} environment variables; Workflows allows 20`);
  }
  const reserved = names.find((n) => WORKFLOW_ENV_LIMITS.reservedPrefixes.some((p) => n.startsWith(p)));
  if (reserved) throw new InfraError(`workflow environment variable ${reserved} uses a reserved prefix`);
  const big = oversized(env, WORKFLOW_ENV_LIMITS.maxValueBytes);
  if (big) {
    throw new InfraError(`workflow environment variable ${big} is longer than Workflows' 4 KiB per value`);
  }
  return env;
}

export function functionEnv(values: FunctionValues): Record<string, string> {
  const env = Object.fromEntries(FUNCTION_ENV.map((s) => [s.name, s.value(values)]));
  const big = oversized(env, FUNCTION_ENV_MAX_VALUE_BYTES);
  if (big) {
    throw new InfraError(
      `function environment variable ${big} is longer than Cloud Run's 32 KiB; ` +
        "the platform config has outgrown the environment",
    );
  }
  return env;
}
