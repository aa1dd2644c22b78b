// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { describe, expect, it } from "vitest";
import { createConnectorRegistry, parseWorkflow } from "../../../local/workflows/index.ts";
import { deployProblems, result } from "./helpers.ts";

describe("deploy: accepted forms", () => {
  it("runs the simple form, a bare list of steps, as main", async () => {
    expect(await result("- a:\n    assign:\n      - x: 2\n- b:\n    return: ${x * 3}\n")).toBe(6);
  });

  it("accepts JSON source with subworkflows and defaults", async () => {
    const json = JSON.stringify({
      main: { steps: [{ c: { call: "add", args: { a: 1 }, result: "r" } }, { d: { return: "${r}" } }] },
      add: { params: ["a", { b: 10 }], steps: [{ s: { return: "${a + b}" } }] },
    });
    expect(await result(json)).toBe(11);
  });

  it("lists which connectors a workflow calls", () => {
    const p = parseWorkflow(
      "main:\n  steps:\n    - g:\n        call: googleapis.storage.v1.objects.get\n        args: {bucket: b, object: o}\n",
    );
    expect(p.connectors).toEqual(["googleapis.storage.v1.objects.get"]);
  });
});

describe("deploy: rejected sources name the file, the step and the reason", () => {
  it("rejects an unknown field in a step", () => {
    const problems = deployProblems(
      "main:\n  steps:\n    - s1:\n        assign: [x: 1]\n        nxt: s1\n",
      "wf.yaml",
    );
    expect(problems).toContainEqual({
      file: "wf.yaml",
      step: "s1",
      message: 'unknown field "nxt" in a assign step',
    });
  });

  it("rejects duplicate step names", () => {
    const problems = deployProblems("- a:\n    assign: [x: 1]\n- a:\n    return: 1\n");
    expect(problems.map((p) => p.message)).toContain('duplicate step name "a"');
  });

  it("rejects next to a step that does not exist", () => {
    const problems = deployProblems("- a:\n    next: missing\n");
    expect(problems[0]?.step).toBe("a");
    expect(problems[0]?.message).toContain('"missing"');
  });

  it("rejects next into a for loop body from outside", () => {
    const src = `
- a:
    next: inner
- loop:
    for:
      value: v
      in: [1]
      steps:
        - inner:
            assign: [x: 1]
`;
    expect(deployProblems(src).map((p) => p.step)).toContain("a");
  });

  it("rejects break outside a loop", () => {
    expect(deployProblems("- a:\n    next: break\n")[0]?.message).toContain("only allowed inside a for loop");
  });

  it("rejects a call to an undefined subworkflow or function", () => {
    const problems = deployProblems("- a:\n    call: no_such_thing\n- b:\n    return: ${nope.fn(1)}\n");
    expect(problems.map((p) => [p.step, p.message])).toEqual([
      ["a", "unknown function or subworkflow no_such_thing"],
      ["b", "unknown function or subworkflow nope.fn"],
    ]);
  });

  it("rejects more than 50 assignments in one step", () => {
    const items = Array.from({ length: 51 }, (_, i) => `      - v${i}: ${i}`).join("\n");
    const problems = deployProblems(`- big:\n    assign:\n${items}\n`);
    expect(problems).toEqual([
      { step: "big", message: "an assign step may have at most 50 assignments, this one has 51" },
    ]);
  });

  it("accepts exactly 50 assignments", async () => {
    const items = Array.from({ length: 50 }, (_, i) => `      - v${i}: ${i}`).join("\n");
    expect(await result(`- big:\n    assign:\n${items}\n- r:\n    return: \${v49}\n`)).toBe(49);
  });

  it("rejects a malformed expression", () => {
    const problems = deployProblems("- a:\n    return: ${1 +* 2}\n");
    expect(problems[0]?.step).toBe("a");
    expect(problems[0]?.message).toMatch(/^invalid expression \$\{1 \+\* 2\}/);
  });

  it("rejects an expression longer than 400 characters", () => {
    const long = Array.from({ length: 150 }, () => "1").join(" + ");
    expect(deployProblems(`- a:\n    return: \${${long}}\n`)[0]?.message).toBe(
      "expression longer than 400 characters",
    );
  });

  it("rejects a blocking call inside an expression", () => {
    const problems = deployProblems('- a:\n    return: ${http.get("http://x")}\n');
    expect(problems[0]?.message).toContain("http.get is a blocking call");
  });

  it("rejects wrong arity and unknown call arguments", () => {
    const problems = deployProblems(
      '- a:\n    return: ${len("a", "b")}\n- b:\n    call: text.split\n    args: {source: "a,b", sep: ","}\n',
    );
    expect(problems.map((p) => p.message)).toEqual([
      "len takes 1 argument, got 2",
      'text.split has no argument "sep" (it takes source, separator)',
      'text.split needs argument "separator"',
    ]);
  });

  it("rejects wrong shapes", () => {
    expect(deployProblems("- a:\n    assign: {x: 1}\n")[0]?.message).toContain(
      "assign must be a non-empty list",
    );
    expect(deployProblems("- a:\n    switch: {condition: true}\n")[0]?.message).toContain(
      "switch must be a non-empty list",
    );
    expect(deployProblems("- a: 5\n")[0]?.message).toContain("a step must be a map");
    expect(deployProblems("- a:\n    assign: [x: 1]\n    return: 1\n")[0]?.message).toContain(
      "assign and return",
    );
  });

  it("requires main, and at most one main parameter", () => {
    expect(deployProblems("helper:\n  steps:\n    - a:\n        return: 1\n")[0]?.message).toContain(
      "no main",
    );
    expect(
      deployProblems("main:\n  params: [a, b]\n  steps:\n    - a:\n        return: 1\n")[0]?.message,
    ).toContain("at most one parameter");
  });

  it("rejects a call step missing a required subworkflow argument", () => {
    const src =
      "main:\n  steps:\n    - c:\n        call: f\n        args: {a: 1}\nf:\n  params: [a, b]\n  steps:\n    - r:\n        return: 1\n";
    expect(deployProblems(src)[0]?.message).toBe('call to f is missing argument "b"');
  });

  it("checks a connector against its registered handler when the local cloud emulates it", () => {
    const src =
      "- c:\n    call: googleapis.batch.v1.projects.locations.jobs.create\n    args: {parent: p, jobId: j}\n";
    expect(parseWorkflow(src).connectors).toEqual(["googleapis.batch.v1.projects.locations.jobs.create"]);
    const registry = createConnectorRegistry({ empty: true }).register(
      "googleapis.batch.v1.projects.locations.jobs.create",
      {
        idempotent: false,
        params: ["parent"],
        required: ["parent"],
        call: async () => null,
      },
    );
    expect(() => parseWorkflow(src, { connectors: registry })).toThrow(
      'connector googleapis.batch.v1.projects.locations.jobs.create has no argument "jobId"',
    );
  });

  it("rejects assigning an outer variable in a parallel branch unless it is shared", () => {
    const src = `
- init:
    assign: [total: 0]
- par:
    parallel:
      branches:
        - b1:
            steps:
              - add:
                  assign: [total: 1]
`;
    expect(deployProblems(src)[0]).toEqual({
      step: "add",
      message:
        'variable "total" belongs to the enclosing scope; list it in the parallel step\'s shared to assign it',
    });
    expect(() =>
      parseWorkflow(src.replace("parallel:\n", "parallel:\n      shared: [total]\n")),
    ).not.toThrow();
  });

  it("accepts except as: naming an outer variable in a branch, but still not an assignment to it", () => {
    const src = `
- init:
    assign: [e: 0]
- par:
    parallel:
      branches:
        - b1:
            steps:
              - t:
                  try:
                    raise: boom
                  except:
                    as: e
                    steps:
                      - again:
                          assign: [e: 1]
`;
    expect(deployProblems(src)).toEqual([
      {
        step: "again",
        message:
          'variable "e" belongs to the enclosing scope; list it in the parallel step\'s shared to assign it',
      },
    ]);
    expect(() => parseWorkflow(src.replace("assign: [e: 1]", "assign: [m: 1]"))).not.toThrow();
  });

  it("reports every problem at once, not only the first", () => {
    const problems = deployProblems("- a:\n    bogus: 1\n- b:\n    next: nowhere\n- c:\n    call: nothing\n");
    expect(problems.map((p) => p.step).sort()).toEqual(["a", "b", "c"]);
  });

  it("rejects YAML that does not parse", () => {
    expect(deployProblems("main:\n  steps:\n    - a: [\n")[0]?.message).toMatch(
      /^could not parse the workflow/,
    );
  });
});
