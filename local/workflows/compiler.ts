import { parseDocument } from "yaml";
import { callConnector } from "./connectors/call.ts";
import { catalogueMethod, catalogueSource } from "./connectors/catalogue.ts";
import { createConnectorRegistry } from "./connectors/defaults.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";
import { type DeployProblem, raise, WorkflowDeployError, WorkflowError } from "./errors.ts";
import {
  type Compiled,
  type CompileEnv,
  compileList,
  compileNode,
  constant,
  ExpressionSyntaxError,
  type Node,
  parseExpression,
  type SubworkflowSignature,
} from "./expression.ts";
import {
  type Block,
  BREAK,
  CONTINUE,
  END,
  type Param,
  type Routine,
  runBlock,
  type Signal,
  type StepResult,
} from "./interpreter.ts";
import {
  MAX_ASSIGNMENTS_PER_STEP,
  MAX_EXPRESSION_LENGTH,
  MAX_PARALLEL_BRANCHES,
  MAX_SOURCE_BYTES,
  MAX_SWITCH_CONDITIONS,
} from "./limits.ts";
import { defineVar, type Exec, Scope, setPath, setVar } from "./runtime.ts";
import { DEFAULT_BACKOFF, RETRY_POLICIES, RETRY_PREDICATES, stdlibFunction } from "./stdlib/index.ts";
import type { FunctionDef } from "./stdlib/types.ts";
import { copyValue, isMap, newMap, typeName, type Value } from "./values.ts";

/** A deployed (parsed, validated and compiled) workflow. */
export interface WorkflowProgram {
  readonly fileName?: string;
  readonly main: Routine;
  readonly routines: ReadonlyMap<string, Routine>;
  /** Connector methods the workflow calls. */
  readonly connectors: readonly string[];
}

export interface ParseOptions {
  /** Named in deploy problems. */
  fileName?: string;
  /** Connector methods deploy accepts; defaults to the built-in ones. */
  connectors?: ConnectorRegistry;
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PRIMARY = ["assign", "call", "switch", "for", "parallel", "try", "raise", "return", "steps"] as const;
type Kind = (typeof PRIMARY)[number] | "next";
const ALLOWED: Record<Kind, readonly string[]> = {
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

type PlainMap = Record<string, unknown>;
function isPlainMap(v: unknown): v is PlainMap {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | undefined)?.then === "function";
}

interface ParallelCtx {
  shared: ReadonlySet<string>;
  outer: ReadonlySet<string>;
}

interface BlockCtx {
  /** Blocks a `next` may jump to: this one and its ancestors up to a loop or branch boundary. */
  chain: Block[];
  loop: "none" | "for" | "parallel-for";
  parallel?: ParallelCtx;
  /** Step names taken in this region; a for body and each parallel branch start a new one. */
  names: Set<string>;
}

interface Target {
  root: string;
  keys: Compiled[];
}

class RoutineCompiler {
  readonly pending: Array<{ step: string; target: string; chain: Block[] }> = [];

  constructor(
    readonly name: string,
    readonly raw: unknown,
    readonly c: ProgramCompiler,
  ) {}

  problem(step: string | undefined, message: string): void {
    this.c.problem(
      step === undefined ? undefined : this.name === "main" ? step : `${this.name}/${step}`,
      message,
    );
  }

  env(step: string): CompileEnv {
    return {
      functions: (n) => this.c.functionFor(n),
      subworkflows: this.c.signatures,
      problem: (m) => this.problem(step, m),
      unknown: (n) => this.c.unknownMessage(n),
    };
  }

  /** A value that may hold `${…}` expressions anywhere inside it. */
  value(v: unknown, step: string): Compiled {
    if (typeof v === "string") {
      const m = /^\$\{([\s\S]*)\}$/.exec(v);
      if (!m) {
        if (v.startsWith("${"))
          this.problem(step, `unterminated expression ${v.slice(0, 60)}: a \${ must close with }`);
        return constant(v);
      }
      return this.expression(m[1] as string, step);
    }
    if (v === null || v === undefined) return constant(null);
    if (typeof v === "bigint" || typeof v === "boolean") return constant(v);
    if (typeof v === "number") return constant(v);
    if (Array.isArray(v)) return compileList(v.map((e) => this.value(e, step)));
    if (isPlainMap(v)) {
      const entries = Object.entries(v).map(([k, e]) => [k, this.value(e, step)] as const);
      // Keys may be expressions too (docs, "Maps": `{"${key}": value}`); they must give strings.
      const dynamic = entries.map(([k]) => (/^\$\{[\s\S]*\}$/.test(k) ? this.value(k, step) : undefined));
      const keyOf = (i: number, k: string, kv: Value | undefined): string => {
        if (dynamic[i] === undefined) return k;
        if (typeof kv !== "string")
          return raise("TypeError", `map key ${k} must evaluate to a string, got ${typeName(kv ?? null)}`);
        return kv;
      };
      if (entries.every(([, c]) => !c.a) && dynamic.every((d) => d === undefined || !d.a)) {
        return {
          a: false,
          f: (s, x) => {
            const m = newMap();
            for (let i = 0; i < entries.length; i++) {
              const [k, c] = entries[i] as (typeof entries)[number];
              const d = dynamic[i];
              m[keyOf(i, k, d ? (d.f(s, x) as Value) : undefined)] = c.f(s, x) as Value;
            }
            return m;
          },
        };
      }
      return {
        a: true,
        f: async (s, x) => {
          const m = newMap();
          for (let i = 0; i < entries.length; i++) {
            const [k, c] = entries[i] as (typeof entries)[number];
            const d = dynamic[i];
            m[keyOf(i, k, d ? await d.f(s, x) : undefined)] = await c.f(s, x);
          }
          return m;
        },
      };
    }
    this.problem(step, `unsupported value ${String(v)}`);
    return constant(null);
  }

