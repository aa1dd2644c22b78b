import { createRequire } from "node:module";
import { protos } from "@google-cloud/batch";
import { type FieldViolation, invalidArgument } from "./errors.ts";

/**
 * The Batch v1 request schema, read from the protos that `@google-cloud/batch` ships
 * (`build/protos/protos.json`, protobuf.js's JSON form of job.proto, task.proto, volume.proto, batch.proto).
 *
 * A request body is parsed the way Google's JSON front end parses it (the proto3 JSON mapping):
 * lowerCamelCase or original snake_case field names, int64 as a decimal string or a number, enums by name
 * (or number), Durations as `"3600s"`, a single value where a repeated field is expected (the Workflows
 * samples rely on that), `null` as "not set", and output-only fields ignored. Unknown field names and
 * values of the wrong type are INVALID_ARGUMENT with the front end's wording:
 * `Invalid JSON payload received. Unknown name "x" at 'job.task_groups[0]': Cannot find field.` and
 * `Invalid value at 'job.priority' (TYPE_INT64), "high"`.
 * protobuf.js's own `fromObject` drops unknown fields silently, which is why this walks the descriptors itself
 * and uses `fromObject`/`verify` only as a second check on what it produced.
 */

interface RawField {
  type: string;
  id: number;
  rule?: string;
  keyType?: string;
  options?: Record<string, unknown>;
}
interface RawType {
  fields?: Record<string, RawField>;
  oneofs?: Record<string, { oneof: string[] }>;
  values?: Record<string, number>;
  nested?: Record<string, RawType>;
}

export interface FieldDesc {
  /** lowerCamelCase JSON name. */
  json: string;
  /** Original proto name (snake_case), used in error paths as the API does. */
  proto: string;
  type: string;
  repeated: boolean;
  map: boolean;
  outputOnly: boolean;
  required: boolean;
  oneof?: string;
}

export interface MessageDesc {
  kind: "message";
  fullName: string;
  fields: FieldDesc[];
  byName: Map<string, FieldDesc>;
}

export interface EnumDesc {
  kind: "enum";
  fullName: string;
  byName: Map<string, number>;
  byNumber: Map<number, string>;
}

type TypeDesc = MessageDesc | EnumDesc;

const SCALARS = new Set([
  "double",
  "float",
  "int32",
  "int64",
  "uint32",
  "uint64",
  "sint32",
  "sint64",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
  "bool",
  "string",
  "bytes",
]);

function snake(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

class Registry {
  private readonly raw = new Map<string, RawType>();
  private readonly resolved = new Map<string, TypeDesc>();

  constructor(root: RawType) {
    const walk = (node: RawType, prefix: string) => {
      for (const [name, child] of Object.entries(node.nested ?? {})) {
        const full = prefix ? `${prefix}.${name}` : name;
        if (child.fields || child.values) this.raw.set(full, child);
        walk(child, full);
      }
    };
    walk(root, "");
  }

  /** protobuf.js names types relative to the scope they are used in; search outwards like protoc does. */
  resolveName(type: string, scope: string): string {
    if (this.raw.has(type) && type.includes(".") && type.startsWith("google.")) return type;
    const parts = scope.split(".");
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), type].join(".");
      if (this.raw.has(candidate)) return candidate;
    }
    throw new Error(`batch protos: cannot resolve type ${type} from ${scope}`);
  }

  get(fullName: string): TypeDesc {
    const cached = this.resolved.get(fullName);
    if (cached) return cached;
    const raw = this.raw.get(fullName);
    if (!raw) throw new Error(`batch protos: no type ${fullName}`);
    let desc: TypeDesc;
    if (raw.values) {
      const byName = new Map(Object.entries(raw.values));
      desc = { kind: "enum", fullName, byName, byNumber: new Map([...byName].map(([k, v]) => [v, k])) };
    } else {
      const oneofOf = new Map<string, string>();
      for (const [name, o] of Object.entries(raw.oneofs ?? {})) for (const f of o.oneof) oneofOf.set(f, name);
      const fields: FieldDesc[] = Object.entries(raw.fields ?? {}).map(([json, f]) => {
        const behavior = f.options?.["(google.api.field_behavior)"];
        const field: FieldDesc = {
          json,
          proto: snake(json),
          type: SCALARS.has(f.type) ? f.type : this.resolveName(f.type, fullName),
          repeated: f.rule === "repeated",
          map: f.keyType !== undefined,
          outputOnly: behavior === "OUTPUT_ONLY",
          required: behavior === "REQUIRED",
        };
        const oneof = oneofOf.get(json);
        if (oneof !== undefined) field.oneof = oneof;
        return field;
      });
      const byName = new Map<string, FieldDesc>();
      for (const f of fields) {
        byName.set(f.json, f);
        byName.set(f.proto, f);
      }
      desc = { kind: "message", fullName, fields, byName };
    }
    this.resolved.set(fullName, desc);
    return desc;
  }

  message(fullName: string): MessageDesc {
    const d = this.get(fullName);
    if (d.kind !== "message") throw new Error(`batch protos: ${fullName} is an enum`);
    return d;
  }
}

