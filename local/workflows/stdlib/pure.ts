import { createHash, createHmac, randomUUID } from "node:crypto";
import { raise } from "../errors.ts";
import {
  BytesNotJsonError,
  copyValue,
  doubleToString,
  hasKey,
  INT64_MAX,
  INT64_MIN,
  isMap,
  JsonSyntaxError,
  newMap,
  parseJsonText,
  scalarText,
  toJsonText,
  typeName,
  type Value,
  ValueJsonError,
  type ValueMap,
} from "../values.ts";
import {
  argBool,
  argBytes,
  argList,
  argMap,
  argNumber,
  argString,
  codePoints,
  cpIndex,
  cpLength,
  re2,
  seconds,
  wrongType,
} from "./args.ts";
import type { FunctionDef } from "./types.ts";

// Non-blocking standard library (docs, "Standard library reference"): usable in expressions and call steps.

type Fn = FunctionDef["fn"];
const def = (name: string, params: string[], required: number, fn: Fn): FunctionDef => ({
  name,
  params,
  required,
  blocking: false,
  fn,
});

function toInt(v: Value | undefined): bigint {
  switch (typeof v) {
    case "bigint":
      return v;
    case "number": {
      if (!Number.isFinite(v))
        return raise("ValueError", `int: cannot convert ${doubleToString(v)} to an integer`);
      const t = BigInt(Math.trunc(v));
      if (t > INT64_MAX || t < INT64_MIN)
        return raise("ValueError", "int: value out of the 64-bit integer range");
      return t;
    }
    case "string": {
      const s = v.trim();
      if (/^[+-]?\d+$/.test(s)) {
        const b = BigInt(s);
        if (b > INT64_MAX || b < INT64_MIN)
          return raise("ValueError", `int: ${JSON.stringify(v)} is out of range`);
        return b;
      }
      return raise("ValueError", `int: cannot parse ${JSON.stringify(v)} as an integer`);
    }
    default:
      return wrongType("int", "value", "a string, integer or double", v);
  }
}

function toDouble(v: Value | undefined): number {
  switch (typeof v) {
    case "bigint":
      return Number(v);
    case "number":
      return v;
    case "string": {
      const s = v.trim();
      if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
      if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
      if (/^nan$/i.test(s)) return Number.NaN;
      return raise("ValueError", `double: cannot parse ${JSON.stringify(v)} as a double`);
    }
    default:
      return wrongType("double", "value", "a string, integer or double", v);
  }
}

function toStr(v: Value | undefined): string {
  return scalarText(v) ?? wrongType("string", "value", "a string, number or boolean", v);
}

function toBool(v: Value | undefined): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.trim().toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
    return raise("ValueError", `bool: cannot parse ${JSON.stringify(v)} as a boolean`);
  }
  if (typeof v === "bigint") return v !== 0n;
  return wrongType("bool", "value", "a string, boolean or integer", v);
}

function len(v: Value | undefined): bigint {
  if (typeof v === "string") return BigInt(cpLength(v));
  if (Array.isArray(v)) return BigInt(v.length);
  if (v instanceof Uint8Array) return BigInt(v.length);
  if (isMap(v)) return BigInt(Object.keys(v).length);
  return wrongType("len", "value", "a string, bytes, list or map", v);
}

const BASE64_PAD = /=+$/;
function base64Encode(args: (Value | undefined)[]): Value {
  const data = argBytes("base64.encode", "data", args[0]);
  const padding = args[1] === undefined ? true : argBool("base64.encode", "padding", args[1]);
  const s = Buffer.from(data).toString("base64");
  return padding ? s : s.replace(BASE64_PAD, "");
}

function base64Decode(args: (Value | undefined)[]): Value {
  const s = argString("base64.decode", "data", args[0]);
  const padding = args[1] === undefined ? true : argBool("base64.decode", "padding", args[1]);
  const norm = s.replace(/-/g, "+").replace(/_/g, "/");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(norm)) raise("ValueError", "base64.decode: data is not valid base64");
  if (padding && norm.length % 4 !== 0)
    raise("ValueError", "base64.decode: data is not padded to a multiple of 4");
  return new Uint8Array(Buffer.from(norm, "base64"));
}

