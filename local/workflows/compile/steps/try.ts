import { type ExceptHandler, type RetryPolicy, runTry } from "../../control-flow.ts";
import { raise } from "../../errors.ts";
import { type Compiled, constant } from "../../expression.ts";
import type { Signal } from "../../interpreter.ts";
import type { Exec, Scope } from "../../runtime.ts";
import { DEFAULT_BACKOFF, RETRY_POLICIES, RETRY_PREDICATES, stdlibFunction } from "../../stdlib/index.ts";
import type { FunctionDef } from "../../stdlib/types.ts";
import { typeName, type Value } from "../../values.ts";
import type { RoutineContext } from "../routine-context.ts";
import { type BlockContext, describe, isPlainMap, type PlainMap, type StepFn } from "../shared.ts";

// `try` steps with `retry` and/or `except` (docs, "Syntax > Catch errors" and "Retry steps"); the retry loop
// and handler run in `runTry` in ../../control-flow.ts.

export function compileTry(
  routine: RoutineContext,
  name: string,
  body: PlainMap,
  next: Signal | undefined,
  ctx: BlockContext,
): StepFn {
  const inner = routine.step(name, body.try, ctx);
  const retry = body.retry === undefined ? undefined : compileRetryPolicy(routine, name, body.retry);
  let handler: ExceptHandler | undefined;
  if (body.except !== undefined) {
    const e = body.except;
    if (!isPlainMap(e)) routine.problem(name, "except must be a map with as and steps");
    else {
      for (const k of Object.keys(e))
        if (k !== "as" && k !== "steps") routine.problem(name, `unknown field "${k}" in except`);
      const as = e.as === undefined ? undefined : routine.varName(e.as, name, "except.as");
      // The service deploys `except: as: e` in a parallel branch even when `e` is a variable of the enclosing
      // scope that is not in `shared`. "Catching errors > Variable scope" gives an except block a scope of
      // its own ("a variable created inside an except block belongs to the local scope of that block"), so
      // the error map does not write the outer variable: it is bound in the branch, shadowing the outer one,
      // and the outer `e` keeps its value. A `shared` variable is written as any assignment would.
      const local = !!(as && ctx.parallel && !ctx.parallel.shared.has(as) && ctx.parallel.outer.has(as));
      handler = { as, local, steps: routine.block(e.steps, ctx, name) };
    }
  }
  if (!retry && !handler) routine.problem(name, "try needs retry, except or both");
  return (scope, exec) => runTry(inner, retry, handler, next, scope, exec);
}

export function compileRetryPolicy(
  routine: RoutineContext,
  name: string,
  raw: unknown,
): ((scope: Scope, exec: Exec) => Promise<RetryPolicy>) | undefined {
  const ref = (v: unknown): string | undefined => {
    if (typeof v !== "string") return undefined;
    const m = /^\$\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}$/.exec(v);
    return m?.[1];
  };
  const predicateFor = (
    v: unknown,
  ): ((e: Value, scope: Scope, exec: Exec) => Promise<boolean>) | undefined => {
    const n = ref(v);
    if (n === undefined) {
      routine.problem(
        name,
        `retry predicate must be \${SUBWORKFLOW} or a built-in predicate, got ${describe(v)}`,
      );
      return undefined;
    }
    if (RETRY_PREDICATES.has(n)) {
      const fn = (stdlibFunction(n) as FunctionDef).fn;
      return async (e, scope, exec) => fn([e], exec, scope) as boolean;
    }
    const sig = routine.program.signatures.get(n);
    if (!sig) {
      routine.problem(name, `retry predicate ${n} is neither a subworkflow nor a built-in predicate`);
      return undefined;
    }
    if (sig.params.length < 1 || sig.params.filter((p) => p.required).length > 1) {
      routine.problem(name, `retry predicate ${n} must take exactly one parameter (the error)`);
    }
    return async (e, scope, exec) => {
      const r = await exec.invoke(n, [e], scope);
      if (typeof r !== "boolean")
        raise("TypeError", `retry predicate ${n} must return a boolean, got ${typeName(r)}`);
      return r;
    };
  };
  const named = ref(raw);
  if (named !== undefined) {
    const policy = RETRY_POLICIES[named];
    if (!policy) {
      routine.problem(
        name,
        `unknown retry policy ${named}; use http.default_retry, http.default_retry_non_idempotent or a map`,
      );
      return undefined;
    }
    const predicate = predicateFor(`\${${policy.predicate}}`);
    if (!predicate) return undefined;
    const p = { ...policy, predicate };
    return async () => p;
  }
  if (!isPlainMap(raw)) {
    routine.problem(
      name,
      `retry must be a policy like \${http.default_retry} or a map; got ${describe(raw)}`,
    );
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (!["predicate", "max_retries", "backoff"].includes(k))
      routine.problem(name, `unknown field "${k}" in retry`);
  }
  const predicate = predicateFor(raw.predicate ?? `\${http.default_retry_predicate}`);
  if (raw.max_retries === undefined) routine.problem(name, "retry needs max_retries");
  const maxRetries = routine.value(raw.max_retries ?? 0n, name);
  let backoff: { initial_delay: Compiled; max_delay: Compiled; multiplier: Compiled } | undefined;
  if (raw.backoff === undefined || ref(raw.backoff) === "retry.default_backoff") {
    backoff = {
      initial_delay: constant(DEFAULT_BACKOFF.initialDelay),
      max_delay: constant(DEFAULT_BACKOFF.maxDelay),
      multiplier: constant(DEFAULT_BACKOFF.multiplier),
    };
  } else if (isPlainMap(raw.backoff)) {
    for (const k of Object.keys(raw.backoff)) {
      if (!["initial_delay", "max_delay", "multiplier"].includes(k))
        routine.problem(name, `unknown field "${k}" in backoff`);
    }
    backoff = {
      initial_delay: routine.value(raw.backoff.initial_delay ?? DEFAULT_BACKOFF.initialDelay, name),
      max_delay: routine.value(raw.backoff.max_delay ?? DEFAULT_BACKOFF.maxDelay, name),
      multiplier: routine.value(raw.backoff.multiplier ?? DEFAULT_BACKOFF.multiplier, name),
    };
  } else routine.problem(name, `backoff must be a map with initial_delay, max_delay and multiplier`);
  if (!predicate || !backoff) return undefined;
  const b = backoff;
  const num = (v: Value, field: string): number => {
    if (typeof v === "bigint") return Number(v);
    if (typeof v === "number") return v;
    return raise("TypeError", `retry ${field} must be a number, got ${typeName(v)}`);
  };
  return async (scope, exec) => ({
    maxRetries: num(await maxRetries.evaluate(scope, exec), "max_retries"),
    initialDelay: num(await b.initial_delay.evaluate(scope, exec), "backoff.initial_delay"),
    maxDelay: num(await b.max_delay.evaluate(scope, exec), "backoff.max_delay"),
    multiplier: num(await b.multiplier.evaluate(scope, exec), "backoff.multiplier"),
    predicate,
  });
}
