import { raise } from "./errors.ts";
import {
  compareNumbers,
  hasKey,
  INT64_MAX,
  INT64_MIN,
  isMap,
  scalarText,
  typeName,
  type Value,
  valuesEqual,
} from "./values.ts";

// Operator semantics (docs, "Data types, functions, operators" —
// https://cloud.google.com/workflows/docs/reference/syntax/datatypes — and the expressions reference): ints stay
// ints under + - * // %, `/` always gives a double, mixing int and double gives a double. Int results outside
// int64 raise ValueError (the docs give ints as 64-bit signed and do not describe wrapping; we never wrap).

/** The operand types the page's "Implicit data type conversions" tables have rows and columns for. */
export type OperandKind = "INTEGER" | "DOUBLE" | "STRING" | "BOOL";
/** What a table cell says the operator gives: a value of that type, or an error (TypeError here). */
export type Outcome = OperandKind | "ERROR";
type Table = Readonly<Record<OperandKind, Readonly<Record<OperandKind, Outcome>>>>;

export const OPERAND_KINDS: readonly OperandKind[] = ["INTEGER", "DOUBLE", "STRING", "BOOL"];

const arithmetic: Table = {
  INTEGER: { INTEGER: "INTEGER", DOUBLE: "DOUBLE", STRING: "ERROR", BOOL: "ERROR" },
  DOUBLE: { INTEGER: "DOUBLE", DOUBLE: "DOUBLE", STRING: "ERROR", BOOL: "ERROR" },
  STRING: { INTEGER: "ERROR", DOUBLE: "ERROR", STRING: "ERROR", BOOL: "ERROR" },
  BOOL: { INTEGER: "ERROR", DOUBLE: "ERROR", STRING: "ERROR", BOOL: "ERROR" },
};
const ordering: Table = {
  INTEGER: { INTEGER: "BOOL", DOUBLE: "BOOL", STRING: "ERROR", BOOL: "ERROR" },
  DOUBLE: { INTEGER: "BOOL", DOUBLE: "BOOL", STRING: "ERROR", BOOL: "ERROR" },
  STRING: { INTEGER: "ERROR", DOUBLE: "ERROR", STRING: "BOOL", BOOL: "ERROR" },
  BOOL: { INTEGER: "ERROR", DOUBLE: "ERROR", STRING: "ERROR", BOOL: "ERROR" },
};
const equality: Table = {
  INTEGER: { INTEGER: "BOOL", DOUBLE: "BOOL", STRING: "BOOL", BOOL: "BOOL" },
  DOUBLE: { INTEGER: "BOOL", DOUBLE: "BOOL", STRING: "BOOL", BOOL: "BOOL" },
  STRING: { INTEGER: "BOOL", DOUBLE: "BOOL", STRING: "BOOL", BOOL: "BOOL" },
  BOOL: { INTEGER: "BOOL", DOUBLE: "BOOL", STRING: "BOOL", BOOL: "BOOL" },
};

/**
 * Result type of `left OP right` for every pair of operand types, row = left operand, column = right.
 *
 * `+` is the page's "+ operator" table, cell for cell: a string with an int, double, string or bool gives
 * a string (the other operand written as `string()` writes it: `"n" + 1.0` is `"n1.0"`; the page gives the
 * result type, not the text, and `string()` is the service's own int/double/bool-to-text), a bool with a
 * number or a bool is an error. The copy of the page we could read ends after that table, so the other
 * operators' cells follow the rules the page and the error-types page state in prose, as the engine did
 * before: `-`, `*`, `/`, `//`, `%` take numbers only (`/` always gives a double); `<`, `<=`, `>`, `>=` order
 * numbers with numbers and strings with strings (booleans have no documented order); `==` and `!=` take any
 * pair and are false across types other than int/double. Re-check them against the page when it can be read
 * whole; a changed cell is a change to this table, its implementation below and the conformance case. The operators are implemented below with fast paths for
 * the common cells; `test/unit/workflows/operators-table.test.ts` checks every cell of every table against
 * them, and the conformance corpus (expressions/implicit-conversions.yaml) has a case per cell.
 */
