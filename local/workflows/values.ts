/**
 * Workflow values as the engine holds them.
 *
 * - int    -> `bigint` (64-bit signed; arithmetic that leaves the range raises ValueError)
 * - double -> `number`
 * - bytes  -> `Uint8Array`
 * - list   -> `Value[]`
 * - map    -> a null-prototype object `{[key: string]: Value}`
 *
 * Key order of maps: insertion order, except keys that look like array indices ("0", "17", …), which JS
 * objects always list first in ascending numeric order. The service does not document an order for map
 * keys (`keys()`, `for … in` over a map, JSON output), so workflows should not depend on one.
 */
export type Value = null | boolean | bigint | number | string | Uint8Array | Value[] | ValueMap;
export interface ValueMap {
  [key: string]: Value;
}

export const INT64_MAX = 9223372036854775807n;
export const INT64_MIN = -9223372036854775808n;

export type TypeName = "null" | "boolean" | "integer" | "double" | "string" | "bytes" | "list" | "map";

/** The name `type()` returns for a value. */
export function typeName(v: Value): TypeName {
  switch (typeof v) {
    case "bigint":
      return "integer";
    case "number":
      return "double";
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    default:
      if (v === null) return "null";
      if (Array.isArray(v)) return "list";
      if (v instanceof Uint8Array) return "bytes";
      return "map";
  }
}

/** Python-like repr of a double: integral values keep a `.0` (what `string()` and `+` with a string give). */
export function doubleToString(d: number): string {
  if (Number.isNaN(d)) return "nan";
  if (!Number.isFinite(d)) return d > 0 ? "inf" : "-inf";
  if (Number.isInteger(d) && Math.abs(d) < 1e16) return `${d}.0`;
  return String(d);
}

/**
 * A scalar as text: how `+` writes it next to a string, and what `string()` returns. Undefined for the types
 * neither has a cell for (null, lists, maps, bytes).
 */
export function scalarText(v: Value | undefined): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "bigint":
      return v.toString();
    case "number":
      return doubleToString(v);
    case "boolean":
      return v ? "true" : "false";
    default:
      return undefined;
  }
}

export function isMap(v: Value | undefined): v is ValueMap {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function newMap(): ValueMap {
  return Object.create(null) as ValueMap;
}

export function hasKey(m: ValueMap, key: string): boolean {
  return Object.hasOwn(m, key);
}

/** Memory the service charges for a value (docs, "Variables > Memory usage"): scalars 8 bytes, strings and
 * bytes 8 + length, lists 8 + elements, maps 8 + keys + values, applied recursively. String length is
 * counted in UTF-16 code units, which equals bytes for ASCII; it keeps the count O(1) per string. */
export function sizeOf(v: Value): number {
  if (typeof v === "string") return 8 + v.length;
  if (typeof v !== "object" || v === null) return 8;
  if (v instanceof Uint8Array) return 8 + v.length;
  let size = 8;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) size += sizeOf(v[i] as Value);
    return size;
  }
  for (const k in v) size += 8 + k.length + sizeOf(v[k] as Value);
  return size;
}

/** Deep copy (the service passes values by value). Scalars are returned as they are. */
export function copyValue(v: Value): Value {
  if (typeof v !== "object" || v === null) return v;
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) {
    const out: Value[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = copyValue(v[i] as Value);
    return out;
  }
  const out = newMap();
  for (const k in v) out[k] = copyValue(v[k] as Value);
  return out;
}

/** Deep equality as `==` sees it: int and double compare by numeric value; other types must match. */
export function valuesEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === "bigint" || ta === "number") && (tb === "bigint" || tb === "number")) {
    return compareNumbers(a as bigint | number, b as bigint | number) === 0;
  }
  if (ta !== "object" || tb !== "object" || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i] as Value, b[i] as Value)) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!hasKey(b as ValueMap, k) || !valuesEqual((a as ValueMap)[k] as Value, (b as ValueMap)[k] as Value)) {
      return false;
    }
  }
  return true;
}

/** -1, 0, 1 (or NaN for a NaN operand) comparing an int or double with an int or double. */
export function compareNumbers(a: bigint | number, b: bigint | number): number {
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "number" && typeof b === "number")
    return a < b ? -1 : a > b ? 1 : a === b ? 0 : Number.NaN;
  // Mixed: compare exactly, without losing precision on big ints.
  const d = typeof a === "number" ? a : (b as number);
  const i = typeof a === "bigint" ? a : (b as bigint);
  let r: number;
  if (Number.isNaN(d)) return Number.NaN;
  if (d === Number.POSITIVE_INFINITY) r = 1;
  else if (d === Number.NEGATIVE_INFINITY) r = -1;
  else {
    const fl = Math.floor(d);
    const bi = BigInt(fl);
    if (bi > i) r = 1;
    else if (bi < i) r = -1;
    else r = d > fl ? 1 : 0;
  }
  // r compares d with i; flip when the double was the left operand's partner.
  return typeof a === "number" ? r : -r;
}

