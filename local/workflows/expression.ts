import { raise } from "./errors.ts";
import * as op from "./operators.ts";
import type { Exec, Scope } from "./runtime.ts";
import type { FunctionDef } from "./stdlib/types.ts";
import { INT64_MAX, newMap, typeName, type Value } from "./values.ts";

// Expressions (docs, "Syntax > Expressions" and "Data types > Order of operations"), from most to least
// binding: ( ) . [ ], not, unary -, * / // %, + -, comparisons and `in`, and, or. Keywords are all
// lower-case or all upper-case (`true`, `True`, `TRUE` for booleans).

export type Node =
  | { kind: "lit"; v: Value }
  | { kind: "var"; name: string }
  | { kind: "member"; obj: Node; name: string }
  | { kind: "index"; obj: Node; index: Node }
  | { kind: "call"; fn: string; args: Node[] }
  | { kind: "unary"; op: "-" | "not"; x: Node }
  | { kind: "bin"; op: string; l: Node; r: Node }
  | { kind: "list"; items: Node[] }
  | { kind: "map"; entries: Array<[string, Node]> };

export class ExpressionSyntaxError extends Error {}

type Tok =
  | { t: "num"; v: Value; p: number }
  | { t: "str"; v: string; p: number }
  | { t: "id"; v: string; p: number }
  | { t: "op"; v: string; p: number }
  | { t: "eof"; p: number };

const OPS = [
  "//",
  "==",
  "!=",
  "<=",
  ">=",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  ",",
  ".",
  ":",
  "+",
  "-",
  "*",
  "/",
  "%",
  "<",
  ">",
];

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i)) as RegExpExecArray;
      const text = m[0];
      let v: Value;
      if (m[1] === undefined && m[2] === undefined) {
        const b = BigInt(text);
        if (b > INT64_MAX) throw new ExpressionSyntaxError(`integer literal ${text} does not fit in 64 bits`);
        v = b;
      } else v = Number(text);
      out.push({ t: "num", v, p: i });
      i += text.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = "";
      while (j < src.length && src[j] !== c) {
        if (src[j] === "\\") {
          const e = src[j + 1];
          j += 2;
          if (e === "n") s += "\n";
          else if (e === "t") s += "\t";
          else if (e === "r") s += "\r";
          else if (e === "u") {
            const hex = src.slice(j, j + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ExpressionSyntaxError(`bad \\u escape at ${j}`);
            s += String.fromCharCode(Number.parseInt(hex, 16));
            j += 4;
          } else if (e === undefined) throw new ExpressionSyntaxError("unterminated string");
          else s += e;
        } else {
          s += src[j];
          j++;
        }
      }
      if (j >= src.length) throw new ExpressionSyntaxError(`unterminated string starting at ${i}`);
      out.push({ t: "str", v: s, p: i });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ t: "id", v: m[0], p: i });
      i += m[0].length;
      continue;
    }
    const o = OPS.find((x) => src.startsWith(x, i));
    if (!o) throw new ExpressionSyntaxError(`unexpected character '${c}' at ${i}`);
    out.push({ t: "op", v: o, p: i });
    i += o.length;
  }
  out.push({ t: "eof", p: src.length });
  return out;
}

function keyword(id: string): string | undefined {
  const lower = id.toLowerCase();
  if (id !== lower && id !== id.toUpperCase() && !(id === "True" || id === "False")) return undefined;
  return ["true", "false", "null", "and", "or", "not", "in"].includes(lower) ? lower : undefined;
}

