import { raise, WorkflowError } from "./errors.ts";
import { defineVar, type Exec, Scope } from "./runtime.ts";
import type { Value } from "./values.ts";

/** How a block of steps ended, when not by running off its last step. */
export type Signal =
  | { kind: "next"; target: string }
  | { kind: "break" }
  | { kind: "continue" }
  | { kind: "end" }
  | { kind: "return"; value: Value };

export const BREAK: Signal = Object.freeze({ kind: "break" });
export const CONTINUE: Signal = Object.freeze({ kind: "continue" });
export const END: Signal = Object.freeze({ kind: "end" });

export type StepResult = Signal | undefined | Promise<Signal | undefined>;

export interface Step {
  name: string;
  exec: (scope: Scope, exec: Exec) => StepResult;
}

/** Steps at one level, and where each named step is (for `next` jumps within the block). */
export interface Block {
  steps: Step[];
  index: Map<string, number>;
}

export interface Param {
  name: string;
  required: boolean;
  default: Value;
}

export interface Routine {
  name: string;
  params: Param[];
  body: Block;
}

/** Where a workflow error was raised, for the execution's error context. */
export interface RaisedAt {
  step: string;
  routine: string;
}

const raisedAt = new WeakMap<WorkflowError, RaisedAt>();

export function whereRaised(err: WorkflowError): RaisedAt | undefined {
  return raisedAt.get(err);
}

const YIELD_EVERY = 1024;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Whether a step gave a promise (it waits) rather than its result (it ran synchronously). */
export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === "function";
}

/** Runs a block; `next` jumps inside it are followed here, anything else is handed to the caller. */
export async function runBlock(block: Block, scope: Scope, exec: Exec): Promise<Signal | undefined> {
  const steps = block.steps;
  const n = steps.length;
  let i = 0;
  let st: Step | undefined;
  try {
    while (i < n) {
      st = steps[i] as Step;
      exec.step();
      exec.currentStep = st.name;
      // Let timers, I/O and other executions run now and then, so cancel() is seen in CPU-bound loops.
      if (exec.steps % YIELD_EVERY === 0) await yieldToLoop();
      let r = st.exec(scope, exec);
      if (r !== undefined && isPromise(r)) r = await r;
      if (r === undefined) {
        i++;
        continue;
      }
      if (r.kind === "next") {
        const j = block.index.get(r.target);
        if (j !== undefined) {
          i = j;
          continue;
        }
      }
      return r;
    }
    return undefined;
  } catch (err) {
    if (err instanceof WorkflowError && st !== undefined && !raisedAt.has(err)) {
      raisedAt.set(err, { step: st.name, routine: scope.frame.routine });
    }
    throw err;
  }
}

/** Calls a subworkflow with positional (expression call) or named (call step) arguments. */
export async function callRoutine(
  routines: ReadonlyMap<string, Routine>,
  name: string,
  args: Value[] | Map<string, Value>,
  caller: Scope,
  exec: Exec,
): Promise<Value> {
  const r = routines.get(name);
  if (!r) return raise("SystemError", `subworkflow ${name} is not defined`);
  const depth = caller.frame.callDepth + 1;
  if (depth > exec.limits.maxCallDepth) {
    raise(
      "RecursionError",
      `maximum call stack depth of ${exec.limits.maxCallDepth} exceeded calling ${name}`,
    );
  }
  const scope = new Scope(null, {
    routine: name,
    callDepth: depth,
    parallelDepth: caller.frame.parallelDepth,
  });
  try {
    bindParams(r, args, scope, exec);
    const prev = exec.currentRoutine;
    exec.currentRoutine = name;
    try {
      const sig = await runBlock(r.body, scope, exec);
      return sig !== undefined && sig.kind === "return" ? sig.value : null;
    } finally {
      exec.currentRoutine = prev;
    }
  } finally {
    exec.release(scope);
  }
}

export function bindParams(r: Routine, args: Value[] | Map<string, Value>, scope: Scope, exec: Exec): void {
  if (Array.isArray(args)) {
    if (args.length > r.params.length) {
      raise("TypeError", `${r.name} takes ${r.params.length} arguments, got ${args.length}`);
    }
    r.params.forEach((p, i) => {
      if (i < args.length) defineVar(scope, exec, p.name, args[i] as Value);
      else if (p.required) raise("TypeError", `${r.name}: missing argument '${p.name}'`);
      else defineVar(scope, exec, p.name, p.default);
    });
    return;
  }
  for (const k of args.keys()) {
    if (!r.params.some((p) => p.name === k)) raise("TypeError", `${r.name}: unexpected argument '${k}'`);
  }
  for (const p of r.params) {
    const v = args.get(p.name);
    if (v !== undefined) defineVar(scope, exec, p.name, v);
    else if (p.required) raise("TypeError", `${r.name}: missing argument '${p.name}'`);
    else defineVar(scope, exec, p.name, p.default);
  }
}
