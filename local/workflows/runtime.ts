import type { ConnectorRegistry } from "./connectors/registry.ts";
import { ExecutionCancelled, raise } from "./errors.ts";
import type { RuntimeLimits } from "./limits.ts";
import { copyValue, hasKey, isMap, newMap, sizeOf, typeName, type Value } from "./values.ts";

/** Where a scope sits: the routine (subworkflow) it belongs to, its call depth and parallel nesting. */
export interface Frame {
  routine: string;
  callDepth: number;
  parallelDepth: number;
}

/**
 * Variables of one lexical region: a subworkflow's body, one `for` loop, or one parallel branch. Lookups walk
 * to the parent; an assignment updates the nearest scope that already has the name, else creates it here
 * (so variables first assigned in a loop or branch are dropped with it, as the service does).
 */
export class Scope {
  readonly vars = new Map<string, Value>();
  /** Bytes each variable is charged (only kept when memory accounting is on). */
  readonly sizes = new Map<string, number>();
  /** Sum of `sizes`, released when the scope ends. */
  total = 0;
  constructor(
    readonly parent: Scope | null,
    readonly frame: Frame,
  ) {}

  lookup(name: string): Value {
    let s: Scope | null = this;
    do {
      const v = s.vars.get(name);
      if (v !== undefined) return v;
      s = s.parent;
    } while (s !== null);
    return raise("KeyError", `variable not defined: ${name}`);
  }

  has(name: string): boolean {
    let s: Scope | null = this;
    do {
      if (s.vars.has(name)) return true;
      s = s.parent;
    } while (s !== null);
    return false;
  }
}

/** One entry for `sys.log` and engine diagnostics. */
export interface LogEntry {
  severity: string;
  /** The logged value: text as a string, anything else as plain JSON. */
  payload: unknown;
  time: string;
  executionId: string;
  step?: string;
}

/** Time source and sleeper; tests swap in a fake one to make retries and sleeps instant. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with ExecutionCancelled when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new ExecutionCancelled());
      const onAbort = () => {
        clearTimeout(timer);
        reject(new ExecutionCancelled());
      };
      const timer = setTimeout(
        () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal.addEventListener("abort", onAbort, { once: true });
    }),
};

/** What one execution carries: limits and counters, its environment, and hooks into the interpreter. */
export class Exec {
  memory = 0;
  /** Most variable memory this execution has held at once (bytes), for reports and benchmarks. */
  peakMemory = 0;
  steps = 0;
  unhandledBranchErrors = 0;
  currentRoutine = "main";
  currentStep = "";
  readonly account: boolean;
  /** Set by the interpreter: runs a subworkflow with positional or named arguments. */
  invoke!: (name: string, args: Value[] | Map<string, Value>, caller: Scope) => Promise<Value>;

  constructor(
    readonly limits: RuntimeLimits,
    readonly signal: AbortSignal,
    readonly clock: Clock,
    readonly env: ReadonlyMap<string, string>,
    readonly connectors: ConnectorRegistry,
    readonly log: (entry: LogEntry) => void,
    readonly executionId: string,
  ) {
    this.account = limits.accountMemory;
  }

  /** Counts one step against the step limit and stops here when the execution was cancelled. */
  step(): void {
    if (this.signal.aborted) throw new ExecutionCancelled();
    if (++this.steps > this.limits.maxSteps) {
      raise("ResourceLimitError", `the execution exceeded the limit of ${this.limits.maxSteps} steps`);
    }
  }

  sleep(ms: number): Promise<void> {
    return this.clock.sleep(ms, this.signal);
  }

  /** Adds `delta` bytes to the execution's variable memory, raising ResourceLimitError past the limit. */
  charge(scope: Scope, delta: number): void {
    const next = this.memory + delta;
    if (delta > 0 && next > this.limits.memoryBytes) {
      raise(
        "ResourceLimitError",
        `memory limit exceeded: variables would use ${next} bytes, more than the ${this.limits.memoryBytes} allowed`,
      );
    }
    this.memory = next;
    if (next > this.peakMemory) this.peakMemory = next;
    scope.total += delta;
  }

  /** Releases a scope's variables (loop, branch or subworkflow end). */
  release(scope: Scope): void {
    this.memory -= scope.total;
    scope.total = 0;
  }
}

