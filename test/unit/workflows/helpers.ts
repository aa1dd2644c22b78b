// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import {
  type Clock,
  type ExecutionRecord,
  parseWorkflow,
  type RunOptions,
  runWorkflow,
  WorkflowDeployError,
} from "../../../local/workflows/index.ts";

/** A clock whose sleeps return at once but move time forward; `sleeps` records every requested delay (ms). */
export function fakeClock(start = Date.UTC(2024, 0, 1)): Clock & { sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** Deploys and runs a workflow source, with sys.log entries kept out of the test output. */
export function run(source: string, options: RunOptions = {}): Promise<ExecutionRecord> {
  return runWorkflow(parseWorkflow(source), { logSink: () => {}, ...options });
}

/** The result of a run that must succeed. */
export async function result(source: string, options: RunOptions = {}): Promise<unknown> {
  const rec = await run(source, options);
  if (rec.state !== "SUCCEEDED") throw new Error(`expected success, got ${JSON.stringify(rec)}`);
  return rec.result;
}

/** The error payload of a run that must fail. */
export async function failure(
  source: string,
  options: RunOptions = {},
): Promise<{ message?: string; tags?: string[]; [k: string]: unknown }> {
  const rec = await run(source, options);
  if (rec.state !== "FAILED") throw new Error(`expected failure, got ${JSON.stringify(rec)}`);
  return rec.error?.payload as { message?: string; tags?: string[] };
}

/** The problems of a source that must not deploy. */
export function deployProblems(source: string, fileName?: string): WorkflowDeployError["problems"] {
  try {
    parseWorkflow(source, { fileName });
  } catch (err) {
    if (err instanceof WorkflowDeployError) return err.problems;
    throw err;
  }
  throw new Error("expected a deploy error");
}

/** A one-step main that returns the expression. */
export function expr(expression: string): string {
  return `main:\n  steps:\n    - r:\n        return: ${JSON.stringify(`\${${expression}}`)}\n`;
}
