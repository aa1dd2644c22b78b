import { describe, expect, it } from "vitest";
import { createLogger, traceFields } from "../../../core/logger.ts";
import { jsonLines } from "../../support/json-lines.ts";

describe("logger", () => {
  it("writes one-line JSON with Cloud Logging's fields", async () => {
    const out = jsonLines();
    const log = createLogger({
      component: "plan",
      labels: { client: "acme" },
      destination: out.stream,
      format: "json",
    });
    log.warn({ runId: "ev-1" }, "claimed %d inputs", 3);
    await new Promise((r) => setImmediate(r));
    const [line] = out.lines();
    expect(line).toMatchObject({
      severity: "WARNING",
      message: "claimed 3 inputs",
      runId: "ev-1",
      "logging.googleapis.com/labels": { component: "plan", client: "acme" },
    });
    expect(typeof line?.time).toBe("string");
    expect(Number.isNaN(Date.parse(String(line?.time)))).toBe(false);
    expect(line).not.toHaveProperty("level");
  });

  it.each([
    ["debug", "DEBUG"],
    ["info", "INFO"],
    ["error", "ERROR"],
    ["fatal", "CRITICAL"],
  ] as const)("maps %s to severity %s", async (level, severity) => {
    const out = jsonLines();
    const log = createLogger({ component: "t", level: "debug", destination: out.stream, format: "json" });
    log[level]("x");
    await new Promise((r) => setImmediate(r));
    expect(out.lines()[0]?.severity).toBe(severity);
  });

  it("turns a Cloud trace header into the trace field", () => {
    expect(traceFields("p", { "x-cloud-trace-context": "abc123/1;o=1" })).toEqual({
      "logging.googleapis.com/trace": "projects/p/traces/abc123",
    });
    expect(
      traceFields("p", { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }),
    ).toEqual({
      "logging.googleapis.com/trace": "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736",
    });
    expect(traceFields("p", {})).toEqual({});
  });
});
