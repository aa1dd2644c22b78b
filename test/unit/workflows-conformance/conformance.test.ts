import { inspect, isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWorkflow, runWorkflow, WorkflowDeployError } from "../../../local/workflows/index.ts";
import {
  type ConformanceCase,
  type DeployExpectation,
  type ErrorExpectation,
  loadCases,
  RUN_IDENTITY,
} from "./cases.ts";
import { type EchoServer, startEchoServer } from "./echo-server.ts";

// The corpus is the spec: each case's expectation comes from Google's documentation (see `source:`),
// never from what the engine does. A failing case is an engine bug unless the doc is re-read and the
// case corrected with a citation.

const cases = loadCases();
let echo: EchoServer;

beforeAll(async () => {
  echo = await startEchoServer();
});

afterAll(async () => {
  await echo.close();
});

function show(value: unknown): string {
  return inspect(value, { depth: 8, breakLength: 100 });
}

function describeCase(c: ConformanceCase): string {
  return `[${c.file} :: ${c.name}] (source: ${c.source})`;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function checkError(c: ConformanceCase, want: ErrorExpectation, payload: unknown): string[] {
  const problems: string[] = [];
  const map = asRecord(payload);
  if (want.payload !== undefined && !isDeepStrictEqual(JSON.parse(JSON.stringify(payload)), want.payload)) {
    problems.push(`payload: want ${show(want.payload)}, got ${show(payload)}`);
  }
  if (want.tags !== undefined) {
    const tags = map?.tags;
    const missing = Array.isArray(tags) ? want.tags.filter((t) => !tags.includes(t)) : want.tags;
    if (missing.length > 0) problems.push(`tags: missing ${show(missing)} in ${show(tags)}`);
  }
  if (want.message !== undefined && map?.message !== want.message) {
    problems.push(`message: want ${show(want.message)}, got ${show(map?.message)}`);
  }
  if (
    want.messageContains !== undefined &&
    !(typeof map?.message === "string" && map.message.includes(want.messageContains))
  ) {
    problems.push(`message: want it to contain ${show(want.messageContains)}, got ${show(map?.message)}`);
  }
  if (want.code !== undefined && map?.code !== want.code) {
    problems.push(`code: want ${want.code}, got ${show(map?.code)}`);
  }
  return problems.map((p) => `${describeCase(c)} ${p}`);
}

function checkDeployError(c: ConformanceCase, want: DeployExpectation, thrown: unknown): string[] {
  if (!(thrown instanceof WorkflowDeployError)) {
    return [`${describeCase(c)} parseWorkflow should throw WorkflowDeployError, threw ${show(thrown)}`];
  }
  const texts = [thrown.message, ...thrown.problems.map((p) => p.message)];
  const problems: string[] = [];
  if (want.messageContains !== undefined && !texts.some((t) => t.includes(want.messageContains ?? ""))) {
    problems.push(`deploy error should mention ${show(want.messageContains)}; got ${show(texts)}`);
  }
  if (want.step !== undefined && !thrown.problems.some((p) => p.step === want.step)) {
    problems.push(`deploy error should point at step ${show(want.step)}; got ${show(thrown.problems)}`);
  }
  return problems.map((p) => `${describeCase(c)} ${p}`);
}

async function runCase(c: ConformanceCase): Promise<void> {
  if ("deployError" in c.expect) {
    let thrown: unknown;
    try {
      parseWorkflow(c.workflowSource, { fileName: c.workflowFileName });
    } catch (err) {
      thrown = err;
    }
    expect(thrown, `${describeCase(c)} parseWorkflow should reject this workflow`).toBeDefined();
    expect(checkDeployError(c, c.expect.deployError ?? {}, thrown)).toEqual([]);
    return;
  }

  let program: ReturnType<typeof parseWorkflow>;
  try {
    program = parseWorkflow(c.workflowSource, { fileName: c.workflowFileName });
  } catch (err) {
    const detail = err instanceof WorkflowDeployError ? show(err.problems) : show(err);
    throw new Error(`${describeCase(c)} parseWorkflow rejected a valid workflow: ${detail}`);
  }
  const record = await runWorkflow(program, {
    ...(c.hasArgument ? { argument: c.argument } : {}),
    env: { ECHO_URL: echo.url, ...c.env },
    ...RUN_IDENTITY,
    // sys.log entries are not part of any expectation; keep them out of the test output.
    logSink: () => {},
  });

  if ("result" in c.expect) {
    expect(record.state, `${describeCase(c)} should succeed; error: ${show(record.error)}`).toBe("SUCCEEDED");
    // A workflow that ends without `return` has the JSON result null (GCP shows "null"); the record may
    // leave `result` out for it, so absent and null compare alike here and nowhere else.
    const actual = record.result === undefined ? null : record.result;
    expect(actual, `${describeCase(c)} result`).toStrictEqual(c.expect.result);
    return;
  }
  expect(record.state, `${describeCase(c)} should fail; result: ${show(record.result)}`).toBe("FAILED");
  expect(checkError(c, c.expect.error ?? {}, record.error?.payload)).toEqual([]);
}

describe("Cloud Workflows conformance", () => {
  it("has a corpus of at least 150 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
  });

  for (const c of cases) {
    it(`${c.topic}/${c.name}`, async () => runCase(c), c.timeoutMs);
  }
});