const require = createRequire(import.meta.url);
const registry = new Registry(require("@google-cloud/batch/build/protos/protos.json") as RawType);

export const V1 = "google.cloud.batch.v1";

export function messageDesc(fullName: string): MessageDesc {
  return registry.message(fullName);
}

/** A plain JSON object (what JSON.parse gives for `{...}`). */
export type JsonObject = { [key: string]: unknown };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const INT32 = { min: -2147483648, max: 2147483647 };
const UINT32 = { min: 0, max: 4294967295 };
const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;
const UINT64_MAX = 18446744073709551615n;
/** google.protobuf.Duration's range: ±10,000 years. */
const DURATION_MAX_SECONDS = 315576000000n;

function typeLabel(type: string): string {
  return SCALARS.has(type) ? `TYPE_${type.toUpperCase()}` : `type.googleapis.com/${type}`;
}

function show(v: unknown): string {
  try {
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 200 ? `${text.slice(0, 197)}...` : text;
  } catch {
    return String(v);
  }
}

class Problems {
  readonly list: FieldViolation[] = [];
  unknown(name: string, at: string): void {
    this.list.push({
      field: at,
      description: `Invalid JSON payload received. Unknown name "${name}" at '${at}': Cannot find field.`,
    });
  }
  invalid(at: string, type: string, value: unknown, why?: string): void {
    this.list.push({
      field: at,
      description: `Invalid value at '${at}' (${typeLabel(type)}), ${show(value)}${why ? `: ${why}` : ""}`,
    });
  }
  other(at: string, description: string): void {
    this.list.push({ field: at, description });
  }
}

function parseIntegral(value: unknown, min: bigint, max: bigint): bigint | undefined {
  let n: bigint;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return undefined;
    n = BigInt(value);
  } else if (typeof value === "string" && /^-?\d+$/.test(value.trim())) {
    n = BigInt(value.trim());
  } else if (typeof value === "bigint") {
    n = value;
  } else {
    return undefined;
  }
  return n < min || n > max ? undefined : n;
}

/** Canonical JSON of a Duration: whole seconds, or 3, 6 or 9 fractional digits, then `s`. */
export function formatDuration(seconds: bigint, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const sign = seconds < 0n || nanos < 0 ? "-" : "";
  const s = seconds < 0n ? -seconds : seconds;
  let frac = String(Math.abs(nanos)).padStart(9, "0");
  if (frac.endsWith("000000")) frac = frac.slice(0, 3);
  else if (frac.endsWith("000")) frac = frac.slice(0, 6);
  return `${sign}${s}.${frac}s`;
}

/** Parses `"3600s"`, `"1.5s"`, `"-0.25s"`; undefined when malformed or out of range. */
export function parseDuration(text: string): { seconds: bigint; nanos: number } | undefined {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!m) return undefined;
  const seconds = BigInt(m[2] as string);
  if (seconds > DURATION_MAX_SECONDS) return undefined;
  const nanos = m[3] ? Number((m[3] as string).padEnd(9, "0")) : 0;
  const sign = m[1] ? -1 : 1;
  return { seconds: sign < 0 ? -seconds : seconds, nanos: sign * nanos };
}

