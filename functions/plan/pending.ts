import { ObjectNameError } from "../../core/errors.ts";
import { errorsNameFor, isFolderPlaceholder, outputNameFor, parseObjectName } from "../../core/naming.ts";
import { type ClaimRead, claimNameFor } from "../shared/claims.ts";

/** An input object as the listing of `inputs/` shows it. */
export interface InputObject {
  name: string;
  /** GCS generation, decimal string. */
  generation: string;
  size: number;
}

/** Where a run puts everything about one input. */
export interface InputNames {
  output: string;
  errors: string;
  claim: string;
}

/** The rules of one planning pass. */
export interface PendingRules {
  product: string;
  client: string;
  /** The run being planned: claims it already holds are its own. */
  runId: string;
  now: Date;
  /** The client's poison threshold (maxInputFailuresFor). */
  maxInputFailures: number;
  maxInputBytes: number;
  maxInputsPerRun: number;
}

/** What planning does with one input. */
export type Decision =
  /** Already claimed by this run (an earlier attempt of the same plan call): take it without a write. */
  | {
      kind: "ours";
      input: InputObject;
      claimName: string;
      /** The generation this run claimed (a re-upload since then waits for a later run). */
      generation: string;
      claimGeneration: string;
      failures: number;
      names: InputNames;
    }
  /** Already refused by this run (an earlier attempt): report it again, no write. */
  | {
      kind: "ours-rejected";
      input: InputObject;
      claimName: string;
      generation: string;
      claimGeneration: string;
      failures: number;
      reason: string;
    }
  /** Pending: claim it by compare-and-swap on the claim object. */
  | {
      kind: "claim";
      input: InputObject;
      claimName: string;
      /** "0" when there is no claim yet, else the claim object's generation. */
      ifGenerationMatch: string;
      /** Failures carried over (including a run that died holding the input). */
      failures: number;
      names: InputNames;
    }
  /** Pending but can never be processed: claim it straight to poison and list it in `rejected`. */
  | {
      kind: "reject";
      input: InputObject;
      claimName: string;
      ifGenerationMatch: string;
      failures: number;
      reason: string;
    }
  /** Not pending: held by another run, done, or out of retries. */
  | {
      kind: "skip";
      input: InputObject;
      claimName: string;
      why: string;
      /** Set when another live run holds the claim: that run, and the generation it holds. */
      heldBy?: { runId: string; generation: string };
    }
  /** Its claim object is not a claim we can read: left alone and logged, never guessed at. */
  | { kind: "invalid-claim"; input: InputObject; claimName: string; problem: string };

/** Output, errors and claim names for a safe input; throws ObjectNameError for an input we must not build on. */
export function namesFor(product: string, client: string, runId: string, inputName: string): InputNames {
  const parsed = parseObjectName(inputName, { product, clients: new Set([client]) });
  if (parsed.area !== "inputs") throw new ObjectNameError(inputName, "is not under inputs/");
  return {
    output: outputNameFor(parsed),
    errors: errorsNameFor(parsed, runId),
    claim: claimNameFor(product, client, inputName),
  };
}

