import { isRetryable, WORKER_RETRY } from "../core/classify.ts";
import { BatchlineError } from "../core/errors.ts";
import { capReason } from "../core/messages.ts";
import { EXIT } from "../core/runs.ts";

/** Whether a failed task may pass on a retry, and why it failed, in words for the task record. */
export interface Verdict {
  retryable: boolean;
  reason: string;
}

/** Longest reason a task record keeps (the result message caps it again, to MAX_REASON_CHARS). */
const MAX_TASK_REASON = 1000;

/**
 * Decides retryable (exit 1) or permanent (exit 3) for an error that ended a task, under core/classify.ts's
 * WORKER_RETRY: what nothing decides is retryable.
 */
export function verdictFor(err: unknown): Verdict {
  return { retryable: isRetryable(err, WORKER_RETRY), reason: describeError(err) };
}

/** The exit code the contract gives a verdict. */
export function exitCodeFor(verdict: { retryable: boolean }): number {
  return verdict.retryable ? EXIT.RETRYABLE : EXIT.PERMANENT;
}

/** One line about an error for the task record: its message, plus the code or status when it adds something. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  const seen = new Set<unknown>();
  // Follow causes a few levels (not through a BatchlineError, whose message already says it all).
  while (current !== undefined && !seen.has(current) && parts.length < 4) {
    seen.add(current);
    const text = oneError(current);
    if (!parts.some((p) => p.includes(text))) parts.push(text);
    if (!(current instanceof Error) || current instanceof BatchlineError) break;
    current = current.cause;
  }
  return capReason(parts.join(": ").replace(/\s+/g, " ").trim(), MAX_TASK_REASON);
}

function oneError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const text = err.message || err.name;
  const code = (err as { code?: unknown }).code;
  if ((typeof code === "string" || typeof code === "number") && !text.includes(String(code))) {
    return `${text} (${code})`;
  }
  return text;
}
