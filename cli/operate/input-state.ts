import { runId as computeRunId } from "../../core/ids.ts";
import { decide, type InputObject, type PendingRules } from "../../functions/plan/pending.ts";
import { type ClaimRead, claimNameFor } from "../../functions/shared/claims.ts";

const OUTSIDER = (product: string, client: string) =>
  computeRunId({ product, client, trigger: "manual", key: "\u0000batchline inputs" });

/** What `batchline inputs` says of an input. */
export const INPUT_STATES = ["pending", "running", "done", "failed", "poison", "invalid"] as const;
export type InputState = (typeof INPUT_STATES)[number];

export interface InputRow {
  object: string;
  /** The path under the client's inputs/. */
  path: string;
  generation: string;
  size: number;
  state: InputState;
  /** Failed runs of this generation so far (what the next run would carry). */
  failures: number;
  /** The run that last set the claim, when there is one. */
  runId: string | null;
  reason: string;
  /** The claim object, for retry. */
  claim: string;
}

/**
 * An input's state, from its claim and plan's own decide() (functions/plan/pending.ts), so the answer is what
 * the next plan would do:
 * - pending: the next run takes it (no claim, a re-upload, a released input);
 * - failed: the next run takes it again, and it has failed before;
 * - running: a live run holds it;
 * - done: this generation was processed;
 * - poison: it will not be tried again (it reached maxInputFailures, or can never be processed: the next
 *   plan refuses it);
 * - invalid: its claim is not a claim plan can read (plan leaves it alone).
 */
export function inputState(
  input: InputObject,
  inputsPrefix: string,
  claim: ClaimRead | undefined,
  rules: Omit<PendingRules, "runId">,
): InputRow {
  // A run id no run has (no execution id holds a NUL), so nothing is "ours": every input is judged as a new
  // run would judge it.
  const d = decide(input, claim, { ...rules, runId: OUTSIDER(rules.product, rules.client) });
  const c = claim?.valid ? claim.claim : undefined;
  const row: InputRow = {
    object: input.name,
    path: input.name.startsWith(inputsPrefix) ? input.name.slice(inputsPrefix.length) : input.name,
    generation: input.generation,
    size: input.size,
    state: "pending",
    failures: 0,
    runId: c?.runId ?? null,
    reason: "",
    claim: claimNameFor(rules.product, rules.client, input.name),
  };
  switch (d.kind) {
    case "claim":
      row.failures = d.failures;
      row.state = d.failures > 0 ? "failed" : "pending";
      row.reason = c && c.inputGeneration === input.generation ? c.reason : "";
      break;
    case "reject":
      // Never processed: the next plan marks it poison straight away.
      row.state = "poison";
      row.failures = d.failures;
      row.reason = `the next run refuses it: ${d.reason}`;
      break;
    case "skip":
      row.failures = c ? Number(c.failures) : 0;
      if (d.heldBy) {
        row.state = "running";
        row.reason = d.why;
      } else if (c?.state === "succeeded") {
        row.state = "done";
      } else {
        row.state = "poison";
        row.reason = c?.reason ? c.reason : d.why;
      }
      break;
    case "invalid-claim":
      row.state = "invalid";
      row.reason = d.problem;
      break;
    case "ours":
    case "ours-rejected":
      // Cannot happen with a run id no run has; judged as held, to be safe.
      row.state = "running";
      break;
  }
  return row;
}
