import { BatchlineError } from "../core/errors.ts";
import { EXIT } from "../core/runs.ts";

/** Whether a failed task may pass on a retry, and why it failed, in words for the task record. */
export interface Verdict {
  retryable: boolean;
  reason: string;
}

/** HTTP statuses a retry can fix: auth refresh, timeout, expired upload session, throttling, server errors. */
const RETRYABLE_STATUS = new Set([401, 408, 410, 429]);

/** Socket, DNS, timeout and stream-cut codes from Node, undici, gaxios and the storage client. */
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENETRESET",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  // The storage client's own: a download whose bytes did not match the object's hash was damaged in transit.
  "CONTENT_DOWNLOAD_MISMATCH",
  "FILE_NO_UPLOAD",
]);

const TIMEOUT_NAMES = new Set(["AbortError", "TimeoutError"]);

const MAX_REASON = 1000;

/**
 * Decides retryable (exit 1) or permanent (exit 3) for an error that ended a task.
 *
 * Errors the worker raises on purpose are BatchlineErrors and carry the decision. For everything else the
 * chain of causes is searched for something that decides it: an HTTP status from storage (408, 429, 5xx,
 * 401 and 410 retry; other 4xx such as 400, 403 and 404 do not) or a network code. What stays undecided is
 * treated as retryable: an unexplained error is more often the machine, the network or a dependency than
 * the input, a wrong "retryable" costs at most maxRetryCount attempts (and the claim's failure count still
 * leads to poison), while a wrong "permanent" fails an input that would have gone through.
 */
export function classifyError(err: unknown): Verdict {
  const reason = describeError(err);
  for (const link of causeChain(err)) {
    const retryable = decide(link);
    if (retryable !== undefined) return { retryable, reason };
  }
  return { retryable: true, reason };
}

/** The exit code the contract gives a verdict. */
export function exitCodeFor(verdict: { retryable: boolean }): number {
  return verdict.retryable ? EXIT.RETRYABLE : EXIT.PERMANENT;
}

/** The HTTP status an error from the storage client carries, if any. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.code, e.status, e.response?.status]) {
    const n = typeof v === "string" && /^\d{3}$/.test(v) ? Number(v) : v;
    if (typeof n === "number" && Number.isInteger(n) && n >= 100 && n <= 599) return n;
  }
  return undefined;
}

function decide(err: unknown): boolean | undefined {
  if (err instanceof BatchlineError) return err.retryable;
  if (typeof err !== "object" || err === null) return undefined;
  const status = httpStatusOf(err);
  if (status !== undefined) {
    if (status >= 500 || RETRYABLE_STATUS.has(status)) return true;
    if (status >= 400) return false;
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && RETRYABLE_CODES.has(code.toUpperCase())) return true;
  const name = (err as { name?: unknown }).name;
  if (typeof name === "string" && TIMEOUT_NAMES.has(name)) return true;
  return undefined;
}

/** The error, its causes and the members of aggregate errors, outermost first, without looping. */
function* causeChain(err: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && seen.size < 32) {
    const e = queue.shift();
    if (e === undefined || e === null || seen.has(e)) continue;
    seen.add(e);
    yield e;
    if (typeof e === "object") {
      const { cause, errors } = e as { cause?: unknown; errors?: unknown };
      if (cause !== undefined) queue.push(cause);
      if (e instanceof AggregateError && Array.isArray(errors)) queue.push(...errors);
    }
  }
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
  const text = parts.join(": ").replace(/\s+/g, " ").trim();
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 3)}...` : text;
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
