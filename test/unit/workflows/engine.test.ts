// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { describe, expect, it } from "vitest";
import {
  NotFoundError,
  parseWorkflow,
  runWorkflow,
  WorkflowDeployError,
  WorkflowEngine,
} from "../../../local/workflows/index.ts";

const GREET = `
main:
  params: [args]
  steps:
    - log:
        call: sys.log
        args:
          text: \${"hello " + args.name}
          severity: INFO
    - r:
        return:
          greeting: \${"hello " + args.name}
          project: \${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}
          workflow: \${sys.get_env("GOOGLE_CLOUD_WORKFLOW_ID")}
          execution: \${sys.get_env("GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID")}
          mine: \${sys.get_env("MY_VAR")}
`;

const SLEEPY = "- s:\n    call: sys.sleep\n    args: {seconds: 30}\n- r:\n    return: done\n";
const BUSY = "- a:\n    assign: [n: 0]\n- b:\n    assign: [n: '${n + 1}']\n    next: b\n";

describe("WorkflowEngine", () => {
  it("deploys, executes and keeps the execution like the Executions API", async () => {
    const logs: unknown[] = [];
    const engine = new WorkflowEngine({
      projectId: "p1",
      location: "europe-west1",
      logSink: (e) => logs.push(e),
    });
    const deployed = engine.deploy("greeter", GREET, { env: { MY_VAR: "mine" } });
    expect(deployed.revisionId).toMatch(/^000001-[0-9a-f]{3}$/);
    const started = engine.execute("greeter", { name: "ada" });
    expect(started.state).toBe("ACTIVE");
    expect(started.name).toBe(
      `projects/p1/locations/europe-west1/workflows/greeter/executions/${started.id}`,
    );
    const done = await engine.wait(started.id);
    expect(done).toMatchObject({
      state: "SUCCEEDED",
      argument: '{"name":"ada"}',
      workflowRevisionId: deployed.revisionId,
      stepCount: 2,
      status: { currentSteps: [] },
    });
    expect(JSON.parse(done.result as string)).toEqual({
      greeting: "hello ada",
      project: "p1",
      workflow: "greeter",
      execution: started.id,
      mine: "mine",
    });
    expect(done.duration).toMatch(/^\d+\.\d{3}s$/);
    expect(logs).toEqual([
      expect.objectContaining({
        severity: "INFO",
        payload: "hello ada",
        executionId: started.id,
        step: "log",
      }),
    ]);
  });

  it("gives the full record of an ended execution, with plain values and its counters", async () => {
    const engine = new WorkflowEngine();
    engine.deploy("greeter", GREET, { env: { MY_VAR: "x" } });
    const { id } = engine.execute("greeter", { name: "bo" });
    const record = await engine.record(id);
    expect(record.state).toBe("SUCCEEDED");
    expect(record.result).toMatchObject({ greeting: "hello bo", mine: "x" });
    expect(record.stepCount).toBe(2);
    expect(record.peakMemoryBytes).toBeGreaterThan(0);
    await expect(engine.record("missing")).rejects.toThrow(NotFoundError);
  });

  it("gives a failed execution an error with a JSON payload and a context", async () => {
    const engine = new WorkflowEngine();
    engine.deploy("bad", "- r:\n    raise: {message: nope, code: 3}\n");
    const done = await engine.wait(engine.execute("bad").id);
    expect(done.state).toBe("FAILED");
    expect(JSON.parse(done.error?.payload as string)).toEqual({ message: "nope", code: 3 });
    expect(done.error?.context).toContain('in step "r", routine "main"');
    expect(done.result).toBeUndefined();
  });

  it("lists executions newest first, per workflow, and finds them by id or name", async () => {
    const engine = new WorkflowEngine();
    engine.deploy("a", "- r:\n    return: 1\n");
    engine.deploy("b", "- r:\n    return: 2\n");
    const a1 = engine.execute("a");
    const b1 = engine.execute("b");
    const a2 = engine.execute("a");
    await Promise.all([a1, b1, a2].map((e) => engine.wait(e.id)));
    expect(engine.list("a").map((e) => e.id)).toEqual([a2.id, a1.id]);
    expect(engine.list().map((e) => e.id)).toEqual([a2.id, b1.id, a1.id]);
    expect(engine.get(b1.name).result).toBe("2");
    expect(() => engine.get("nope")).toThrow(NotFoundError);
    expect(() => engine.execute("missing")).toThrow(NotFoundError);
  });

  it("makes a new revision on redeploy and rejects bad source without replacing the workflow", async () => {
    const engine = new WorkflowEngine();
    engine.deploy("w", "- r:\n    return: 1\n");
    const second = engine.deploy("w", "- r:\n    return: 2\n");
    expect(second.revisionId).toMatch(/^000002-/);
    expect(() => engine.deploy("w", "- r:\n    bogus: 3\n")).toThrow(WorkflowDeployError);
    expect((await engine.wait(engine.execute("w").id)).result).toBe("2");
  });

  it("cancels an execution while it sleeps: state CANCELLED, the sleep cut short", async () => {
    const engine = new WorkflowEngine();
    engine.deploy("sleepy", SLEEPY);
    const started = engine.execute("sleepy");
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.get(started.id).status.currentSteps).toEqual([{ routine: "main", step: "s" }]);
    const t0 = Date.now();
    const cancelled = await engine.cancel(started.id);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(cancelled.state).toBe("CANCELLED");
    expect(cancelled.result).toBeUndefined();
    await expect(engine.cancel(started.id)).rejects.toThrow("already CANCELLED");
  });

  it("cancels a CPU-bound loop at its next step", async () => {
    const engine = new WorkflowEngine({ limits: { maxSteps: Number.MAX_SAFE_INTEGER } });
    engine.deploy("busy", BUSY);
    const started = engine.execute("busy");
    await new Promise((r) => setTimeout(r, 100));
    const steps = engine.get(started.id).stepCount;
    expect(steps).toBeGreaterThan(0);
    const cancelled = await engine.cancel(started.id);
    expect(cancelled.state).toBe("CANCELLED");
    expect(cancelled.stepCount).toBeGreaterThanOrEqual(steps);
  });

  it("stops runWorkflow through an AbortSignal, even inside an HTTP wait", async () => {
    const { createServer } = await import("node:http");
    const server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const controller = new AbortController();
      const program = parseWorkflow(
        `- h:\n    call: http.get\n    args: {url: "http://127.0.0.1:${port}/hang"}\n`,
      );
      const pending = runWorkflow(program, { signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      expect(await pending).toMatchObject({ state: "CANCELLED", stepCount: 1 });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