/** Parses the text inside `${…}`. */
export function parseExpression(src: string): Node {
  const toks = lex(src);
  let pos = 0;
  const peek = () => toks[pos] as Tok;
  const next = () => toks[pos++] as Tok;
  const isOp = (v: string) => {
    const t = peek();
    return t.t === "op" && t.v === v;
  };
  const isKw = (v: string) => {
    const t = peek();
    return t.t === "id" && keyword(t.v) === v;
  };
  const expect = (v: string) => {
    const t = next();
    if (t.t !== "op" || t.v !== v) throw new ExpressionSyntaxError(`expected '${v}' at ${t.p}`);
  };

  const parseOr = (): Node => {
    let l = parseAnd();
    while (isKw("or")) {
      next();
      l = { kind: "bin", op: "or", l, r: parseAnd() };
    }
    return l;
  };
  const parseAnd = (): Node => {
    let l = parseCmp();
    while (isKw("and")) {
      next();
      l = { kind: "bin", op: "and", l, r: parseCmp() };
    }
    return l;
  };
  const parseCmp = (): Node => {
    let l = parseAdd();
    for (;;) {
      const t = peek();
      if (t.t === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.v)) {
        next();
        l = { kind: "bin", op: t.v, l, r: parseAdd() };
      } else if (isKw("in")) {
        next();
        l = { kind: "bin", op: "in", l, r: parseAdd() };
      } else return l;
    }
  };
  const parseAdd = (): Node => {
    let l = parseMul();
    while (isOp("+") || isOp("-")) {
      const o = (next() as { v: string }).v;
      l = { kind: "bin", op: o, l, r: parseMul() };
    }
    return l;
  };
  const parseMul = (): Node => {
    let l = parseUnary();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      const o = (next() as { v: string }).v;
      l = { kind: "bin", op: o, l, r: parseUnary() };
    }
    return l;
  };
  const parseUnary = (): Node => {
    if (isOp("-")) {
      next();
      const x = parseUnary();
      // Fold negative literals so that -9223372036854775808 is representable.
      if (x.kind === "lit" && typeof x.v === "number") return { kind: "lit", v: -x.v };
      return { kind: "unary", op: "-", x };
    }
    if (isKw("not")) {
      next();
      return { kind: "unary", op: "not", x: parseUnary() };
    }
    return parsePostfix();
  };
  const parsePostfix = (): Node => {
    let n = parsePrimary();
    for (;;) {
      if (isOp(".")) {
        next();
        const t = next();
        if (t.t !== "id") throw new ExpressionSyntaxError(`expected a key name after '.' at ${t.p}`);
        n = { kind: "member", obj: n, name: t.v };
      } else if (isOp("[")) {
        next();
        const index = parseOr();
        expect("]");
        n = { kind: "index", obj: n, index };
      } else if (isOp("(")) {
        const at = peek().p;
        next();
        const fn = dottedName(n);
        if (fn === undefined)
          throw new ExpressionSyntaxError(`only named functions can be called (at ${at})`);
        const args: Node[] = [];
        if (!isOp(")")) {
          for (;;) {
            args.push(parseOr());
            if (isOp(",")) {
              next();
              continue;
            }
            break;
          }
        }
        expect(")");
        n = { kind: "call", fn, args };
      } else return n;
    }
  };
  const parsePrimary = (): Node => {
    const t = next();
    switch (t.t) {
      case "num":
        return { kind: "lit", v: t.v };
      case "str":
        return { kind: "lit", v: t.v };
      case "id": {
        const kw = keyword(t.v);
        if (kw === "true") return { kind: "lit", v: true };
        if (kw === "false") return { kind: "lit", v: false };
        if (kw === "null") return { kind: "lit", v: null };
        if (kw !== undefined) throw new ExpressionSyntaxError(`unexpected '${t.v}' at ${t.p}`);
        return { kind: "var", name: t.v };
      }
      case "op":
        if (t.v === "(") {
          const e = parseOr();
          expect(")");
          return e;
        }
        if (t.v === "[") {
          const items: Node[] = [];
          if (!isOp("]")) {
            for (;;) {
              items.push(parseOr());
              if (isOp(",")) {
                next();
                if (isOp("]")) break;
                continue;
              }
              break;
            }
          }
          expect("]");
          return { kind: "list", items };
        }
        if (t.v === "{") {
          const entries: Array<[string, Node]> = [];
          if (!isOp("}")) {
            for (;;) {
              const kt = next();
              if (kt.t !== "str")
                throw new ExpressionSyntaxError(`map keys must be string literals (at ${kt.p})`);
              expect(":");
              entries.push([kt.v, parseOr()]);
              if (isOp(",")) {
                next();
                if (isOp("}")) break;
                continue;
              }
              break;
            }
          }
          expect("}");
          return { kind: "map", entries };
        }
        throw new ExpressionSyntaxError(`unexpected '${t.v}' at ${t.p}`);
      default:
        throw new ExpressionSyntaxError("unexpected end of expression");
    }
  };
  const e = parseOr();
  const t = peek();
  if (t.t !== "eof") throw new ExpressionSyntaxError(`unexpected text at ${t.p}`);
  return e;
}

/** `a.b.c` as a function name, when the node is a chain of plain names. */
export function dottedName(n: Node): string | undefined {
  if (n.kind === "var") return n.name;
  if (n.kind === "member") {
    const base = dottedName(n.obj);
    return base === undefined ? undefined : `${base}.${n.name}`;
  }
  return undefined;
}

/** A compiled value: synchronous unless it calls a subworkflow. */
export type Compiled =
  | { isAsync: false; evaluate: (scope: Scope, exec: Exec) => Value }
  | { isAsync: true; evaluate: (scope: Scope, exec: Exec) => Promise<Value> };

export interface SubworkflowSignature {
  params: ReadonlyArray<{ name: string; required: boolean }>;
}

