import { BatchlineError, describeValue } from "../../core/errors.ts";

/** The caller sent something we cannot act on; retrying the same request cannot help (HTTP 400). */
export class BadRequestError extends BatchlineError {
  /** Dotted path of the offending request field, when one field is to blame. */
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message, { retryable: false });
    this.field = field;
  }
}

/** The error body both functions answer with. */
export interface ErrorBody {
  error: { message: string; field?: string };
}

export interface ClassifiedError {
  status: 400 | 500 | 503;
  body: ErrorBody;
  retryable: boolean;
}

// HTTP statuses and socket errors after which the same request may well succeed.
const RETRYABLE_HTTP = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_ERRNO = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** The HTTP status of a Cloud Storage client error (ApiError carries it as a numeric `code`). */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" && code >= 100 && code < 600 ? code : undefined;
}

export function isPreconditionFailed(err: unknown): boolean {
  return httpStatusOf(err) === 412;
}

export function isNotFound(err: unknown): boolean {
  return httpStatusOf(err) === 404;
}

/** True for errors of storage or the network that a later retry of the whole call may get past. */
export function isTransient(err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status !== undefined) return RETRYABLE_HTTP.has(status);
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" && RETRYABLE_ERRNO.has(code);
}

/**
 * Maps any error to the answer the workflow gets: 400 for bad input, 503 when a retry may help (the
 * workflow's http.default_retry retries 503), 500 for everything else. Messages are ours or the client
 * library's; stack traces go to the log only.
 */
export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof BadRequestError) {
    const error =
      err.field === undefined ? { message: err.message } : { message: err.message, field: err.field };
    return { status: 400, body: { error }, retryable: false };
  }
  if (err instanceof BatchlineError) {
    return {
      status: err.retryable ? 503 : 500,
      body: { error: { message: err.message } },
      retryable: err.retryable,
    };
  }
  const message = err instanceof Error ? err.message : describeValue(err);
  if (isTransient(err)) {
    return {
      status: 503,
      body: { error: { message: `temporary failure, retry: ${message}` } },
      retryable: true,
    };
  }
  return { status: 500, body: { error: { message } }, retryable: false };
}