/** Duration text -> milliseconds (for timers). */
export function durationMs(text: string): number {
  const d = parseDuration(text);
  if (!d) throw new Error(`not a duration: ${text}`);
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

function parseScalar(type: string, value: unknown, at: string, problems: Problems): unknown {
  switch (type) {
    case "string":
      if (typeof value !== "string") return problems.invalid(at, type, value);
      return value;
    case "bool":
      if (typeof value !== "boolean") return problems.invalid(at, type, value);
      return value;
    case "bytes":
      if (typeof value !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value))
        return problems.invalid(at, type, value);
      return value;
    case "double":
    case "float":
      if (typeof value === "number") return value;
      if (value === "NaN" || value === "Infinity" || value === "-Infinity") return value;
      if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
        return Number(value);
      return problems.invalid(at, type, value);
    case "int32":
    case "sint32":
    case "sfixed32": {
      const n = parseIntegral(value, BigInt(INT32.min), BigInt(INT32.max));
      return n === undefined ? problems.invalid(at, type, value) : Number(n);
    }
    case "uint32":
    case "fixed32": {
      const n = parseIntegral(value, BigInt(UINT32.min), BigInt(UINT32.max));
      return n === undefined ? problems.invalid(at, type, value) : Number(n);
    }
    case "int64":
    case "sint64":
    case "sfixed64": {
      const n = parseIntegral(value, INT64_MIN, INT64_MAX);
      return n === undefined ? problems.invalid(at, type, value) : n.toString();
    }
    case "uint64":
    case "fixed64": {
      const n = parseIntegral(value, 0n, UINT64_MAX);
      return n === undefined ? problems.invalid(at, type, value) : n.toString();
    }
    default:
      throw new Error(`batch protos: unhandled scalar ${type}`);
  }
}

function parseValue(type: string, value: unknown, at: string, problems: Problems): unknown {
  if (SCALARS.has(type)) return parseScalar(type, value, at, problems);
  if (type === "google.protobuf.Duration") {
    const d = typeof value === "string" ? parseDuration(value) : undefined;
    if (!d) return problems.invalid(at, type, value);
    return formatDuration(d.seconds, d.nanos);
  }
  if (type === "google.protobuf.Timestamp") {
    if (typeof value !== "string" || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
      return problems.invalid(at, type, value);
    }
    return value;
  }
  const desc = registry.get(type);
  if (desc.kind === "enum") {
    if (typeof value === "string" && desc.byName.has(value)) return value;
    if (typeof value === "number" && desc.byNumber.has(value)) return desc.byNumber.get(value);
    return problems.invalid(at, type, value);
  }
  if (!isObject(value)) return problems.invalid(at, type, value);
  return parseObject(desc, value, at, problems);
}

function parseObject(desc: MessageDesc, input: JsonObject, at: string, problems: Problems): JsonObject {
  const seen = new Map<FieldDesc, string>();
  const oneofSet = new Map<string, string>();
  const values = new Map<FieldDesc, unknown>();
  for (const [key, value] of Object.entries(input)) {
    const field = desc.byName.get(key);
    if (!field) {
      problems.unknown(key, at);
      continue;
    }
    const previous = seen.get(field);
    if (previous !== undefined) {
      problems.other(
        at,
        `Invalid JSON payload received. Duplicate field "${field.proto}" at '${at}' (given as "${previous}" and "${key}").`,
      );
      continue;
    }
    seen.set(field, key);
    if (value === null || value === undefined) continue;
    if (field.oneof) {
      const other = oneofSet.get(field.oneof);
      if (other !== undefined) {
        problems.other(
          `${at}.${field.proto}`,
          `Invalid JSON payload received. Oneof field '${field.oneof}' is already set. Cannot set '${field.proto}' at '${at}' (already set: '${other}').`,
        );
        continue;
      }
      oneofSet.set(field.oneof, field.proto);
    }
    const fieldAt = `${at}.${field.proto}`;
    if (field.map) {
      if (!isObject(value)) {
        problems.invalid(fieldAt, field.type, value);
        continue;
      }
      const out: JsonObject = {};
      Object.entries(value).forEach(([k, v], i) => {
        if (v === null) return;
        const parsed = parseValue(field.type, v, `${fieldAt}[${i}].value`, problems);
        if (parsed !== undefined) out[k] = parsed;
      });
      values.set(field, out);
    } else if (field.repeated) {
      // The JSON front end takes a lone value for a repeated field as a one-element list.
      const items = Array.isArray(value) ? value : [value];
      const out: unknown[] = [];
      items.forEach((item, i) => {
        const itemAt = `${fieldAt}[${i}]`;
        if (Array.isArray(item)) {
          problems.invalid(itemAt, field.type, item);
          return;
        }
        const parsed = parseValue(field.type, item, itemAt, problems);
        if (parsed !== undefined) out.push(parsed);
      });
      values.set(field, out);
    } else {
      if (Array.isArray(value)) {
        problems.invalid(fieldAt, field.type, value);
        continue;
      }
      const parsed = parseValue(field.type, value, fieldAt, problems);
      if (parsed !== undefined) values.set(field, parsed);
    }
  }
  // Output in declaration order, as the API writes its responses; output-only input is ignored (AIP-203).
  const out: JsonObject = {};
  for (const field of desc.fields) {
    if (!values.has(field) || field.outputOnly) continue;
    out[field.json] = values.get(field);
  }
  return out;
}

