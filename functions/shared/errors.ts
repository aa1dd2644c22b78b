import { FUNCTION_RETRY, isRetryable } from "../../core/classify.ts";
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

/** The HTTP answer a function gives for an error. */
export interface ErrorAnswer {
  status: 400 | 500 | 503;
  body: ErrorBody;
  retryable: boolean;
}

export function isPreconditionFailed(err: unknown): boolean {
  return FUNCTION_RETRY.statusOf(err) === 412;
}

export function isNotFound(err: unknown): boolean {
  return FUNCTION_RETRY.statusOf(err) === 404;
}

/**
 * Maps any error to the answer the workflow gets: 400 for bad input, 503 when a retry may help under
 * core/classify.ts's FUNCTION_RETRY (the workflow's http.default_retry retries 503), 500 for everything
 * else. Messages are ours or the client library's; stack traces go to the log only.
 */
export function answerFor(err: unknown): ErrorAnswer {
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
  if (isRetryable(err, FUNCTION_RETRY)) {
    return {
      status: 503,
      body: { error: { message: `temporary failure, retry: ${message}` } },
      retryable: true,
    };
  }
  return { status: 500, body: { error: { message } }, retryable: false };
}
