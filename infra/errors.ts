import { BatchlineError } from "../core/errors.ts";

/**
 * The infrastructure cannot be synthesized as configured: a missing file, a setting infra needs that the
 * config schema cannot check on its own, or a deploy setting from the environment. Never retryable: the
 * input has to change.
 */
export class InfraError extends BatchlineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, retryable: false });
  }
}