  parse(text: string, step: string): Node | undefined {
    if (text.length > MAX_EXPRESSION_LENGTH) {
      this.problem(step, `expression longer than ${MAX_EXPRESSION_LENGTH} characters`);
      return undefined;
    }
    try {
      return parseExpression(text);
    } catch (err) {
      if (err instanceof ExpressionSyntaxError) {
        this.problem(step, `invalid expression \${${text}}: ${err.message}`);
        return undefined;
      }
      throw err;
    }
  }

  expression(text: string, step: string): Compiled {
    const node = this.parse(text, step);
    return node ? compileNode(node, this.env(step)) : constant(null);
  }

  target(text: unknown, step: string, parallel?: ParallelCtx): Target | undefined {
    if (typeof text !== "string") {
      this.problem(step, `assignment target must be a variable name, got ${describe(text)}`);
      return undefined;
    }
    const node = this.parse(text, step);
    if (!node) return undefined;
    const keys: Compiled[] = [];
    let n: Node = node;
    while (n.k === "member" || n.k === "index") {
      keys.unshift(n.k === "member" ? constant(n.name) : compileNode(n.index, this.env(step)));
      n = n.obj;
    }
    if (n.k !== "var") {
      this.problem(step, `"${text}" is not a variable, map key or list element that can be assigned`);
      return undefined;
    }
    if (parallel && !parallel.shared.has(n.name) && parallel.outer.has(n.name)) {
      this.problem(
        step,
        `variable "${n.name}" belongs to the enclosing scope; list it in the parallel step's shared to assign it`,
      );
    }
    return { root: n.name, keys };
  }

  varName(v: unknown, step: string, what: string): string | undefined {
    if (typeof v !== "string" || !VAR_NAME.test(v)) {
      this.problem(
        step,
        `${what} must be a variable name (letters, digits, underscores), got ${describe(v)}`,
      );
      return undefined;
    }
    return v;
  }

  block(list: unknown, ctx: BlockCtx, where: string | undefined): Block {
    const block: Block = { steps: [], index: new Map() };
    if (!Array.isArray(list) || list.length === 0) {
      this.problem(where, "steps must be a non-empty list of steps");
      return block;
    }
    const inner: BlockCtx = { ...ctx, chain: [block, ...ctx.chain] };
    for (const item of list) {
      if (!isPlainMap(item) || Object.keys(item).length !== 1) {
        this.problem(
          where,
          `each step must be a map with exactly one key, the step name; got ${describe(item)}`,
        );
        continue;
      }
      const [name, body] = Object.entries(item)[0] as [string, unknown];
      if (ctx.names.has(name)) this.problem(name, `duplicate step name "${name}"`);
      else block.index.set(name, block.steps.length);
      ctx.names.add(name);
      block.steps.push({ name, exec: this.step(name, body, inner) });
    }
    return block;
  }

