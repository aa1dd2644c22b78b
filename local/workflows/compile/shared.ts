import type { Compiled } from "../expression.ts";
import type { Block, StepResult } from "../interpreter.ts";
import { type Exec, type Scope, setPath, setVar } from "../runtime.ts";
import type { Value } from "../values.ts";

// What the deploy-time compilers share: the raw-source helpers, the context a block is compiled in, and the
// two ways of storing into an assignment target.

export type PlainMap = Record<string, unknown>;
export function isPlainMap(v: unknown): v is PlainMap {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Where deploy problems go: the program's list, with the step they belong to (none for the whole source). */
export interface ProblemSink {
  problem(step: string | undefined, message: string): void;
}

/** Which enclosing variables the steps of a parallel branch may assign. */
export interface BranchWriteRules {
  /** Listed in the parallel step's `shared`: writable from every branch. */
  shared: ReadonlySet<string>;
  /** Assigned by the enclosing routine outside this parallel step: read-only in a branch unless shared. */
  outer: ReadonlySet<string>;
}

/** Where a block of steps is being compiled: what `next` may reach, the loop it is in, its branch rules. */
export interface BlockContext {
  /** Blocks a `next` may jump to: this one and its ancestors up to a loop or branch boundary. */
  chain: Block[];
  loop: "none" | "for" | "parallel-for";
  parallel?: BranchWriteRules;
  /** Step names taken in this region; a for body and each parallel branch start a new one. */
  names: Set<string>;
}

/** The left side of an assignment, `root.key[index]…`: the variable and the compiled keys under it. */
export interface AssignTarget {
  root: string;
  keys: Compiled[];
}

/** A compiled step: runs against the current variable scope and the execution, returns how it ended. */
export type StepFn = (scope: Scope, exec: Exec) => StepResult;

/** Stores `v` into the target when its keys need no awaiting. */
export function assignSync(t: AssignTarget, v: Value, scope: Scope, exec: Exec): void {
  if (t.keys.length === 0) setVar(scope, exec, t.root, v);
  else
    setPath(
      scope,
      exec,
      t.root,
      t.keys.map((k) => k.evaluate(scope, exec) as Value),
      v,
    );
}

/** Stores `v` into the target, awaiting keys that call subworkflows. */
export async function assignTo(t: AssignTarget, v: Value, scope: Scope, exec: Exec): Promise<void> {
  if (t.keys.length === 0) return setVar(scope, exec, t.root, v);
  const keys: Value[] = [];
  for (const k of t.keys) keys.push(await k.evaluate(scope, exec));
  setPath(scope, exec, t.root, keys, v);
}

/** A short JSON rendering of a raw source fragment, for deploy problems. */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  try {
    const text = JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x));
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(v);
  }
}
