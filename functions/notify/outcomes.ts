import { capReason } from "../../core/messages.ts";
import type { ClaimMetadata, ManifestInput, TaskRecord } from "../../core/runs.ts";
import type { ClaimRead } from "../shared/claims.ts";
import type { JobState } from "./request.ts";

/** A task record as notify found it. */
export type RecordRead =
  | { kind: "ok"; record: TaskRecord }
  | { kind: "missing" }
  | { kind: "invalid"; problem: string };

/** How the job ended, as the workflow reported it. */
export interface JobOutcome {
  jobState: JobState | null;
  jobError: { message: string; code?: string } | null;
}

/** What happened to one input of the manifest. */
export interface InputOutcome {
  index: number;
  object: string;
  generation: string;
  status: "SUCCEEDED" | "FAILED";
  /** Why it failed; null when it succeeded. */
  reason: string | null;
  records: number;
  badRecords: number;
  output: string | null;
  errors: string | null;
  /**
   * Not processed because its run was interrupted (the execution ended without notify and the job is gone or
   * never finished this task): the input's claim is given back without counting a failure.
   */
  released?: boolean;
}

/**
 * Decides an input's outcome from its task record: a SUCCEEDED record about this input and generation is a
 * success; anything else is a failure with the best reason we have. A missing record is never a success.
 */
export function outcomeOf(
  input: ManifestInput,
  read: RecordRead,
  job: JobOutcome,
  interrupted: string | null = null,
): InputOutcome {
  const base = { index: input.index, object: input.object, generation: input.generation };
  const failed = (reason: string): InputOutcome => ({
    ...base,
    status: "FAILED",
    reason: capReason(reason),
    records: 0,
    badRecords: 0,
    output: null,
    errors: null,
  });
  const released = (why: string): InputOutcome => ({
    ...failed(`not processed: ${interrupted}; ${why}; it is pending again for the next run`),
    released: true,
  });
  if (read.kind === "missing") {
    if (interrupted !== null) return released(`task ${input.index} left no record`);
    if (job.jobState === null && job.jobError !== null) return failed(job.jobError.message);
    return failed(
      `task ${input.index} left no record (crashed, preempted or never started; job state ${job.jobState ?? "unknown"})`,
    );
  }
  if (read.kind === "invalid")
    return failed(`task ${input.index} left an unreadable record: ${read.problem}`);
  const record = read.record;
  if (record.input.object !== input.object || record.input.generation !== input.generation) {
    return failed(
      `task ${input.index}'s record is about ${record.input.object} generation ${record.input.generation}, ` +
        `not ${input.object} generation ${input.generation}`,
    );
  }
  if (record.status === "FAILED") {
    // A retryable failure of an interrupted job: Batch would have tried again, so it is not the input's fault.
    if (interrupted !== null && record.retryable) {
      return released(
        `task ${input.index}'s attempt ${record.attempt} failed (${record.error ?? "no reason"}) and was not retried`,
      );
    }
    const outcome = failed(
      record.error ?? `task ${input.index} failed (attempt ${record.attempt}) without giving a reason`,
    );
    return { ...outcome, records: record.records, badRecords: record.badRecords, errors: record.errors };
  }
  return {
    ...base,
    status: "SUCCEEDED",
    reason: null,
    records: record.records,
    badRecords: record.badRecords,
    output: record.output,
    errors: record.errors,
  };
}

/** A claim change notify makes, and what the message says about the input's failures. */
export interface Settlement {
  /** The new claim state to write by compare-and-swap; null: leave the claim alone. */
  write: ClaimMetadata | null;
  /** Runs this generation has failed so far, this one included (0 for a success). */
  failures: number;
  poison: boolean;
}

/**
 * What notify does to an input's claim. Only a claim this run still holds (`running`, this run id, this
 * generation) changes: success → `succeeded`; failure → failures + 1 and `failed` (pending again) or
 * `poison` at the threshold. A claim this run already settled (a repeated notify) is reported as it is.
 * A claim another run holds now (our lease ran out) is left alone.
 */
export function settle(
  outcome: Pick<InputOutcome, "status" | "reason" | "generation" | "released">,
  claim: ClaimRead | null,
  runId: string,
  maxInputFailures: number,
  now: Date,
): Settlement {
  const sameRun =
    claim?.valid === true &&
    claim.claim.runId === runId &&
    claim.claim.inputGeneration === outcome.generation;
  if (sameRun && claim.claim.state === "running") {
    const previous = Number(claim.claim.failures);
    if (outcome.released === true) {
      return {
        write: {
          ...claim.claim,
          state: "failed",
          leaseExpiresAt: now.toISOString(),
          reason: capReason(outcome.reason ?? "released"),
        },
        failures: previous,
        poison: false,
      };
    }
    if (outcome.status === "SUCCEEDED") {
      return {
        write: { ...claim.claim, state: "succeeded", leaseExpiresAt: now.toISOString(), reason: "" },
        failures: 0,
        poison: false,
      };
    }
    const failures = previous + 1;
    const poison = failures >= maxInputFailures;
    return {
      write: {
        ...claim.claim,
        state: poison ? "poison" : "failed",
        failures: String(failures),
        leaseExpiresAt: now.toISOString(),
        reason: capReason(outcome.reason ?? "failed"),
      },
      failures,
      poison,
    };
  }
  if (outcome.status === "SUCCEEDED") return { write: null, failures: 0, poison: false };
  if (sameRun) {
    return {
      write: null,
      failures:
        outcome.released === true ? Number(claim.claim.failures) : Math.max(1, Number(claim.claim.failures)),
      poison: claim.claim.state === "poison",
    };
  }
  const sameGeneration = claim?.valid === true && claim.claim.inputGeneration === outcome.generation;
  return {
    write: null,
    failures: sameGeneration ? Math.max(1, Number(claim.claim.failures)) : 1,
    poison: sameGeneration && claim.claim.state === "poison",
  };
}