  next(v: unknown, step: string, ctx: BlockCtx): Signal | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== "string") {
      this.problem(step, `next must be a step name, end, break or continue; got ${describe(v)}`);
      return undefined;
    }
    if (v === "end") return END;
    if (v === "break" || v === "continue") {
      if (ctx.loop === "none") this.problem(step, `next: ${v} is only allowed inside a for loop`);
      if (v === "break" && ctx.loop === "parallel-for")
        this.problem(step, "next: break is not allowed in a parallel for loop");
      return v === "break" ? BREAK : CONTINUE;
    }
    this.pending.push({ step, target: v, chain: ctx.chain });
    return { k: "next", target: v };
  }

  step(name: string, body: unknown, ctx: BlockCtx): (s: Scope, x: Exec) => StepResult {
    const noop = () => undefined;
    if (!isPlainMap(body)) {
      this.problem(name, `a step must be a map of fields, got ${describe(body)}`);
      return noop;
    }
    const keys = Object.keys(body);
    const kinds = keys.filter((k) => (PRIMARY as readonly string[]).includes(k)) as Kind[];
    if (kinds.length > 1) {
      this.problem(name, `a step can do only one thing; this one has ${kinds.join(" and ")}`);
      return noop;
    }
    const kind: Kind | undefined = kinds[0] ?? (keys.includes("next") ? "next" : undefined);
    if (!kind) {
      this.problem(
        name,
        `step has no action; expected one of ${PRIMARY.join(", ")} or next (fields: ${keys.join(", ") || "none"})`,
      );
      return noop;
    }
    for (const k of keys) {
      if (!ALLOWED[kind].includes(k)) this.problem(name, `unknown field "${k}" in a ${kind} step`);
    }
    const next = this.next(body.next, name, ctx);
    switch (kind) {
      case "next":
        return () => next;
      case "assign":
        return this.assign(name, body.assign, next, ctx);
      case "call":
        return this.call(name, body, next, ctx);
      case "switch":
        return this.switchStep(name, body.switch, next, ctx);
      case "for":
        return this.forStep(name, body.for, next, ctx);
      case "parallel":
        return this.parallel(name, body.parallel, next, ctx);
      case "try":
        return this.tryStep(name, body, next, ctx);
      case "raise": {
        const v = this.value(body.raise, name);
        if (v.a) {
          const f = v.f;
          return async (s, x) => {
            throw new WorkflowError(copyValue(await f(s, x)));
          };
        }
        const f = v.f;
        return (s, x) => {
          throw new WorkflowError(copyValue(f(s, x)));
        };
      }
      case "return": {
        if (ctx.parallel) this.problem(name, "return is not allowed inside a parallel step");
        const v = this.value(body.return, name);
        if (v.a) {
          const f = v.f;
          return async (s, x) => ({ k: "return", value: await f(s, x) });
        }
        const f = v.f;
        return (s, x) => ({ k: "return", value: f(s, x) });
      }
      case "steps": {
        const block = this.block(body.steps, ctx, name);
        return async (s, x) => (await runBlock(block, s, x)) ?? next;
      }
    }
  }

  assign(
    name: string,
    list: unknown,
    next: Signal | undefined,
    ctx: BlockCtx,
  ): (s: Scope, x: Exec) => StepResult {
    if (!Array.isArray(list) || list.length === 0) {
      this.problem(name, "assign must be a non-empty list of single-key maps (VARIABLE: VALUE)");
      return () => next;
    }
    if (list.length > MAX_ASSIGNMENTS_PER_STEP) {
      this.problem(
        name,
        `an assign step may have at most ${MAX_ASSIGNMENTS_PER_STEP} assignments, this one has ${list.length}`,
      );
    }
    const items: Array<{ t: Target; v: Compiled }> = [];
    for (const entry of list) {
      if (!isPlainMap(entry) || Object.keys(entry).length !== 1) {
        this.problem(
          name,
          `each assignment must be a single-key map VARIABLE: VALUE, got ${describe(entry)}`,
        );
        continue;
      }
      const [k, v] = Object.entries(entry)[0] as [string, unknown];
      const t = this.target(k, name, ctx.parallel);
      if (t) items.push({ t, v: this.value(v, name) });
    }
    const allSimple = items.every((i) => i.t.keys.length === 0 && !i.v.a);
    if (allSimple && items.length === 1) {
      const root = (items[0] as { t: Target }).t.root;
      const f = (items[0] as { v: Compiled }).v.f as (s: Scope, x: Exec) => Value;
      return (s, x) => {
        setVar(s, x, root, f(s, x));
        return next;
      };
    }
    if (items.every((i) => !i.v.a && i.t.keys.every((k) => !k.a))) {
      return (s, x) => {
        for (const { t, v } of items) assignSync(t, v.f(s, x) as Value, s, x);
        return next;
      };
    }
    return async (s, x) => {
      for (const { t, v } of items) await assignTo(t, await v.f(s, x), s, x);
      return next;
    };
  }

  call(
    name: string,
    body: PlainMap,
    next: Signal | undefined,
    ctx: BlockCtx,
  ): (s: Scope, x: Exec) => StepResult {
    const fn = body.call;
    if (typeof fn !== "string" || fn === "") {
      this.problem(name, `call must name a function, subworkflow or connector, got ${describe(fn)}`);
      return () => next;
    }
    const rawArgs = body.args === undefined ? {} : body.args;
    if (!isPlainMap(rawArgs)) {
      this.problem(name, `args must be a map of argument names to values, got ${describe(rawArgs)}`);
      return () => next;
    }
    const args = Object.entries(rawArgs).map(([k, v]) => [k, this.value(v, name)] as const);
    const result = body.result === undefined ? undefined : this.target(body.result, name, ctx.parallel);
    const store = async (s: Scope, x: Exec, v: Value) => {
      if (result) await assignTo(result, v, s, x);
      return next;
    };
    const evalArgs = async (s: Scope, x: Exec) => {
      const m = new Map<string, Value>();
      for (const [k, c] of args) m.set(k, await c.f(s, x));
      return m;
    };

    const sig = this.c.signatures.get(fn);
    if (sig) {
      for (const [k] of args) {
        if (!sig.params.some((p) => p.name === k))
          this.problem(name, `subworkflow ${fn} has no parameter "${k}"`);
      }
      for (const p of sig.params) {
        if (p.required && !args.some(([k]) => k === p.name))
          this.problem(name, `call to ${fn} is missing argument "${p.name}"`);
      }
      return async (s, x) => store(s, x, await x.invoke(fn, await evalArgs(s, x), s));
    }

    if (fn.startsWith("googleapis.")) {
      // A registered handler (an emulated connector) decides its own arguments; any other method Google
      // publishes deploys with the arguments the catalogue gives it and fails when called.
      const handler = this.c.connectors.get(fn);
      const published = handler ? undefined : catalogueMethod(fn);
      if (!handler && !published) {
        this.problem(name, this.c.unknownMessage(fn));
        return () => next;
      }
      this.c.usedConnectors.add(fn);
      const accepts = handler
        ? handler.params && new Set(handler.params)
        : published?.closed
          ? published.params
          : undefined;
      if (accepts) {
        for (const [k] of args) {
          if (k !== "connector_params" && !accepts.has(k))
            this.problem(name, `connector ${fn} has no argument "${k}"`);
        }
      }
      for (const r of (handler ? handler.required : published?.required) ?? []) {
        if (!args.some(([k]) => k === r)) this.problem(name, `connector ${fn} needs argument "${r}"`);
      }
      return async (s, x) => {
        const h = x.connectors.get(fn);
        if (!h) {
          const emulated = x.connectors.names();
          return raise(
            "SystemError",
            `connector ${fn} is not emulated by the local cloud; emulated connectors: ${emulated.join(", ") || "none"}`,
          );
        }
        const m = newMap();
        for (const [k, c] of args) m[k] = await c.f(s, x);
        return store(s, x, await callConnector(fn, h, m, x));
      };
    }

    const def = stdlibFunction(fn);
    if (!def) {
      this.problem(name, this.c.unknownMessage(fn));
      return () => next;
    }
    const positions: Array<[number, Compiled]> = [];
    for (const [k, c] of args) {
      const i = def.params.indexOf(k);
      if (i < 0)
        this.problem(name, `${fn} has no argument "${k}" (it takes ${def.params.join(", ") || "none"})`);
      else positions.push([i, c]);
    }
    for (let i = 0; i < def.required; i++) {
      if (!positions.some(([p]) => p === i)) this.problem(name, `${fn} needs argument "${def.params[i]}"`);
    }
    const impl = def.fn;
    const size = def.params.length;
    if (!def.blocking && positions.every(([, c]) => !c.a) && (!result || result.keys.every((k) => !k.a))) {
      return (s, x) => {
        const a: (Value | undefined)[] = new Array(size);
        for (const [i, c] of positions) a[i] = c.f(s, x) as Value;
        const v = impl(a, x, s) as Value;
        if (result) assignSync(result, v, s, x);
        return next;
      };
    }
    return async (s, x) => {
      const a: (Value | undefined)[] = new Array(size);
      for (const [i, c] of positions) a[i] = await c.f(s, x);
      return store(s, x, await impl(a, x, s));
    };
  }

  switchStep(
    name: string,
    list: unknown,
    next: Signal | undefined,
    ctx: BlockCtx,
  ): (s: Scope, x: Exec) => StepResult {
    if (!Array.isArray(list) || list.length === 0) {
      this.problem(name, "switch must be a non-empty list of conditions");
      return () => next;
    }
    if (list.length > MAX_SWITCH_CONDITIONS) {
      this.problem(
        name,
        `a switch may have at most ${MAX_SWITCH_CONDITIONS} conditions, this one has ${list.length}`,
      );
    }
    const conds: Array<{ cond: Compiled; action: (s: Scope, x: Exec) => StepResult }> = [];
    for (const entry of list) {
      if (!isPlainMap(entry) || !("condition" in entry)) {
        this.problem(name, `each switch entry needs a condition, got ${describe(entry)}`);
        continue;
      }
      const { condition, ...rest } = entry;
      const cond = this.value(condition, name);
      if (Object.keys(rest).length === 0) {
        this.problem(name, "a switch condition needs next, steps, assign, call, return or raise");
        continue;
      }
      conds.push({ cond, action: this.step(name, rest, ctx) });
    }
    const check = (v: Value): boolean => {
      if (typeof v !== "boolean")
        raise("TypeError", `switch condition must be a boolean, got ${typeName(v)}`);
      return v;
    };
    const finish = (r: StepResult): StepResult => {
      if (r !== undefined && isPromise(r)) return r.then((v) => v ?? next);
      return r ?? next;
    };
    if (conds.every((c) => !c.cond.a)) {
      return (s, x) => {
        for (const c of conds) if (check(c.cond.f(s, x) as Value)) return finish(c.action(s, x));
        return next;
      };
    }
    return async (s, x) => {
      for (const c of conds) if (check(await c.cond.f(s, x))) return finish(c.action(s, x));
      return next;
    };
  }

  loopSpec(name: string, raw: unknown, ctx: BlockCtx, parallel: boolean) {
    if (!isPlainMap(raw)) {
      this.problem(name, `for must be a map with value, in or range, and steps; got ${describe(raw)}`);
      return undefined;
    }
    for (const k of Object.keys(raw)) {
      if (!["value", "index", "in", "range", "steps"].includes(k))
        this.problem(name, `unknown field "${k}" in for`);
    }
    const value = this.varName(raw.value, name, "for.value");
    const index = raw.index === undefined ? undefined : this.varName(raw.index, name, "for.index");
    if ((raw.in === undefined) === (raw.range === undefined))
      this.problem(name, "for needs exactly one of in or range");
    let source: { kind: "in"; c: Compiled } | { kind: "range"; from: Compiled; to: Compiled } | undefined;
    if (raw.in !== undefined) source = { kind: "in", c: this.value(raw.in, name) };
    else if (raw.range !== undefined) {
      if (Array.isArray(raw.range) && raw.range.length === 2) {
        source = { kind: "range", from: this.value(raw.range[0], name), to: this.value(raw.range[1], name) };
      } else if (typeof raw.range === "string") {
        const c = this.value(raw.range, name);
        source = {
          kind: "range",
          from: { a: true, f: async (s, x) => rangeBound(await c.f(s, x), 0) },
          to: { a: true, f: async (s, x) => rangeBound(await c.f(s, x), 1) },
        };
      } else this.problem(name, "for.range must be a list of two numbers [start, end]");
    }
    const loop = parallel ? "parallel-for" : "for";
    const body = this.block(raw.steps, { chain: [], loop, parallel: ctx.parallel, names: new Set() }, name);
    if (!value || !source) return undefined;
    return { value, index, source, body };
  }

  forStep(
    name: string,
    raw: unknown,
    next: Signal | undefined,
    ctx: BlockCtx,
  ): (s: Scope, x: Exec) => StepResult {
    const spec = this.loopSpec(name, raw, ctx, false);
    if (!spec) return () => next;
    const { value, index, source, body } = spec;
    return async (s, x) => {
      const loop = new Scope(s, s.frame);
      try {
        for await (const [i, item] of iterate(source, s, x)) {
          defineVar(loop, x, value, item);
          if (index) defineVar(loop, x, index, i);
          const sig = await runBlock(body, loop, x);
          if (sig === undefined || sig.k === "continue") continue;
          if (sig.k === "break") break;
          return sig;
        }
      } finally {
        x.release(loop);
      }
      return next;
    };
  }

  parallel(
    name: string,
    raw: unknown,
    next: Signal | undefined,
    ctx: BlockCtx,
  ): (s: Scope, x: Exec) => StepResult {
    if (!isPlainMap(raw)) {
      this.problem(name, `parallel must be a map with branches or for; got ${describe(raw)}`);
      return () => next;
    }
    for (const k of Object.keys(raw)) {
      if (!["exception_policy", "shared", "concurrency_limit", "branches", "for"].includes(k)) {
        this.problem(name, `unknown field "${k}" in parallel`);
      }
    }
    if (raw.exception_policy !== undefined && raw.exception_policy !== "continueAll") {
      this.problem(
        name,
        `exception_policy must be continueAll (the only policy the service supports), got ${describe(raw.exception_policy)}`,
      );
    }
    const shared = new Set<string>();
    if (raw.shared !== undefined) {
      if (!Array.isArray(raw.shared)) this.problem(name, "shared must be a list of variable names");
      else
        for (const v of raw.shared) {
          const n = this.varName(v, name, "shared entry");
          if (n) shared.add(n);
        }
    }
    const limit = raw.concurrency_limit === undefined ? undefined : this.value(raw.concurrency_limit, name);
    const outer = this.c.assignedOutside(this.raw, raw);
    for (const v of shared) outer.add(v);
    const pctx: ParallelCtx = { shared, outer };
    if ((raw.branches === undefined) === (raw.for === undefined)) {
      this.problem(name, "parallel needs exactly one of branches or for");
      return () => next;
    }
    let tasks: (s: Scope, x: Exec, frame: Scope["frame"]) => AsyncIterable<[string, Scope, Block]>;
    if (raw.branches !== undefined) {
      const branches: Array<{ id: string; block: Block }> = [];
      if (!Array.isArray(raw.branches) || raw.branches.length === 0) {
        this.problem(name, "branches must be a non-empty list of named branches");
      } else {
        if (raw.branches.length > MAX_PARALLEL_BRANCHES) {
          this.problem(
            name,
            `a parallel step may have at most ${MAX_PARALLEL_BRANCHES} branches, this one has ${raw.branches.length}`,
          );
        }
        for (const b of raw.branches) {
          if (!isPlainMap(b) || Object.keys(b).length !== 1) {
            this.problem(name, `each branch must be a map with one key, the branch name; got ${describe(b)}`);
            continue;
          }
          const [id, bbody] = Object.entries(b)[0] as [string, unknown];
          if (ctx.names.has(id)) this.problem(id, `duplicate step name "${id}"`);
          ctx.names.add(id);
          if (!isPlainMap(bbody) || !Array.isArray(bbody.steps) || Object.keys(bbody).length !== 1) {
            this.problem(id, "a branch must be a map with only steps");
            continue;
          }
          branches.push({
            id,
            block: this.block(bbody.steps, { chain: [], loop: "none", parallel: pctx, names: new Set() }, id),
          });
        }
      }
      tasks = async function* (s, _x, frame) {
        for (const b of branches) yield [b.id, new Scope(s, frame), b.block];
      };
    } else {
      const spec = this.loopSpec(name, raw.for, { ...ctx, parallel: pctx }, true);
      if (!spec) return () => next;
      const { value, index, source, body } = spec;
      tasks = async function* (s, x, frame) {
        for await (const [i, item] of iterate(source, s, x)) {
          const scope = new Scope(s, frame);
          defineVar(scope, x, value, item);
          if (index) defineVar(scope, x, index, i);
          yield [String(i), scope, body];
        }
      };
    }
    return async (s, x) => {
      const depth = s.frame.parallelDepth + 1;
      if (depth > x.limits.maxParallelDepth) {
        raise("ParallelNestingError", `parallel steps may nest at most ${x.limits.maxParallelDepth} deep`);
      }
      let max = x.limits.maxConcurrentBranches;
      if (limit) {
        const v = await limit.f(s, x);
        if (typeof v !== "bigint" || v < 1n)
          raise("ValueError", `concurrency_limit must be a positive integer, got ${typeName(v)}`);
        max = Math.min(max, Number(v));
      }
      const frame = { ...s.frame, parallelDepth: depth };
      const errors: Array<{ id: string; error: Value }> = [];
      let fatal: unknown;
      const running = new Set<Promise<void>>();
      const runOne = async (id: string, scope: Scope, block: Block) => {
        try {
          await runBlock(block, scope, x);
        } catch (err) {
          // Nesting errors are about the workflow's shape, not a branch's work: they end the step as they are.
          if (err instanceof WorkflowError && !hasTag(err.value, "ParallelNestingError")) {
            errors.push({ id, error: err.value });
          } else fatal ??= err;
        } finally {
          x.release(scope);
        }
      };
      for await (const [id, scope, block] of tasks(s, x, frame)) {
        if (fatal !== undefined) {
          x.release(scope);
          break;
        }
        const p: Promise<void> = runOne(id, scope, block).then(() => {
          running.delete(p);
        });
        running.add(p);
        if (running.size >= max) await Promise.race(running);
      }
      await Promise.all(running);
      if (fatal !== undefined) throw fatal;
      if (errors.length > 0) {
        x.unhandledBranchErrors += errors.length;
        if (x.unhandledBranchErrors > x.limits.maxUnhandledBranchErrors) {
          raise(
            "ResourceLimitError",
            `more than ${x.limits.maxUnhandledBranchErrors} unhandled branch errors in this execution`,
          );
        }
        const branches = errors.map(({ id, error }) => {
          const m = newMap();
          m.id = id;
          m.error = error;
          return m;
        });
        raise(
          "UnhandledBranchError",
          `${errors.length} branch${errors.length === 1 ? "" : "es"} or iteration${errors.length === 1 ? "" : "s"} of parallel step ${name} raised an unhandled error`,
          { branches },
        );
      }
      return next;
    };
  }

  tryStep(
    name: string,
    body: PlainMap,
    next: Signal | undefined,
    ctx: BlockCtx,
  ): (s: Scope, x: Exec) => StepResult {
    const inner = this.step(name, body.try, ctx);
    const retry = body.retry === undefined ? undefined : this.retryPolicy(name, body.retry);
    let handler: { as?: string; local: boolean; block: Block } | undefined;
    if (body.except !== undefined) {
      const e = body.except;
      if (!isPlainMap(e)) this.problem(name, "except must be a map with as and steps");
      else {
        for (const k of Object.keys(e))
          if (k !== "as" && k !== "steps") this.problem(name, `unknown field "${k}" in except`);
        const as = e.as === undefined ? undefined : this.varName(e.as, name, "except.as");
        // The service deploys `except: as: e` in a parallel branch even when `e` is a variable of the enclosing
        // scope that is not in `shared`. "Catching errors > Variable scope" gives an except block a scope of
        // its own ("a variable created inside an except block belongs to the local scope of that block"), so
        // the error map does not write the outer variable: it is bound in the branch, shadowing the outer one,
        // and the outer `e` keeps its value. A `shared` variable is written as any assignment would.
        const local = !!(as && ctx.parallel && !ctx.parallel.shared.has(as) && ctx.parallel.outer.has(as));
        handler = { as, local, block: this.block(e.steps, ctx, name) };
      }
    }
    if (!retry && !handler) this.problem(name, "try needs retry, except or both");
    return async (s, x) => {
      let attempt = 0;
      let delay = 0;
      for (;;) {
        try {
          let r = inner(s, x);
          if (r !== undefined && isPromise(r)) r = await r;
          return r ?? next;
        } catch (err) {
          if (!(err instanceof WorkflowError)) throw err;
          if (retry) {
            const p = await retry(s, x);
            if (attempt === 0) delay = p.initialDelay;
            if (attempt < p.maxRetries && (await p.predicate(err.value, s, x))) {
              await x.sleep(delay * 1000);
              delay = Math.min(delay * p.multiplier, p.maxDelay);
              attempt++;
              continue;
            }
          }
          if (!handler) throw err;
          if (handler.as) {
            if (handler.local) defineVar(s, x, handler.as, err.value);
            else setVar(s, x, handler.as, err.value);
          }
          return (await runBlock(handler.block, s, x)) ?? next;
        }
      }
    };
  }

  retryPolicy(
    name: string,
    raw: unknown,
  ):
    | ((
        s: Scope,
        x: Exec,
      ) => Promise<{
        maxRetries: number;
        initialDelay: number;
        maxDelay: number;
        multiplier: number;
        predicate: (e: Value, s: Scope, x: Exec) => Promise<boolean>;
      }>)
    | undefined {
    const ref = (v: unknown): string | undefined => {
      if (typeof v !== "string") return undefined;
      const m = /^\$\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}$/.exec(v);
      return m?.[1];
    };
    const predicateFor = (v: unknown): ((e: Value, s: Scope, x: Exec) => Promise<boolean>) | undefined => {
      const n = ref(v);
      if (n === undefined) {
        this.problem(
          name,
          `retry predicate must be \${SUBWORKFLOW} or a built-in predicate, got ${describe(v)}`,
        );
        return undefined;
      }
      if (RETRY_PREDICATES.has(n)) {
        const fn = (stdlibFunction(n) as FunctionDef).fn;
        return async (e, s, x) => fn([e], x, s) as boolean;
      }
      const sig = this.c.signatures.get(n);
      if (!sig) {
        this.problem(name, `retry predicate ${n} is neither a subworkflow nor a built-in predicate`);
        return undefined;
      }
      if (sig.params.length < 1 || sig.params.filter((p) => p.required).length > 1) {
        this.problem(name, `retry predicate ${n} must take exactly one parameter (the error)`);
      }
      return async (e, s, x) => {
        const r = await x.invoke(n, [e], s);
        if (typeof r !== "boolean")
          raise("TypeError", `retry predicate ${n} must return a boolean, got ${typeName(r)}`);
        return r;
      };
    };
    const named = ref(raw);
    if (named !== undefined) {
      const policy = RETRY_POLICIES[named];
      if (!policy) {
        this.problem(
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
      this.problem(name, `retry must be a policy like \${http.default_retry} or a map; got ${describe(raw)}`);
      return undefined;
    }
    for (const k of Object.keys(raw)) {
      if (!["predicate", "max_retries", "backoff"].includes(k))
        this.problem(name, `unknown field "${k}" in retry`);
    }
    const predicate = predicateFor(raw.predicate ?? `\${http.default_retry_predicate}`);
    if (raw.max_retries === undefined) this.problem(name, "retry needs max_retries");
    const maxRetries = this.value(raw.max_retries ?? 0n, name);
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
          this.problem(name, `unknown field "${k}" in backoff`);
      }
      backoff = {
        initial_delay: this.value(raw.backoff.initial_delay ?? DEFAULT_BACKOFF.initialDelay, name),
        max_delay: this.value(raw.backoff.max_delay ?? DEFAULT_BACKOFF.maxDelay, name),
        multiplier: this.value(raw.backoff.multiplier ?? DEFAULT_BACKOFF.multiplier, name),
      };
    } else this.problem(name, `backoff must be a map with initial_delay, max_delay and multiplier`);
    if (!predicate || !backoff) return undefined;
    const b = backoff;
    const num = (v: Value, field: string): number => {
      if (typeof v === "bigint") return Number(v);
      if (typeof v === "number") return v;
      return raise("TypeError", `retry ${field} must be a number, got ${typeName(v)}`);
    };
    return async (s, x) => ({
      maxRetries: num(await maxRetries.f(s, x), "max_retries"),
      initialDelay: num(await b.initial_delay.f(s, x), "backoff.initial_delay"),
      maxDelay: num(await b.max_delay.f(s, x), "backoff.max_delay"),
      multiplier: num(await b.multiplier.f(s, x), "backoff.multiplier"),
      predicate,
    });
  }
}