export interface CompileEnv {
  functions: (name: string) => FunctionDef | undefined;
  subworkflows: ReadonlyMap<string, SubworkflowSignature>;
  problem: (message: string) => void;
  /** The deploy message for a call to a function that does not exist. */
  unknown: (name: string) => string;
}

export function constant(v: Value): Compiled {
  return { isAsync: false, evaluate: () => v };
}

/** Evaluates a compiled value (awaiting only when it is asynchronous). */
export function evaluate(c: Compiled, scope: Scope, exec: Exec): Value | Promise<Value> {
  return c.evaluate(scope, exec);
}

type Bin = (a: Value, b: Value) => Value;
const BINARY: Record<string, Bin> = {
  "+": op.add,
  "-": op.sub,
  "*": op.mul,
  "/": op.div,
  "//": op.floorDiv,
  "%": op.mod,
  "==": op.eq,
  "!=": (a, b) => !op.eq(a, b),
  "<": (a, b) => op.compare("<", a, b),
  "<=": (a, b) => op.compare("<=", a, b),
  ">": (a, b) => op.compare(">", a, b),
  ">=": (a, b) => op.compare(">=", a, b),
  in: op.inOp,
};

/** Compiles an expression tree to closures, checking function names and arities at deploy time. */
/** A list of compiled items: synchronous when every item is, so plain lists cost no promise. */
export function compileList(items: readonly Compiled[]): Compiled {
  if (items.every((i) => !i.isAsync)) {
    const fs = items.map((i) => i.evaluate as (scope: Scope, exec: Exec) => Value);
    return { isAsync: false, evaluate: (scope, exec) => fs.map((f) => f(scope, exec)) };
  }
  return {
    isAsync: true,
    evaluate: async (scope, exec) => {
      const out: Value[] = [];
      for (const i of items) out.push(await i.evaluate(scope, exec));
      return out;
    },
  };
}

export function compileNode(n: Node, env: CompileEnv): Compiled {
  switch (n.kind) {
    case "lit": {
      const v = n.v;
      return { isAsync: false, evaluate: () => v };
    }
    case "var": {
      const name = n.name;
      return { isAsync: false, evaluate: (scope) => scope.lookup(name) };
    }
    case "member": {
      const obj = compileNode(n.obj, env);
      const name = n.name;
      if (!obj.isAsync) {
        const f = obj.evaluate;
        return { isAsync: false, evaluate: (scope, exec) => op.member(f(scope, exec), name) };
      }
      const f = obj.evaluate;
      return { isAsync: true, evaluate: async (scope, exec) => op.member(await f(scope, exec), name) };
    }
    case "index": {
      const obj = compileNode(n.obj, env);
      const idx = compileNode(n.index, env);
      if (!obj.isAsync && !idx.isAsync) {
        const fo = obj.evaluate;
        const fi = idx.evaluate;
        return { isAsync: false, evaluate: (scope, exec) => op.index(fo(scope, exec), fi(scope, exec)) };
      }
      return {
        isAsync: true,
        evaluate: async (scope, exec) =>
          op.index(await obj.evaluate(scope, exec), await idx.evaluate(scope, exec)),
      };
    }
    case "unary": {
      const x = compileNode(n.x, env);
      const fn = n.op === "-" ? op.neg : op.not;
      if (!x.isAsync) {
        const f = x.evaluate;
        return { isAsync: false, evaluate: (scope, e) => fn(f(scope, e)) };
      }
      return { isAsync: true, evaluate: async (scope, e) => fn(await x.evaluate(scope, e)) };
    }
    case "bin": {
      const l = compileNode(n.l, env);
      const r = compileNode(n.r, env);
      if (n.op === "and" || n.op === "or") {
        const isAnd = n.op === "and";
        const name = n.op;
        if (!l.isAsync && !r.isAsync) {
          const fl = l.evaluate;
          const fr = r.evaluate;
          return isAnd
            ? {
                isAsync: false,
                evaluate: (scope, exec) => op.truth(fl(scope, exec), name) && op.truth(fr(scope, exec), name),
              }
            : {
                isAsync: false,
                evaluate: (scope, exec) => op.truth(fl(scope, exec), name) || op.truth(fr(scope, exec), name),
              };
        }
        return {
          isAsync: true,
          evaluate: async (scope, exec) => {
            const a = op.truth(await l.evaluate(scope, exec), name);
            if (isAnd ? !a : a) return a;
            return op.truth(await r.evaluate(scope, exec), name);
          },
        };
      }
      const fn = BINARY[n.op] as Bin;
      if (!l.isAsync && !r.isAsync) {
        const fl = l.evaluate;
        const fr = r.evaluate;
        return { isAsync: false, evaluate: (scope, exec) => fn(fl(scope, exec), fr(scope, exec)) };
      }
      return {
        isAsync: true,
        evaluate: async (scope, exec) => fn(await l.evaluate(scope, exec), await r.evaluate(scope, exec)),
      };
    }
    case "list":
      return compileList(n.items.map((i) => compileNode(i, env)));
    case "map": {
      const entries = n.entries.map(([k, v]) => [k, compileNode(v, env)] as const);
      const anyAsync = entries.some(([, c]) => c.isAsync);
      return {
        isAsync: anyAsync,
        evaluate: anyAsync
          ? async (scope: Scope, exec: Exec) => {
              const m = newMap();
              for (const [k, c] of entries) m[k] = await c.evaluate(scope, exec);
              return m;
            }
          : (scope: Scope, exec: Exec) => {
              const m = newMap();
              for (const [k, c] of entries) m[k] = c.evaluate(scope, exec) as Value;
              return m;
            },
      } as Compiled;
    }
    case "call":
      return compileCall(n, env);
  }
}

