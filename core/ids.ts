import { createHash } from "node:crypto";
import { BatchlineError } from "./errors.ts";

/** Google Batch's job id rule. */
export const BATCH_JOB_ID_PATTERN = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Pub/Sub's topic id rule: 3-255 chars, starts with a letter, not with "goog". */
export const TOPIC_ID_PATTERN = /^(?!goog)[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

export type TriggerKind = "event" | "schedule" | "manual" | "recovery";

const TRIGGER_PREFIX: Record<TriggerKind, string> = {
  event: "ev",
  schedule: "sc",
  manual: "mn",
  recovery: "rc",
};

/** The client's output topic: `batch-<product>-<client>-outputs`. */
export function topicName(product: string, client: string): string {
  const topic = `batch-${product}-${client}-outputs`;
  if (!TOPIC_ID_PATTERN.test(topic)) {
    throw new BatchlineError(`topic name "${topic}" does not satisfy Pub/Sub's topic id rule`);
  }
  return topic;
}

export interface RunIdInput {
  product: string;
  client: string;
  trigger: TriggerKind;
  /**
   * What makes this run this run, e.g. the sorted `name#generation` list of the inputs it claims, or the
   * schedule tick time. The same key always gives the same id, so a retried call finds the same run.
   */
  key: string;
}

/** Deterministic run id: `<ev|sc|mn|rc>-<16 hex>`; satisfies Batch's id rule on its own. */
export function runId(input: RunIdInput): string {
  const digest = createHash("sha256")
    .update([input.product, input.client, input.trigger, input.key].join("\u0000"))
    .digest("hex");
  return `${TRIGGER_PREFIX[input.trigger]}-${digest.slice(0, 16)}`;
}

/** True when `id` looks like one of our run ids. */
export function isRunId(id: string): boolean {
  return /^(?:ev|sc|mn|rc)-[0-9a-f]{16}$/.test(id);
}

/**
 * Batch job id for a run: `bl-<product>-<client>-<runId>`, with the readable part shortened as needed to stay
 * within 63 characters. The run id (which hashes product and client) keeps it unique.
 */
export function batchJobId(product: string, client: string, run: string): string {
  if (!isRunId(run)) throw new BatchlineError(`"${run}" is not a run id`);
  const budget = 63 - run.length - 1;
  const readable = `bl-${product}-${client}`.slice(0, budget).replace(/-+$/, "");
  const id = `${readable}-${run}`;
  if (!BATCH_JOB_ID_PATTERN.test(id)) throw new BatchlineError(`job id "${id}" breaks Batch's id rule`);
  return id;
}