function hasTag(v: Value, tag: string): boolean {
  return isMap(v) && Array.isArray(v.tags) && v.tags.includes(tag);
}

function rangeBound(v: Value, i: number): Value {
  if (!Array.isArray(v) || v.length !== 2)
    raise("TypeError", "for.range must evaluate to a list of two numbers");
  return (v as Value[])[i] as Value;
}

type LoopSource = { kind: "in"; c: Compiled } | { kind: "range"; from: Compiled; to: Compiled };

/** Items of a `for`: a list's elements, a map's keys, or the numbers of an inclusive range. */
async function* iterate(source: LoopSource, s: Scope, x: Exec): AsyncGenerator<[bigint, Value]> {
  if (source.kind === "in") {
    const v = await source.c.f(s, x);
    let items: Value[];
    if (Array.isArray(v)) items = v.slice();
    else if (isMap(v)) items = Object.keys(v);
    else return raise("TypeError", `for.in must be a list or a map, got ${typeName(v)}`);
    for (let i = 0; i < items.length; i++) yield [BigInt(i), items[i] as Value];
    return;
  }
  const from = await source.from.f(s, x);
  const to = await source.to.f(s, x);
  const isNum = (v: Value) => typeof v === "bigint" || typeof v === "number";
  if (!isNum(from) || !isNum(to))
    raise("TypeError", `for.range bounds must be numbers, got ${typeName(from)} and ${typeName(to)}`);
  if (typeof from === "bigint" && typeof to === "bigint") {
    let i = 0n;
    for (let v = from; v <= to; v++) yield [i++, v];
    return;
  }
  const end = Number(to);
  let i = 0n;
  for (let v = Number(from); v <= end; v += 1) yield [i++, v];
}