export const IMPLICIT_CONVERSIONS: Readonly<Record<string, Table>> = {
  "+": {
    INTEGER: { INTEGER: "INTEGER", DOUBLE: "DOUBLE", STRING: "STRING", BOOL: "ERROR" },
    DOUBLE: { INTEGER: "DOUBLE", DOUBLE: "DOUBLE", STRING: "STRING", BOOL: "ERROR" },
    STRING: { INTEGER: "STRING", DOUBLE: "STRING", STRING: "STRING", BOOL: "STRING" },
    BOOL: { INTEGER: "ERROR", DOUBLE: "ERROR", STRING: "STRING", BOOL: "ERROR" },
  },
  "-": arithmetic,
  "*": arithmetic,
  "/": {
    INTEGER: { INTEGER: "DOUBLE", DOUBLE: "DOUBLE", STRING: "ERROR", BOOL: "ERROR" },
    DOUBLE: { INTEGER: "DOUBLE", DOUBLE: "DOUBLE", STRING: "ERROR", BOOL: "ERROR" },
    STRING: arithmetic.STRING,
    BOOL: arithmetic.BOOL,
  },
  "//": arithmetic,
  "%": arithmetic,
  "<": ordering,
  "<=": ordering,
  ">": ordering,
  ">=": ordering,
  "==": equality,
  "!=": equality,
};

function checkInt(r: bigint): bigint {
  if (r > INT64_MAX || r < INT64_MIN) raise("ValueError", "integer overflow");
  return r;
}

function operandError(op: string, a: Value, b: Value): never {
  return raise("TypeError", `unsupported operand types for ${op}: ${typeName(a)} and ${typeName(b)}`);
}

function toDouble(v: bigint | number): number {
  return typeof v === "bigint" ? Number(v) : v;
}

export function add(a: Value, b: Value): Value {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === "bigint" && tb === "bigint") return checkInt((a as bigint) + (b as bigint));
  if (ta === "string" && tb === "string") return (a as string) + (b as string);
  if ((ta === "number" || ta === "bigint") && (tb === "number" || tb === "bigint")) {
    return toDouble(a as number) + toDouble(b as number);
  }
  // A string with an int, double or bool: the "+ operator" table's STRING row and column.
  if (ta === "string" || tb === "string") {
    const left = scalarText(a);
    const right = scalarText(b);
    if (left !== undefined && right !== undefined) return left + right;
  }
  return operandError("+", a, b);
}

export function sub(a: Value, b: Value): Value {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === "bigint" && tb === "bigint") return checkInt((a as bigint) - (b as bigint));
  if ((ta === "number" || ta === "bigint") && (tb === "number" || tb === "bigint")) {
    return toDouble(a as number) - toDouble(b as number);
  }
  return operandError("-", a, b);
}

export function mul(a: Value, b: Value): Value {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === "bigint" && tb === "bigint") return checkInt((a as bigint) * (b as bigint));
  if ((ta === "number" || ta === "bigint") && (tb === "number" || tb === "bigint")) {
    return toDouble(a as number) * toDouble(b as number);
  }
  return operandError("*", a, b);
}

function numbers(op: string, a: Value, b: Value): void {
  const ta = typeof a;
  const tb = typeof b;
  if (!((ta === "number" || ta === "bigint") && (tb === "number" || tb === "bigint"))) operandError(op, a, b);
  if (b === 0n || b === 0) raise("ZeroDivisionError", op === "%" ? "modulo by zero" : "division by zero");
}

export function div(a: Value, b: Value): Value {
  numbers("/", a, b);
  return toDouble(a as number) / toDouble(b as number);
}

