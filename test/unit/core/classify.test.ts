import { describe, expect, it } from "vitest";
import {
  FUNCTION_RETRY,
  httpStatusOf,
  isRetryable,
  statusFromNumericCode,
  WORKER_RETRY,
} from "../../../core/classify.ts";
import { BatchlineError } from "../../../core/errors.ts";

const status = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });
const errno = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

// Written out here, not read from the tables: changing a table must change this file too.
const SOCKET =
  "ECONNRESET ECONNREFUSED ETIMEDOUT EPIPE EAI_AGAIN ENOTFOUND UND_ERR_SOCKET UND_ERR_CONNECT_TIMEOUT".split(
    " ",
  );
const WORKER_ONLY_CODES = (
  "ECONNABORTED ESOCKETTIMEDOUT EHOSTUNREACH EHOSTDOWN ENETUNREACH ENETDOWN ENETRESET ERR_STREAM_PREMATURE_CLOSE " +
  "ERR_SOCKET_CONNECTION_TIMEOUT UND_ERR_HEADERS_TIMEOUT UND_ERR_BODY_TIMEOUT UND_ERR_CLOSED " +
  "CONTENT_DOWNLOAD_MISMATCH FILE_NO_UPLOAD"
).split(" ");

describe("FUNCTION_RETRY (a function's 503, retried by the workflow)", () => {
  it("has exactly these entries", () => {
    expect([...FUNCTION_RETRY.statuses].sort()).toEqual([408, 429, 500, 502, 503, 504]);
    expect([...FUNCTION_RETRY.codes].sort()).toEqual([...SOCKET].sort());
    expect([...FUNCTION_RETRY.timeoutNames]).toEqual([]);
    expect(FUNCTION_RETRY).toMatchObject({ everyServerError: false, followCauses: false, undecided: false });
    expect(FUNCTION_RETRY.statusOf).toBe(statusFromNumericCode);
  });

  it.each([408, 429, 500, 502, 503, 504])("retries HTTP %i", (code) => {
    expect(isRetryable(status(code), FUNCTION_RETRY)).toBe(true);
  });

  it.each([400, 401, 403, 404, 410, 412, 501, 505, 302])("does not retry HTTP %i", (code) => {
    expect(isRetryable(status(code), FUNCTION_RETRY)).toBe(false);
  });

  it.each(SOCKET)("retries %s", (code) => {
    expect(isRetryable(errno(code), FUNCTION_RETRY)).toBe(true);
  });

  it.each(WORKER_ONLY_CODES)("does not retry %s (the worker does)", (code) => {
    expect(isRetryable(errno(code), FUNCTION_RETRY)).toBe(false);
  });

  it("reads the status only from the storage client's numeric code", () => {
    expect(isRetryable(Object.assign(new Error("x"), { status: 503 }), FUNCTION_RETRY)).toBe(false);
    expect(isRetryable(Object.assign(new Error("x"), { code: "503" }), FUNCTION_RETRY)).toBe(false);
    expect(isRetryable(Object.assign(new Error("x"), { response: { status: 503 } }), FUNCTION_RETRY)).toBe(
      false,
    );
  });

  it("does not search causes, and an error nothing decides is not retried", () => {
    expect(isRetryable(new Error("fetch failed", { cause: errno("ECONNRESET") }), FUNCTION_RETRY)).toBe(
      false,
    );
    const timeout = Object.assign(new Error("timed out"), { name: "TimeoutError" });
    expect(isRetryable(timeout, FUNCTION_RETRY)).toBe(false);
    expect(isRetryable(new Error("odd"), FUNCTION_RETRY)).toBe(false);
  });

  it("follows a BatchlineError's own decision", () => {
    expect(isRetryable(new BatchlineError("later", { retryable: true }), FUNCTION_RETRY)).toBe(true);
    expect(isRetryable(new BatchlineError("never", { retryable: false }), FUNCTION_RETRY)).toBe(false);
  });
});

describe("WORKER_RETRY (exit 1, a new attempt from Batch)", () => {
  it("has exactly these entries", () => {
    expect([...WORKER_RETRY.statuses].sort()).toEqual([401, 408, 410, 429]);
    expect([...WORKER_RETRY.codes].sort()).toEqual([...SOCKET, ...WORKER_ONLY_CODES].sort());
    expect([...WORKER_RETRY.timeoutNames].sort()).toEqual(["AbortError", "TimeoutError"]);
    expect(WORKER_RETRY).toMatchObject({ everyServerError: true, followCauses: true, undecided: true });
    expect(WORKER_RETRY.statusOf).toBe(httpStatusOf);
  });

  it.each([401, 408, 410, 429, 500, 501, 502, 503, 504, 505, 599])("retries HTTP %i", (code) => {
    expect(isRetryable(status(code), WORKER_RETRY)).toBe(true);
  });

  it.each([400, 403, 404, 409, 412, 416])("does not retry HTTP %i", (code) => {
    expect(isRetryable(status(code), WORKER_RETRY)).toBe(false);
  });

  it.each([...SOCKET, ...WORKER_ONLY_CODES])("retries %s", (code) => {
    expect(isRetryable(errno(code), WORKER_RETRY)).toBe(true);
  });

  it.each(["AbortError", "TimeoutError"])("retries an error named %s", (name) => {
    expect(isRetryable(Object.assign(new Error("x"), { name }), WORKER_RETRY)).toBe(true);
  });

  it("searches causes and aggregate members, outermost decision first", () => {
    expect(isRetryable(new Error("fetch failed", { cause: status(403) }), WORKER_RETRY)).toBe(false);
    expect(isRetryable(new AggregateError([new Error("a"), status(404)]), WORKER_RETRY)).toBe(false);
    expect(
      isRetryable(Object.assign(new Error("x"), { code: 404, cause: errno("ECONNRESET") }), WORKER_RETRY),
    ).toBe(false);
  });

  it("retries an error nothing decides", () => {
    expect(isRetryable(new Error("odd"), WORKER_RETRY)).toBe(true);
    expect(isRetryable("a string", WORKER_RETRY)).toBe(true);
  });
});

describe("reading an HTTP status", () => {
  it("httpStatusOf reads code, status, response.status and 3-digit strings", () => {
    expect(httpStatusOf({ code: 404 })).toBe(404);
    expect(httpStatusOf({ code: "503" })).toBe(503);
    expect(httpStatusOf({ status: 403 })).toBe(403);
    expect(httpStatusOf({ response: { status: 502 } })).toBe(502);
    expect(httpStatusOf({ code: "ECONNRESET" })).toBeUndefined();
    expect(httpStatusOf({ code: 5 })).toBeUndefined();
    expect(httpStatusOf(null)).toBeUndefined();
  });

  it("statusFromNumericCode reads only a numeric code", () => {
    expect(statusFromNumericCode({ code: 412 })).toBe(412);
    expect(statusFromNumericCode({ code: "412" })).toBeUndefined();
    expect(statusFromNumericCode({ status: 412 })).toBeUndefined();
    expect(statusFromNumericCode({ code: 14 })).toBeUndefined();
  });
});
