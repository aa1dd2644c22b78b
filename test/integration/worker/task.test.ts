import { describe, expect, it } from "vitest";
import { EXIT, taskRecordSchema } from "../../../core/runs.ts";
import type { ProcessorFactory } from "../../../worker/processors/registry.ts";
import { bad, FatalInputError } from "../../../worker/processors/types.ts";
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

describe("worker task against the GCS emulator", () => {
  it("processes an input: output content, provenance metadata, and a valid task record", async () => {
    const content = '{"id":1,"text":"hello"}\n{"id":2,"text":"Grüße"}\n';
    const run = await planRun(h, { inputs: [{ path: "2026/orders.jsonl", content }] });
    const [entry] = run.entries;
    if (!entry) throw new Error("no entry");

    const outcome = await runPlannedTask(h, run, 0);

    expect(outcome.exitCode).toBe(EXIT.OK);
    const output = await readObject(h.bucket, entry.output);
    expect(output?.toString("utf8")).toBe('{"id":1,"text":"HELLO"}\n{"id":2,"text":"GRÜSSE"}\n');
    const [meta] = await h.bucket.file(entry.output).getMetadata();
    expect(meta.contentType).toBe("application/x-ndjson");
    expect(meta.metadata).toEqual({
      batchlineInputObject: "demo/acme/inputs/2026/orders.jsonl",
      batchlineInputGeneration: entry.generation,
      batchlineRunId: run.runId,
      batchlineJobId: `bl-demo-acme-${run.runId}`,
      batchlineProcessor: "uppercase",
      batchlineProcessorVersion: createUppercaseProcessor().version,
      batchlineImage: "europe-west2-docker.pkg.dev/test/batchline/worker:test",
    });
    expect(await readObject(h.bucket, entry.errors)).toBeNull();
    const record = await readTaskRecord(h.bucket, run.runId, 0);
    expect(taskRecordSchema.safeParse(record).success).toBe(true);
    expect(record).toMatchObject({
      runId: run.runId,
      index: 0,
      attempt: 0,
      input: { object: entry.object, generation: entry.generation },
      status: "SUCCEEDED",
      retryable: false,
      error: null,
      records: 2,
      badRecords: 0,
      bytesIn: Buffer.byteLength(content),
      bytesOut: output?.length,
      output: entry.output,
      errors: null,
      processor: "uppercase",
      processorVersion: createUppercaseProcessor().version,
    });
  });

  it("writes malformed lines to the errors file with line numbers and reasons, and still succeeds", async () => {
    const content = ['{"text":"a"}', "{not json", '{"id":3}', "", '{"text":5}', '{"text":"b"}'].join("\n");
    const run = await planRun(h, { inputs: [{ path: "malformed.jsonl", content }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const outcome = await runPlannedTask(h, run, 0);

    expect(outcome.exitCode).toBe(EXIT.OK);
    expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([{ text: "A" }, { text: "B" }]);
    expect(jsonl(await readObject(h.bucket, entry.errors))).toEqual([
      { line: 2, reason: expect.stringMatching(/^not valid JSON: /), record: "{not json" },
      { line: 3, reason: 'record has no "text" field', record: '{"id":3}' },
      { line: 5, reason: 'field "text" is a number, not a string', record: '{"text":5}' },
    ]);
    const [errorsMeta] = await h.bucket.file(entry.errors).getMetadata();
    expect(errorsMeta.metadata?.batchlineRunId).toBe(run.runId);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "SUCCEEDED",
      records: 2,
      badRecords: 3,
      errors: entry.errors,
    });
  });

  it("writes an empty output for an empty input", async () => {
    const run = await planRun(h, { inputs: [{ path: "empty.jsonl", content: "" }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const outcome = await runPlannedTask(h, run, 0);

    expect(outcome.exitCode).toBe(EXIT.OK);
    expect((await readObject(h.bucket, entry.output))?.length).toBe(0);
    expect(await readObject(h.bucket, entry.errors)).toBeNull();
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "SUCCEEDED",
      records: 0,
      badRecords: 0,
      bytesIn: 0,
      bytesOut: 0,
      output: entry.output,
    });
  });

  it("reads CRLF files and a missing final newline", async () => {
    const run = await planRun(h, {
      inputs: [{ path: "windows.jsonl", content: '{"text":"a"}\r\n{"text":"b"}' }],
    });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    expect((await runPlannedTask(h, run, 0)).exitCode).toBe(EXIT.OK);

    expect((await readObject(h.bucket, entry.output))?.toString()).toBe('{"text":"A"}\n{"text":"B"}\n');
    expect(await readObject(h.bucket, entry.errors)).toBeNull();
  });

  it("makes a line that is not UTF-8 a bad record", async () => {
    const content = Buffer.concat([
      Buffer.from('{"text":"ok"}\n{"text":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}\n{"text":"fine"}\n'),
    ]);
    const run = await planRun(h, { inputs: [{ path: "latin.jsonl", content }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    expect((await runPlannedTask(h, run, 0)).exitCode).toBe(EXIT.OK);

    expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([{ text: "OK" }, { text: "FINE" }]);
    expect(jsonl(await readObject(h.bucket, entry.errors))).toEqual([
      { line: 2, reason: "not valid UTF-8", record: '{"text":"\uFFFD(\uFFFD"}' },
    ]);
  });

  it("skips a line over the bound without failing the input", async () => {
    const huge = `{"text":"${"x".repeat(3 * 1024 * 1024)}"}`;
    const run = await planRun(h, {
      inputs: [{ path: "huge.jsonl", content: `{"text":"a"}\n${huge}\n{"text":"b"}\n` }],
    });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    expect((await runPlannedTask(h, run, 0)).exitCode).toBe(EXIT.OK);

    expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([{ text: "A" }, { text: "B" }]);
    const errors = jsonl(await readObject(h.bucket, entry.errors)) as {
      line: number;
      reason: string;
      record: string;
    }[];
    expect(errors.map((e) => [e.line, e.reason, e.record.length])).toEqual([
      [2, "line exceeds 1048576 bytes", 1024],
    ]);
    expect(errors[0]?.record).toBe(huge.slice(0, 1024));
  });

  it("honours BATCHLINE_MAX_LINE_BYTES", async () => {
    const run = await planRun(h, {
      inputs: [{ path: "short.jsonl", content: '{"text":"abc"}\n{"text":"abcdefgh"}\n' }],
    });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    expect((await runPlannedTask(h, run, 0, { BATCHLINE_MAX_LINE_BYTES: "15" })).exitCode).toBe(EXIT.OK);

    expect(jsonl(await readObject(h.bucket, entry.errors))).toEqual([
      { line: 2, reason: "line exceeds 15 bytes", record: '{"text":"abcdef' },
    ]);
  });

  it("works with unicode and spaces in names", async () => {
    const path = "Büro Files/résumé 2026 📄.jsonl";
    const run = await planRun(h, { inputs: [{ path, content: '{"text":"ça va"}\nbad\n' }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    expect((await runPlannedTask(h, run, 0)).exitCode).toBe(EXIT.OK);

    expect(entry.output).toBe(`demo/acme/outputs/${path}`);
    expect((await readObject(h.bucket, entry.output))?.toString()).toBe('{"text":"ÇA VA"}\n');
    expect(entry.errors).toBe(`demo/acme/errors/${run.runId}/${path}.jsonl`);
    expect(jsonl(await readObject(h.bucket, entry.errors))).toHaveLength(1);
    const [meta] = await h.bucket.file(entry.output).getMetadata();
    expect(meta.metadata?.batchlineInputObject).toBe(`demo/acme/inputs/${path}`);
  });

  it("uses a resumable upload for large inputs with the same result", async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i, text: `line ${i}` }));
    const run = await planRun(h, { inputs: [{ path: "resumable.jsonl", content: `${lines.join("\n")}\n` }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const outcome = await runPlannedTask(h, run, 0, {}, { resumableThresholdBytes: 0 });

    expect(outcome.exitCode).toBe(EXIT.OK);
    const out = jsonl(await readObject(h.bucket, entry.output)) as { i: number; text: string }[];
    expect(out).toHaveLength(2000);
    expect(out[1999]).toEqual({ i: 1999, text: "LINE 1999" });
    const [meta] = await h.bucket.file(entry.output).getMetadata();
    expect(meta.metadata?.batchlineRunId).toBe(run.runId);
  });

  it("reads exactly the claimed generation even after the input is re-uploaded", async () => {
    const run = await planRun(h, { inputs: [{ path: "versioned.jsonl", content: '{"text":"old"}\n' }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");
    // A re-upload makes a new generation; without versioning the claimed one is gone.
    await h.bucket.file(entry.object).save('{"text":"new"}\n', { resumable: false });

    const outcome = await runPlannedTask(h, run, 0);

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
    expect(await readObject(h.bucket, entry.output)).toBeNull();
    const record = await readTaskRecord(h.bucket, run.runId, 0);
    expect(record).toMatchObject({
      status: "FAILED",
      retryable: false,
      input: { object: entry.object, generation: entry.generation },
      output: null,
    });
    expect(record?.error).toBe(
      `input gs://batchline-worker-test/${entry.object} generation ${entry.generation} does not exist (deleted, or overwritten and not kept)`,
    );
  });

  it("fails permanently when the manifest has no input for the task index", async () => {
    const run = await planRun(h, { inputs: [{ path: "one.jsonl", content: "{}\n" }], taskCount: 2 });

    const outcome = await runPlannedTask(h, run, 1, { BATCH_TASK_COUNT: "2" });

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
    const record = await readTaskRecord(h.bucket, run.runId, 1);
    expect(record).toMatchObject({ status: "FAILED", retryable: false, index: 1, processor: "uppercase" });
    expect(record?.error).toBe(
      `manifest gs://batchline-worker-test/${run.manifestName} has no input for task index 1 (it lists 1 input(s))`,
    );
    expect(record?.input).toEqual({ object: run.manifestName, generation: "0" });
  });

  it("fails permanently when the shard lacks the entry", async () => {
    const run = await planRun(h, {
      inputs: [
        { path: "s1.jsonl", content: "{}\n" },
        { path: "s2.jsonl", content: "{}\n" },
      ],
      editEntries: (entries) => entries.slice(0, 1),
    });

    const outcome = await runPlannedTask(h, run, 1, { BATCH_TASK_COUNT: "2" });

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
    expect((await readTaskRecord(h.bucket, run.runId, 1))?.error).toMatch(/has no entry for task index 1$/);
  });

  it("finds its entry in a later shard", async () => {
    const inputs = Array.from({ length: 5 }, (_, i) => ({
      path: `sharded/${i}.jsonl`,
      content: `{"text":"n${i}"}\n`,
    }));
    const run = await planRun(h, { inputs, shardSize: 2 });
    const entry = run.entries[4];
    if (!entry) throw new Error("no entry");

    expect((await runPlannedTask(h, run, 4, { BATCH_TASK_COUNT: "5" })).exitCode).toBe(EXIT.OK);

    expect((await readObject(h.bucket, entry.output))?.toString()).toBe('{"text":"N4"}\n');
    expect(await readObject(h.bucket, run.entries[3]?.output ?? "")).toBeNull();
  });

  it("fails permanently when the manifest does not exist", async () => {
    const run = await planRun(h, { inputs: [{ path: "m.jsonl", content: "{}\n" }] });
    await h.bucket.file(run.manifestName).delete();

    const outcome = await runPlannedTask(h, run, 0);

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
    expect((await readTaskRecord(h.bucket, run.runId, 0))?.error).toBe(
      `run manifest gs://batchline-worker-test/${run.manifestName} does not exist`,
    );
  });

  it("fails permanently for an input over BATCHLINE_MAX_INPUT_BYTES", async () => {
    const run = await planRun(h, { inputs: [{ path: "big.jsonl", content: '{"text":"0123456789"}\n' }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const outcome = await runPlannedTask(h, run, 0, { BATCHLINE_MAX_INPUT_BYTES: "10" });

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
    expect((await readTaskRecord(h.bucket, run.runId, 0))?.error).toBe(
      `input gs://batchline-worker-test/${entry.object} generation ${entry.generation} is 22 bytes, over the limit of 10 bytes (BATCHLINE_MAX_INPUT_BYTES)`,
    );
    expect(await readObject(h.bucket, entry.output)).toBeNull();
  });

  it("fails permanently for an unknown processor, naming the known ones", async () => {
    const run = await planRun(h, { inputs: [{ path: "p.jsonl", content: "{}\n" }], processor: "sentiment" });

    const outcome = await runPlannedTask(h, run, 0);

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "FAILED",
      retryable: false,
      processor: "sentiment",
      processorVersion: "",
      error: 'unknown processor "sentiment"; this worker has: uppercase',
    });
  });

  it("fails permanently, leaving no output, when the processor finds the input unusable", async () => {
    const processors = new Map<string, ProcessorFactory>([
      [
        "strict",
        () => ({
          name: "strict",
          version: "2",
          processRecord: (record, ctx) => {
            if (ctx.line === 3) throw new FatalInputError("line 3: schema version 9 is not supported");
            return record;
          },
        }),
      ],
    ]);
    const run = await planRun(h, {
      inputs: [{ path: "strict.jsonl", content: "1\n2\n3\n4\n" }],
      processor: "strict",
    });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const outcome = await runPlannedTask(h, run, 0, {}, { processors });

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
    expect(await readObject(h.bucket, entry.output)).toBeNull();
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "FAILED",
      retryable: false,
      error: "line 3: schema version 9 is not supported",
      processor: "strict",
      processorVersion: "2",
    });
  });

  it("abandons the uploads and exits retryable when the processor fails unexpectedly mid-way", async () => {
    const lines = Array.from({ length: 50_000 }, (_, i) =>
      JSON.stringify({ i, text: "some text to fill the batch" }),
    );
    const processors = new Map<string, ProcessorFactory>([
      [
        "flaky",
        () => ({
          name: "flaky",
          version: "1",
          processRecord: (record, ctx) => {
            if (ctx.line === 2) return bad("an early bad record, so the errors upload is open too");
            if (ctx.line === 40_000) throw new Error("model server went away");
            return record;
          },
        }),
      ],
    ]);
    const run = await planRun(h, {
      inputs: [{ path: "flaky.jsonl", content: lines.join("\n") }],
      processor: "flaky",
    });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    const outcome = await runPlannedTask(h, run, 0, {}, { processors });

    expect(outcome.exitCode).toBe(EXIT.RETRYABLE);
    expect(await readObject(h.bucket, entry.output)).toBeNull();
    expect(await readObject(h.bucket, entry.errors)).toBeNull();
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "FAILED",
      retryable: true,
      error: "model server went away",
      output: null,
      errors: null,
    });
  });

  it("re-running the task overwrites its output and record and removes a stale errors file", async () => {
    let rejectFirst = true;
    const processors = new Map<string, ProcessorFactory>([
      [
        "moody",
        () => ({
          name: "moody",
          version: "1",
          processRecord: (record, ctx) => (rejectFirst && ctx.line === 1 ? bad("not today") : record),
        }),
      ],
    ]);
    const run = await planRun(h, {
      inputs: [{ path: "rerun.jsonl", content: '{"a":1}\n{"a":2}\n' }],
      processor: "moody",
    });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    expect((await runPlannedTask(h, run, 0, {}, { processors })).exitCode).toBe(EXIT.OK);
    expect(jsonl(await readObject(h.bucket, entry.errors))).toHaveLength(1);
    rejectFirst = false;
    const again = await runPlannedTask(h, run, 0, { BATCH_TASK_RETRY_ATTEMPT: "1" }, { processors });

    expect(again.exitCode).toBe(EXIT.OK);
    expect(jsonl(await readObject(h.bucket, entry.output))).toEqual([{ a: 1 }, { a: 2 }]);
    expect(await readObject(h.bucket, entry.errors)).toBeNull();
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      attempt: 1,
      records: 2,
      badRecords: 0,
      errors: null,
    });
  });

  it("re-running the same task twice gives identical objects", async () => {
    const run = await planRun(h, { inputs: [{ path: "twice.jsonl", content: '{"text":"x"}\nnope\n' }] });
    const entry = run.entries[0];
    if (!entry) throw new Error("no entry");

    await runPlannedTask(h, run, 0);
    const first = [await readObject(h.bucket, entry.output), await readObject(h.bucket, entry.errors)];
    const second = await runPlannedTask(h, run, 0, { BATCH_TASK_RETRY_ATTEMPT: "1" });

    expect(second.exitCode).toBe(EXIT.OK);
    expect([await readObject(h.bucket, entry.output), await readObject(h.bucket, entry.errors)]).toEqual(
      first,
    );
    expect((await readTaskRecord(h.bucket, run.runId, 0))?.attempt).toBe(1);
  });
});

describe("always-mode task without an input", () => {
  it("succeeds with zero records when the processor has no no-input hook", async () => {
    const run = await planRun(h, { mode: "always" });

    const outcome = await runPlannedTask(h, run, 0, { BATCH_TASK_COUNT: "1" });

    expect(outcome.exitCode).toBe(EXIT.OK);
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({
      status: "SUCCEEDED",
      input: { object: run.manifestName, generation: "0" },
      records: 0,
      output: null,
      errors: null,
      processor: "uppercase",
    });
  });

  it("runs the processor's runWithoutInput hook and records what it reports", async () => {
    const calls: { runId: string; input: unknown }[] = [];
    const processors = new Map<string, ProcessorFactory>([
      [
        "retrain",
        () => ({
          name: "retrain",
          version: "3",
          processRecord: (r) => r,
          async runWithoutInput(ctx) {
            calls.push({ runId: ctx.runId, input: ctx.input });
            await ctx.storage
              .bucket(ctx.bucket)
              .file(`${ctx.product}/${ctx.client}/outputs/model.txt`)
              .save("v3");
            return { records: 7 };
          },
        }),
      ],
    ]);
    const run = await planRun(h, { mode: "always", processor: "retrain" });

    const outcome = await runPlannedTask(h, run, 0, { BATCH_TASK_COUNT: "1" }, { processors });

    expect(outcome.exitCode).toBe(EXIT.OK);
    expect(calls).toEqual([{ runId: run.runId, input: null }]);
    expect((await readObject(h.bucket, "demo/acme/outputs/model.txt"))?.toString()).toBe("v3");
    expect(await readTaskRecord(h.bucket, run.runId, 0)).toMatchObject({ records: 7, processorVersion: "3" });
  });

  it("refuses a second task of an input-less run", async () => {
    const run = await planRun(h, { mode: "always", taskCount: 2 });

    const outcome = await runPlannedTask(h, run, 1, { BATCH_TASK_COUNT: "2" });

    expect(outcome.exitCode).toBe(EXIT.PERMANENT);
  });
});
