import { BatchlineError } from "../../core/errors.ts";

/** Canonical codes the Batch API answers with, and the HTTP status each maps to (google.rpc.Code). */
export const CANONICAL_HTTP = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  ABORTED: 409,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type CanonicalStatus = keyof typeof CANONICAL_HTTP;

/** One entry of a `google.rpc.BadRequest` detail: which request field was wrong and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** The JSON body Google APIs send with an error. */
export interface GoogleApiErrorBody {
  error: {
    code: number;
    message: string;
    status: CanonicalStatus;
    details?: unknown[];
  };
}

/**
 * An error as the Batch API reports it: HTTP `code`, canonical `status` and the service's `message`.
 * The HTTP server sends `toJSON()` as the body; the Workflows connector turns it into an HttpError map.
 * UNAVAILABLE and INTERNAL are the only ones a retry can help with.
 */
export class BatchApiError extends BatchlineError {
  readonly code: number;
  readonly status: CanonicalStatus;
  readonly violations: readonly FieldViolation[];

  constructor(
    status: CanonicalStatus,
    message: string,
    options: { violations?: FieldViolation[]; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause, retryable: status === "UNAVAILABLE" || status === "INTERNAL" });
    this.status = status;
    this.code = CANONICAL_HTTP[status];
    this.violations = options.violations ?? [];
  }

  toJSON(): GoogleApiErrorBody {
    const body: GoogleApiErrorBody = {
      error: { code: this.code, message: this.message, status: this.status },
    };
    if (this.violations.length > 0) {
      body.error.details = [
        {
          "@type": "type.googleapis.com/google.rpc.BadRequest",
          fieldViolations: this.violations.map((v) => ({ ...v })),
        },
      ];
    }
    return body;
  }
}

export function invalidArgument(message: string, violations?: FieldViolation[]): BatchApiError {
  return new BatchApiError("INVALID_ARGUMENT", message, { violations });
}

export function notFound(message: string): BatchApiError {
  return new BatchApiError("NOT_FOUND", message);
}

export function alreadyExists(message: string): BatchApiError {
  return new BatchApiError("ALREADY_EXISTS", message);
}

export function failedPrecondition(message: string): BatchApiError {
  return new BatchApiError("FAILED_PRECONDITION", message);
}
