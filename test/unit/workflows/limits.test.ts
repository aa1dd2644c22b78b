// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { describe, expect, it } from "vitest";
import { ExecutionArgumentError, parseWorkflow, runWorkflow } from "../../../local/workflows/index.ts";
import { failure, result, run } from "./helpers.ts";

// A loop that appends a 1000-character string to a list each round until `rounds`.
const grow = `
main:
  params: [args]
  steps:
    - init:
        assign:
          - chunk: \${text.replace_all(args.seed, "x", "y")}
          - items: []
    - loop:
        for:
          value: i
          range: [1, "\${args.rounds}"]
          steps:
            - add:
                assign:
                  - items: \${list.concat(items, chunk)}
    - done:
        return: \${len(items)}
`;

describe("limits", () => {
  it("raises ResourceLimitError once variables pass 512 KB, and not before", async () => {
    const seed = "x".repeat(1000);
    // Each element costs 8 + 1000 bytes; 400 of them (~403 KB, plus the copy in `chunk`) fit.
    expect(await result(grow, { argument: { seed, rounds: 400 } })).toBe(400);
    const e = await failure(grow, { argument: { seed, rounds: 600 } });
    expect(e.tags).toEqual(["ResourceLimitError"]);
    expect(e.message).toMatch(/^memory limit exceeded/);
  });

  it("releases a loop's and a subworkflow's variables when they end", async () => {
    const src = `
main:
  params: [args]
  steps:
    - init:
        assign: [n: 0]
    - loop:
        for:
          value: i
          range: [1, 20]
          steps:
            - c:
                call: big
                args: {seed: '\${args.seed}'}
                result: n
    - done:
        return: \${n}
big:
  params: [seed]
  steps:
    - a:
        assign:
          - s1: \${seed + seed + seed + seed}
          - s2: \${s1 + s1 + s1}
    - r:
        return: \${len(s2)}
`;
    // Each call holds ~340 KB; twenty in a row only work if each call's memory is given back.
    expect(await result(src, { argument: { seed: "z".repeat(20_000) } })).toBe(240_000);
  });

  it("counts memory only when accounting is on (the benchmark's switch)", async () => {
    const rec = await runWorkflow(parseWorkflow(grow), {
      argument: { seed: "x".repeat(1000), rounds: 600 },
      limits: { accountMemory: false },
    });
    expect(rec).toMatchObject({ state: "SUCCEEDED", result: 600 });
  });

  it("raises ResourceLimitError past the steps-per-execution limit", async () => {
    const src = "- a:\n    assign: [n: 0]\n- b:\n    assign: [n: '${n + 1}']\n    next: b\n";
    const rec = await run(src, { limits: { maxSteps: 1000 } });
    expect(rec.state).toBe("FAILED");
    expect(rec.stepCount).toBe(1001);
    expect(rec.error?.payload).toMatchObject({ tags: ["ResourceLimitError"] });
  });

  it("enforces the default limit of 100,000 steps", async () => {
    const src = "- a:\n    assign: [n: 0]\n- b:\n    assign: [n: '${n + 1}']\n    next: b\n";
    const rec = await run(src);
    expect(rec.stepCount).toBe(100_001);
    expect(rec.state).toBe("FAILED");
  });

  it("raises RecursionError past a call depth of 20, main included", async () => {
    const src = (depth: number) => `
main:
  steps:
    - c:
        call: down
        args: {n: ${depth}}
        result: r
    - done:
        return: \${r}
down:
  params: [n]
  steps:
    - check:
        switch:
          - condition: \${n <= 1}
            return: "bottom"
    - deeper:
        return: \${down(n - 1)}
`;
    expect(await result(src(19))).toBe("bottom");
    const e = await failure(src(20));
    expect(e.tags).toEqual(["RecursionError"]);
  });

  it("raises ParallelNestingError for a third level of parallel steps", async () => {
    const nested = (inner: string) => `
- p1:
    parallel:
      branches:
        - b1:
            steps:
              - p2:
                  parallel:
                    branches:
                      - b2:
                          steps:
${inner}
`;
    const two = "                            - leaf:\n                                assign: [x: 1]";
    const three =
      "                            - p3:\n                                parallel:\n                                  branches:\n                                    - b3:\n                                        steps:\n                                          - leaf:\n                                              assign: [x: 1]";
    expect((await run(nested(two))).state).toBe("SUCCEEDED");
    expect((await failure(nested(three))).tags).toEqual(["ParallelNestingError"]);
  });

  it("refuses a string longer than 256 KB in a variable", async () => {
    const src =
      "main:\n  params: [a]\n  steps:\n    - s:\n        assign:\n          - big: ${a.s + a.s + a.s + a.s + a.s + a.s + a.s + a.s + a.s}\n";
    const e = await failure(src, { argument: { s: "q".repeat(30_000) } });
    expect(e.tags).toEqual(["ResourceLimitError"]);
    expect(e.message).toBe("string of 270000 characters exceeds the 262144 limit");
  });

  it("refuses an argument over 32 KB before starting, as the Executions API does", async () => {
    const program = parseWorkflow("main:\n  params: [a]\n  steps:\n    - r:\n        return: 1\n");
    expect(() => runWorkflow(program, { argument: { s: "a".repeat(33 * 1024) } })).toThrow(
      ExecutionArgumentError,
    );
  });
});

describe("peak variable memory", () => {
  it("reports the most memory held at once, not what is left at the end", async () => {
    const program = parseWorkflow(`
main:
  steps:
    - big:
        assign:
          - blob: \${text.replace_all("${"a".repeat(200)}", "a", "bbbbbbbbbb")}
    - drop:
        assign:
          - blob: ""
    - done:
        return: \${len(blob)}
`);
    const record = await runWorkflow(program);
    expect(record.state).toBe("SUCCEEDED");
    expect(record.peakMemoryBytes).toBeGreaterThanOrEqual(2_000);
    expect(record.peakMemoryBytes).toBeLessThan(4_000);
  });
});
