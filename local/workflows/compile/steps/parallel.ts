import { type BranchSource, loopItems, runBranches } from "../../control-flow.ts";
import type { Block, Signal } from "../../interpreter.ts";
import { MAX_PARALLEL_BRANCHES } from "../../limits.ts";
import { defineVar, Scope } from "../../runtime.ts";
import type { RoutineContext } from "../routine-context.ts";
import { type BlockContext, type BranchWriteRules, describe, isPlainMap, type StepFn } from "../shared.ts";
import { compileLoopSpec } from "./for.ts";

// `parallel` steps (docs, "Syntax > Parallel steps"): deploy checks and branch set-up; running the branches
// is `runBranches` in ../../control-flow.ts.

export function compileParallel(
  routine: RoutineContext,
  name: string,
  raw: unknown,
  next: Signal | undefined,
  ctx: BlockContext,
): StepFn {
  if (!isPlainMap(raw)) {
    routine.problem(name, `parallel must be a map with branches or for; got ${describe(raw)}`);
    return () => next;
  }
  for (const k of Object.keys(raw)) {
    if (!["exception_policy", "shared", "concurrency_limit", "branches", "for"].includes(k)) {
      routine.problem(name, `unknown field "${k}" in parallel`);
    }
  }
  if (raw.exception_policy !== undefined && raw.exception_policy !== "continueAll") {
    routine.problem(
      name,
      `exception_policy must be continueAll (the only policy the service supports), got ${describe(raw.exception_policy)}`,
    );
  }
  const shared = new Set<string>();
  if (raw.shared !== undefined) {
    if (!Array.isArray(raw.shared)) routine.problem(name, "shared must be a list of variable names");
    else
      for (const v of raw.shared) {
        const n = routine.varName(v, name, "shared entry");
        if (n) shared.add(n);
      }
  }
  const limit = raw.concurrency_limit === undefined ? undefined : routine.value(raw.concurrency_limit, name);
  const outer = routine.program.assignedOutside(routine.raw, raw);
  for (const v of shared) outer.add(v);
  const branchRules: BranchWriteRules = { shared, outer };
  if ((raw.branches === undefined) === (raw.for === undefined)) {
    routine.problem(name, "parallel needs exactly one of branches or for");
    return () => next;
  }
  let tasks: BranchSource;
  if (raw.branches !== undefined) {
    const branches: Array<{ id: string; block: Block }> = [];
    if (!Array.isArray(raw.branches) || raw.branches.length === 0) {
      routine.problem(name, "branches must be a non-empty list of named branches");
    } else {
      if (raw.branches.length > MAX_PARALLEL_BRANCHES) {
        routine.problem(
          name,
          `a parallel step may have at most ${MAX_PARALLEL_BRANCHES} branches, this one has ${raw.branches.length}`,
        );
      }
      for (const b of raw.branches) {
        if (!isPlainMap(b) || Object.keys(b).length !== 1) {
          routine.problem(
            name,
            `each branch must be a map with one key, the branch name; got ${describe(b)}`,
          );
          continue;
        }
        const [id, bbody] = Object.entries(b)[0] as [string, unknown];
        if (ctx.names.has(id)) routine.problem(id, `duplicate step name "${id}"`);
        ctx.names.add(id);
        if (!isPlainMap(bbody) || !Array.isArray(bbody.steps) || Object.keys(bbody).length !== 1) {
          routine.problem(id, "a branch must be a map with only steps");
          continue;
        }
        branches.push({
          id,
          block: routine.block(
            bbody.steps,
            { chain: [], loop: "none", parallel: branchRules, names: new Set() },
            id,
          ),
        });
      }
    }
    tasks = async function* (parent, _exec, frame) {
      for (const b of branches) yield [b.id, new Scope(parent, frame), b.block];
    };
  } else {
    const spec = compileLoopSpec(routine, name, raw.for, { ...ctx, parallel: branchRules }, true);
    if (!spec) return () => next;
    const { value, index, source, body } = spec;
    tasks = async function* (parent, exec, frame) {
      for await (const [i, item] of loopItems(source, parent, exec)) {
        const iteration = new Scope(parent, frame);
        defineVar(iteration, exec, value, item);
        if (index) defineVar(iteration, exec, index, i);
        yield [String(i), iteration, body];
      }
    };
  }
  return async (scope, exec) => {
    await runBranches(name, tasks, limit, scope, exec);
    return next;
  };
}