function assignSync(t: Target, v: Value, s: Scope, x: Exec): void {
  if (t.keys.length === 0) setVar(s, x, t.root, v);
  else
    setPath(
      s,
      x,
      t.root,
      t.keys.map((k) => k.f(s, x) as Value),
      v,
    );
}

async function assignTo(t: Target, v: Value, s: Scope, x: Exec): Promise<void> {
  if (t.keys.length === 0) return setVar(s, x, t.root, v);
  const keys: Value[] = [];
  for (const k of t.keys) keys.push(await k.f(s, x));
  setPath(s, x, t.root, keys, v);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  try {
    const text = JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x));
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(v);
  }
}

/** Variable names a raw workflow fragment assigns (assign targets, call results, loop variables, except as). */
function collectAssigned(v: unknown, skip: unknown, out: Set<string>): void {
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

class ProgramCompiler {
  readonly problems: DeployProblem[] = [];
  readonly signatures = new Map<string, SubworkflowSignature>();
  readonly usedConnectors = new Set<string>();

  constructor(
    readonly fileName: string | undefined,
    readonly connectors: ConnectorRegistry,
  ) {}

  problem(step: string | undefined, message: string): void {
    const p: DeployProblem = { message };
    if (this.fileName !== undefined) p.file = this.fileName;
    if (step !== undefined) p.step = step;
    this.problems.push(p);
  }

  functionFor(name: string): FunctionDef | undefined {
    const f = stdlibFunction(name);
    if (f) return f;
    if (name.startsWith("googleapis.") && (this.connectors.has(name) || catalogueMethod(name))) {
      return { name, params: [], required: 0, blocking: true, open: true, fn: () => null };
    }
    return undefined;
  }

  unknownMessage(name: string): string {
    if (name.startsWith("googleapis."))
      return `unknown connector ${name}: no Google API method of that name in the connector catalogue (${catalogueSource()})`;
    return `unknown function or subworkflow ${name}`;
  }

  assignedOutside(routineRaw: unknown, parallelRaw: unknown): Set<string> {
    const out = new Set<string>();
    collectAssigned(routineRaw, parallelRaw, out);
    return out;
  }
}

function params(raw: unknown, routine: string, c: ProgramCompiler): Param[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    c.problem(undefined, `${routine}: params must be a list`);
    return [];
  }
  const out: Param[] = [];
  for (const p of raw) {
    if (typeof p === "string" && VAR_NAME.test(p)) out.push({ name: p, required: true, default: null });
    else if (isPlainMap(p) && Object.keys(p).length === 1) {
      const [name, def] = Object.entries(p)[0] as [string, unknown];
      if (!VAR_NAME.test(name)) c.problem(undefined, `${routine}: invalid parameter name ${describe(name)}`);
      if (typeof def === "string" && /^\$\{/.test(def))
        c.problem(undefined, `${routine}: parameter defaults must be literal values`);
      out.push({ name, required: false, default: toValue(def) });
    } else c.problem(undefined, `${routine}: invalid parameter ${describe(p)}`);
  }
  const seen = new Set<string>();
  for (const p of out) {
    if (seen.has(p.name)) c.problem(undefined, `${routine}: parameter ${p.name} is declared twice`);
    seen.add(p.name);
  }
  return out;
}

function toValue(v: unknown): Value {
  if (v === undefined || v === null) return null;
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "string" || typeof v === "boolean")
    return v;
  if (Array.isArray(v)) return v.map(toValue);
  const m = newMap();
  for (const [k, e] of Object.entries(v as PlainMap)) m[k] = toValue(e);
  return m;
}

