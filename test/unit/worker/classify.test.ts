import { describe, expect, it } from "vitest";
import { httpStatusOf } from "../../../core/classify.ts";
import { BatchlineError } from "../../../core/errors.ts";
import { EXIT } from "../../../core/runs.ts";
import { describeError, exitCodeFor, verdictFor } from "../../../worker/classify.ts";
import { PermanentTaskError } from "../../../worker/errors.ts";
import { FatalInputError } from "../../../worker/processors/types.ts";

/** An error shaped like the storage client's ApiError / GaxiosError. */
function httpError(status: number, message = `HTTP ${status}`): Error {
  return Object.assign(new Error(message), { code: status });
}

function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });
}

describe("verdictFor", () => {
  it.each([408, 429, 500, 502, 503, 504, 401, 410])("retries HTTP %i", (status) => {
    expect(verdictFor(httpError(status)).retryable).toBe(true);
  });

  it.each([400, 403, 404, 412])("does not retry HTTP %i", (status) => {
    expect(verdictFor(httpError(status)).retryable).toBe(false);
  });

  it("reads the status from gaxios-style response.status and string codes", () => {
    expect(verdictFor(Object.assign(new Error("x"), { response: { status: 503 } })).retryable).toBe(true);
    expect(verdictFor(Object.assign(new Error("x"), { code: "503" })).retryable).toBe(true);
    expect(verdictFor(Object.assign(new Error("x"), { status: 403 })).retryable).toBe(false);
    expect(httpStatusOf({ code: "ECONNRESET" })).toBeUndefined();
  });

  it.each(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EAI_AGAIN", "EPIPE", "ERR_STREAM_PREMATURE_CLOSE"])(
    "retries network error %s",
    (code) => {
      expect(verdictFor(systemError(code)).retryable).toBe(true);
    },
  );

  it("retries timeouts and aborts", () => {
    const timeout = new Error("The operation was aborted due to timeout");
    timeout.name = "TimeoutError";
    expect(verdictFor(timeout).retryable).toBe(true);
  });

  it("finds the deciding error in the cause chain (fetch failed -> ECONNREFUSED)", () => {
    const err = new TypeError("fetch failed", { cause: systemError("ECONNREFUSED") });
    expect(verdictFor(err)).toEqual({
      retryable: true,
      reason: "fetch failed: connect ECONNREFUSED 127.0.0.1:1",
    });
  });

  it("follows the decision a BatchlineError carries", () => {
    expect(verdictFor(new PermanentTaskError("input is gone")).retryable).toBe(false);
    expect(verdictFor(new FatalInputError("no header row")).retryable).toBe(false);
    expect(verdictFor(new BatchlineError("try later", { retryable: true })).retryable).toBe(true);
  });

  it("treats an error nothing decides as retryable", () => {
    expect(verdictFor(new Error("something odd"))).toEqual({ retryable: true, reason: "something odd" });
    expect(verdictFor("a string").retryable).toBe(true);
  });

  it("does not loop on a cause cycle", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(verdictFor(a).retryable).toBe(true);
  });
});

describe("exitCodeFor", () => {
  it("maps verdicts to the contract's exit codes", () => {
    expect(exitCodeFor({ retryable: true })).toBe(EXIT.RETRYABLE);
    expect(exitCodeFor({ retryable: false })).toBe(EXIT.PERMANENT);
    expect([EXIT.RETRYABLE, EXIT.PERMANENT]).toEqual([1, 3]);
  });
});

describe("describeError", () => {
  it("adds a code the message lacks, flattens whitespace and caps the length", () => {
    expect(describeError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(
      "socket hang up (ECONNRESET)",
    );
    expect(describeError(new Error("a\n  b"))).toBe("a b");
    expect(describeError(new Error("x".repeat(5000))).length).toBe(1000);
  });
});