/** Orders GCS generations (int64 decimal strings). */
export function compareGenerations(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Oldest first: by generation, then by name for a stable order. */
export function byAge(a: InputObject, b: InputObject): number {
  return compareGenerations(a.generation, b.generation) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** A pending input: rejected if it can never be processed, else to be claimed. */
function pending(
  input: InputObject,
  claimName: string,
  ifGenerationMatch: string,
  failures: number,
  rules: PendingRules,
): Decision {
  const reject = (reason: string): Decision => ({
    kind: "reject",
    input,
    claimName,
    ifGenerationMatch,
    failures: failures + 1,
    reason,
  });
  if (input.size > rules.maxInputBytes) {
    return reject(
      `input is ${input.size} bytes, more than maxInputBytes (${rules.maxInputBytes}); it will not be processed`,
    );
  }
  let names: InputNames;
  try {
    names = namesFor(rules.product, rules.client, rules.runId, input.name);
  } catch (err) {
    if (!(err instanceof ObjectNameError)) throw err;
    return reject(err.message);
  }
  return { kind: "claim", input, claimName, ifGenerationMatch, failures, names };
}

/**
 * Decides what to do with one input given its claim (undefined: none), per docs/architecture.md: pending when
 * the claim is missing, is about another generation and not running, is `failed` below the threshold, or is
 * `running` past its lease (that death counts as a failure).
 */
export function decide(input: InputObject, claim: ClaimRead | undefined, rules: PendingRules): Decision {
  const claimName = claimNameFor(rules.product, rules.client, input.name);
  if (claim === undefined) return pending(input, claimName, "0", 0, rules);
  if (!claim.valid) return { kind: "invalid-claim", input, claimName, problem: claim.problem };
  const c = claim.claim;
  if (c.runId === rules.runId && c.state === "running") {
    // Claimed by an earlier attempt of this very run, for the generation it saw then.
    try {
      const names = namesFor(rules.product, rules.client, rules.runId, input.name);
      return {
        kind: "ours",
        input,
        claimName,
        generation: c.inputGeneration,
        claimGeneration: claim.generation,
        failures: Number(c.failures),
        names,
      };
    } catch (err) {
      if (!(err instanceof ObjectNameError)) throw err;
      const failures = Number(c.failures) + 1;
      return {
        kind: "reject",
        input,
        claimName,
        ifGenerationMatch: claim.generation,
        failures,
        reason: err.message,
      };
    }
  }
  if (c.runId === rules.runId && c.state === "poison") {
    return {
      kind: "ours-rejected",
      input,
      claimName,
      generation: c.inputGeneration,
      claimGeneration: claim.generation,
      failures: Number(c.failures),
      reason: c.reason,
    };
  }
  const sameGeneration = c.inputGeneration === input.generation;
  if (c.state === "running") {
    if (Date.parse(c.leaseExpiresAt) > rules.now.getTime()) {
      return {
        kind: "skip",
        input,
        claimName,
        why: `held by run ${c.runId} until ${c.leaseExpiresAt}`,
        heldBy: { runId: c.runId, generation: c.inputGeneration },
      };
    }
    // The holder died without notifying. Its death counts against the generation it held.
    if (!sameGeneration) return pending(input, claimName, claim.generation, 0, rules);
    const failures = Number(c.failures) + 1;
    if (failures >= rules.maxInputFailures) {
      return {
        kind: "reject",
        input,
        claimName,
        ifGenerationMatch: claim.generation,
        failures,
        reason:
          `run ${c.runId} held this input until its lease expired at ${c.leaseExpiresAt} without reporting an ` +
          `outcome; that was failure ${failures} of ${rules.maxInputFailures}` +
          (c.reason === "" ? "" : `; earlier: ${c.reason}`),
      };
    }
    return pending(input, claimName, claim.generation, failures, rules);
  }
  // A re-upload starts over, whatever happened to the generation before it.
  if (!sameGeneration) return pending(input, claimName, claim.generation, 0, rules);
  switch (c.state) {
    case "succeeded":
      return { kind: "skip", input, claimName, why: `processed by run ${c.runId}` };
    case "poison":
      return { kind: "skip", input, claimName, why: `poison: ${c.reason}` };
    case "failed": {
      const failures = Number(c.failures);
      if (failures >= rules.maxInputFailures) {
        return {
          kind: "skip",
          input,
          claimName,
          why: `failed ${failures} times (maxInputFailures ${rules.maxInputFailures})`,
        };
      }
      return pending(input, claimName, claim.generation, failures, rules);
    }
  }
}

/** What one planning pass will do, after the per-run cap. */
export interface RunPlan {
  ours: Extract<Decision, { kind: "ours" }>[];
  oursRejected: Extract<Decision, { kind: "ours-rejected" }>[];
  toClaim: Extract<Decision, { kind: "claim" }>[];
  toReject: Extract<Decision, { kind: "reject" }>[];
  /** How many pending inputs are left for a later run by maxInputsPerRun. */
  deferred: number;
  /** Those inputs: plan marks them in the pending index, so the next event plan takes them. */
  deferredInputs: InputObject[];
  skipped: Extract<Decision, { kind: "skip" }>[];
  invalidClaims: Extract<Decision, { kind: "invalid-claim" }>[];
}

/**
 * Decides every input of a client. Folder placeholders are ignored. What this run already holds is always
 * kept (leaving it out would strand it until its lease ends); pending inputs fill the rest of
 * maxInputsPerRun, oldest first.
 */
export function planInputs(
  inputs: readonly InputObject[],
  claims: ReadonlyMap<string, ClaimRead>,
  rules: PendingRules,
): RunPlan {
  const plan: RunPlan = {
    ours: [],
    oursRejected: [],
    toClaim: [],
    toReject: [],
    deferred: 0,
    deferredInputs: [],
    skipped: [],
    invalidClaims: [],
  };
  const candidates: (Extract<Decision, { kind: "claim" }> | Extract<Decision, { kind: "reject" }>)[] = [];
  for (const input of inputs) {
    if (isFolderPlaceholder(input.name)) continue;
    const decision = decide(input, claims.get(claimNameFor(rules.product, rules.client, input.name)), rules);
    switch (decision.kind) {
      case "ours":
        plan.ours.push(decision);
        break;
      case "ours-rejected":
        plan.oursRejected.push(decision);
        break;
      case "claim":
      case "reject":
        candidates.push(decision);
        break;
      case "skip":
        plan.skipped.push(decision);
        break;
      case "invalid-claim":
        plan.invalidClaims.push(decision);
        break;
    }
  }
  candidates.sort((a, b) => byAge(a.input, b.input));
  const slots = Math.max(0, rules.maxInputsPerRun - plan.ours.length - plan.oursRejected.length);
  for (const decision of candidates.slice(0, slots)) {
    if (decision.kind === "claim") plan.toClaim.push(decision);
    else plan.toReject.push(decision);
  }
  plan.deferredInputs = candidates.slice(slots).map((d) => d.input);
  plan.deferred = plan.deferredInputs.length;
  return plan;
}
