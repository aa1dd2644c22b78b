import { describe, expect, it } from "vitest";
import { z } from "zod";
import { schemaProblems } from "../../../core/schema-problems.ts";

describe("schemaProblems", () => {
  const schema = z.strictObject({
    name: z.string(),
    limits: z.strictObject({ max: z.number().int() }),
    env: z.record(z.string().regex(/^[A-Z_]+$/, "must be upper case"), z.string()),
  });
  const problemsOf = (data: unknown) => {
    const result = schema.safeParse(data);
    if (result.success) throw new Error("expected a failure");
    return schemaProblems(result.error, data);
  };

  it("names the field, zod's message and the value found", () => {
    expect(problemsOf({ name: 7, limits: { max: 1.5 }, env: {} })).toEqual([
      { field: "name", message: expect.any(String), value: 7 },
      { field: "limits.max", message: expect.any(String), value: 1.5 },
    ]);
  });

  it("gives undefined for a missing value", () => {
    expect(problemsOf({ limits: { max: 1 }, env: {} })).toEqual([
      { field: "name", message: expect.any(String), value: undefined },
    ]);
  });

  it("gives unknown keys with their full paths", () => {
    const [problem] = problemsOf({ name: "a", limits: { max: 1, mx: 2, min: 0 }, env: {} });
    expect(problem).toMatchObject({ field: "limits", unknownKeys: ["limits.mx", "limits.min"] });
  });

  it("gives a bad record key as the value, with the key's own problem", () => {
    const [problem] = problemsOf({ name: "a", limits: { max: 1 }, env: { lower: "x" } });
    expect(problem).toEqual({ field: "env.lower", message: "must be upper case", value: "lower" });
  });
});
