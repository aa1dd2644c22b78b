import { raise } from "../../errors.ts";
import type { Compiled } from "../../expression.ts";
import type { Signal, StepResult } from "../../interpreter.ts";
import { isPromise } from "../../interpreter.ts";
import { MAX_SWITCH_CONDITIONS } from "../../limits.ts";
import type { Exec, Scope } from "../../runtime.ts";
import { typeName, type Value } from "../../values.ts";
import type { RoutineContext } from "../routine-context.ts";
import { type BlockContext, describe, isPlainMap, type StepFn } from "../shared.ts";

// `switch` steps (docs, "Syntax > Conditions"): the first true condition runs its action.

export function compileSwitch(
  routine: RoutineContext,
  name: string,
  list: unknown,
  next: Signal | undefined,
  ctx: BlockContext,
): StepFn {
  if (!Array.isArray(list) || list.length === 0) {
    routine.problem(name, "switch must be a non-empty list of conditions");
    return () => next;
  }
  if (list.length > MAX_SWITCH_CONDITIONS) {
    routine.problem(
      name,
      `a switch may have at most ${MAX_SWITCH_CONDITIONS} conditions, this one has ${list.length}`,
    );
  }
  const conds: Array<{ cond: Compiled; action: (scope: Scope, exec: Exec) => StepResult }> = [];
  for (const entry of list) {
    if (!isPlainMap(entry) || !("condition" in entry)) {
      routine.problem(name, `each switch entry needs a condition, got ${describe(entry)}`);
      continue;
    }
    const { condition, ...rest } = entry;
    const cond = routine.value(condition, name);
    if (Object.keys(rest).length === 0) {
      routine.problem(name, "a switch condition needs next, steps, assign, call, return or raise");
      continue;
    }
    conds.push({ cond, action: routine.step(name, rest, ctx) });
  }
  const check = (v: Value): boolean => {
    if (typeof v !== "boolean") raise("TypeError", `switch condition must be a boolean, got ${typeName(v)}`);
    return v;
  };
  const finish = (r: StepResult): StepResult => {
    if (r !== undefined && isPromise(r)) return r.then((v) => v ?? next);
    return r ?? next;
  };
  if (conds.every((c) => !c.cond.isAsync)) {
    return (scope, exec) => {
      for (const c of conds)
        if (check(c.cond.evaluate(scope, exec) as Value)) return finish(c.action(scope, exec));
      return next;
    };
  }
  return async (scope, exec) => {
    for (const c of conds)
      if (check(await c.cond.evaluate(scope, exec))) return finish(c.action(scope, exec));
    return next;
  };
}
