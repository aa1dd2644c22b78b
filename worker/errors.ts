import { BatchlineError } from "../core/errors.ts";

/**
 * The task can never succeed as it stands: bad environment, a manifest without this task's entry, an input
 * generation that is gone or over the size limit. Exit 3; Batch fails the task without retrying it.
 */
export class PermanentTaskError extends BatchlineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryable: false });
  }
}
