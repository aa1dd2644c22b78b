import * as op from "./operators.ts";
import type { Exec, Scope } from "./runtime.ts";
import type { FunctionDef } from "./stdlib/types.ts";
import { INT64_MAX, newMap, type Value } from "./values.ts";

// Expressions (docs, "Syntax > Expressions" and "Data types > Order of operations"), from most to least
// binding: ( ) . [ ], not, unary -, * / // %, + -, comparisons and `in`, and, or. Keywords are all
// lower-case or all upper-case (`true`, `True`, `TRUE` for booleans).

export type Node =
  | { k: "lit"; v: Value }
  | { k: "var"; name: string }
  | { k: "member"; obj: Node; name: string }
  | { k: "index"; obj: Node; index: Node }
  | { k: "call"; fn: string; args: Node[] }
  | { k: "unary"; op: "-" | "not"; x: Node }
  | { k: "bin"; op: string; l: Node; r: Node }
  | { k: "list"; items: Node[] }
  | { k: "map"; entries: Array<[string, Node]> };

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
      l = { k: "bin", op: "or", l, r: parseAnd() };
    }
    return l;
  };
  const parseAnd = (): Node => {
    let l = parseCmp();
    while (isKw("and")) {
      next();
      l = { k: "bin", op: "and", l, r: parseCmp() };
    }
    return l;
  };
  const parseCmp = (): Node => {
    let l = parseAdd();
    for (;;) {
      const t = peek();
      if (t.t === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.v)) {
        next();
        l = { k: "bin", op: t.v, l, r: parseAdd() };
      } else if (isKw("in")) {
        next();
        l = { k: "bin", op: "in", l, r: parseAdd() };
      } else return l;
    }
  };
  const parseAdd = (): Node => {
    let l = parseMul();
    while (isOp("+") || isOp("-")) {
      const o = (next() as { v: string }).v;
      l = { k: "bin", op: o, l, r: parseMul() };
    }
    return l;
  };
  const parseMul = (): Node => {
    let l = parseUnary();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      const o = (next() as { v: string }).v;
      l = { k: "bin", op: o, l, r: parseUnary() };
    }
    return l;
  };
  const parseUnary = (): Node => {
    if (isOp("-")) {
      next();
      const x = parseUnary();
      // Fold negative literals so that -9223372036854775808 is representable.
      if (x.k === "lit" && typeof x.v === "number") return { k: "lit", v: -x.v };
      return { k: "unary", op: "-", x };
    }
    if (isKw("not")) {
      next();
      return { k: "unary", op: "not", x: parseUnary() };
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
        n = { k: "member", obj: n, name: t.v };
      } else if (isOp("[")) {
        next();
        const index = parseOr();
        expect("]");
        n = { k: "index", obj: n, index };
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
        n = { k: "call", fn, args };
      } else return n;
    }
  };
  const parsePrimary = (): Node => {
    const t = next();
    switch (t.t) {
      case "num":
        return { k: "lit", v: t.v };
      case "str":
        return { k: "lit", v: t.v };
      case "id": {
        const kw = keyword(t.v);
        if (kw === "true") return { k: "lit", v: true };
        if (kw === "false") return { k: "lit", v: false };
        if (kw === "null") return { k: "lit", v: null };
        if (kw !== undefined) throw new ExpressionSyntaxError(`unexpected '${t.v}' at ${t.p}`);
        return { k: "var", name: t.v };
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
          return { k: "list", items };
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
          return { k: "map", entries };
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
  if (n.k === "var") return n.name;
  if (n.k === "member") {
    const base = dottedName(n.obj);
    return base === undefined ? undefined : `${base}.${n.name}`;
  }
  return undefined;
}

/** A compiled value: synchronous unless it calls a subworkflow. */
export type Compiled =
  | { a: false; f: (s: Scope, x: Exec) => Value }
  | { a: true; f: (s: Scope, x: Exec) => Promise<Value> };

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
  return { a: false, f: () => v };
}

/** Evaluates a compiled value (awaiting only when it is asynchronous). */
export function evaluate(c: Compiled, s: Scope, x: Exec): Value | Promise<Value> {
  return c.f(s, x);
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
  if (items.every((i) => !i.a)) {
    const fs = items.map((i) => i.f as (s: Scope, x: Exec) => Value);
    return { a: false, f: (s, x) => fs.map((f) => f(s, x)) };
  }
  return {
    a: true,
    f: async (s, x) => {
      const out: Value[] = [];
      for (const i of items) out.push(await i.f(s, x));
      return out;
    },
  };
}

export function compileNode(n: Node, env: CompileEnv): Compiled {
  switch (n.k) {
    case "lit": {
      const v = n.v;
      return { a: false, f: () => v };
    }
    case "var": {
      const name = n.name;
      return { a: false, f: (s) => s.lookup(name) };
    }
    case "member": {
      const obj = compileNode(n.obj, env);
      const name = n.name;
      if (!obj.a) {
        const f = obj.f;
        return { a: false, f: (s, x) => op.member(f(s, x), name) };
      }
      const f = obj.f;
      return { a: true, f: async (s, x) => op.member(await f(s, x), name) };
    }
    case "index": {
      const obj = compileNode(n.obj, env);
      const idx = compileNode(n.index, env);
      if (!obj.a && !idx.a) {
        const fo = obj.f;
        const fi = idx.f;
        return { a: false, f: (s, x) => op.index(fo(s, x), fi(s, x)) };
      }
      return { a: true, f: async (s, x) => op.index(await obj.f(s, x), await idx.f(s, x)) };
    }
    case "unary": {
      const x = compileNode(n.x, env);
      const fn = n.op === "-" ? op.neg : op.not;
      if (!x.a) {
        const f = x.f;
        return { a: false, f: (s, e) => fn(f(s, e)) };
      }
      return { a: true, f: async (s, e) => fn(await x.f(s, e)) };
    }
    case "bin": {
      const l = compileNode(n.l, env);
      const r = compileNode(n.r, env);
      if (n.op === "and" || n.op === "or") {
        const isAnd = n.op === "and";
        const name = n.op;
        if (!l.a && !r.a) {
          const fl = l.f;
          const fr = r.f;
          return isAnd
            ? { a: false, f: (s, x) => op.truth(fl(s, x), name) && op.truth(fr(s, x), name) }
            : { a: false, f: (s, x) => op.truth(fl(s, x), name) || op.truth(fr(s, x), name) };
        }
        return {
          a: true,
          f: async (s, x) => {
            const a = op.truth(await l.f(s, x), name);
            if (isAnd ? !a : a) return a;
            return op.truth(await r.f(s, x), name);
          },
        };
      }
      const fn = BINARY[n.op] as Bin;
      if (!l.a && !r.a) {
        const fl = l.f;
        const fr = r.f;
        return { a: false, f: (s, x) => fn(fl(s, x), fr(s, x)) };
      }
      return { a: true, f: async (s, x) => fn(await l.f(s, x), await r.f(s, x)) };
    }
    case "list":
      return compileList(n.items.map((i) => compileNode(i, env)));
    case "map": {
      const entries = n.entries.map(([k, v]) => [k, compileNode(v, env)] as const);
      const anyAsync = entries.some(([, c]) => c.a);
      return {
        a: anyAsync,
        f: anyAsync
          ? async (s: Scope, x: Exec) => {
              const m = newMap();
              for (const [k, c] of entries) m[k] = await c.f(s, x);
              return m;
            }
          : (s: Scope, x: Exec) => {
              const m = newMap();
              for (const [k, c] of entries) m[k] = c.f(s, x) as Value;
              return m;
            },
      } as Compiled;
    }
    case "call":
      return compileCall(n, env);
  }
}

function compileCall(n: Extract<Node, { k: "call" }>, env: CompileEnv): Compiled {
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
      a: true,
      f: async (s, x) => {
        const vals: Value[] = [];
        for (const a of args) vals.push(await a.f(s, x));
        return x.invoke(name, vals, s);
      },
    };
  }
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
  if (args.every((a) => !a.a)) {
    const fs = args.map((a) => a.f as (s: Scope, x: Exec) => Value);
    if (fs.length === 1) {
      const f0 = fs[0] as (s: Scope, x: Exec) => Value;
      return { a: false, f: (s, x) => fn([f0(s, x)], x, s) as Value };
    }
    return {
      a: false,
      f: (s, x) =>
        fn(
          fs.map((f) => f(s, x)),
          x,
          s,
        ) as Value,
    };
  }
  return {
    a: true,
    f: async (s, x) => {
      const vals: Value[] = [];
      for (const a of args) vals.push(await a.f(s, x));
      return fn(vals, x, s);
    },
  };
}

function describeArity(min: number, max: number): string {
  if (min === max) return `${min} argument${min === 1 ? "" : "s"}`;
  return `${min} to ${max} arguments`;
}
