import { BatchlineError } from "../../core/errors.ts";
import { newMap, type Value, type ValueMap } from "./values.ts";

/**
 * Error tags the service puts in `tags` (docs, "Syntax > Error types"). ConnectionFailedError means the
 * connection was never made (refused, DNS); ConnectionError means it broke mid-way.
 */
export type ErrorTag =
  | "AuthError"
  | "ConnectionError"
  | "ConnectionFailedError"
  | "HttpError"
  | "IndexError"
  | "KeyError"
  | "OperationError"
  | "ParallelNestingError"
  | "RecursionError"
  | "ResourceLimitError"
  | "ResponseTypeError"
  | "SystemError"
  | "TimeoutError"
  | "TypeError"
  | "UnhandledBranchError"
  | "ValueError"
  | "ZeroDivisionError";

/**
 * A workflow-level exception: what `raise` raises and what `except: as: e` catches. `value` is the raised
 * value itself (a string for `raise: "text"`, otherwise usually a map with `message` and `tags`).
 */
export class WorkflowError extends Error {
  readonly value: Value;
  constructor(value: Value) {
    super(describeRaised(value));
    this.name = "WorkflowError";
    this.value = value;
  }
}

function describeRaised(value: Value): string {
  if (typeof value === "string") return value;
  if (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array)
  ) {
    const m = value.message;
    const tags = Array.isArray(value.tags) ? value.tags.filter((t) => typeof t === "string").join(", ") : "";
    if (typeof m === "string") return tags ? `${tags}: ${m}` : m;
  }
  return "workflow error";
}

/** Builds the error map the service raises for a built-in error: `{message, tags}` plus any extra fields. */
export function errorMap(tag: ErrorTag | ErrorTag[], message: string, extra?: ValueMap): ValueMap {
  const m = newMap();
  m.message = message;
  m.tags = Array.isArray(tag) ? [...tag] : [tag];
  if (extra) for (const k in extra) m[k] = extra[k] as Value;
  return m;
}

/** Throws a built-in workflow error. */
export function raise(tag: ErrorTag, message: string, extra?: ValueMap): never {
  throw new WorkflowError(errorMap(tag, message, extra));
}

/** Thrown through the interpreter when an execution is cancelled; `try/except` never catches it. */
export class ExecutionCancelled extends Error {
  constructor() {
    super("execution cancelled");
    this.name = "ExecutionCancelled";
  }
}

export interface DeployProblem {
  /** Source file, when the workflow came from one. */
  file?: string;
  /** Step (or `workflow/step`) the problem is in; absent for document-level problems. */
  step?: string;
  message: string;
}

/** Deploy-time rejection, as the service reports it at `workflows deploy`: every problem found, each naming
 * the step. Not retryable: the same source fails the same way. */
export class WorkflowDeployError extends BatchlineError {
  readonly problems: DeployProblem[];
  constructor(problems: DeployProblem[]) {
    super(problems.map(formatDeployProblem).join("\n"), { retryable: false });
    this.problems = problems;
  }
}

export function formatDeployProblem(p: DeployProblem): string {
  const where = [p.file, p.step ? `step "${p.step}"` : undefined].filter(Boolean).join(": ");
  return where ? `${where}: ${p.message}` : p.message;
}
