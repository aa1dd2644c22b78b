import { invalidArgument } from "./errors.ts";

/**
 * The `filter` of jobs.list and tasks.list: a small part of AIP-160 — comparisons joined with AND / OR
 * (AND binds tighter), NOT, and parentheses. A comparison is `field op value` with op one of
 * `=`, `!=`, `<`, `<=`, `>`, `>=`, `:` (has / contains). Values are quoted strings or bare words (times
 * must be quoted, they contain ':'); `*` in a
 * value compared with `=` is a wildcard. Fields are resolved by the caller (e.g. `status.state`,
 * `labels.env`, `create_time`); an unknown field is INVALID_ARGUMENT.
 */

type Op = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":";
type Node =
  | { kind: "cmp"; field: string; op: Op; value: string }
  | { kind: "and" | "or"; left: Node; right: Node }
  | { kind: "not"; inner: Node };

export type FieldLookup = (field: string) => string | undefined | null;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|<=|>=|!=|[=<>:()]|[^\s=<>:()!"']+)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: the tokenizer's loop
  while ((m = re.exec(text)) !== null) {
    tokens.push(m[1] as string);
    pos = re.lastIndex;
  }
  if (text.slice(pos).trim() !== "")
    throw invalidArgument(`Invalid filter "${text}": unexpected "${text.slice(pos).trim()}"`);
  return tokens;
}

export function parseFilter(text: string): Node | undefined {
  if (text.trim() === "") return undefined;
  const tokens = tokenize(text);
  let i = 0;
  const fail = (why: string): never => {
    throw invalidArgument(`Invalid filter "${text}": ${why}`);
  };
  const peek = () => tokens[i];
  const unquote = (t: string) => (/^["']/.test(t) ? t.slice(1, -1).replace(/\\(.)/g, "$1") : t);

  const primary = (): Node => {
    const t = peek();
    if (t === undefined) return fail("unexpected end");
    if (t === "(") {
      i++;
      const inner = or();
      if (peek() !== ")") fail('missing ")"');
      i++;
      return inner;
    }
    if (t === "NOT") {
      i++;
      return { kind: "not", inner: primary() };
    }
    const field = tokens[i++] as string;
    const op = tokens[i++];
    if (op === undefined || !["=", "!=", "<", "<=", ">", ">=", ":"].includes(op)) {
      return fail(`expected a comparison after "${field}"`);
    }
    const value = tokens[i++];
    if (value === undefined || value === ")" || value === "(")
      return fail(`expected a value after "${field}${op}"`);
    return { kind: "cmp", field, op: op as Op, value: unquote(value) };
  };
  const and = (): Node => {
    let left = primary();
    while (peek() !== undefined && peek() !== ")" && peek() !== "OR") {
      if (peek() === "AND") i++;
      left = { kind: "and", left, right: primary() };
    }
    return left;
  };
  const or = (): Node => {
    let left = and();
    while (peek() === "OR") {
      i++;
      left = { kind: "or", left, right: and() };
    }
    return left;
  };
  const tree = or();
  if (i < tokens.length) fail(`unexpected "${tokens[i]}"`);
  return tree;
}

function wildcard(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(value);
}

function compare(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a.trim() !== "" && b.trim() !== "" && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (/^\d{4}-/.test(a) && /^\d{4}-/.test(b) && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function matches(node: Node | undefined, lookup: FieldLookup): boolean {
  if (!node) return true;
  switch (node.kind) {
    case "and":
      return matches(node.left, lookup) && matches(node.right, lookup);
    case "or":
      return matches(node.left, lookup) || matches(node.right, lookup);
    case "not":
      return !matches(node.inner, lookup);
    case "cmp": {
      const actual = lookup(node.field);
      if (actual === null) throw invalidArgument(`Invalid filter: unknown field "${node.field}"`);
      if (node.op === ":")
        return node.value === "*" ? actual !== undefined : actual?.includes(node.value) === true;
      if (actual === undefined) return node.op === "!=";
      switch (node.op) {
        case "=":
          return wildcard(node.value, actual);
        case "!=":
          return !wildcard(node.value, actual);
        case "<":
          return compare(actual, node.value) < 0;
        case "<=":
          return compare(actual, node.value) <= 0;
        case ">":
          return compare(actual, node.value) > 0;
        default:
          return compare(actual, node.value) >= 0;
      }
    }
  }
}
