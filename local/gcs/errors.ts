/**
 * Errors in the JSON API's shape: `{"error":{"code","message","errors":[{"message","domain","reason"}]}}`.
 * Handlers throw these; the server turns them into the response GCS would send.
 */
export class GcsError extends Error {
  readonly status: number;
  readonly reason: string;
  /** Extra fields of the `errors[0]` entry, e.g. `locationType` and `location`. */
  readonly details: Record<string, string>;
  /** Extra response headers, e.g. `Content-Range` on a 416. */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    reason: string,
    message: string,
    options: { details?: Record<string, string>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "GcsError";
    this.status = status;
    this.reason = reason;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
  }

  /** The response body; a 304 has none. */
  body(): string {
    if (this.status === 304) return "";
    return JSON.stringify({
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: "global", reason: this.reason, ...this.details }],
      },
    });
  }
}

export function invalid(message: string): GcsError {
  return new GcsError(400, "invalid", message);
}

export function required(message = "Required"): GcsError {
  return new GcsError(400, "required", message);
}

export function badRequest(message: string): GcsError {
  return new GcsError(400, "badRequest", message);
}

export function noSuchBucket(): GcsError {
  return new GcsError(404, "notFound", "The specified bucket does not exist.");
}

export function noSuchObject(bucket: string, name: string): GcsError {
  return new GcsError(404, "notFound", `No such object: ${bucket}/${name}`);
}

export function notFound(message: string): GcsError {
  return new GcsError(404, "notFound", message);
}

export function conflict(message: string): GcsError {
  return new GcsError(409, "conflict", message);
}

export function preconditionFailed(): GcsError {
  return new GcsError(
    412,
    "conditionNotMet",
    "At least one of the pre-conditions you specified did not hold.",
    {
      details: { locationType: "header", location: "If-Match" },
    },
  );
}

export function notModified(): GcsError {
  return new GcsError(304, "notModified", "Not Modified");
}

export function rangeNotSatisfiable(size: number): GcsError {
  return new GcsError(416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied.", {
    headers: { "content-range": `bytes */${size}` },
  });
}

export function methodNotAllowed(): GcsError {
  return new GcsError(405, "methodNotAllowed", "The requested method is not allowed for this resource.");
}

export function internal(message: string): GcsError {
  return new GcsError(500, "backendError", message);
}
