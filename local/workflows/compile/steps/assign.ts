import type { Compiled } from "../../expression.ts";
import type { Signal } from "../../interpreter.ts";
import { MAX_ASSIGNMENTS_PER_STEP } from "../../limits.ts";
import { type Exec, type Scope, setVar } from "../../runtime.ts";
import type { Value } from "../../values.ts";
import type { RoutineContext } from "../routine-context.ts";
import {
  type AssignTarget,
  assignSync,
  assignTo,
  type BlockContext,
  describe,
  isPlainMap,
  type StepFn,
} from "../shared.ts";

// `assign` steps (docs, "Syntax > Variables"): up to 50 assignments to variables, map keys or list items.

export function compileAssign(
  routine: RoutineContext,
  name: string,
  list: unknown,
  next: Signal | undefined,
  ctx: BlockContext,
): StepFn {
  if (!Array.isArray(list) || list.length === 0) {
    routine.problem(name, "assign must be a non-empty list of single-key maps (VARIABLE: VALUE)");
    return () => next;
  }
  if (list.length > MAX_ASSIGNMENTS_PER_STEP) {
    routine.problem(
      name,
      `an assign step may have at most ${MAX_ASSIGNMENTS_PER_STEP} assignments, this one has ${list.length}`,
    );
  }
  const items: Array<{ t: AssignTarget; v: Compiled }> = [];
  for (const entry of list) {
    if (!isPlainMap(entry) || Object.keys(entry).length !== 1) {
      routine.problem(
        name,
        `each assignment must be a single-key map VARIABLE: VALUE, got ${describe(entry)}`,
      );
      continue;
    }
    const [k, v] = Object.entries(entry)[0] as [string, unknown];
    const t = routine.target(k, name, ctx.parallel);
    if (t) items.push({ t, v: routine.value(v, name) });
  }
  const allSimple = items.every((i) => i.t.keys.length === 0 && !i.v.isAsync);
  if (allSimple && items.length === 1) {
    const root = (items[0] as { t: AssignTarget }).t.root;
    const f = (items[0] as { v: Compiled }).v.evaluate as (scope: Scope, exec: Exec) => Value;
    return (scope, exec) => {
      setVar(scope, exec, root, f(scope, exec));
      return next;
    };
  }
  if (items.every((i) => !i.v.isAsync && i.t.keys.every((k) => !k.isAsync))) {
    return (scope, exec) => {
      for (const { t, v } of items) assignSync(t, v.evaluate(scope, exec) as Value, scope, exec);
      return next;
    };
  }
  return async (scope, exec) => {
    for (const { t, v } of items) await assignTo(t, await v.evaluate(scope, exec), scope, exec);
    return next;
  };
}