const HASHES: Record<string, string> = {
  MD5: "md5",
  SHA1: "sha1",
  SHA256: "sha256",
  SHA384: "sha384",
  SHA512: "sha512",
};
function algorithm(fn: string, v: Value | undefined): string {
  const a = HASHES[argString(fn, "algorithm", v).toUpperCase()];
  if (!a)
    return raise(
      "ValueError",
      `${fn}: unknown algorithm ${JSON.stringify(v)}; use one of ${Object.keys(HASHES).join(", ")}`,
    );
  return a;
}

function indentOf(fn: string, v: Value | undefined): { indent?: string; prefix: string } {
  if (v === undefined || v === false || v === null) return { prefix: "" };
  if (v === true) return { indent: "  ", prefix: "" };
  if (isMap(v)) {
    const prefix = v.prefix === undefined ? "" : argString(fn, "indent.prefix", v.prefix);
    const indent = v.indent === undefined ? "  " : argString(fn, "indent.indent", v.indent);
    return { indent, prefix };
  }
  return wrongType(fn, "indent", "a boolean or a map {prefix, indent}", v);
}

export function encodeJson(fn: string, value: Value, indent?: Value): string {
  const ind = indentOf(fn, indent);
  try {
    return toJsonText(value, ind.indent, ind.prefix);
  } catch (err) {
    if (err instanceof BytesNotJsonError) return raise("ValueError", `${fn}: ${err.message}`);
    if (err instanceof ValueJsonError) return raise("ValueError", `${fn}: ${err.message}`);
    throw err;
  }
}

export function decodeJson(fn: string, data: Value | undefined): Value {
  let text: string;
  if (data instanceof Uint8Array) text = new TextDecoder("utf-8", { fatal: false }).decode(data);
  else if (typeof data === "string") text = data;
  else return wrongType(fn, "data", "bytes or a string", data);
  try {
    return parseJsonText(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) return raise("ValueError", `${fn}: invalid JSON: ${err.message}`);
    throw err;
  }
}

function mapGet(args: (Value | undefined)[]): Value {
  // Not a map, or a missing key anywhere on the path: null (docs, stdlib map.get).
  const keys = args[1];
  const path = Array.isArray(keys) ? keys : [keys];
  for (const k of path) {
    if (typeof k !== "string") return wrongType("map.get", "keys", "a string or a list of strings", keys);
  }
  let cur: Value = args[0] as Value;
  for (const k of path as string[]) {
    if (!isMap(cur) || !hasKey(cur, k)) return null;
    cur = cur[k] as Value;
  }
  return cur;
}

function mergeNested(a: ValueMap, b: ValueMap): ValueMap {
  const out = copyValue(a) as ValueMap;
  for (const k in b) {
    const bv = b[k] as Value;
    const av = out[k];
    out[k] = isMap(av) && isMap(bv) ? mergeNested(av, bv) : copyValue(bv);
  }
  return out;
}

function mathNum(fn: string, v: Value | undefined): bigint | number {
  return argNumber(fn, "x", v);
}

function sqrt(args: (Value | undefined)[]): Value {
  const x = seconds(mathNum("math.sqrt", args[0]));
  if (x < 0) raise("ValueError", "math.sqrt: math domain error (negative argument)");
  return Math.sqrt(x);
}

function findAll(args: (Value | undefined)[]): Value {
  const src = argString("text.find_all", "source", args[0]);
  const sub = argString("text.find_all", "substr", args[1]);
  const out: Value[] = [];
  if (sub.length === 0) return out;
  let at = src.indexOf(sub);
  // Indices of non-overlapping occurrences, in code points (docs: find_all("00000", "00") is [0, 2]).
  while (at !== -1) {
    out.push(BigInt(cpIndex(src, at)));
    at = src.indexOf(sub, at + sub.length);
  }
  return out;
}

function findAllRegex(args: (Value | undefined)[]): Value {
  const src = argString("text.find_all_regex", "source", args[0]);
  const re = re2("text.find_all_regex", argString("text.find_all_regex", "regexp", args[1]), true);
  const out: Value[] = [];
  for (const match of src.matchAll(re)) {
    const m = newMap();
    m.index = BigInt(cpIndex(src, match.index ?? 0));
    m.match = match[0];
    out.push(m);
  }
  return out;
}

