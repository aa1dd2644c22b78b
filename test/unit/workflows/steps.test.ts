// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { describe, expect, it } from "vitest";
import { failure, fakeClock, result, run } from "./helpers.ts";

describe("assign", () => {
  it("assigns in order, into map keys and list elements, and copies values", async () => {
    const src = `
- a:
    assign:
      - m: {"list": [1, 2, 3]}
      - copy: \${m}
      - m.list[0]: 100
      - m["new"]: \${m.list[0] + 1}
      - m.nested.deep: "created"
- r:
    return: \${[m, copy]}
`;
    expect(await result(src)).toEqual([
      { list: [100, 2, 3], new: 101, nested: { deep: "created" } },
      { list: [1, 2, 3] },
    ]);
  });

  it("raises IndexError assigning past the end of a list", async () => {
    expect((await failure("- a:\n    assign:\n      - l: [1]\n      - l[1]: 2\n")).tags).toEqual([
      "IndexError",
    ]);
  });
});

describe("switch and next", () => {
  it("takes the first true condition; next, steps, assign, return and raise all work in a condition", async () => {
    const src = `
main:
  params: [args]
  steps:
    - pick:
        switch:
          - condition: \${args.n == 1}
            next: one
          - condition: \${args.n == 2}
            steps:
              - inner:
                  assign: [out: "two"]
          - condition: \${args.n == 3}
            assign: [out: "three"]
            next: done
          - condition: \${args.n == 4}
            return: "four"
          - condition: \${args.n == 5}
            raise: "five"
          - condition: true
            assign: [out: "other"]
        next: done
    - one:
        assign: [out: "one"]
    - done:
        return: \${out}
`;
    const outcomes = [];
    for (const n of [1, 2, 3, 4, 6]) outcomes.push(await result(src, { argument: { n } }));
    expect(outcomes).toEqual(["one", "two", "three", "four", "other"]);
    expect(await failure(src, { argument: { n: 5 } })).toBe("five");
  });

  it("falls through to the next step when no condition matches", async () => {
    expect(
      await result(
        "- s:\n    switch:\n      - condition: ${1 == 2}\n        return: no\n- r:\n    return: yes\n",
      ),
    ).toBe("yes");
  });

  it("needs a boolean condition", async () => {
    expect((await failure("- s:\n    switch:\n      - condition: ${1}\n        return: x\n")).tags).toEqual([
      "TypeError",
    ]);
  });

  it("jumps out of a nested steps block to an outer step, and next: end ends the workflow with null", async () => {
    const src = `
- outer:
    steps:
      - jump:
          next: target
      - skipped:
          return: "skipped"
- also_skipped:
    return: "also skipped"
- target:
    next: end
- never:
    return: "never"
`;
    const rec = await run(src);
    // outer, jump, target: the skipped steps and "never" are not run.
    expect(rec).toMatchObject({ state: "SUCCEEDED", result: null, stepCount: 3 });
  });
});

describe("for", () => {
  it("iterates a list with value and index, and a map's keys", async () => {
    const src = `
- init:
    assign: [out: [], keys: []]
- l:
    for:
      value: v
      index: i
      in: ["a", "b"]
      steps:
        - add:
            assign: [out: '\${list.concat(out, string(i) + v)}']
- m:
    for:
      value: k
      in: {"x": 1, "y": 2}
      steps:
        - addk:
            assign: [keys: '\${list.concat(keys, k)}']
- r:
    return: \${[out, keys]}
`;
    expect(await result(src)).toEqual([
      ["0a", "1b"],
      ["x", "y"],
    ]);
  });

  it("runs an inclusive range, int or double", async () => {
    const src = `
- init:
    assign: [ints: [], dbls: []]
- a:
    for:
      value: v
      range: [1, 3]
      steps:
        - s1:
            assign: [ints: '\${list.concat(ints, v)}']
- b:
    for:
      value: v
      range: [0.5, 2.5]
      steps:
        - s2:
            assign: [dbls: '\${list.concat(dbls, type(v))}']
- r:
    return: \${[ints, dbls]}
`;
    expect(await result(src)).toEqual([
      [1, 2, 3],
      ["double", "double", "double"],
    ]);
  });

  it("supports break and continue, and drops variables first assigned in the loop", async () => {
    const loop = (ret: string) => `
- init:
    assign: [sum: 0]
- loop:
    for:
      value: v
      range: [1, 10]
      steps:
        - skip_odd:
            switch:
              - condition: \${v % 2 == 1}
                next: continue
        - stop:
            switch:
              - condition: \${v > 6}
                next: break
        - add:
            assign:
              - sum: \${sum + v}
              - local_only: \${v}
- r:
    return: \${${ret}}
`;
    expect(await result(loop("sum"))).toBe(2 + 4 + 6);
    expect(await failure(loop("local_only"))).toEqual({
      message: "variable not defined: local_only",
      tags: ["KeyError"],
    });
  });
});

