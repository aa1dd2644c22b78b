import type { z } from "zod";

/** One zod issue, said in the terms every message of ours uses: the field, the problem and the value found. */
export interface SchemaProblem {
  /** Dotted path of the field; "" for the document itself. */
  field: string;
  /** zod's message; for a bad record key, the key's own problem. */
  message: string;
  /** What the data holds at `field` (for a bad record key: the key); undefined when nothing is there. */
  value: unknown;
  /** For unknown keys: each one's full dotted path. */
  unknownKeys?: string[];
}

/** The issues of a failed safeParse of `data`, in zod's order. */
export function schemaProblems(error: z.ZodError, data: unknown): SchemaProblem[] {
  return error.issues.map((issue) => {
    const field = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const prefix = field === "" ? "" : `${field}.`;
      return {
        field,
        message: issue.message,
        value: undefined,
        unknownKeys: issue.keys.map((k) => prefix + k),
      };
    }
    if (issue.code === "invalid_key") {
      return {
        field,
        message: issue.issues[0]?.message ?? issue.message,
        value: issue.path[issue.path.length - 1],
      };
    }
    return { field, message: issue.message, value: valueAt(data, issue.path) };
  });
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}