/**
 * Parses a request body against a message type. Returns the canonical JSON (camelCase, int64 as strings,
 * enums by name, declaration order, output-only fields dropped) or throws INVALID_ARGUMENT listing every
 * problem, each as a field violation.
 */
export function parseMessage(fullName: string, body: unknown, root: string): JsonObject {
  const problems = new Problems();
  const desc = registry.message(fullName);
  let out: JsonObject = {};
  if (!isObject(body)) problems.invalid(root, fullName, body);
  else out = parseObject(desc, body, root, problems);
  if (problems.list.length > 0) {
    throw invalidArgument(problems.list.map((p) => p.description).join("\n"), problems.list);
  }
  return out;
}

/** Canonical JSON -> protobuf.js plain object (well-known types as `{seconds, nanos}`), for fromObject. */
function toProtoObject(type: string, value: unknown): unknown {
  if (SCALARS.has(type)) return value;
  if (type === "google.protobuf.Duration") {
    const d = parseDuration(value as string);
    return d ? { seconds: d.seconds.toString(), nanos: d.nanos } : value;
  }
  if (type === "google.protobuf.Timestamp") {
    const ms = Date.parse(value as string);
    return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
  }
  const desc = registry.get(type);
  if (desc.kind === "enum") return value;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value as JsonObject)) {
    const field = desc.byName.get(key) as FieldDesc;
    if (field.map) {
      out[key] = Object.fromEntries(
        Object.entries(v as JsonObject).map(([k, x]) => [k, toProtoObject(field.type, x)]),
      );
    } else if (field.repeated) {
      out[key] = (v as unknown[]).map((x) => toProtoObject(field.type, x));
    } else {
      out[key] = toProtoObject(field.type, v);
    }
  }
  return out;
}

/**
 * Second check with the generated code that ships with the client library: the canonical form must convert
 * with `Job.fromObject` and pass `Job.verify`. A failure here is a bug in the walker, not the user's input.
 */
export function verifyWithGeneratedCode(job: JsonObject): void {
  const Job = protos.google.cloud.batch.v1.Job;
  const plain = toProtoObject(`${V1}.Job`, job) as Record<string, unknown>;
  const message = Job.fromObject(plain);
  const problem = Job.verify(message);
  if (problem) throw invalidArgument(`Invalid job: ${problem}`);
}

/**
 * Rewrites enum values of canonical JSON as numbers, for clients that ask for `$alt=json;enum-encoding=int`
 * (the REST transport of the Google client libraries does).
 */
export function enumsAsNumbers(fullName: string, value: unknown): unknown {
  if (
    SCALARS.has(fullName) ||
    fullName === "google.protobuf.Duration" ||
    fullName === "google.protobuf.Timestamp"
  ) {
    return value;
  }
  const desc = registry.get(fullName);
  if (desc.kind === "enum") return typeof value === "string" ? (desc.byName.get(value) ?? value) : value;
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, v] of Object.entries(value)) {
    const field = desc.byName.get(key);
    if (!field) {
      out[key] = v;
    } else if (field.map) {
      out[key] = Object.fromEntries(
        Object.entries(v as JsonObject).map(([k, x]) => [k, enumsAsNumbers(field.type, x)]),
      );
    } else if (field.repeated && Array.isArray(v)) {
      out[key] = v.map((x) => enumsAsNumbers(field.type, x));
    } else {
      out[key] = enumsAsNumbers(field.type, v);
    }
  }
  return out;
}

/** Enum value names of a Batch enum, e.g. `enumNames("google.cloud.batch.v1.JobStatus.State")`. */
export function enumNames(fullName: string): string[] {
  const desc = registry.get(fullName);
  if (desc.kind !== "enum") throw new Error(`${fullName} is not an enum`);
  return [...desc.byName.keys()];
}