describe("parallel", () => {
  it("runs branches with shared variables and queues beyond concurrency_limit", async () => {
    const clock = fakeClock();
    const src = `
- init:
    assign: [total: 0, seen: []]
- par:
    parallel:
      shared: [total, seen]
      concurrency_limit: 2
      for:
        value: v
        in: [1, 2, 3, 4]
        steps:
          - wait:
              call: sys.sleep
              args: {seconds: 1}
          - add:
              assign:
                - total: \${total + v}
                - seen: \${list.concat(seen, v)}
- r:
    return: \${[total, len(seen)]}
`;
    expect(await result(src, { clock })).toEqual([10, 4]);
    expect(clock.sleeps).toEqual([1000, 1000, 1000, 1000]);
  });

  it("collects branch errors into UnhandledBranchError after every branch has run", async () => {
    const src = `
- init:
    assign: [done: []]
- par:
    parallel:
      shared: [done]
      branches:
        - bad:
            steps:
              - boom:
                  raise: {message: "bad branch", code: 1}
        - good:
            steps:
              - ok:
                  assign: [done: '\${list.concat(done, "good")}']
`;
    const e = await failure(src);
    expect(e.tags).toEqual(["UnhandledBranchError"]);
    expect(e.branches).toEqual([{ id: "bad", error: { message: "bad branch", code: 1 } }]);
    const caught = await result(
      `- t:\n    try:\n      steps:\n${src
        .trim()
        .split("\n")
        .map((l) => `        ${l}`)
        .join(
          "\n",
        )}\n    except:\n      as: e\n      steps:\n        - r:\n            return: \${[done, e.tags]}\n`,
    );
    expect(caught).toEqual([["good"], ["UnhandledBranchError"]]);
  });

  it("keeps variables created in a branch inside the branch", async () => {
    const src = `
- par:
    parallel:
      branches:
        - b:
            steps:
              - s:
                  assign: [inside: 1]
- r:
    return: \${inside}
`;
    expect((await failure(src)).tags).toEqual(["KeyError"]);
  });
});

describe("try, retry, except, raise", () => {
  const flaky = (retry: string) => `
main:
  steps:
    - init:
        assign: [attempts: 0]
    - t:
        try:
          steps:
            - count:
                assign: [attempts: '\${attempts + 1}']
            - maybe_fail:
                switch:
                  - condition: \${attempts < 3}
                    raise:
                      message: "flaky"
                      tags: ["ConnectionError"]
        retry: ${retry}
    - r:
        return: \${attempts}
retry_connection:
  params: [e]
  steps:
    - check:
        return: \${"ConnectionError" in e.tags}
`;

  it("retries with exponential backoff capped at max_delay while the predicate says so", async () => {
    const clock = fakeClock();
    const policy =
      "\n          predicate: ${retry_connection}\n          max_retries: 5\n          backoff:\n            initial_delay: 2\n            max_delay: 3\n            multiplier: 2";
    expect(await result(flaky(policy), { clock })).toBe(3);
    expect(clock.sleeps).toEqual([2000, 3000]);
  });

  it("gives up after max_retries and raises the last error", async () => {
    const clock = fakeClock();
    const policy =
      "\n          predicate: ${retry.always}\n          max_retries: 1\n          backoff: {initial_delay: 1, max_delay: 10, multiplier: 2}";
    expect(await failure(flaky(policy), { clock })).toEqual({ message: "flaky", tags: ["ConnectionError"] });
    expect(clock.sleeps).toEqual([1000]);
  });

  it("uses http.default_retry as a named policy (1 s initial, x1.25)", async () => {
    const clock = fakeClock();
    const src = `
- t:
    try:
      call: http.get
      args: {url: "http://127.0.0.1:1/never"}
    retry: \${http.default_retry}
`;
    expect((await failure(src, { clock })).tags).toEqual(["ConnectionFailedError"]);
    expect(clock.sleeps).toEqual([1000, 1250, 1562.5, 1953.125, 2441.40625]);
  });

  it("does not retry when the predicate says no (retry.never)", async () => {
    const clock = fakeClock();
    const policy = "\n          predicate: ${retry.never}\n          max_retries: 5";
    expect(await failure(flaky(policy), { clock })).toMatchObject({ message: "flaky" });
    expect(clock.sleeps).toEqual([]);
  });

  it("catches into except with as, then continues after the try step", async () => {
    const src = `
- t:
    try:
      steps:
        - bad:
            assign: [x: '\${1 / 0}']
    except:
      as: err
      steps:
        - keep:
            assign: [caught: '\${err}']
- r:
    return: \${caught}
`;
    expect(await result(src)).toEqual({ message: "division by zero", tags: ["ZeroDivisionError"] });
  });

  it("raises a string, a map, or an expression value as given", async () => {
    expect(await failure('- r:\n    raise: "plain text"\n')).toBe("plain text");
    expect(await failure('- r:\n    raise:\n      code: 55\n      message: ${"x" + "y"}\n')).toEqual({
      code: 55,
      message: "xy",
    });
  });
});

describe("subworkflows", () => {
  it("passes by value, applies defaults, and can be called from expressions", async () => {
    const src = `
main:
  steps:
    - init:
        assign: [l: [1, 2]]
    - c:
        call: mutate
        args: {items: '\${l}'}
        result: changed
    - r:
        return: \${[l, changed, twice(21), greet("x")]}
mutate:
  params: [items]
  steps:
    - m:
        assign: ["items[0]": 99]
    - r:
        return: \${items}
twice:
  params: [n]
  steps:
    - r:
        return: \${n * 2}
greet:
  params: [name, greeting: "hi"]
  steps:
    - r:
        return: \${greeting + " " + name}
`;
    expect(await result(src)).toEqual([[1, 2], [99, 2], 42, "hi x"]);
  });

  it("reports where an unhandled error was raised in the execution's error context", async () => {
    const rec = await run(
      "main:\n  steps:\n    - c:\n        call: inner\ninner:\n  steps:\n    - explode:\n        raise: bang\n",
    );
    expect(rec.error?.context).toBe('RuntimeError: "bang"\nin step "explode", routine "inner"');
  });
});
