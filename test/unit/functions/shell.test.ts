import type { Request, Response } from "@google-cloud/functions-framework";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BatchlineError, ConfigError } from "../../../core/errors.ts";
import { httpShell } from "../../../functions/shared/http.ts";
import { memoryLogger } from "../../fixtures/functions/logger.ts";

interface Sent {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

function fakeRes(sent: Sent): Response {
  const res = {
    status(code: number) {
      sent.status = code;
      return res;
    },
    set(name: string, value: string) {
      sent.headers[name] = value;
      return res;
    },
    json(body: unknown) {
      sent.body = body;
      return res;
    },
  };
  return res as unknown as Response;
}

async function call(shell: ReturnType<typeof httpShell>, req: Partial<Request>): Promise<Sent> {
  const sent: Sent = { status: 0, body: undefined, headers: {} };
  await shell({ method: "POST", headers: {}, ...req } as Request, fakeRes(sent));
  return sent;
}

const schema = z.strictObject({ n: z.number() });

function shellWith(
  handle: (body: { n: number }) => Promise<unknown>,
  init: () => { project: string } = () => ({ project: "p-test" }),
) {
  const log = memoryLogger("test");
  let inits = 0;
  const shell = httpShell({
    component: "test",
    schema,
    init: () => {
      inits++;
      return init();
    },
    project: (d) => d.project,
    handle: (body) => handle(body),
    logger: log.logger,
  });
  return { shell, log, inits: () => inits };
}

describe("the HTTP shell", () => {
  it("parses the body, answers 200 with the result and builds its dependencies once", async () => {
    const { shell, inits } = shellWith(async (body) => ({ doubled: body.n * 2 }));
    expect(await call(shell, { body: { n: 2 } })).toMatchObject({ status: 200, body: { doubled: 4 } });
    await call(shell, { body: { n: 3 } });
    expect(inits()).toBe(1);
  });

  it("logs with the request's trace id", async () => {
    const { shell, log } = shellWith(async () => {
      throw new BatchlineError("storage is busy", { retryable: true });
    });
    const sent = await call(shell, {
      body: { n: 1 },
      headers: { "x-cloud-trace-context": "0af7651916cd43dd8448eb211c80319c/1;o=1" },
    });
    expect(sent).toMatchObject({ status: 503, body: { error: { message: "storage is busy" } } });
    expect(log.lines()[0]).toMatchObject({
      severity: "ERROR",
      message: "failed: storage is busy",
      "logging.googleapis.com/trace": "projects/p-test/traces/0af7651916cd43dd8448eb211c80319c",
      "logging.googleapis.com/labels": { component: "test" },
    });
  });

  it("answers 400 for a body its schema refuses, naming the field, without calling the handler", async () => {
    let called = false;
    const { shell } = shellWith(async () => {
      called = true;
      return {};
    });
    expect(await call(shell, { body: { n: "two" } })).toMatchObject({
      status: 400,
      body: { error: { field: "n", message: expect.stringMatching(/^field "n" .*\(got "two"\)$/) } },
    });
    expect(called).toBe(false);
  });

  it("answers 500 with the config error until the config is fixed", async () => {
    let broken = true;
    const { shell } = shellWith(
      async () => ({ ok: true }),
      () => {
        if (broken)
          throw new ConfigError("config/platform.yaml", [{ field: "bucket", message: "is required" }]);
        return { project: "p-test" };
      },
    );
    expect(await call(shell, { body: { n: 1 } })).toMatchObject({
      status: 500,
      body: { error: { message: 'config/platform.yaml: field "bucket": is required' } },
    });
    broken = false;
    expect((await call(shell, { body: { n: 1 } })).status).toBe(200);
  });

  it("answers 500 for an unexpected error, with its message and no stack", async () => {
    const { shell } = shellWith(async () => {
      throw new TypeError("x is undefined");
    });
    expect(await call(shell, { body: { n: 1 } })).toMatchObject({
      status: 500,
      body: { error: { message: "x is undefined" } },
    });
  });
});