/**
 * Plain JSON (as `JSON.parse` would give) -> workflow value. Whole JS numbers become ints (the argument
 * of an execution arrives as JSON text in the service, where `1` is an int and `1.5` a double).
 */
export function fromPlain(v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "boolean":
    case "string":
    case "bigint":
      return v;
    case "number":
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case "object": {
      if (v instanceof Uint8Array) return v;
      if (Array.isArray(v)) return v.map(fromPlain);
      const out = newMap();
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = fromPlain(x);
      return out;
    }
    default:
      throw new TypeError(`cannot use a ${typeof v} as a workflow value`);
  }
}

/** Workflow value -> plain JSON: ints as numbers, or as decimal strings beyond 2^53. Bytes cannot be
 * JSON-encoded (docs, "Data types > Returning bytes"), so they make this throw. */
export function toPlain(v: Value): unknown {
  if (typeof v === "bigint") {
    return v <= 9007199254740991n && v >= -9007199254740991n ? Number(v) : v.toString();
  }
  if (typeof v !== "object" || v === null) return v;
  if (v instanceof Uint8Array) throw new BytesNotJsonError();
  if (Array.isArray(v)) return v.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const k in v) {
    Object.defineProperty(out, k, {
      value: toPlain(v[k] as Value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

export class BytesNotJsonError extends Error {
  constructor() {
    super("bytes cannot be JSON-encoded; use base64.encode or text.decode first");
  }
}

/** JSON text of a workflow value, keeping int64 precision (ints are written as integers, doubles with a
 * fraction or exponent as JS writes them; non-finite doubles are not JSON and throw). */
export function toJsonText(v: Value, indent?: string, prefix = ""): string {
  const nl = indent === undefined ? "" : `\n${prefix}`;
  const write = (x: Value, depth: string): string => {
    switch (typeof x) {
      case "bigint":
        return x.toString();
      case "number":
        if (!Number.isFinite(x)) throw new ValueJsonError(`the double ${x} cannot be JSON-encoded`);
        return Number.isInteger(x) && Math.abs(x) < 1e21 ? `${x}.0` : JSON.stringify(x);
      case "string":
        return JSON.stringify(x);
      case "boolean":
        return x ? "true" : "false";
      default: {
        if (x === null) return "null";
        if (x instanceof Uint8Array) throw new BytesNotJsonError();
        const inner = indent === undefined ? "" : depth + indent;
        const sep = indent === undefined ? "," : ",";
        const colon = indent === undefined ? ":" : ": ";
        if (Array.isArray(x)) {
          if (x.length === 0) return "[]";
          const parts = x.map((e) => (indent === undefined ? "" : nl + inner) + write(e, inner));
          return `[${parts.join(sep)}${indent === undefined ? "" : nl + depth}]`;
        }
        const keys = Object.keys(x);
        if (keys.length === 0) return "{}";
        const parts = keys.map(
          (k) =>
            (indent === undefined ? "" : nl + inner) +
            JSON.stringify(k) +
            colon +
            write(x[k] as Value, inner),
        );
        return `{${parts.join(sep)}${indent === undefined ? "" : nl + depth}}`;
      }
    }
  };
  return write(v, "");
}

export class ValueJsonError extends Error {}

/**
 * JSON text -> workflow value, keeping the int/double distinction JSON.parse loses: a number without
 * fraction or exponent that fits in int64 is an int; anything else is a double.
 */
export function parseJsonText(text: string): Value {
  let i = 0;
  const n = text.length;
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at position ${i}`);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const value = (): Value => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out = newMap();
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a string key");
        const k = str();
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        out[k] = value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: Value[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail("unexpected character");
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const b = BigInt(m[0]);
      if (b <= INT64_MAX && b >= INT64_MIN) return b;
    }
    return Number(m[0]);
  };
  const str = (): string => {
    const start = i;
    i++;
    let simple = true;
    while (i < n && text[i] !== '"') {
      if (text[i] === "\\") {
        simple = false;
        i += 2;
      } else i++;
    }
    if (i >= n) fail("unterminated string");
    i++;
    const raw = text.slice(start, i);
    if (simple) return raw.slice(1, -1);
    try {
      return JSON.parse(raw) as string;
    } catch {
      return fail("bad string escape");
    }
  };
  const v = value();
  ws();
  if (i < n) fail("unexpected text after the JSON value");
  return v;
}

export class JsonSyntaxError extends Error {}
