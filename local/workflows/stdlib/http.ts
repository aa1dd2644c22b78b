import { ExecutionCancelled, raise } from "../errors.ts";
import type { Exec } from "../runtime.ts";
import { isMap, newMap, parseJsonText, toJsonText, type Value, type ValueMap } from "../values.ts";
import { argMap, argNumber, argString, seconds, wrongType } from "./args.ts";
import type { FunctionDef } from "./types.ts";

/** Arguments of one HTTP request as `http.*` take them (docs, "Standard library > http"). */
export interface HttpRequestArgs {
  method: string;
  url: string;
  timeout?: Value;
  body?: Value;
  headers?: Value;
  query?: Value;
  auth?: Value;
}

/** `Content-Type` -> header names as the service returns them (canonical MIME form). */
export function canonicalHeader(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
}

function queryString(fn: string, q: Value | undefined): string {
  if (q === undefined || q === null) return "";
  const m = argMap(fn, "query", q);
  const params = new URLSearchParams();
  const scalar = (k: string, v: Value) => {
    if (typeof v === "string") params.append(k, v);
    else if (typeof v === "bigint" || typeof v === "boolean") params.append(k, String(v));
    else if (typeof v === "number") params.append(k, String(v));
    else wrongType(fn, `query.${k}`, "a string, number, boolean or a list of them", v);
  };
  for (const k in m) {
    const v = m[k] as Value;
    if (Array.isArray(v)) for (const e of v) scalar(k, e);
    else scalar(k, v);
  }
  return params.toString();
}

function encodeForm(m: ValueMap): string {
  const params = new URLSearchParams();
  for (const k in m) {
    const v = m[k] as Value;
    params.append(k, typeof v === "string" ? v : toJsonText(v));
  }
  return params.toString();
}

/** Response body as the service gives it: JSON parsed, text as a string, anything else as bytes. */
function decodeBody(contentType: string, bytes: Uint8Array): Value {
  const ct = contentType.toLowerCase();
  if (ct.includes("json")) {
    const text = new TextDecoder().decode(bytes);
    if (text.trim() === "") return null;
    try {
      return parseJsonText(text);
    } catch {
      return text;
    }
  }
  if (ct.startsWith("text/") || ct.includes("xml") || ct.includes("x-www-form-urlencoded") || ct === "") {
    return new TextDecoder().decode(bytes);
  }
  return bytes;
}