/** Floor division, rounding toward negative infinity like Python's `//`. */
export function floorDiv(a: Value, b: Value): Value {
  numbers("//", a, b);
  if (typeof a === "bigint" && typeof b === "bigint") {
    const q = a / b;
    return checkInt(a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q);
  }
  return Math.floor(toDouble(a as number) / toDouble(b as number));
}

/** Remainder with the sign of the divisor, so that `a == (a // b) * b + a % b` holds as with `//`. */
export function mod(a: Value, b: Value): Value {
  numbers("%", a, b);
  if (typeof a === "bigint" && typeof b === "bigint") {
    const r = a % b;
    return r !== 0n && r < 0n !== b < 0n ? r + b : r;
  }
  const x = toDouble(a as number);
  const y = toDouble(b as number);
  const r = x % y;
  return r !== 0 && r < 0 !== y < 0 ? r + y : r;
}

export function neg(a: Value): Value {
  if (typeof a === "bigint") return checkInt(-a);
  if (typeof a === "number") return -a;
  return raise("TypeError", `bad operand type for unary -: ${typeName(a)}`);
}

export function not(a: Value): Value {
  if (typeof a !== "boolean")
    raise("TypeError", `bad operand type for not: ${typeName(a)} (expected boolean)`);
  return !a;
}

export function truth(a: Value, op: string): boolean {
  if (typeof a !== "boolean") raise("TypeError", `operand of ${op} must be a boolean, got ${typeName(a)}`);
  return a;
}

/** Ordering comparisons: numbers with numbers, strings with strings; anything else is a TypeError. */
export function compare(op: "<" | "<=" | ">" | ">=", a: Value, b: Value): boolean {
  const ta = typeof a;
  const tb = typeof b;
  let c: number;
  if ((ta === "number" || ta === "bigint") && (tb === "number" || tb === "bigint")) {
    c = compareNumbers(a as number, b as number);
  } else if (ta === "string" && tb === "string") {
    c = (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  } else {
    return raise("TypeError", `'${op}' not supported between ${typeName(a)} and ${typeName(b)}`);
  }
  if (Number.isNaN(c)) return false;
  switch (op) {
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    default:
      return c >= 0;
  }
}

export function eq(a: Value, b: Value): boolean {
  return valuesEqual(a, b);
}

/** `x in list` tests membership; `key in map` tests for the key. */
export function inOp(a: Value, b: Value): boolean {
  if (Array.isArray(b)) {
    for (const e of b) if (valuesEqual(a, e)) return true;
    return false;
  }
  if (isMap(b)) {
    if (typeof a !== "string")
      raise("TypeError", `map keys are strings; cannot look up a ${typeName(a)} with 'in'`);
    return hasKey(b, a);
  }
  return raise("TypeError", `'in' needs a list or a map on its right, got ${typeName(b)}`);
}

/** `obj.name` */
export function member(obj: Value, name: string): Value {
  if (!isMap(obj)) return raise("TypeError", `cannot read key "${name}" of a ${typeName(obj)}`);
  const v = obj[name];
  if (v === undefined && !hasKey(obj, name)) raise("KeyError", `key not found: ${name}`);
  return v as Value;
}

/** `obj[index]`: a list with an int index in range, or a map with a string key. */
export function index(obj: Value, idx: Value): Value {
  if (Array.isArray(obj)) {
    if (typeof idx !== "bigint")
      return raise("TypeError", `list indices must be integers, got ${typeName(idx)}`);
    if (idx < 0n || idx >= BigInt(obj.length)) raise("IndexError", `list index out of range: ${idx}`);
    return obj[Number(idx)] as Value;
  }
  if (isMap(obj)) {
    if (typeof idx !== "string") return raise("TypeError", `map keys must be strings, got ${typeName(idx)}`);
    const v = obj[idx];
    if (v === undefined && !hasKey(obj, idx)) raise("KeyError", `key not found: ${idx}`);
    return v as Value;
  }
  return raise("TypeError", `cannot index a ${typeName(obj)}`);
}