/** RE2 replacement text uses \1 for groups; JS uses $1, and a literal $ must be doubled. */
function re2Replacement(repl: string): string {
  return repl.replace(/\$/g, "$$$$").replace(/\\(\d)/g, (_, d: string) => (d === "0" ? "$&" : `$${d}`));
}

function substring(args: (Value | undefined)[]): Value {
  const src = argString("text.substring", "source", args[0]);
  const cps = codePoints(src);
  const n = cps ? cps.length : src.length;
  const clamp = (v: Value | undefined, param: string) => {
    const i = Number(argNumber("text.substring", param, v));
    if (!Number.isInteger(i)) return wrongType("text.substring", param, "an integer", v);
    return Math.max(0, Math.min(n, i < 0 ? n + i : i));
  };
  const start = clamp(args[1], "start");
  const end = clamp(args[2], "end");
  if (end <= start) return "";
  return cps ? cps.slice(start, end).join("") : src.slice(start, end);
}

function charset(fn: string, v: Value | undefined): BufferEncoding {
  const c = v === undefined ? "UTF-8" : argString(fn, "charset", v).toUpperCase();
  if (c === "UTF-8" || c === "UTF8") return "utf8";
  if (c === "US-ASCII" || c === "ASCII") return "ascii";
  if (c === "ISO-8859-1" || c === "LATIN1") return "latin1";
  if (c === "UTF-16LE" || c === "UTF-16") return "utf16le";
  return raise("ValueError", `${fn}: unsupported charset ${JSON.stringify(v)}`);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** RFC 3339 text for a time in seconds since the epoch, in UTC or an IANA time zone. */
export function formatTime(secs: number, timeZone?: string): string {
  const ms = Math.floor(secs * 1000);
  const micros = Math.round((secs - Math.floor(secs)) * 1e6) % 1e6;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return raise("ValueError", "time.format: time out of range");
  let offsetMin = 0;
  if (timeZone && timeZone !== "UTC" && timeZone !== "Etc/UTC") {
    let parts: Intl.DateTimeFormatPart[];
    try {
      parts = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      }).formatToParts(date);
    } catch {
      return raise("ValueError", `time.format: unknown time zone ${JSON.stringify(timeZone)}`);
    }
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
    const local = Date.UTC(
      get("year"),
      get("month") - 1,
      get("day"),
      get("hour"),
      get("minute"),
      get("second"),
    );
    offsetMin = Math.round((local - Math.floor(ms / 1000) * 1000) / 60000);
  }
  const d = new Date(ms + offsetMin * 60000);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}.${pad(micros, 6)}`;
  if (offsetMin === 0) return `${base}Z`;
  const sign = offsetMin < 0 ? "-" : "+";
  const a = Math.abs(offsetMin);
  return `${base}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

export function parseTime(fn: string, v: Value | undefined): number {
  const s = argString(fn, "value", v);
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return raise("ValueError", `${fn}: ${JSON.stringify(s)} is not an RFC 3339 time`);
  const whole = Date.parse(`${m[1]}T${m[2]}${(m[4] as string).toUpperCase()}`);
  if (Number.isNaN(whole)) return raise("ValueError", `${fn}: ${JSON.stringify(s)} is not a valid time`);
  const frac = m[3] ? Number(`0${m[3]}`) : 0;
  return whole / 1000 + frac;
}

/** Retry predicates usable as `predicate: ${…}` and as functions. */
export function httpRetryable(e: Value, codes: readonly number[], connection: boolean): boolean {
  if (!isMap(e)) return false;
  const tags = Array.isArray(e.tags) ? e.tags : [];
  if (
    connection &&
    tags.some((t) => t === "ConnectionError" || t === "ConnectionFailedError" || t === "TimeoutError")
  ) {
    return true;
  }
  const code = e.code;
  return (typeof code === "bigint" || typeof code === "number") && codes.includes(Number(code));
}

export const IDEMPOTENT_CODES = [429, 502, 503, 504] as const;
export const NON_IDEMPOTENT_CODES = [429, 503] as const;

