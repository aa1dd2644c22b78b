import { invalidArgument } from "../batch/errors.ts";

/**
 * The part of Cloud Logging's query language the local `entries:list` serves: comparisons
 * `field OP value` with OP one of `=`, `!=`, `<`, `<=`, `>`, `>=`, `:` (has: case-insensitive substring, `:*`
 * presence), `=~` and `!~` (regular expressions); `AND` (or juxtaposition), `OR`, `NOT` / `-`, parentheses.
 * As in Cloud Logging, NOT binds tightest, then OR, then AND, so `a OR b AND c` is `(a OR b) AND c`.
 * `severity` compares by level and `timestamp` as a time. Anything else Cloud Logging accepts (global
 * restrictions such as a bare `"text"`, functions such as `log_id()`, `SEARCH()`) is answered INVALID_ARGUMENT
 * naming what this endpoint does not support, never silently misread.
 */

export type Op = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":" | "=~" | "!~";
export type FilterNode =
  | { kind: "cmp"; field: string; op: Op; value: string }
  | { kind: "and" | "or"; parts: FilterNode[] }
  | { kind: "not"; inner: FilterNode };

/** Cloud Logging's LogSeverity values. */
export const SEVERITY: Readonly<Record<string, number>> = {
  DEFAULT: 0,
  DEBUG: 100,
  INFO: 200,
  NOTICE: 300,
  WARNING: 400,
  ERROR: 500,
  CRITICAL: 600,
  ALERT: 700,
  EMERGENCY: 800,
};

/** The LogEntry fields a filter may name (the first path segment). */
const ROOTS = new Set([
  "logName",
  "log_name",
  "severity",
  "timestamp",
  "receiveTimestamp",
  "receive_timestamp",
  "insertId",
  "insert_id",
  "labels",
  "textPayload",
  "text_payload",
  "jsonPayload",
  "json_payload",
  "resource",
]);

interface Token {
  text: string;
  column: number;
  quoted: boolean;
}

const OPS = ["=~", "!~", "!=", "<=", ">=", "=", "<", ">", ":"];

function syntaxError(token: Token | undefined, text: string): never {
  const column = token?.column ?? text.length + 1;
  throw invalidArgument(
    `Unparseable filter: syntax error at line 1, column ${column}, token '${token?.text ?? "<end>"}'`,
  );
}

function unsupported(what: string): never {
  throw invalidArgument(
    `Unsupported filter: ${what}. The local Cloud Logging endpoint serves comparisons of LogEntry fields joined ` +
      "with AND, OR and NOT (docs/deploy.md, Operating it).",
  );
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const column = i + 1;
    if (c === '"') {
      let j = i + 1;
      let value = "";
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\\" && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
        } else {
          value += text[j];
          j++;
        }
      }
      if (j >= text.length) syntaxError({ text: text.slice(i), column, quoted: false }, text);
      tokens.push({ text: value, column, quoted: true });
      i = j + 1;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ text: op, column, quoted: false });
      i += op.length;
      continue;
    }
    if (c === "(" || c === ")") {
      tokens.push({ text: c, column, quoted: false });
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && !/[\s()"=<>:!~]/.test(text[j] as string)) j++;
    if (j === i) syntaxError({ text: c, column, quoted: false }, text);
    tokens.push({ text: text.slice(i, j), column, quoted: false });
    i = j;
  }
  return tokens;
}

