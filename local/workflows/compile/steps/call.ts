import { callConnector } from "../../connectors/call.ts";
import { catalogueMethod } from "../../connectors/catalogue.ts";
import { raise } from "../../errors.ts";
import type { Compiled } from "../../expression.ts";
import type { Signal } from "../../interpreter.ts";
import type { Exec, Scope } from "../../runtime.ts";
import { stdlibFunction } from "../../stdlib/index.ts";
import { newMap, type Value } from "../../values.ts";
import type { RoutineContext } from "../routine-context.ts";
import {
  assignSync,
  assignTo,
  type BlockContext,
  describe,
  isPlainMap,
  type PlainMap,
  type StepFn,
} from "../shared.ts";

// `call` steps (docs, "Syntax > Calls"): subworkflows, connectors (emulated or published) and the standard library.

export function compileCall(
  routine: RoutineContext,
  name: string,
  body: PlainMap,
  next: Signal | undefined,
  ctx: BlockContext,
): StepFn {
  const fn = body.call;
  if (typeof fn !== "string" || fn === "") {
    routine.problem(name, `call must name a function, subworkflow or connector, got ${describe(fn)}`);
    return () => next;
  }
  const rawArgs = body.args === undefined ? {} : body.args;
  if (!isPlainMap(rawArgs)) {
    routine.problem(name, `args must be a map of argument names to values, got ${describe(rawArgs)}`);
    return () => next;
  }
  const args = Object.entries(rawArgs).map(([k, v]) => [k, routine.value(v, name)] as const);
  const result = body.result === undefined ? undefined : routine.target(body.result, name, ctx.parallel);
  const store = async (scope: Scope, exec: Exec, v: Value) => {
    if (result) await assignTo(result, v, scope, exec);
    return next;
  };
  const evalArgs = async (scope: Scope, exec: Exec) => {
    const m = new Map<string, Value>();
    for (const [k, c] of args) m.set(k, await c.evaluate(scope, exec));
    return m;
  };

  const sig = routine.program.signatures.get(fn);
  if (sig) {
    for (const [k] of args) {
      if (!sig.params.some((p) => p.name === k))
        routine.problem(name, `subworkflow ${fn} has no parameter "${k}"`);
    }
    for (const p of sig.params) {
      if (p.required && !args.some(([k]) => k === p.name))
        routine.problem(name, `call to ${fn} is missing argument "${p.name}"`);
    }
    return async (scope, exec) =>
      store(scope, exec, await exec.invoke(fn, await evalArgs(scope, exec), scope));
  }

  if (fn.startsWith("googleapis.")) {
    // A registered handler (an emulated connector) decides its own arguments; any other method Google
    // publishes deploys with the arguments the catalogue gives it and fails when called.
    const handler = routine.program.connectors.get(fn);
    const published = handler ? undefined : catalogueMethod(fn);
    if (!handler && !published) {
      routine.problem(name, routine.program.unknownMessage(fn));
      return () => next;
    }
    routine.program.usedConnectors.add(fn);
    const accepts = handler
      ? handler.params && new Set(handler.params)
      : published?.closed
        ? published.params
        : undefined;
    if (accepts) {
      for (const [k] of args) {
        if (k !== "connector_params" && !accepts.has(k))
          routine.problem(name, `connector ${fn} has no argument "${k}"`);
      }
    }
    for (const r of (handler ? handler.required : published?.required) ?? []) {
      if (!args.some(([k]) => k === r)) routine.problem(name, `connector ${fn} needs argument "${r}"`);
    }
    return async (scope, exec) => {
      const h = exec.connectors.get(fn);
      if (!h) {
        const emulated = exec.connectors.names();
        return raise(
          "SystemError",
          `connector ${fn} is not emulated by the local cloud; emulated connectors: ${emulated.join(", ") || "none"}`,
        );
      }
      const m = newMap();
      for (const [k, c] of args) m[k] = await c.evaluate(scope, exec);
      return store(scope, exec, await callConnector(fn, h, m, exec));
    };
  }

  const def = stdlibFunction(fn);
  if (!def) {
    routine.problem(name, routine.program.unknownMessage(fn));
    return () => next;
  }
  const positions: Array<[number, Compiled]> = [];
  for (const [k, c] of args) {
    const i = def.params.indexOf(k);
    if (i < 0)
      routine.problem(name, `${fn} has no argument "${k}" (it takes ${def.params.join(", ") || "none"})`);
    else positions.push([i, c]);
  }
  for (let i = 0; i < def.required; i++) {
    if (!positions.some(([p]) => p === i)) routine.problem(name, `${fn} needs argument "${def.params[i]}"`);
  }
  const impl = def.fn;
  const size = def.params.length;
  if (
    !def.blocking &&
    positions.every(([, c]) => !c.isAsync) &&
    (!result || result.keys.every((k) => !k.isAsync))
  ) {
    return (scope, exec) => {
      const a: (Value | undefined)[] = new Array(size);
      for (const [i, c] of positions) a[i] = c.evaluate(scope, exec) as Value;
      const v = impl(a, exec, scope) as Value;
      if (result) assignSync(result, v, scope, exec);
      return next;
    };
  }
  return async (scope, exec) => {
    const a: (Value | undefined)[] = new Array(size);
    for (const [i, c] of positions) a[i] = await c.evaluate(scope, exec);
    return store(scope, exec, await impl(a, exec, scope));
  };
}
