import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../../core/runs.ts";
import { createUppercaseProcessor } from "../../../worker/processors/uppercase.ts";
import {
  type Harness,
  harnessForFile,
  jsonl,
  planRun,
  readObject,
  readTaskRecord,
  runPlannedTask,
} from "./harness.ts";

let h: Harness;
harnessForFile((started) => {
  h = started;
});

const sha256 = (name: string) => createHash("sha256").update(name, "utf8").digest("hex");

/** An input path whose object name (`demo/acme/inputs/<path>`) is exactly `total` bytes, made of `unit`. */
function pathOf(total: number, unit: string): string {
  const room = total - Buffer.byteLength("demo/acme/inputs/long/.jsonl");
  const units = Math.floor(room / Buffer.byteLength(unit));
  const path = `long/${unit.repeat(units)}${"y".repeat(room - units * Buffer.byteLength(unit))}.jsonl`;
  expect(Buffer.byteLength(`demo/acme/inputs/${path}`)).toBe(total);
  return path;
}

const DEEP = `{"text":"deep","n":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
const CONTENT = `{"id":1,"text":"hello"}\n{"id":2}\n${DEEP}\n{"id":4,"text":"bye"}\n`;

describe("an input whose name is valid but near GCS's 1,024-byte limit", () => {
  it.each([
    ["exactly 1,024 bytes", pathOf(1024, "x"), true],
    ["1,000 bytes of multi-byte UTF-8", pathOf(1000, "é漢"), false],
  ])(
    "with a name of %s is processed: output with provenance, errors file with its bad records",
    async (_, path, outputHashed) => {
      const run = await planRun(h, { inputs: [{ path, content: CONTENT }] });
      const entry = run.entries[0];
      if (!entry) throw new Error("no entry");
      const inputName = `demo/acme/inputs/${path}`;
      const digest = sha256(inputName);
      expect(entry.output).toBe(
        outputHashed ? `demo/acme/outputs/.hashed/${digest}.jsonl` : `demo/acme/outputs/${path}`,
      );
      expect(entry.errors).toBe(`demo/acme/errors/${run.runId}/.hashed/${digest}.jsonl`);

      const outcome = await runPlannedTask(h, run, 0);

      expect(outcome.exitCode).toBe(EXIT.OK);
      expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([
        { id: 1, text: "HELLO" },
        { id: 4, text: "BYE" },
      ]);
      const provenance = {
        batchlineInputObject: inputName,
        batchlineInputGeneration: entry.generation,
        batchlineRunId: run.runId,
        batchlineJobId: `bl-demo-acme-${run.runId}`,
        batchlineProcessor: "uppercase",
        batchlineProcessorVersion: createUppercaseProcessor().version,
        batchlineImage: "europe-west2-docker.pkg.dev/test/batchline/worker:test",
      };
      const [outputMeta] = await h.bucket.file(entry.output).getMetadata();
      expect(outputMeta.metadata).toEqual(provenance);
      expect(jsonl(await readObject(h.bucket, entry.errors))).toEqual([
        { line: 2, reason: 'record has no "text" field', record: '{"id":2}' },
        { line: 3, reason: "nested deeper than 1000 levels", record: DEEP.slice(0, 1024) },
      ]);
      const [errorsMeta] = await h.bucket.file(entry.errors).getMetadata();
      expect(errorsMeta.metadata).toMatchObject({ batchlineInputObject: inputName });
      expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
        status: "SUCCEEDED",
        input: { object: inputName, generation: entry.generation },
        records: 2,
        badRecords: 2,
        output: entry.output,
        errors: entry.errors,
      });
    },
  );
});
