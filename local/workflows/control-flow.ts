import { raise, WorkflowError } from "./errors.ts";
import type { Compiled } from "./expression.ts";
import { type Block, isPromise, runBlock, type Signal, type StepResult } from "./interpreter.ts";
import { defineVar, type Exec, type Scope, setVar } from "./runtime.ts";
import { isMap, newMap, typeName, type Value } from "./values.ts";

// Run-time behaviour of the steps that run other steps: loop items, parallel branches, try with retry and
// except. The compilers in compile/steps/ check the source and build these calls; the interpreter runs
// blocks of steps (interpreter.ts).

/** Whether a raised value is an error map carrying `tag`. */
export function hasTag(value: Value, tag: string): boolean {
  return isMap(value) && Array.isArray(value.tags) && value.tags.includes(tag);
}

/** One bound of `range: ${expr}` when the whole range is one expression giving `[start, end]`. */
export function rangeBound(range: Value, position: number): Value {
  if (!Array.isArray(range) || range.length !== 2)
    raise("TypeError", "for.range must evaluate to a list of two numbers");
  return (range as Value[])[position] as Value;
}

/** What a `for` iterates over: `in` (a list or a map's keys) or an inclusive `range`. */
export type LoopSource = { kind: "in"; items: Compiled } | { kind: "range"; from: Compiled; to: Compiled };

/** Items of a `for` with their index: a list's elements, a map's keys, or the numbers of an inclusive range. */
export async function* loopItems(
  source: LoopSource,
  scope: Scope,
  exec: Exec,
): AsyncGenerator<[bigint, Value]> {
  if (source.kind === "in") {
    const v = await source.items.evaluate(scope, exec);
    let items: Value[];
    if (Array.isArray(v)) items = v.slice();
    else if (isMap(v)) items = Object.keys(v);
    else return raise("TypeError", `for.in must be a list or a map, got ${typeName(v)}`);
    for (let i = 0; i < items.length; i++) yield [BigInt(i), items[i] as Value];
    return;
  }
  const from = await source.from.evaluate(scope, exec);
  const to = await source.to.evaluate(scope, exec);
  const isNum = (v: Value) => typeof v === "bigint" || typeof v === "number";
  if (!isNum(from) || !isNum(to))
    raise("TypeError", `for.range bounds must be numbers, got ${typeName(from)} and ${typeName(to)}`);
  if (typeof from === "bigint" && typeof to === "bigint") {
    let i = 0n;
    for (let v = from; v <= to; v++) yield [i++, v];
    return;
  }
  const end = Number(to);
  let i = 0n;
  for (let v = Number(from); v <= end; v += 1) yield [i++, v];
}

/** A branch or iteration of a parallel step, ready to run: its id, its own scope and its steps. */
export type BranchTask = [id: string, scope: Scope, steps: Block];

/** Produces the branches (or iterations) of a parallel step, each in a new scope whose frame is `frame`. */
export type BranchSource = (parent: Scope, exec: Exec, frame: Scope["frame"]) => AsyncIterable<BranchTask>;

/**
 * Runs the branches of parallel step `stepName`, at most `concurrencyLimit` (or the execution's limit) at a
 * time. Every branch runs to its end (`exception_policy: continueAll`); branch errors are then raised
 * together as UnhandledBranchError with `branches: [{id, error}]`. ParallelNestingError and anything that is
 * not a workflow error end the step as they are, once the running branches have finished.
 */
