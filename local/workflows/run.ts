import { randomUUID } from "node:crypto";
import { BatchlineError } from "../../core/errors.ts";
import { createLogger, type Logger } from "../../core/logger.ts";
import type { WorkflowProgram } from "./compile/program.ts";
import { createConnectorRegistry } from "./connectors/defaults.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";
import { ExecutionCancelled, errorMap, WorkflowError } from "./errors.ts";
import { callRoutine, runBlock, whereRaised } from "./interpreter.ts";
import { DEFAULT_LIMITS, MAX_ARGUMENT_BYTES, type RuntimeLimits } from "./limits.ts";
import { type Clock, defineVar, Exec, type LogEntry, realClock, Scope } from "./runtime.ts";
import { BytesNotJsonError, fromPlain, toJsonText, toPlain, type Value } from "./values.ts";

export interface RunOptions {
  /** The execution argument, as plain JSON (whole numbers become ints). */
  argument?: unknown;
  /** User environment variables for `sys.get_env`. */
  env?: Record<string, string>;
  connectors?: ConnectorRegistry;
  projectId?: string;
  /** GOOGLE_CLOUD_PROJECT_NUMBER; a made-up number by default. */
  projectNumber?: string;
  location?: string;
  workflowId?: string;
  revisionId?: string;
  executionId?: string;
  /** Receives `sys.log` entries; defaults to the project logger on stderr. */
  logSink?: (entry: unknown) => void;
  /** Cancels the execution: it stops at its next step, or inside a sleep or HTTP wait. */
  signal?: AbortSignal;
  /** Replace the clock (tests make sleeps and retry backoff instant). */
  clock?: Clock;
  /** Override runtime limits (the benchmark raises maxSteps; defaults are the service's). */
  limits?: Partial<RuntimeLimits>;
}

/** The outcome of one execution. `result` and `error.payload` are plain JSON. */
export interface ExecutionRecord {
  state: "SUCCEEDED" | "FAILED" | "CANCELLED";
  result?: unknown;
  error?: { payload: unknown; context?: string };
  stepCount: number;
  /** Most variable memory the execution held at once, in the service's accounting (0 when accounting is off). */
  peakMemoryBytes: number;
  startTime: string;
  endTime: string;
}

/** An execution under way: its live counters and the record it will end with. */
export interface StartedExecution {
  readonly exec: Exec;
  readonly done: Promise<ExecutionRecord>;
  cancel(): void;
}

/** The argument was refused before the execution started (the Executions API answers 400). */
export class ExecutionArgumentError extends BatchlineError {}

let defaultLogger: Logger | undefined;
function defaultSink(entry: unknown): void {
  defaultLogger ??= createLogger({ component: "workflows", destination: process.stderr });
  const e = entry as LogEntry;
  const level = (
    { DEBUG: "debug", INFO: "info", NOTICE: "info", WARNING: "warn", ERROR: "error" } as Record<
      string,
      string
    >
  )[e.severity];
  const log = (level ? defaultLogger[level as "info"] : defaultLogger.info).bind(defaultLogger);
  log(
    { executionId: e.executionId, step: e.step, payload: e.payload },
    typeof e.payload === "string" ? e.payload : "sys.log",
  );
}

function payloadOf(v: Value): unknown {
  try {
    return toPlain(v);
  } catch {
    return String(v);
  }
}

/** Runs a deployed workflow to its end (or cancellation). */
export function runWorkflow(program: WorkflowProgram, options: RunOptions = {}): Promise<ExecutionRecord> {
  return startExecution(program, options).done;
}