/** Parses a filter; empty means "everything". Throws INVALID_ARGUMENT (BatchApiError) on anything else. */
export function parseLogFilter(text: string): FilterNode | undefined {
  const tokens = tokenize(text);
  if (tokens.length === 0) return undefined;
  let i = 0;
  const peek = () => tokens[i];
  const isWord = (t: Token | undefined, w: string) => t !== undefined && !t.quoted && t.text === w;

  const comparison = (): FilterNode => {
    const t = peek();
    if (t === undefined || t.quoted) {
      if (t?.quoted) unsupported(`global restriction "${t.text}" (a value without a field)`);
      return syntaxError(t, text);
    }
    if (["(", ")", "AND", "OR", "NOT"].includes(t.text) || OPS.includes(t.text)) return syntaxError(t, text);
    i++;
    const next = peek();
    if (isWord(next, "(")) unsupported(`function ${t.text}()`);
    if (next === undefined || next.quoted || !OPS.includes(next.text)) {
      unsupported(`global restriction ${t.text} (a value without a field)`);
    }
    i++;
    const root = t.text.split(".")[0] as string;
    if (
      !ROOTS.has(root) ||
      (t.text.includes(".") && !/^(labels|jsonPayload|json_payload|resource)$/.test(root))
    ) {
      throw invalidArgument(`Unparseable filter: unknown field "${t.text}" in a LogEntry`);
    }
    const value = peek();
    if (value === undefined || (!value.quoted && (value.text === "(" || value.text === ")"))) {
      return syntaxError(value, text);
    }
    if (!value.quoted && OPS.includes(value.text)) return syntaxError(value, text);
    i++;
    const op = next.text as Op;
    if (op === "=~" || op === "!~") {
      try {
        new RegExp(value.text);
      } catch (err) {
        throw invalidArgument(
          `Unparseable filter: invalid regular expression "${value.text}": ${(err as Error).message}`,
        );
      }
    }
    return { kind: "cmp", field: t.text, op, value: value.text };
  };
  const unary = (): FilterNode => {
    const t = peek();
    if (isWord(t, "NOT")) {
      i++;
      return { kind: "not", inner: unary() };
    }
    if (t !== undefined && !t.quoted && t.text.startsWith("-") && t.text.length > 1) {
      // `-field=value`: the minus is NOT.
      tokens[i] = { ...t, text: t.text.slice(1), column: t.column + 1 };
      return { kind: "not", inner: unary() };
    }
    if (isWord(t, "(")) {
      i++;
      const inner = andList();
      if (!isWord(peek(), ")")) syntaxError(peek(), text);
      i++;
      return inner;
    }
    return comparison();
  };
  const orList = (): FilterNode => {
    const parts = [unary()];
    while (isWord(peek(), "OR")) {
      i++;
      parts.push(unary());
    }
    return parts.length === 1 ? (parts[0] as FilterNode) : { kind: "or", parts };
  };
  const andList = (): FilterNode => {
    const parts = [orList()];
    for (;;) {
      const t = peek();
      if (t === undefined || isWord(t, ")")) break;
      if (isWord(t, "AND")) i++;
      parts.push(orList());
    }
    return parts.length === 1 ? (parts[0] as FilterNode) : { kind: "and", parts };
  };
  const tree = andList();
  if (i < tokens.length) syntaxError(peek(), text);
  return tree;
}

/** A log entry as the filter sees it (REST JSON of google.logging.v2.LogEntry, severity as its name). */
export interface FilterableEntry {
  logName: string;
  timestamp: string;
  receiveTimestamp?: string;
  severity: string;
  insertId: string;
  labels?: Record<string, string>;
  textPayload?: string;
  jsonPayload?: Record<string, unknown>;
  resource?: { type: string; labels?: Record<string, string> };
}

const CAMEL: Record<string, string> = {
  log_name: "logName",
  receive_timestamp: "receiveTimestamp",
  insert_id: "insertId",
  text_payload: "textPayload",
  json_payload: "jsonPayload",
};

function lookup(entry: FilterableEntry, field: string): unknown {
  const [head, ...rest] = field.split(".");
  let value: unknown = (entry as unknown as Record<string, unknown>)[
    CAMEL[head as string] ?? (head as string)
  ];
  for (const key of rest) {
    value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  }
  return value;
}

function asText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function compareValues(field: string, actual: unknown, wanted: string): number {
  if (field === "severity") {
    const a = SEVERITY[String(actual)] ?? 0;
    const w = SEVERITY[wanted.toUpperCase()] ?? Number(wanted);
    if (!Number.isFinite(w)) throw invalidArgument(`Unparseable filter: "${wanted}" is not a severity`);
    return a - w;
  }
  if (field === "timestamp" || field === "receiveTimestamp" || field === "receive_timestamp") {
    const w = Date.parse(wanted);
    if (Number.isNaN(w)) throw invalidArgument(`Unparseable filter: "${wanted}" is not a timestamp`);
    return Date.parse(String(actual)) - w;
  }
  if (typeof actual === "number" && Number.isFinite(Number(wanted))) return actual - Number(wanted);
  const a = asText(actual);
  return a < wanted ? -1 : a > wanted ? 1 : 0;
}

/** Whether `entry` passes `node` (undefined: no filter). */
export function entryMatches(node: FilterNode | undefined, entry: FilterableEntry): boolean {
  if (!node) return true;
  switch (node.kind) {
    case "and":
      return node.parts.every((p) => entryMatches(p, entry));
    case "or":
      return node.parts.some((p) => entryMatches(p, entry));
    case "not":
      return !entryMatches(node.inner, entry);
    case "cmp": {
      const actual = lookup(entry, node.field);
      if (node.op === ":") {
        if (node.value === "*") return actual !== undefined;
        return actual !== undefined && asText(actual).toLowerCase().includes(node.value.toLowerCase());
      }
      if (actual === undefined) return node.op === "!=" || node.op === "!~";
      switch (node.op) {
        case "=~":
          return new RegExp(node.value).test(asText(actual));
        case "!~":
          return !new RegExp(node.value).test(asText(actual));
        case "=":
          return compareValues(node.field, actual, node.value) === 0;
        case "!=":
          return compareValues(node.field, actual, node.value) !== 0;
        case "<":
          return compareValues(node.field, actual, node.value) < 0;
        case "<=":
          return compareValues(node.field, actual, node.value) <= 0;
        case ">":
          return compareValues(node.field, actual, node.value) > 0;
        default:
          return compareValues(node.field, actual, node.value) >= 0;
      }
    }
  }
}