async function readLimited(res: Response, limit: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await res.body?.cancel();
    raise("ResourceLimitError", `HTTP response of ${declared} bytes exceeds the ${limit}-byte limit`);
  }
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > limit) raise("ResourceLimitError", `HTTP response exceeds the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function networkError(err: unknown, url: string): never {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? "";
  const failed = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ERR_INVALID_URL"];
  // fetch also refuses, without connecting, the ports on the Fetch standard's "bad port" list.
  if (failed.includes(code) || cause?.message === "bad port") {
    return raise("ConnectionFailedError", `could not connect to ${url}: ${code || (err as Error).message}`);
  }
  return raise("ConnectionError", `connection to ${url} failed: ${cause?.message ?? (err as Error).message}`);
}

/** Makes one HTTP request with the service's conventions; non-2xx raises HttpError with code/headers/body. */
export async function httpRequest(fn: string, req: HttpRequestArgs, exec: Exec): Promise<Value> {
  const url = new URL(req.url);
  const q = queryString(fn, req.query);
  if (q) url.search = url.search ? `${url.search}&${q}` : q;
  const headers = new Headers();
  if (req.headers !== undefined && req.headers !== null) {
    const h = argMap(fn, "headers", req.headers);
    for (const k in h) {
      const v = h[k] as Value;
      if (typeof v === "string" || typeof v === "bigint" || typeof v === "number" || typeof v === "boolean") {
        headers.set(k, String(v));
      } else wrongType(fn, `headers.${k}`, "a string", v);
    }
  }
  if (req.auth !== undefined && req.auth !== null) {
    const auth = argMap(fn, "auth", req.auth);
    if (auth.type !== "OIDC" && auth.type !== "OAuth2") {
      raise(
        "ValueError",
        `${fn}: auth.type must be OIDC or OAuth2, got ${JSON.stringify(auth.type ?? null)}`,
      );
    }
    // Locally there is no identity to mint a token for; the request goes out without one.
  }
  let body: string | Uint8Array | undefined;
  const b = req.body;
  if (b !== undefined && b !== null) {
    if (typeof b === "string") {
      body = b;
      if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
    } else if (b instanceof Uint8Array) {
      body = b;
      if (!headers.has("content-type")) headers.set("content-type", "application/octet-stream");
    } else if (
      isMap(b) &&
      (headers.get("content-type") ?? "").includes("application/x-www-form-urlencoded")
    ) {
      body = encodeForm(b);
    } else {
      body = toJsonText(b);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
  }
  const timeoutSec =
    req.timeout === undefined || req.timeout === null
      ? exec.limits.defaultHttpTimeoutSeconds
      : seconds(argNumber(fn, "timeout", req.timeout));
  if (!(timeoutSec > 0) || timeoutSec > exec.limits.maxHttpTimeoutSeconds) {
    raise(
      "ValueError",
      `${fn}: timeout must be more than 0 and at most ${exec.limits.maxHttpTimeoutSeconds} seconds`,
    );
  }
  const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutSec * 1000)));
  const signal = AbortSignal.any([exec.signal, timeout]);
  let res: Response;
  let bytes: Uint8Array;
  try {
    res = await fetch(url, { method: req.method, headers, body, signal });
    bytes = await readLimited(res, exec.limits.maxHttpResponseBytes);
  } catch (err) {
    if (exec.signal.aborted) throw new ExecutionCancelled();
    if (timeout.aborted)
      raise("TimeoutError", `${fn}: no response from ${url.origin} within ${timeoutSec} seconds`);
    if (err instanceof Error && err.name === "WorkflowError") throw err;
    return networkError(err, url.origin);
  }
  const respHeaders = newMap();
  res.headers.forEach((v, k) => {
    respHeaders[canonicalHeader(k)] = v;
  });
  const out = newMap();
  out.code = BigInt(res.status);
  out.headers = respHeaders;
  out.body = decodeBody(res.headers.get("content-type") ?? "", bytes);
  if (res.status < 200 || res.status > 299) {
    raise("HttpError", `HTTP server responded with error code ${res.status}`, out);
  }
  return out;
}

const REQUEST_PARAMS = ["url", "timeout", "body", "headers", "query", "auth", "private_service_name"];

function method(m: string): FunctionDef {
  const name = `http.${m.toLowerCase()}`;
  const params =
    m === "GET" || m === "DELETE"
      ? REQUEST_PARAMS.filter((p) => p !== "body" || m === "DELETE")
      : REQUEST_PARAMS;
  return {
    name,
    params,
    required: 1,
    blocking: true,
    fn: (a, exec) => {
      const get = (p: string) => a[params.indexOf(p)];
      return httpRequest(
        name,
        {
          method: m,
          url: argString(name, "url", get("url")),
          timeout: get("timeout"),
          body: get("body"),
          headers: get("headers"),
          query: get("query"),
          auth: get("auth"),
        },
        exec,
      );
    },
  };
}

export const HTTP_FUNCTIONS: FunctionDef[] = [
  method("GET"),
  method("POST"),
  method("PUT"),
  method("PATCH"),
  method("DELETE"),
  {
    name: "http.request",
    params: ["method", ...REQUEST_PARAMS],
    required: 2,
    blocking: true,
    fn: (a, exec) => {
      const m = argString("http.request", "method", a[0]).toUpperCase();
      if (!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].includes(m)) {
        raise("ValueError", `http.request: unsupported method ${m}`);
      }
      return httpRequest(
        "http.request",
        {
          method: m,
          url: argString("http.request", "url", a[1]),
          timeout: a[2],
          body: a[3],
          headers: a[4],
          query: a[5],
          auth: a[6],
        },
        exec,
      );
    },
  },
];
