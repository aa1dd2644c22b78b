import type { PubSub } from "@google-cloud/pubsub";
import { BatchlineError } from "../../core/errors.ts";

/** gRPC codes after which publishing the same message again may succeed. */
export const TRANSIENT_GRPC_CODES: ReadonlyMap<number, string> = new Map([
  [2, "UNKNOWN"],
  [4, "DEADLINE_EXCEEDED"],
  [8, "RESOURCE_EXHAUSTED"],
  [10, "ABORTED"],
  [13, "INTERNAL"],
  [14, "UNAVAILABLE"],
]);
const NOT_FOUND = 5;

export interface RetryPolicy {
  /** Publish attempts in all, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubles each time. */
  baseDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

function grpcCode(err: unknown): number | undefined {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "number" ? code : undefined;
}

/** What the caller gets when the topic does not exist: nothing a retry can fix until someone creates it. */
export class TopicNotFoundError extends BatchlineError {
  constructor(topic: string, cause: unknown) {
    super(
      `Pub/Sub topic ${topic} does not exist; create it (the client's infra stack does) and call notify again ` +
        "(the summary is kept, so the same message will be published)",
      { cause, retryable: false },
    );
  }
}

/**
 * Publishes with backoff on transient gRPC errors. A missing topic fails at once, naming the topic; other
 * errors fail at once too. Running out of attempts is retryable: the caller (the workflow) may call again.
 */
export async function publishWithRetry(
  topic: string,
  send: () => Promise<string>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<string> {
  let delay = policy.baseDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      const code = grpcCode(err);
      if (code === NOT_FOUND) throw new TopicNotFoundError(topic, err);
      const transient = code === undefined ? undefined : TRANSIENT_GRPC_CODES.get(code);
      if (transient === undefined) {
        throw new BatchlineError(`publishing to Pub/Sub topic ${topic} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (attempt >= policy.attempts) {
        throw new BatchlineError(
          `publishing to Pub/Sub topic ${topic} failed ${attempt} times (last: ${transient}: ${(err as Error).message})`,
          { cause: err, retryable: true },
        );
      }
      await policy.sleep(delay);
      delay = Math.min(policy.maxDelayMs, delay * 2);
    }
  }
}

/** Publishes one message (JSON body, attributes) to `topic` and returns its message id. */
export function publishJson(
  pubsub: PubSub,
  topic: string,
  body: unknown,
  attributes: Record<string, string>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<string> {
  // One message per call: send it now rather than waiting for a batch to fill.
  const handle = pubsub.topic(topic, { batching: { maxMessages: 1, maxMilliseconds: 0 } });
  const data = Buffer.from(JSON.stringify(body));
  return publishWithRetry(
    `"${topic}" (${handle.name})`,
    () => handle.publishMessage({ data, attributes }),
    policy,
  );
}