/**
 * Parses and deploys a workflow written in YAML or JSON: validates it the way the service does at deploy
 * time and compiles every expression. Throws WorkflowDeployError listing every problem found.
 */
export function parseWorkflow(source: string, options: ParseOptions = {}): WorkflowProgram {
  const c = new ProgramCompiler(options.fileName, options.connectors ?? defaultRegistry());
  const fail = () => new WorkflowDeployError(c.problems);
  if (Buffer.byteLength(source, "utf8") > MAX_SOURCE_BYTES) {
    c.problem(undefined, `source is larger than the ${MAX_SOURCE_BYTES / 1024} KB limit`);
    throw fail();
  }
  const doc = parseDocument(source, { intAsBigInt: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors)
      c.problem(undefined, `could not parse the workflow: ${e.message.split("\n")[0]}`);
    throw fail();
  }
  const root: unknown = doc.toJS({ maxAliasCount: 100 });
  let defs: PlainMap;
  if (Array.isArray(root)) defs = { main: { steps: root } };
  else if (isPlainMap(root)) defs = root;
  else {
    c.problem(undefined, "a workflow is a list of steps or a map of workflow definitions with a main");
    throw fail();
  }
  if (!("main" in defs)) c.problem(undefined, "the workflow has no main workflow");
  for (const [name, def] of Object.entries(defs)) {
    if (!isPlainMap(def)) {
      c.problem(undefined, `${name}: a workflow definition is a map with steps (and optional params)`);
      continue;
    }
    for (const k of Object.keys(def)) {
      if (k !== "params" && k !== "steps")
        c.problem(undefined, `${name}: unknown field "${k}" in a workflow definition`);
    }
    const ps = params(def.params, name, c);
    if (name === "main" && ps.length > 1)
      c.problem(undefined, "main takes at most one parameter (the execution argument)");
    if (!VAR_NAME.test(name)) c.problem(undefined, `invalid workflow name ${describe(name)}`);
    c.signatures.set(name, { params: ps.map((p) => ({ name: p.name, required: p.required })) });
  }
  const routines = new Map<string, Routine>();
  for (const [name, def] of Object.entries(defs)) {
    if (!isPlainMap(def)) continue;
    const rc = new RoutineCompiler(name, def, c);
    const body = rc.block(def.steps, { chain: [], loop: "none", names: new Set() }, undefined);
    for (const { step, target, chain } of rc.pending) {
      if (!chain.some((b) => b.index.has(target))) {
        rc.problem(
          step,
          `next: "${target}" is not a step that can be reached from here (undefined, or inside another block)`,
        );
      }
    }
    routines.set(name, {
      name,
      params: params(def.params, name, new ProgramCompiler(undefined, c.connectors)),
      body,
    });
  }
  if (c.problems.length > 0) throw fail();
  return {
    fileName: options.fileName,
    main: routines.get("main") as Routine,
    routines,
    connectors: [...c.usedConnectors].sort(),
  };
}

let defaults: ConnectorRegistry | undefined;
function defaultRegistry(): ConnectorRegistry {
  defaults ??= createConnectorRegistry();
  return defaults;
}
