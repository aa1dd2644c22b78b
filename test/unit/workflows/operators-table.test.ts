import { describe, expect, it } from "vitest";
import { WorkflowError } from "../../../local/workflows/errors.ts";
import * as op from "../../../local/workflows/operators.ts";
import { IMPLICIT_CONVERSIONS, OPERAND_KINDS, type OperandKind } from "../../../local/workflows/operators.ts";
import { typeName, type Value } from "../../../local/workflows/values.ts";

// The operator implementations must agree with the implicit-conversion tables cell for cell; the conformance
// corpus (expressions/implicit-conversions.yaml) checks the values through whole workflows.

const sample: Record<OperandKind, Value> = { INTEGER: 7n, DOUBLE: 2.5, STRING: "ab", BOOL: true };
const kindOf: Record<string, OperandKind> = {
  integer: "INTEGER",
  double: "DOUBLE",
  string: "STRING",
  boolean: "BOOL",
};

const apply: Record<string, (a: Value, b: Value) => Value> = {
  "+": op.add,
  "-": op.sub,
  "*": op.mul,
  "/": op.div,
  "//": op.floorDiv,
  "%": op.mod,
  "<": (a, b) => op.compare("<", a, b),
  "<=": (a, b) => op.compare("<=", a, b),
  ">": (a, b) => op.compare(">", a, b),
  ">=": (a, b) => op.compare(">=", a, b),
  "==": op.eq,
  "!=": (a, b) => !op.eq(a, b),
};

function outcome(fn: (a: Value, b: Value) => Value, a: Value, b: Value): string {
  try {
    return kindOf[typeName(fn(a, b))] ?? `unexpected ${typeName(fn(a, b))}`;
  } catch (err) {
    if (err instanceof WorkflowError && JSON.stringify(err.value).includes('"TypeError"')) return "ERROR";
    throw err;
  }
}

describe("implicit data type conversion tables", () => {
  it("has a table for every binary operator the engine implements", () => {
    expect(Object.keys(IMPLICIT_CONVERSIONS).sort()).toEqual(Object.keys(apply).sort());
  });

  for (const [symbol, table] of Object.entries(IMPLICIT_CONVERSIONS)) {
    it(`${symbol}: every cell gives the type the table says, or a TypeError`, () => {
      const fn = apply[symbol] as (a: Value, b: Value) => Value;
      const got: Record<string, string> = {};
      const want: Record<string, string> = {};
      for (const left of OPERAND_KINDS) {
        for (const right of OPERAND_KINDS) {
          got[`${left} ${symbol} ${right}`] = outcome(fn, sample[left], sample[right]);
          want[`${left} ${symbol} ${right}`] = table[left][right];
        }
      }
      expect(got).toEqual(want);
    });
  }
});