export const PURE_FUNCTIONS: FunctionDef[] = [
  def("default", ["value", "default_value"], 2, (a) => (a[0] === null ? (a[1] as Value) : (a[0] as Value))),
  def("keys", ["map"], 1, (a) => Object.keys(argMap("keys", "map", a[0]))),
  def("len", ["value"], 1, (a) => len(a[0])),
  def("type", ["value"], 1, (a) => typeName(a[0] as Value)),
  def("get_type", ["value"], 1, (a) => typeName(a[0] as Value)),
  def("int", ["value"], 1, (a) => toInt(a[0])),
  def("double", ["value"], 1, (a) => toDouble(a[0])),
  def("string", ["value"], 1, (a) => toStr(a[0])),
  def("bool", ["value"], 1, (a) => toBool(a[0])),

  def("base64.encode", ["data", "padding"], 1, base64Encode),
  def("base64.decode", ["data", "padding"], 1, base64Decode),

  def(
    "hash.compute_checksum",
    ["data", "algorithm"],
    2,
    (a) =>
      new Uint8Array(
        createHash(algorithm("hash.compute_checksum", a[1]))
          .update(argBytes("hash.compute_checksum", "data", a[0]))
          .digest(),
      ),
  ),
  def(
    "hash.compute_hmac",
    ["key", "data", "algorithm"],
    3,
    (a) =>
      new Uint8Array(
        createHmac(algorithm("hash.compute_hmac", a[2]), argBytes("hash.compute_hmac", "key", a[0]))
          .update(argBytes("hash.compute_hmac", "data", a[1]))
          .digest(),
      ),
  ),

  def(
    "json.encode",
    ["data", "indent"],
    1,
    (a) => new Uint8Array(Buffer.from(encodeJson("json.encode", a[0] as Value, a[1]), "utf8")),
  ),
  def("json.encode_to_string", ["data", "indent"], 1, (a) =>
    encodeJson("json.encode_to_string", a[0] as Value, a[1]),
  ),
  def("json.decode", ["data"], 1, (a) => decodeJson("json.decode", a[0])),

  def("list.concat", ["objs", "val"], 2, (a) => [...argList("list.concat", "objs", a[0]), a[1] as Value]),
  def("list.prepend", ["objs", "val"], 2, (a) => [a[1] as Value, ...argList("list.prepend", "objs", a[0])]),

  def("map.get", ["map", "keys"], 2, mapGet),
  def("map.delete", ["map", "key"], 2, (a) => {
    const m = argMap("map.delete", "map", a[0]);
    const k = argString("map.delete", "key", a[1]);
    const out = newMap();
    for (const key in m) if (key !== k) out[key] = m[key] as Value;
    return out;
  }),
  def("map.merge", ["first", "second"], 2, (a) => {
    const out = newMap();
    const first = argMap("map.merge", "first", a[0]);
    const second = argMap("map.merge", "second", a[1]);
    for (const k in first) out[k] = first[k] as Value;
    for (const k in second) out[k] = second[k] as Value;
    return out;
  }),
  def("map.merge_nested", ["first", "second"], 2, (a) =>
    mergeNested(argMap("map.merge_nested", "first", a[0]), argMap("map.merge_nested", "second", a[1])),
  ),

  def("math.abs", ["x"], 1, (a) => {
    const x = mathNum("math.abs", a[0]);
    if (typeof x === "bigint") {
      if (x === INT64_MIN) raise("ValueError", "integer overflow");
      return x < 0n ? -x : x;
    }
    return Math.abs(x);
  }),
  def("math.floor", ["x"], 1, (a) => {
    const x = mathNum("math.floor", a[0]);
    return typeof x === "bigint" ? x : toInt(Math.floor(x));
  }),
  def("math.max", ["x", "y"], 2, (a) => {
    const x = argNumber("math.max", "x", a[0]);
    const y = argNumber("math.max", "y", a[1]);
    return (typeof x === "bigint" && typeof y === "bigint" ? x >= y : Number(x) >= Number(y)) ? x : y;
  }),
  def("math.min", ["x", "y"], 2, (a) => {
    const x = argNumber("math.min", "x", a[0]);
    const y = argNumber("math.min", "y", a[1]);
    return (typeof x === "bigint" && typeof y === "bigint" ? x <= y : Number(x) <= Number(y)) ? x : y;
  }),
  def("math.sqrt", ["x"], 1, sqrt),

  def("text.find_all", ["source", "substr"], 2, findAll),
  def("text.find_all_regex", ["source", "regexp"], 2, findAllRegex),
  def("text.match_regex", ["source", "regexp"], 2, (a) =>
    re2("text.match_regex", argString("text.match_regex", "regexp", a[1]), false).test(
      argString("text.match_regex", "source", a[0]),
    ),
  ),
  def("text.replace_all", ["source", "substr", "repl"], 3, (a) => {
    const src = argString("text.replace_all", "source", a[0]);
    const sub = argString("text.replace_all", "substr", a[1]);
    const repl = argString("text.replace_all", "repl", a[2]);
    return sub.length === 0 ? src : src.split(sub).join(repl);
  }),
  def("text.replace_all_regex", ["source", "regexp", "repl"], 3, (a) => {
    const src = argString("text.replace_all_regex", "source", a[0]);
    const re = re2("text.replace_all_regex", argString("text.replace_all_regex", "regexp", a[1]), true);
    return src.replace(re, re2Replacement(argString("text.replace_all_regex", "repl", a[2])));
  }),
  def("text.split", ["source", "separator"], 2, (a) => {
    const src = argString("text.split", "source", a[0]);
    const sep = argString("text.split", "separator", a[1]);
    return sep === "" ? Array.from(src) : src.split(sep);
  }),
  def("text.substring", ["source", "start", "end"], 3, substring),
  def("text.to_lower", ["source"], 1, (a) => argString("text.to_lower", "source", a[0]).toLowerCase()),
  def("text.to_upper", ["source"], 1, (a) => argString("text.to_upper", "source", a[0]).toUpperCase()),
  def("text.url_encode", ["source"], 1, (a) =>
    encodeURIComponent(argString("text.url_encode", "source", a[0])).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    ),
  ),
  def("text.url_encode_plus", ["source"], 1, (a) =>
    encodeURIComponent(argString("text.url_encode_plus", "source", a[0]))
      .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, "+"),
  ),
  def("text.url_decode", ["source"], 1, (a) => {
    const s = argString("text.url_decode", "source", a[0]);
    try {
      return decodeURIComponent(s.replace(/\+/g, " "));
    } catch {
      return raise("ValueError", `text.url_decode: malformed percent-encoding in ${JSON.stringify(s)}`);
    }
  }),
  def(
    "text.encode",
    ["text", "charset"],
    1,
    (a) => new Uint8Array(Buffer.from(argString("text.encode", "text", a[0]), charset("text.encode", a[1]))),
  ),
  def("text.decode", ["data", "charset"], 1, (a) => {
    const data = argBytes("text.decode", "data", a[0]);
    const cs = charset("text.decode", a[1]);
    if (cs === "utf8") {
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(data);
      } catch {
        return raise("ValueError", "text.decode: data is not valid UTF-8");
      }
    }
    return Buffer.from(data).toString(cs);
  }),

  def("time.format", ["seconds", "timezone"], 1, (a) =>
    formatTime(
      seconds(argNumber("time.format", "seconds", a[0])),
      a[1] === undefined ? undefined : argString("time.format", "timezone", a[1]),
    ),
  ),
  def("time.parse", ["value"], 1, (a) => parseTime("time.parse", a[0])),

  def("uuid.generate", [], 0, () => randomUUID()),

  def("retry.always", ["e"], 1, () => true),
  def("retry.never", ["e"], 1, () => false),
  def("http.default_retry_predicate", ["e"], 1, (a) => httpRetryable(a[0] as Value, IDEMPOTENT_CODES, true)),
  def("http.default_retry_predicate_non_idempotent", ["e"], 1, (a) =>
    httpRetryable(a[0] as Value, NON_IDEMPOTENT_CODES, false),
  ),

  def("sys.get_env", ["name", "default"], 1, (a, exec) => {
    const name = argString("sys.get_env", "name", a[0]);
    const v = exec.env.get(name);
    if (v !== undefined) return v;
    // Without a default, an unset variable reads as null (docs, stdlib sys.get_env).
    if (a[1] === undefined || a[1] === null) return null;
    return argString("sys.get_env", "default", a[1]);
  }),
  def("sys.now", [], 0, (_a, exec) => exec.clock.now() / 1000),
];
