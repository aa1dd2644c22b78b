import { describe, expect, it } from "vitest";
import { BatchlineError } from "../../../core/errors.ts";
import {
  createProcessor,
  PROCESSORS,
  type ProcessorFactory,
  UnknownProcessorError,
} from "../../../worker/processors/registry.ts";
import { BadRecord, type Processor } from "../../../worker/processors/types.ts";
import { createUppercaseProcessor } from "../../../worker/processors/uppercase.ts";

describe("processor registry", () => {
  it("ships the uppercase processor", () => {
    const p = createProcessor("uppercase");
    expect(p.name).toBe("uppercase");
    expect(p.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("makes a fresh processor per task", () => {
    expect(createProcessor("uppercase")).not.toBe(createProcessor("uppercase"));
  });

  it("refuses an unknown name permanently, naming it and the known processors", () => {
    const registry = new Map<string, ProcessorFactory>([
      ["zeta", () => ({ name: "zeta", version: "1", processRecord: (r) => r })],
      ["alpha", () => ({ name: "alpha", version: "1", processRecord: (r) => r })],
    ]);
    let error: unknown;
    try {
      createProcessor("sentiment", registry);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UnknownProcessorError);
    expect((error as UnknownProcessorError).retryable).toBe(false);
    expect((error as Error).message).toBe('unknown processor "sentiment"; this worker has: alpha, zeta');
  });

  it("refuses a processor whose name differs from its registry key", () => {
    const registry = new Map<string, ProcessorFactory>([
      ["upper", () => ({ name: "uppercase", version: "1", processRecord: (r) => r })],
    ]);
    expect(() => createProcessor("upper", registry)).toThrow(BatchlineError);
    expect(() => createProcessor("upper", registry)).toThrow(
      /registered as "upper" calls itself "uppercase"/,
    );
  });

  it("refuses a processor without a version", () => {
    const registry = new Map<string, ProcessorFactory>([
      ["blank", () => ({ name: "blank", version: "", processRecord: (r) => r })],
    ]);
    expect(() => createProcessor("blank", registry)).toThrow(/empty version/);
  });

  it("has only names config accepts", () => {
    for (const name of PROCESSORS.keys()) expect(name).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
  });

  it("accepts a no-input hook that returns nothing", async () => {
    const processor: Processor = {
      name: "cron",
      version: "1",
      processRecord: (r) => r,
      async runWithoutInput() {},
    };
    await expect(processor.runWithoutInput?.({} as never)).resolves.toBeUndefined();
  });
});

describe("uppercase processor", () => {
  const p = createUppercaseProcessor();
  const ctx = {} as never;
  const reason = (r: unknown) => (r instanceof BadRecord ? r.reason : null);

  it("upper-cases text and keeps every other field", () => {
    expect(p.processRecord({ id: 7, text: "straße", tags: ["a"] }, ctx)).toEqual({
      id: 7,
      text: "STRASSE",
      tags: ["a"],
    });
  });

  it("keeps an empty text empty", () => {
    expect(p.processRecord({ text: "" }, ctx)).toEqual({ text: "" });
  });

  it("says why a record is bad", () => {
    expect(reason(p.processRecord(null, ctx))).toBe("record is null, not a JSON object");
    expect(reason(p.processRecord(3, ctx))).toBe("record is a number, not a JSON object");
    expect(reason(p.processRecord(["text"], ctx))).toBe("record is an array, not a JSON object");
    expect(reason(p.processRecord({ txt: "a" }, ctx))).toBe('record has no "text" field');
    expect(reason(p.processRecord({ text: null }, ctx))).toBe('field "text" is null, not a string');
    expect(reason(p.processRecord({ text: { a: 1 } }, ctx))).toBe('field "text" is an object, not a string');
  });
});
