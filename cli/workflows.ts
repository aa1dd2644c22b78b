import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { registerBatchConnectors } from "../local/batch/connector.ts";
import {
  type ConnectorRegistry,
  createConnectorRegistry,
  ExecutionArgumentError,
  formatDeployProblem,
  parseWorkflow,
  runWorkflow,
  WorkflowDeployError,
  type WorkflowProgram,
} from "../local/workflows/index.ts";

/** Exit codes: 0 succeeded, 1 the workflow failed (unhandled error), 2 it could not be deployed or started. */
const EXIT_FAILED = 1;
const EXIT_DEPLOY = 2;
const EXIT_CANCELLED = 130;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--env takes NAME=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

class UsageError extends Error {}

/** Where Batch connector calls go unless --batch-endpoint says otherwise. */
const DEFAULT_BATCH_ENDPOINT = "http://127.0.0.1:8090";

/** Storage and Pub/Sub handlers from STORAGE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST, plus local Batch. */
function connectors(batchEndpoint: string): ConnectorRegistry {
  return registerBatchConnectors(createConnectorRegistry(), batchEndpoint);
}

/** Reads and deploys one file; on deploy problems prints them (file, step, reason) and returns undefined. */
function load(file: string, registry: ConnectorRegistry): WorkflowProgram | undefined {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (err) {
    console.error(`${file}: cannot read: ${(err as Error).message}`);
    return undefined;
  }
  try {
    return parseWorkflow(source, { fileName: file, connectors: registry });
  } catch (err) {
    if (!(err instanceof WorkflowDeployError)) throw err;
    for (const p of err.problems) console.error(formatDeployProblem(p));
    return undefined;
  }
}

/** `batchline workflows run|check`: the local Cloud Workflows engine from the command line. */
export function registerWorkflowsCommands(program: Command): void {
  const group = program
    .command("workflows")
    .description("run and validate Cloud Workflows files on the local engine");

  group
    .command("run")
    .description("run a workflow; prints the result as JSON on stdout, an unhandled error as JSON on stderr")
    .argument("<file>", "workflow source (YAML or JSON)")
    .option("--data <json>", "execution argument, as JSON")
    .option("--env <name=value>", "user environment variable for sys.get_env (repeatable)", collect, [])
    .option(
      "--batch-endpoint <url>",
      "Batch v1 REST endpoint for googleapis.batch.* calls",
      DEFAULT_BATCH_ENDPOINT,
    )
    .action(async (file: string, opts: { data?: string; env: string[]; batchEndpoint: string }) => {
      let argument: unknown;
      let env: Record<string, string>;
      try {
        argument = opts.data === undefined ? undefined : JSON.parse(opts.data);
        env = parseEnv(opts.env);
      } catch (err) {
        console.error(
          `${file}: ${err instanceof SyntaxError ? `--data is not JSON: ${err.message}` : (err as Error).message}`,
        );
        process.exitCode = EXIT_DEPLOY;
        return;
      }
      const registry = connectors(opts.batchEndpoint);
      const workflow = load(file, registry);
      if (!workflow) {
        process.exitCode = EXIT_DEPLOY;
        return;
      }
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        const record = await runWorkflow(workflow, {
          argument,
          env,
          connectors: registry,
          signal: controller.signal,
          // sys.log goes to stderr as one JSON line per entry, so stdout holds only the result.
          logSink: (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`),
        });
        if (record.state === "SUCCEEDED") {
          process.stdout.write(`${JSON.stringify(record.result ?? null)}\n`);
        } else if (record.state === "FAILED") {
          process.stderr.write(`${JSON.stringify(record.error?.payload ?? null)}\n`);
          process.exitCode = EXIT_FAILED;
        } else {
          process.stderr.write(`${JSON.stringify({ state: "CANCELLED", stepCount: record.stepCount })}\n`);
          process.exitCode = EXIT_CANCELLED;
        }
      } catch (err) {
        if (!(err instanceof ExecutionArgumentError)) throw err;
        console.error(`${file}: ${err.message}`);
        process.exitCode = EXIT_DEPLOY;
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });

  group
    .command("check")
    .description("validate workflow files as deploy would; prints each problem with file, step and reason")
    .argument("<files...>", "workflow sources (YAML or JSON)")
    .action((files: string[]) => {
      let bad = 0;
      const registry = connectors(DEFAULT_BATCH_ENDPOINT);
      for (const file of files) {
        if (load(file, registry)) console.log(`${file}: ok`);
        else bad++;
      }
      if (bad > 0) process.exitCode = 1;
    });
}