/** The copy a variable keeps of a value, and its size; strings over the string limit are refused. */
function own(exec: Exec, v: Value): Value {
  if (typeof v === "string") {
    if (v.length > exec.limits.maxStringLength) {
      raise(
        "ResourceLimitError",
        `string of ${v.length} characters exceeds the ${exec.limits.maxStringLength} limit`,
      );
    }
    return v;
  }
  return typeof v === "object" && v !== null ? copyValue(v) : v;
}

function sizeFor(v: Value): number {
  if (typeof v === "string") return 8 + v.length;
  return typeof v === "object" && v !== null ? sizeOf(v) : 8;
}

function holder(scope: Scope, name: string): Scope {
  let s: Scope | null = scope;
  do {
    if (s.vars.has(name)) return s;
    s = s.parent;
  } while (s !== null);
  return scope;
}

/** `name: value` — the value is copied (pass by value) and charged. */
export function setVar(scope: Scope, exec: Exec, name: string, v: Value): void {
  const dest = holder(scope, name);
  const owned = own(exec, v);
  if (exec.account) {
    const size = sizeFor(owned);
    const old = dest.sizes.get(name) ?? 0;
    if (size !== old) {
      exec.charge(dest, size - old);
      dest.sizes.set(name, size);
    }
  }
  dest.vars.set(name, owned);
}

/** Defines `name` in this very scope (parameters, loop variables), shadowing any outer one. */
export function defineVar(scope: Scope, exec: Exec, name: string, v: Value): void {
  const owned = own(exec, v);
  if (exec.account) {
    const size = sizeFor(owned);
    const old = scope.sizes.get(name) ?? 0;
    if (size !== old) {
      exec.charge(scope, size - old);
      scope.sizes.set(name, size);
    }
  }
  scope.vars.set(name, owned);
}

/**
 * `root.a[0].b: value`. Every container on the way must exist, except that missing map keys on the way are
 * created as empty maps; the last key of a map is created or replaced, the last index of a list must exist.
 */
export function setPath(scope: Scope, exec: Exec, root: string, keys: Value[], v: Value): void {
  const dest = holder(scope, root);
  let container = dest.vars.get(root);
  if (container === undefined) raise("KeyError", `variable not defined: ${root}`);
  let created = 0;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i] as Value;
    if (isMap(container) && typeof k === "string" && !hasKey(container, k)) {
      // A missing map key on the way is created as an empty map (8 bytes, plus the key).
      container[k] = newMap();
      created += 16 + k.length;
    }
    container = step(container as Value, k);
  }
  if (created > 0 && exec.account) chargePath(exec, dest, root, created);
  const last = keys[keys.length - 1] as Value;
  const owned = own(exec, v);
  let oldSize = 0;
  let keySize = 0;
  if (Array.isArray(container)) {
    if (typeof last !== "bigint") raise("TypeError", `list indices must be integers, got ${typeName(last)}`);
    if (last < 0n || last >= BigInt(container.length))
      raise("IndexError", `list index out of range: ${last}`);
    if (exec.account) oldSize = sizeFor(container[Number(last)] as Value);
    if (exec.account) chargePath(exec, dest, root, sizeFor(owned) - oldSize);
    container[Number(last)] = owned;
    return;
  }
  if (isMap(container)) {
    if (typeof last !== "string") raise("TypeError", `map keys must be strings, got ${typeName(last)}`);
    if (exec.account) {
      if (hasKey(container, last)) oldSize = sizeFor(container[last] as Value);
      else keySize = 8 + last.length;
      chargePath(exec, dest, root, sizeFor(owned) - oldSize + keySize);
    }
    container[last] = owned;
    return;
  }
  raise("TypeError", `cannot assign into a ${typeName(container as Value)}`);
}

function chargePath(exec: Exec, dest: Scope, root: string, delta: number): void {
  if (delta === 0) return;
  exec.charge(dest, delta);
  dest.sizes.set(root, (dest.sizes.get(root) ?? 0) + delta);
}

function step(container: Value, k: Value): Value {
  if (Array.isArray(container)) {
    if (typeof k !== "bigint") return raise("TypeError", `list indices must be integers, got ${typeName(k)}`);
    if (k < 0n || k >= BigInt(container.length)) raise("IndexError", `list index out of range: ${k}`);
    return container[Number(k)] as Value;
  }
  if (isMap(container)) {
    if (typeof k !== "string") return raise("TypeError", `map keys must be strings, got ${typeName(k)}`);
    if (!hasKey(container, k)) raise("KeyError", `key not found: ${k}`);
    return container[k] as Value;
  }
  return raise("TypeError", `cannot index a ${typeName(container)}`);
}
