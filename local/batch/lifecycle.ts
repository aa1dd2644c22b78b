import type { LifecyclePolicyJson } from "./spec.ts";

/**
 * What happens after a task attempt ends (task.proto, TaskSpec.lifecycle_policies and LifecyclePolicy.action;
 * "Automate task retries"):
 * - exit 0: the task succeeded;
 * - no policy: retry while retries are left (maxRetryCount, default 0 = never);
 * - a policy whose exitCodes hold the code decides: RETRY_TASK retries (while retries are left), FAIL_TASK
 *   fails at once;
 * - a code no policy lists gets the opposite action ("The opposite action is taken for all unspecified
 *   failures"): with a single FAIL_TASK policy every other failure is retried, with a single RETRY_TASK
 *   policy every other failure fails at once.
 * The API documents "Currently we only support one lifecycle policy". Given several, the first listing the
 * code decides; for an unlisted code the opposite action applies when all policies share one action, and
 * the default policy (retry with maxRetryCount) when they mix RETRY_TASK and FAIL_TASK.
 */
export type AttemptOutcome = "succeeded" | "retry" | "failed";

export function decideOutcome(
  exitCode: number,
  policies: readonly LifecyclePolicyJson[],
  retriesUsed: number,
  maxRetryCount: number,
): AttemptOutcome {
  if (exitCode === 0) return "succeeded";
  let action: "retry" | "fail" = "retry";
  const match = policies.find((p) => (p.actionCondition?.exitCodes ?? []).includes(exitCode));
  if (match) {
    action = match.action === "FAIL_TASK" ? "fail" : "retry";
  } else if (policies.length > 0) {
    const actions = new Set(policies.map((p) => p.action));
    if (actions.size === 1) action = actions.has("FAIL_TASK") ? "retry" : "fail";
  }
  if (action === "fail") return "failed";
  return retriesUsed < maxRetryCount ? "retry" : "failed";
}
