import type { PlatformRole } from "./names.ts";

/**
 * The pipeline's HTTP functions, in one place for the bundler (infra/bundle.ts) and the platform stack.
 * Each `source` module must register its handler with functions-framework under `entryPoint`, e.g.
 * `http("plan", handler)`; the bundle imports every source, so one zip serves both functions.
 */
export interface FunctionSpec {
  /** Short name; the deployed function is `bl-<product>-<name>`. */
  name: string;
  /** The name the source registers with functions-framework. */
  entryPoint: string;
  /** Entry module, relative to the repository root. */
  source: string;
  /** The service account it runs as. */
  runAs: Extract<PlatformRole, "plan" | "notify">;
  description: string;
  availableMemory: string;
  timeoutSeconds: number;
  maxInstances: number;
}

export const PIPELINE_FUNCTIONS: readonly FunctionSpec[] = [
  {
    name: "plan",
    entryPoint: "plan",
    source: "functions/plan/index.ts",
    runAs: "plan",
    description: "Claims a client's pending inputs and writes the run manifest",
    availableMemory: "512Mi",
    timeoutSeconds: 540,
    maxInstances: 10,
  },
  {
    name: "notify",
    entryPoint: "notify",
    source: "functions/notify/index.ts",
    runAs: "notify",
    description: "Summarises a run, settles its claims and publishes the result message",
    availableMemory: "512Mi",
    timeoutSeconds: 540,
    maxInstances: 10,
  },
];

/** Cloud Functions runtime for both functions (the project targets Node 20). */
export const FUNCTION_RUNTIME = "nodejs20";