export async function runBranches(
  stepName: string,
  branches: BranchSource,
  concurrencyLimit: Compiled | undefined,
  scope: Scope,
  exec: Exec,
): Promise<void> {
  const depth = scope.frame.parallelDepth + 1;
  if (depth > exec.limits.maxParallelDepth) {
    raise("ParallelNestingError", `parallel steps may nest at most ${exec.limits.maxParallelDepth} deep`);
  }
  let max = exec.limits.maxConcurrentBranches;
  if (concurrencyLimit) {
    const v = await concurrencyLimit.evaluate(scope, exec);
    if (typeof v !== "bigint" || v < 1n)
      raise("ValueError", `concurrency_limit must be a positive integer, got ${typeName(v)}`);
    max = Math.min(max, Number(v));
  }
  const frame = { ...scope.frame, parallelDepth: depth };
  const errors: Array<{ id: string; error: Value }> = [];
  let fatal: unknown;
  const running = new Set<Promise<void>>();
  const runOne = async (id: string, branchScope: Scope, steps: Block) => {
    try {
      await runBlock(steps, branchScope, exec);
    } catch (err) {
      // Nesting errors are about the workflow's shape, not a branch's work: they end the step as they are.
      if (err instanceof WorkflowError && !hasTag(err.value, "ParallelNestingError")) {
        errors.push({ id, error: err.value });
      } else fatal ??= err;
    } finally {
      exec.release(branchScope);
    }
  };
  for await (const [id, branchScope, steps] of branches(scope, exec, frame)) {
    if (fatal !== undefined) {
      exec.release(branchScope);
      break;
    }
    const p: Promise<void> = runOne(id, branchScope, steps).then(() => {
      running.delete(p);
    });
    running.add(p);
    if (running.size >= max) await Promise.race(running);
  }
  await Promise.all(running);
  if (fatal !== undefined) throw fatal;
  if (errors.length > 0) {
    exec.unhandledBranchErrors += errors.length;
    if (exec.unhandledBranchErrors > exec.limits.maxUnhandledBranchErrors) {
      raise(
        "ResourceLimitError",
        `more than ${exec.limits.maxUnhandledBranchErrors} unhandled branch errors in this execution`,
      );
    }
    const failed = errors.map(({ id, error }) => {
      const m = newMap();
      m.id = id;
      m.error = error;
      return m;
    });
    raise(
      "UnhandledBranchError",
      `${errors.length} branch${errors.length === 1 ? "" : "es"} or iteration${errors.length === 1 ? "" : "s"} of parallel step ${stepName} raised an unhandled error`,
      { branches: failed },
    );
  }
}

/** A retry policy as evaluated when an error arrives (its fields may be expressions). */
export interface RetryPolicy {
  maxRetries: number;
  initialDelay: number;
  maxDelay: number;
  multiplier: number;
  predicate: (error: Value, scope: Scope, exec: Exec) => Promise<boolean>;
}

/** The `except` part of a try step: where the error goes and the steps that handle it. */
export interface ExceptHandler {
  /** Variable named by `as`, if any. */
  as?: string;
  /** Bind `as` in the current scope, shadowing an enclosing variable (a parallel branch's except, see compile/steps/try.ts). */
  local: boolean;
  steps: Block;
}

/**
 * Runs a try step's body; on a workflow error, retries it while the policy allows (waiting the backoff
 * delay in between), then hands the error to the except handler, or raises it again when there is none.
 */
export async function runTry(
  body: (scope: Scope, exec: Exec) => StepResult,
  retry: ((scope: Scope, exec: Exec) => Promise<RetryPolicy>) | undefined,
  handler: ExceptHandler | undefined,
  next: Signal | undefined,
  scope: Scope,
  exec: Exec,
): Promise<Signal | undefined> {
  let attempt = 0;
  let delay = 0;
  for (;;) {
    try {
      let ended = body(scope, exec);
      if (ended !== undefined && isPromise(ended)) ended = await ended;
      return ended ?? next;
    } catch (err) {
      if (!(err instanceof WorkflowError)) throw err;
      if (retry) {
        const policy = await retry(scope, exec);
        if (attempt === 0) delay = policy.initialDelay;
        if (attempt < policy.maxRetries && (await policy.predicate(err.value, scope, exec))) {
          await exec.sleep(delay * 1000);
          delay = Math.min(delay * policy.multiplier, policy.maxDelay);
          attempt++;
          continue;
        }
      }
      if (!handler) throw err;
      if (handler.as) {
        if (handler.local) defineVar(scope, exec, handler.as, err.value);
        else setVar(scope, exec, handler.as, err.value);
      }
      return (await runBlock(handler.steps, scope, exec)) ?? next;
    }
  }
}