/**
 * `if(condition, ifTrue, ifFalse)` (docs, "Expression helpers > Conditional functions"): ifTrue when the
 * condition is true, ifFalse when it is false or null. The docs do not say whether the other argument is
 * evaluated; only the chosen one is here, so `if(m == null, 0, m.count)` does not raise, which is what the
 * helper is for. A condition of another type is a TypeError, as for `switch` conditions.
 */
function compileIf(args: Compiled[], env: CompileEnv): Compiled {
  if (args.length !== 3) {
    env.problem(`if takes 3 arguments (condition, ifTrue, ifFalse), got ${args.length}`);
    return constant(null);
  }
  const [condition, ifTrue, ifFalse] = args as [Compiled, Compiled, Compiled];
  const choose = (c: Value): Compiled => {
    if (c === true) return ifTrue;
    if (c === false || c === null) return ifFalse;
    return raise("TypeError", `if: condition must be a boolean or null, got ${typeName(c)}`);
  };
  if (!condition.isAsync && !ifTrue.isAsync && !ifFalse.isAsync) {
    return {
      isAsync: false,
      evaluate: (scope, exec) =>
        choose(condition.evaluate(scope, exec) as Value).evaluate(scope, exec) as Value,
    };
  }
  return {
    isAsync: true,
    evaluate: async (scope, exec) => choose(await condition.evaluate(scope, exec)).evaluate(scope, exec),
  };
}

function compileCall(n: Extract<Node, { kind: "call" }>, env: CompileEnv): Compiled {
  const args = n.args.map((a) => compileNode(a, env));
  const sub = env.subworkflows.get(n.fn);
  if (sub) {
    const required = sub.params.filter((p) => p.required).length;
    if (args.length < required || args.length > sub.params.length) {
      env.problem(
        `subworkflow ${n.fn} takes ${describeArity(required, sub.params.length)}, got ${args.length}`,
      );
    }
    const name = n.fn;
    return {
      isAsync: true,
      evaluate: async (scope, exec) => {
        const vals: Value[] = [];
        for (const a of args) vals.push(await a.evaluate(scope, exec));
        return exec.invoke(name, vals, scope);
      },
    };
  }
  if (n.fn === "if") return compileIf(args, env);
  const def = env.functions(n.fn);
  if (!def) {
    env.problem(env.unknown(n.fn));
    return constant(null);
  }
  if (def.blocking) {
    env.problem(`${n.fn} is a blocking call and can only be used in a call step, not in an expression`);
  }
  if (args.length < def.required || args.length > def.params.length) {
    env.problem(`${n.fn} takes ${describeArity(def.required, def.params.length)}, got ${args.length}`);
  }
  const fn = def.fn;
  if (args.every((a) => !a.isAsync)) {
    const fs = args.map((a) => a.evaluate as (scope: Scope, exec: Exec) => Value);
    if (fs.length === 1) {
      const f0 = fs[0] as (scope: Scope, exec: Exec) => Value;
      return { isAsync: false, evaluate: (scope, exec) => fn([f0(scope, exec)], exec, scope) as Value };
    }
    return {
      isAsync: false,
      evaluate: (scope, exec) =>
        fn(
          fs.map((f) => f(scope, exec)),
          exec,
          scope,
        ) as Value,
    };
  }
  return {
    isAsync: true,
    evaluate: async (scope, exec) => {
      const vals: Value[] = [];
      for (const a of args) vals.push(await a.evaluate(scope, exec));
      return fn(vals, exec, scope);
    },
  };
}

function describeArity(min: number, max: number): string {
  if (min === max) return `${min} argument${min === 1 ? "" : "s"}`;
  return `${min} to ${max} arguments`;
}
