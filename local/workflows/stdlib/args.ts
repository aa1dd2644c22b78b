import { raise } from "../errors.ts";
import { isMap, typeName, type Value, type ValueMap } from "../values.ts";

// Argument checks shared by the standard library: a wrong type is a TypeError naming function and argument.

export function wrongType(fn: string, param: string, expected: string, got: Value | undefined): never {
  return raise("TypeError", `${fn}: argument '${param}' must be ${expected}, got ${typeName(got ?? null)}`);
}

export function argString(fn: string, param: string, v: Value | undefined): string {
  if (typeof v !== "string") wrongType(fn, param, "a string", v);
  return v as string;
}

export function argInt(fn: string, param: string, v: Value | undefined): bigint {
  if (typeof v !== "bigint") wrongType(fn, param, "an integer", v);
  return v as bigint;
}

export function argNumber(fn: string, param: string, v: Value | undefined): bigint | number {
  if (typeof v !== "bigint" && typeof v !== "number") wrongType(fn, param, "a number", v);
  return v as bigint | number;
}

export function argBool(fn: string, param: string, v: Value | undefined): boolean {
  if (typeof v !== "boolean") wrongType(fn, param, "a boolean", v);
  return v as boolean;
}

export function argList(fn: string, param: string, v: Value | undefined): Value[] {
  if (!Array.isArray(v)) wrongType(fn, param, "a list", v);
  return v as Value[];
}

export function argMap(fn: string, param: string, v: Value | undefined): ValueMap {
  if (!isMap(v)) wrongType(fn, param, "a map", v);
  return v as ValueMap;
}

export function argBytes(fn: string, param: string, v: Value | undefined): Uint8Array {
  if (!(v instanceof Uint8Array)) wrongType(fn, param, "bytes", v);
  return v as Uint8Array;
}

export function seconds(v: bigint | number): number {
  return typeof v === "bigint" ? Number(v) : v;
}

/** Strings are indexed by code point in the service (UTF-8 text); JS indexes UTF-16 units. */
export function codePoints(s: string): string[] | undefined {
  // Fast path: no surrogates means UTF-16 units and code points coincide.
  return /[\uD800-\uDFFF]/.test(s) ? Array.from(s) : undefined;
}

export function cpLength(s: string): number {
  const cps = codePoints(s);
  return cps ? cps.length : s.length;
}

/** UTF-16 offset -> code point index within `s`. */
export function cpIndex(s: string, utf16: number): number {
  if (!/[\uD800-\uDFFF]/.test(s)) return utf16;
  return Array.from(s.slice(0, utf16)).length;
}

/** RE2 pattern -> JS RegExp (supports a leading `(?i)`, `(?s)`, `(?m)` flag group). */
export function re2(fn: string, pattern: string, global: boolean): RegExp {
  let flags = global ? "gu" : "u";
  let body = pattern;
  const m = /^\(\?([ims]+)\)/.exec(body);
  if (m) {
    flags += (m[1] as string).replace(/[^ims]/g, "");
    body = body.slice(m[0].length);
  }
  try {
    return new RegExp(body, flags);
  } catch (err) {
    return raise(
      "ValueError",
      `${fn}: invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`,
    );
  }
}
