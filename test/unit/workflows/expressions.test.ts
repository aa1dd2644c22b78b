// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { describe, expect, it } from "vitest";
import { deployProblems, expr, failure, result } from "./helpers.ts";

describe("expressions: int and double", () => {
  it.each([
    ["7 / 2", 3.5, "double"],
    ["6 / 2", 3, "double"],
    ["7 // 2", 3, "integer"],
    ["-7 // 2", -4, "integer"],
    ["7.0 // 2", 3, "double"],
    ["7 % 3", 1, "integer"],
    ["-7 % 3", 2, "integer"],
    ["7 % -3", -2, "integer"],
    ["1 + 2", 3, "integer"],
    ["1 + 2.0", 3, "double"],
    ["2 * 3", 6, "integer"],
    ["10 - 2.5", 7.5, "double"],
    ["-(3)", -3, "integer"],
  ])("%s is %s (%s)", async (e, value, type) => {
    expect(await result(expr(`[${e}, type(${e})]`))).toEqual([value, type]);
  });

  it("keeps 64-bit ints exact and reports them beyond 2^53 as strings", async () => {
    expect(await result(expr("9223372036854775807 - 1"))).toBe("9223372036854775806");
    expect(await result(expr("9007199254740993 + 0"))).toBe("9007199254740993");
  });

  it("raises ValueError on int64 overflow instead of wrapping", async () => {
    const e = await failure(expr("9223372036854775807 + 1"));
    expect(e).toEqual({ message: "integer overflow", tags: ["ValueError"] });
  });

  it("raises ZeroDivisionError for / // and % by zero", async () => {
    for (const op of ["/", "//", "%"]) {
      expect((await failure(expr(`1 ${op} 0`))).tags).toEqual(["ZeroDivisionError"]);
    }
  });

  it("compares ints with doubles by value", async () => {
    expect(
      await result(expr("[1 == 1.0, 2 > 1.5, 3 <= 3.0, 9007199254740993 > 9007199254740992.0]")),
    ).toEqual([true, true, true, true]);
  });
});

describe("expressions: if()", () => {
  it("needs exactly three arguments at deploy", () => {
    expect(deployProblems(expr("if(true, 1)"))[0]?.message).toBe(
      "if takes 3 arguments (condition, ifTrue, ifFalse), got 2",
    );
  });

  it("evaluates only the chosen argument, also when it calls a subworkflow", async () => {
    const src = `
main:
  steps:
    - r:
        return: \${if(false, boom(), twice(2))}
boom:
  steps:
    - b:
        raise: "not me"
twice:
  params: [n]
  steps:
    - t:
        return: \${n * 2}
`;
    expect(await result(src)).toBe(4);
  });
});

describe("expressions: strings, lists, maps", () => {
  it("concatenates strings with +, writing a number or bool beside a string as string() does", async () => {
    expect(await result(expr('"a" + "b" + string(1)'))).toBe("ab1");
    expect(await result(expr('["n=" + 1, 2.0 + "x", "b:" + false, 0.5 + ""]'))).toEqual([
      "n=1",
      "2.0x",
      "b:false",
      "0.5",
    ]);
    const e = await failure(expr("true + 1"));
    expect(e.tags).toEqual(["TypeError"]);
    expect(e.message).toBe("unsupported operand types for +: boolean and integer");
    expect((await failure(expr('null + "a"'))).message).toBe(
      "unsupported operand types for +: null and string",
    );
  });

  it("reads maps with . and [] and lists with []", async () => {
    const src = `
- a:
    assign:
      - m: {"k": [10, 20, {"deep": "yes"}]}
- r:
    return: \${[m.k[1], m["k"][2].deep, len(m.k)]}
`;
    expect(await result(src)).toEqual([20, "yes", 3]);
  });

  it("raises KeyError for a missing key and IndexError out of range", async () => {
    expect(await failure(expr('{"a": 1}.b'))).toEqual({ message: "key not found: b", tags: ["KeyError"] });
    expect(await failure(expr("[1, 2][2]"))).toEqual({
      message: "list index out of range: 2",
      tags: ["IndexError"],
    });
    expect((await failure(expr("[1, 2][-1]"))).tags).toEqual(["IndexError"]);
    expect((await failure(expr('[1, 2]["0"]'))).tags).toEqual(["TypeError"]);
  });

  it("raises KeyError for an undefined variable", async () => {
    expect(await failure(expr("nope"))).toEqual({
      message: "variable not defined: nope",
      tags: ["KeyError"],
    });
  });

  it("tests membership with in: list values and map keys", async () => {
    expect(await result(expr('[2 in [1, 2], 2.0 in [1, 2], "a" in {"a": 1}, "b" in {"a": 1}]'))).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect((await failure(expr('1 in {"a": 1}'))).tags).toEqual(["TypeError"]);
    expect((await failure(expr('1 in "abc"'))).tags).toEqual(["TypeError"]);
  });
});

describe("expressions: logic and precedence", () => {
  it("short-circuits and/or", async () => {
    expect(await result(expr("false and missing_var"))).toBe(false);
    expect(await result(expr("true or missing_var"))).toBe(true);
  });

  it("accepts upper-case keywords and True/False", async () => {
    expect(await result(expr("[True AND NOT False, TRUE or false, null == NULL]"))).toEqual([
      true,
      true,
      true,
    ]);
  });

  it("needs booleans for and/or/not", async () => {
    expect((await failure(expr("1 and true"))).tags).toEqual(["TypeError"]);
    expect((await failure(expr("not 0"))).tags).toEqual(["TypeError"]);
  });

  it("binds * before +, + before comparison, comparison before and", async () => {
    expect(await result(expr("1 + 2 * 3 == 7 and 2 - 1 < 2"))).toBe(true);
  });

  it("binds not tighter than ==, as the docs' precedence table orders them", async () => {
    expect(await result(expr("not true == false"))).toBe(true);
  });

  it("does not interpolate ${} inside a longer string", async () => {
    expect(await result('- r:\n    return: "total: not ${x}"\n')).toBe("total: not ${x}");
  });

  it("takes ' and \" string literals with escapes", async () => {
    expect(await result(expr("'it\\'s' + \"\\t\" + 'x'"))).toBe("it's\tx");
  });
});
