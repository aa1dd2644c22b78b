import { describe, expect, it } from "vitest";
import { BatchlineError, ConfigError } from "../../../core/errors.ts";
import { notifyRequestSchema } from "../../../functions/notify/request.ts";
import { planRequestSchema } from "../../../functions/plan/request.ts";
import { answerFor, BadRequestError } from "../../../functions/shared/errors.ts";
import { jsonBody, parseRequest } from "../../../functions/shared/http.ts";
import { thrownBy } from "../../support/thrown.ts";

function badRequest(run: () => unknown): { message: string; field: string | undefined } {
  const err = thrownBy(BadRequestError, run);
  return { message: err.message, field: err.field };
}

describe("request bodies", () => {
  it("accepts what the workflow sends", () => {
    const body = {
      client: "acme",
      trigger: { type: "event", object: "shop/acme/inputs/a", eventId: "e" },
      runKey: "e",
      waitedSeconds: 4,
    };
    expect(parseRequest(planRequestSchema, body)).toEqual(body);
  });

  it("treats a missing waitedSeconds as no waiting yet", () => {
    const body = { client: "acme", trigger: { type: "manual" }, runKey: "k" };
    expect(parseRequest(planRequestSchema, body)).toEqual({ ...body, waitedSeconds: 0 });
  });

  it("names a missing field", () => {
    expect(
      badRequest(() => parseRequest(planRequestSchema, { client: "acme", trigger: { type: "manual" } })),
    ).toEqual({
      message: 'field "runKey" is required',
      field: "runKey",
    });
  });

  it("names a bad nested field and its value", () => {
    const r = badRequest(() =>
      parseRequest(planRequestSchema, {
        client: "acme",
        trigger: { type: "schedule", scheduledTime: "noon" },
        runKey: "k",
      }),
    );
    expect(r.field).toBe("trigger.scheduledTime");
    expect(r.message).toMatch(/^field "trigger.scheduledTime" .*\(got "noon"\)$/);
  });

  it("names unknown fields", () => {
    const r = badRequest(() =>
      parseRequest(planRequestSchema, { client: "acme", trigger: { type: "manual" }, runKey: "k", extra: 1 }),
    );
    expect(r).toEqual({ message: 'unknown field "extra"', field: "extra" });
  });

  it("checks notify's run id and job state", () => {
    const body = { client: "acme", runId: "run-1", manifestUri: "gs://b/x", jobId: null, jobState: null };
    expect(badRequest(() => parseRequest(notifyRequestSchema, body)).message).toBe(
      'field "runId" must be a run id such as ev-0123456789abcdef (got "run-1")',
    );
    const state = { ...body, runId: "ev-0123456789abcdef", jobState: "DONE" };
    expect(badRequest(() => parseRequest(notifyRequestSchema, state)).field).toBe("jobState");
  });

  it("reads JSON sent with any content type, and says when there is none", () => {
    expect(jsonBody({ body: Buffer.from('{"a":1}') })).toEqual({ a: 1 });
    expect(jsonBody({ body: '{"a":2}' })).toEqual({ a: 2 });
    expect(jsonBody({ body: { a: 3 } })).toEqual({ a: 3 });
    expect(badRequest(() => jsonBody({ body: undefined })).message).toBe(
      "the request body must be a JSON object; it is empty",
    );
    expect(badRequest(() => jsonBody({ body: "{nope" })).message).toMatch(/^the request body is not JSON: /);
  });

  it("says what the body should be when it is not an object", () => {
    expect(badRequest(() => parseRequest(planRequestSchema, [1])).message).toMatch(
      /^the request body .*\(got \[1\]\)$/,
    );
  });
});

describe("error answers", () => {
  it("maps bad input to 400 with the field", () => {
    expect(answerFor(new BadRequestError("unknown client", "client"))).toEqual({
      status: 400,
      body: { error: { message: "unknown client", field: "client" } },
      retryable: false,
    });
  });

  it("maps retryable errors to 503 and deliberate final ones to 500", () => {
    expect(answerFor(new BatchlineError("busy", { retryable: true })).status).toBe(503);
    expect(
      answerFor(new ConfigError("platform.yaml", [{ field: "bucket", message: "is required" }])),
    ).toMatchObject({
      status: 500,
      body: { error: { message: 'platform.yaml: field "bucket": is required' } },
    });
  });

  it("treats storage 429/5xx and dropped connections as worth a retry", () => {
    expect(answerFor(Object.assign(new Error("rate"), { code: 429 })).status).toBe(503);
    expect(answerFor(Object.assign(new Error("oops"), { code: 503 })).status).toBe(503);
    expect(answerFor(Object.assign(new Error("reset"), { code: "ECONNRESET" })).status).toBe(503);
    expect(answerFor(Object.assign(new Error("denied"), { code: 403 }))).toEqual({
      status: 500,
      body: { error: { message: "denied" } },
      retryable: false,
    });
  });
});
