import type { Param } from "../interpreter.ts";
import { newMap, type Value } from "../values.ts";
import { describe, isPlainMap, type PlainMap, type ProblemSink } from "./shared.ts";

// Deploy validation that looks at the raw source rather than compiling it: the shape of a step (one action,
// known fields), names, parameters, and which variables a fragment assigns (for the parallel write rules).

export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const PRIMARY = [
  "assign",
  "call",
  "switch",
  "for",
  "parallel",
  "try",
  "raise",
  "return",
  "steps",
] as const;
export type StepKind = (typeof PRIMARY)[number] | "next";
export const ALLOWED: Record<StepKind, readonly string[]> = {
  assign: ["assign", "next"],
  call: ["call", "args", "result", "next"],
  switch: ["switch", "next"],
  for: ["for", "next"],
  parallel: ["parallel", "next"],
  try: ["try", "retry", "except", "next"],
  raise: ["raise"],
  return: ["return"],
  steps: ["steps", "next"],
  next: ["next"],
};
/** Variable names a raw workflow fragment assigns (assign targets, call results, loop variables, except as). */
export function collectAssigned(v: unknown, skip: unknown, out: Set<string>): void {
  if (v === skip) return;
  if (Array.isArray(v)) {
    for (const e of v) collectAssigned(e, skip, out);
    return;
  }
  if (!isPlainMap(v)) return;
  const root = (t: unknown) => {
    if (typeof t === "string") {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(t);
      if (m) out.add(m[1] as string);
    }
  };
  if (Array.isArray(v.assign))
    for (const a of v.assign) if (isPlainMap(a)) for (const k of Object.keys(a)) root(k);
  if (v.call !== undefined) root(v.result);
  if (isPlainMap(v.except)) root(v.except.as);
  if (isPlainMap(v.for) && v.for !== skip) {
    root(v.for.value);
    root(v.for.index);
  }
  if (Array.isArray(v.params)) {
    for (const p of v.params) {
      if (typeof p === "string") root(p);
      else if (isPlainMap(p)) for (const k of Object.keys(p)) root(k);
    }
  }
  for (const k of Object.keys(v)) collectAssigned(v[k], skip, out);
}
export function params(raw: unknown, routine: string, program: ProblemSink): Param[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    program.problem(undefined, `${routine}: params must be a list`);
    return [];
  }
  const out: Param[] = [];
  for (const p of raw) {
    if (typeof p === "string" && VAR_NAME.test(p)) out.push({ name: p, required: true, default: null });
    else if (isPlainMap(p) && Object.keys(p).length === 1) {
      const [name, def] = Object.entries(p)[0] as [string, unknown];
      if (!VAR_NAME.test(name))
        program.problem(undefined, `${routine}: invalid parameter name ${describe(name)}`);
      if (typeof def === "string" && /^\$\{/.test(def))
        program.problem(undefined, `${routine}: parameter defaults must be literal values`);
      out.push({ name, required: false, default: toValue(def) });
    } else program.problem(undefined, `${routine}: invalid parameter ${describe(p)}`);
  }
  const seen = new Set<string>();
  for (const p of out) {
    if (seen.has(p.name)) program.problem(undefined, `${routine}: parameter ${p.name} is declared twice`);
    seen.add(p.name);
  }
  return out;
}
export function toValue(v: unknown): Value {
  if (v === undefined || v === null) return null;
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "string" || typeof v === "boolean")
    return v;
  if (Array.isArray(v)) return v.map(toValue);
  const m = newMap();
  for (const [k, e] of Object.entries(v as PlainMap)) m[k] = toValue(e);
  return m;
}

/**
 * What a step does, checking its shape: exactly one action (or only `next`), and only the fields that action
 * allows. Reports each problem and gives undefined when the step cannot be compiled.
 */
export function stepKind(body: PlainMap, problem: (message: string) => void): StepKind | undefined {
  const keys = Object.keys(body);
  const kinds = keys.filter((k) => (PRIMARY as readonly string[]).includes(k)) as StepKind[];
  if (kinds.length > 1) {
    problem(`a step can do only one thing; this one has ${kinds.join(" and ")}`);
    return undefined;
  }
  const kind: StepKind | undefined = kinds[0] ?? (keys.includes("next") ? "next" : undefined);
  if (!kind) {
    problem(
      `step has no action; expected one of ${PRIMARY.join(", ")} or next (fields: ${keys.join(", ") || "none"})`,
    );
    return undefined;
  }
  for (const k of keys) {
    if (!ALLOWED[kind].includes(k)) problem(`unknown field "${k}" in a ${kind} step`);
  }
  return kind;
}