/** Starts an execution and hands back its live state; `runWorkflow` and `WorkflowEngine` are built on it. */
export function startExecution(program: WorkflowProgram, options: RunOptions = {}): StartedExecution {
  let argumentText = "null";
  try {
    argumentText = options.argument === undefined ? "null" : JSON.stringify(options.argument);
  } catch (err) {
    throw new ExecutionArgumentError(`the argument is not JSON: ${(err as Error).message}`);
  }
  if (Buffer.byteLength(argumentText, "utf8") > MAX_ARGUMENT_BYTES) {
    throw new ExecutionArgumentError(`the argument is larger than the ${MAX_ARGUMENT_BYTES / 1024} KB limit`);
  }
  const controller = new AbortController();
  if (options.signal) {
    if (options.signal.aborted) controller.abort();
    else options.signal.addEventListener("abort", () => controller.abort(), { once: true });
  }
  const executionId = options.executionId ?? randomUUID();
  const env = new Map<string, string>(Object.entries(options.env ?? {}));
  // Built-ins win over user variables, as the service reserves the GOOGLE_ prefix.
  env.set("GOOGLE_CLOUD_PROJECT_ID", options.projectId ?? "local-project");
  env.set("GOOGLE_CLOUD_PROJECT_NUMBER", options.projectNumber ?? "000000000000");
  env.set("GOOGLE_CLOUD_LOCATION", options.location ?? "us-central1");
  env.set("GOOGLE_CLOUD_WORKFLOW_ID", options.workflowId ?? "workflow");
  env.set("GOOGLE_CLOUD_WORKFLOW_REVISION_ID", options.revisionId ?? "000001-local");
  env.set("GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID", executionId);
  const sink = options.logSink ?? defaultSink;
  const limits: RuntimeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const exec = new Exec(
    limits,
    controller.signal,
    options.clock ?? realClock,
    env,
    options.connectors ?? createConnectorRegistry(),
    (entry) => sink(entry),
    executionId,
  );
  exec.invoke = (name, args, caller) => callRoutine(program.routines, name, args, caller, exec);
  const startTime = new Date(exec.clock.now()).toISOString();
  const done = (async (): Promise<ExecutionRecord> => {
    const finish = (
      rec: Omit<ExecutionRecord, "stepCount" | "peakMemoryBytes" | "startTime" | "endTime">,
    ): ExecutionRecord => ({
      ...rec,
      stepCount: exec.steps,
      peakMemoryBytes: exec.peakMemory,
      startTime,
      endTime: new Date(exec.clock.now()).toISOString(),
    });
    try {
      // Start on a later tick so the caller can register the execution before any step runs.
      await Promise.resolve();
      const main = program.main;
      const scope = new Scope(null, { routine: "main", callDepth: 1, parallelDepth: 0 });
      const param = main.params[0];
      if (param) defineVar(scope, exec, param.name, fromPlain(JSON.parse(argumentText)));
      const sig = await runBlock(main.body, scope, exec);
      const value: Value = sig !== undefined && sig.kind === "return" ? sig.value : null;
      try {
        return finish({ state: "SUCCEEDED", result: toPlain(value) });
      } catch (err) {
        if (!(err instanceof BytesNotJsonError)) throw err;
        const payload = errorMap("TypeError", "the workflow returned bytes, which cannot be JSON-encoded");
        return finish({
          state: "FAILED",
          error: { payload: toPlain(payload), context: `RuntimeError: ${toJsonText(payload)}` },
        });
      }
    } catch (err) {
      if (err instanceof ExecutionCancelled || controller.signal.aborted)
        return finish({ state: "CANCELLED" });
      if (err instanceof WorkflowError) {
        const where = whereRaised(err);
        let text: string;
        try {
          text = toJsonText(err.value);
        } catch {
          text = JSON.stringify(String(err.value));
        }
        const context = `RuntimeError: ${text}${where ? `\nin step "${where.step}", routine "${where.routine}"` : ""}`;
        return finish({ state: "FAILED", error: { payload: payloadOf(err.value), context } });
      }
      const payload = errorMap(
        "SystemError",
        `internal engine error: ${(err as Error)?.message ?? String(err)}`,
      );
      return finish({
        state: "FAILED",
        error: { payload: toPlain(payload), context: (err as Error)?.stack },
      });
    }
  })();
  return { exec, done, cancel: () => controller.abort() };
}
