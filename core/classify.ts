import { BatchlineError } from "./errors.ts";

/**
 * Which failures a retry may get past: one rule with two named tables.
 *
 * The two policies differ because their retries differ. A function answers 503 and the workflow retries the
 * same HTTP call a few seconds later with the same credentials, so only answers that say "later" count
 * (408, 429, 500, 502-504, a cut socket), and anything unexplained is a 500 that a person should see. A worker
 * task that fails is retried by Batch as a new attempt on a fresh VM with fresh credentials and a fresh upload
 * session, so it also retries 401 (expired token), 410 (expired upload session), every 5xx, timeouts and the
 * storage client's damaged-download codes, and it treats an unexplained error as retryable: a wrong
 * "retryable" costs at most maxRetryCount attempts, a wrong "permanent" fails an input that would have passed.
 */
export interface RetryPolicy {
  /** Where the HTTP status of an error is read from. */
  readonly statusOf: (err: unknown) => number | undefined;
  /** HTTP statuses after which the same call may succeed. */
  readonly statuses: ReadonlySet<number>;
  /** Whether every 5xx counts as well, not only those in `statuses`. */
  readonly everyServerError: boolean;
  /** String `code`s (socket, DNS, stream and client codes) after which the same call may succeed. */
  readonly codes: ReadonlySet<string>;
  /** Error names that mean a timeout or an abort. */
  readonly timeoutNames: ReadonlySet<string>;
  /** Whether `cause`s and AggregateError members are searched for a deciding error. */
  readonly followCauses: boolean;
  /** The answer for an error nothing in the table decides. */
  readonly undecided: boolean;
}

/** Socket and DNS codes from Node and undici that every policy retries. */
const SOCKET_CODES = [
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
];

/** The functions (plan, notify): what their 503 answer asks the workflow's http.default_retry to retry. */
export const FUNCTION_RETRY: RetryPolicy = {
  statusOf: statusFromNumericCode,
  statuses: new Set([408, 429, 500, 502, 503, 504]),
  everyServerError: false,
  codes: new Set(SOCKET_CODES),
  timeoutNames: new Set(),
  followCauses: false,
  undecided: false,
};

/** A worker task: retryable means exit 1 and another attempt from Batch. */
export const WORKER_RETRY: RetryPolicy = {
  statusOf: httpStatusOf,
  statuses: new Set([401, 408, 410, 429]),
  everyServerError: true,
  codes: new Set([
    ...SOCKET_CODES,
    "ECONNABORTED",
    "ESOCKETTIMEDOUT",
    "EHOSTUNREACH",
    "EHOSTDOWN",
    "ENETUNREACH",
    "ENETDOWN",
    "ENETRESET",
    "ERR_STREAM_PREMATURE_CLOSE",
    "ERR_SOCKET_CONNECTION_TIMEOUT",
    "UND_ERR_HEADERS_TIMEOUT",
    "UND_ERR_BODY_TIMEOUT",
    "UND_ERR_CLOSED",
    // The storage client's own (and core/object-read.ts's): bytes that did not match the object's hash were
    // damaged in transit.
    "CONTENT_DOWNLOAD_MISMATCH",
    "FILE_NO_UPLOAD",
  ]),
  timeoutNames: new Set(["AbortError", "TimeoutError"]),
  followCauses: true,
  undecided: true,
};

/**
 * Whether `err` may pass on a retry under `policy`. An error the code raised on purpose is a BatchlineError
 * and carries the decision; otherwise its HTTP status decides (a status in the table or, where the policy
 * says so, any 5xx: yes; another 4xx: no), then its string code, then its name.
 */
export function isRetryable(err: unknown, policy: RetryPolicy): boolean {
  for (const link of policy.followCauses ? causeChain(err) : [err]) {
    const decided = decide(link, policy);
    if (decided !== undefined) return decided;
  }
  return policy.undecided;
}

function decide(err: unknown, policy: RetryPolicy): boolean | undefined {
  if (err instanceof BatchlineError) return err.retryable;
  if (typeof err !== "object" || err === null) return undefined;
  const status = policy.statusOf(err);
  if (status !== undefined) {
    if (policy.statuses.has(status) || (policy.everyServerError && status >= 500)) return true;
    if (status >= 400) return false;
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && policy.codes.has(code.toUpperCase())) return true;
  const name = (err as { name?: unknown }).name;
  if (typeof name === "string" && policy.timeoutNames.has(name)) return true;
  return undefined;
}

/**
 * The HTTP status an error carries, wherever a Google client puts it: the storage client's ApiError as a
 * numeric `code`, a GaxiosError as `status` or `response.status`, some as a 3-digit string `code`.
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const v of [e.code, e.status, e.response?.status]) {
    const n = typeof v === "string" && /^\d{3}$/.test(v) ? Number(v) : v;
    if (typeof n === "number" && Number.isInteger(n) && n >= 100 && n <= 599) return n;
  }
  return undefined;
}

/** The HTTP status of a storage client error only (ApiError's numeric `code`): the functions' reading. */
export function statusFromNumericCode(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" && code >= 100 && code < 600 ? code : undefined;
}

/** The error, its causes and the members of aggregate errors, outermost first, without looping. */
export function* causeChain(err: unknown): Generator<unknown> {
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
