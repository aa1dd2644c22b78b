import { type LoopSource, loopItems, rangeBound } from "../../control-flow.ts";
import { runBlock, type Signal } from "../../interpreter.ts";
import { defineVar, Scope } from "../../runtime.ts";
import type { RoutineContext } from "../routine-context.ts";
import { type BlockContext, describe, isPlainMap, type StepFn } from "../shared.ts";

// `for` steps (docs, "Syntax > Iteration") and the loop part that parallel for shares.

export function compileLoopSpec(
  routine: RoutineContext,
  name: string,
  raw: unknown,
  ctx: BlockContext,
  parallel: boolean,
) {
  if (!isPlainMap(raw)) {
    routine.problem(name, `for must be a map with value, in or range, and steps; got ${describe(raw)}`);
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (!["value", "index", "in", "range", "steps"].includes(k))
      routine.problem(name, `unknown field "${k}" in for`);
  }
  const value = routine.varName(raw.value, name, "for.value");
  const index = raw.index === undefined ? undefined : routine.varName(raw.index, name, "for.index");
  if ((raw.in === undefined) === (raw.range === undefined))
    routine.problem(name, "for needs exactly one of in or range");
  let source: LoopSource | undefined;
  if (raw.in !== undefined) source = { kind: "in", items: routine.value(raw.in, name) };
  else if (raw.range !== undefined) {
    if (Array.isArray(raw.range) && raw.range.length === 2) {
      source = {
        kind: "range",
        from: routine.value(raw.range[0], name),
        to: routine.value(raw.range[1], name),
      };
    } else if (typeof raw.range === "string") {
      const wholeRange = routine.value(raw.range, name);
      source = {
        kind: "range",
        from: {
          isAsync: true,
          evaluate: async (scope, exec) => rangeBound(await wholeRange.evaluate(scope, exec), 0),
        },
        to: {
          isAsync: true,
          evaluate: async (scope, exec) => rangeBound(await wholeRange.evaluate(scope, exec), 1),
        },
      };
    } else routine.problem(name, "for.range must be a list of two numbers [start, end]");
  }
  const loop = parallel ? "parallel-for" : "for";
  const body = routine.block(raw.steps, { chain: [], loop, parallel: ctx.parallel, names: new Set() }, name);
  if (!value || !source) return undefined;
  return { value, index, source, body };
}

export function compileFor(
  routine: RoutineContext,
  name: string,
  raw: unknown,
  next: Signal | undefined,
  ctx: BlockContext,
): StepFn {
  const spec = compileLoopSpec(routine, name, raw, ctx, false);
  if (!spec) return () => next;
  const { value, index, source, body } = spec;
  return async (scope, exec) => {
    const loop = new Scope(scope, scope.frame);
    try {
      for await (const [i, item] of loopItems(source, scope, exec)) {
        defineVar(loop, exec, value, item);
        if (index) defineVar(loop, exec, index, i);
        const sig = await runBlock(body, loop, exec);
        if (sig === undefined || sig.kind === "continue") continue;
        if (sig.kind === "break") break;
        return sig;
      }
    } finally {
      exec.release(loop);
    }
    return next;
  };
}
