/**
 * Every error Batchline raises on purpose. `retryable` says whether trying the same thing again can help,
 * so callers (functions, workers, the workflow) decide on purpose between redelivery and a final failure.
 */
export class BatchlineError extends Error {
  readonly retryable: boolean;
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
  }
}

/** A config file is missing, unreadable or invalid. The message names the file, the field and the value. */
export class ConfigError extends BatchlineError {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[], options: { cause?: unknown } = {}) {
    super(`${file}: ${problems.map(formatProblem).join("; ")}`, options);
    this.file = file;
    this.problems = problems;
  }
}

export interface ConfigProblem {
  /** Dotted path of the field, e.g. `job.cpuMilli`; empty for the whole document. */
  field: string;
  message: string;
  /** The offending value as written, when there is one. */
  value?: unknown;
}

function formatProblem(p: ConfigProblem): string {
  const where = p.field === "" ? "document" : `field "${p.field}"`;
  const value = p.value === undefined ? "" : ` (got ${describeValue(p.value)})`;
  return `${where}: ${p.message}${value}`;
}

/** Short, safe rendering of a bad value for an error message. */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** An object name that does not follow `<product>/<client>/<area>/…` or is unsafe to use. */
export class ObjectNameError extends BatchlineError {
  readonly objectName: string;
  constructor(objectName: string, reason: string) {
    super(`object name ${describeValue(objectName)}: ${reason}`);
    this.objectName = objectName;
  }
}
