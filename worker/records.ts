import { isUtf8 } from "node:buffer";
import { capReason } from "../core/messages.ts";
import { MAX_RECORD_DEPTH, nestsDeeperThan, TOO_DEEP_REASON, valueNestsDeeperThan } from "./depth.ts";
import { PermanentTaskError } from "./errors.ts";
import { FieldScanner } from "./field-scan.ts";
import { MemberScan, newLineEdits, planEdits, scanMembers } from "./json-line.ts";
import { type Line, LineSplitter } from "./lines.ts";
import { BadRecord, type Processor, type RecordContext, type StringFieldMap } from "./processors/types.ts";
import type { LineSink } from "./sink.ts";

/** Bad records keep at most this much of their line in the errors file. */
export const DEFAULT_MAX_BAD_RECORD_BYTES = 1024;

export interface RecordCounts {
  /** Records the processor accepted (blank lines are not records). */
  records: number;
  /** Lines that went to the errors file. */
  badRecords: number;
  /** Bytes read from the input. */
  bytesIn: number;
  /** Physical lines in the input, blank ones included. */
  lines: number;
}

/** The one context object the loop reuses for every record (it sets `line` before each call). */
export type LiveRecordContext = { -readonly [K in keyof RecordContext]: RecordContext[K] };

export interface RecordLoopOptions {
  processor: Processor;
  /** The context processRecord sees; its `line` is set before each call. */
  ctx: LiveRecordContext;
  output: LineSink;
  errors: LineSink;
  maxLineBytes: number;
  maxBadRecordBytes?: number;
}

/**
 * Streams JSONL from `source` through the processor: one line at a time, in constant memory.
 *
 * Per line: blank (empty or only spaces, tabs and CRs) is skipped; too long, not UTF-8, or not JSON is a bad
 * record; otherwise the parsed value goes to `processRecord`, whose result is an output line, nothing, or a
 * bad record. A UTF-8 byte order mark on the first line is ignored. Bad records go to `errors` as
 * `{"line":N,"reason":"…","record":"<start of the line>"}`.
 */
export async function processRecords(
  source: AsyncIterable<Buffer | string>,
  options: RecordLoopOptions,
): Promise<RecordCounts> {
  const loop = new RecordLoop(options);
  for await (const chunk of source) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    loop.bytesIn += bytes.length;
    for (const line of loop.splitter.push(bytes)) {
      const pending = loop.handle(line);
      if (pending) await pending;
    }
    const out = options.output.pump();
    if (out) await out;
    const err = options.errors.pump();
    if (err) await err;
  }
  for (const line of loop.splitter.end()) {
    const pending = loop.handle(line);
    if (pending) await pending;
  }
  if (options.processor.flush) {
    for (const record of await options.processor.flush(options.ctx)) {
      const text = serialize(record);
      if (typeof text === "string") options.output.line(text);
      else {
        throw new PermanentTaskError(
          `processor ${options.processor.name} flushed a record JSON cannot represent: ${text.reason}`,
        );
      }
    }
  }
  return {
    records: loop.records,
    badRecords: loop.badRecords,
    bytesIn: loop.bytesIn,
    lines: loop.splitter.lines,
  };
}

class RecordLoop {
  readonly splitter: LineSplitter;
  records = 0;
  badRecords = 0;
  bytesIn = 0;
  readonly #options: RecordLoopOptions;
  readonly #maxBad: number;
  readonly #tooLong: string;
  readonly #scan = new MemberScan();
  readonly #edits = newLineEdits();
  /** The processor's `stringField` and a scanner for it, when it declares one. */
  readonly #field: { map: StringFieldMap; scanner: FieldScanner } | undefined;

  constructor(options: RecordLoopOptions) {
    this.#options = options;
    const field = options.processor.stringField;
    this.#field = field && { map: field, scanner: new FieldScanner(field.name) };
    this.#maxBad = options.maxBadRecordBytes ?? DEFAULT_MAX_BAD_RECORD_BYTES;
    this.splitter = new LineSplitter({ maxLineBytes: options.maxLineBytes, keepPrefixBytes: this.#maxBad });
    this.#tooLong = `line exceeds ${options.maxLineBytes} bytes`;
  }

  /** Handles one line; returns a promise only when the processor answered with one. */
  handle(line: Line): Promise<void> | undefined {
    if (line.kind === "oversize") {
      this.#bad(line.line, this.#tooLong, line.prefix);
      return undefined;
    }
    let bytes = line.bytes;
    if (line.line === 1 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      bytes = bytes.subarray(3);
    }
    if (isBlank(bytes)) return undefined;
    if (!isUtf8(bytes)) {
      this.#bad(line.line, "not valid UTF-8", bytes);
      return undefined;
    }
    if (this.#field !== undefined && this.#fieldOnly(line.line, bytes, this.#field)) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString("utf8"));
    } catch (err) {
      this.#bad(line.line, `not valid JSON: ${(err as Error).message}`, bytes);
      return undefined;
    }
    // No processor, and no JSON.stringify of the record, ever meets a record deeper than the limit
    // (worker/depth.ts). The field path needs no check: FieldScanner declines lines that deep.
    if (nestsDeeperThan(bytes, MAX_RECORD_DEPTH)) {
      this.#bad(line.line, TOO_DEEP_REASON, bytes);
      return undefined;
    }
    // An object's values before the processor runs: what it leaves as they were is written as the input
    // spelled it, without serializing it again (worker/json-line.ts).
    const before =
      typeof value === "object" && value !== null && !Array.isArray(value) ? Object.values(value) : undefined;
    const ctx = this.#options.ctx;
    ctx.line = line.line;
    const result = this.#options.processor.processRecord(value, ctx);
    if (isPromiseLike(result)) {
      // The loop awaits this before it reads on, so `bytes` (a view of the current chunk) stays valid.
      const lineNumber = line.line;
      return Promise.resolve(result).then((r) => this.#accept(lineNumber, r, bytes, value, before));
    }
    this.#accept(line.line, result, bytes, value, before);
    return undefined;
  }

  /**
   * The processor's stringField path: when the line is an object whose field is a plain string (FieldScanner
   * says so, or declines), map the value and write the line with only that value replaced, exactly as the
   * JSON.parse path writes a record whose processor changed that field in place. False: take that path.
   */
  #fieldOnly(line: number, bytes: Buffer, field: { map: StringFieldMap; scanner: FieldScanner }): boolean {
    const hit = field.scanner.scan(bytes);
    if (hit === null) return false;
    const ctx = this.#options.ctx;
    ctx.line = line;
    const mapped = field.map.map(hit.value, ctx);
    if (mapped instanceof BadRecord) {
      this.#bad(line, mapped.reason, bytes);
      return true;
    }
    if (typeof mapped !== "string") {
      throw new PermanentTaskError(
        `processor ${this.#options.processor.name}: stringField.map returned ${typeof mapped}, not a string`,
      );
    }
    const edits = this.#edits;
    edits.from = hit.from;
    edits.to = hit.to;
    edits.count = 0;
    if (mapped !== hit.value) {
      edits.starts[0] = hit.valueStart;
      edits.ends[0] = hit.valueEnd;
      edits.values[0] = mapped;
      edits.texts[0] = false;
      edits.count = 1;
    }
    this.records += 1;
    this.#options.output.edited(bytes, edits);
    return true;
  }

  #accept(
    line: number,
    result: unknown,
    bytes: Buffer,
    parsed: unknown,
    before: unknown[] | undefined,
  ): void {
    if (result instanceof BadRecord) {
      this.#bad(line, result.reason, bytes);
      return;
    }
    if (result === undefined) {
      this.records += 1;
      return;
    }
    if (before !== undefined && result === parsed) {
      // The record it was given, changed in place: edit the input line where the values changed.
      scanMembers(bytes, this.#scan);
      if (planEdits(bytes, this.#scan, before, result as object, this.#edits)) {
        this.records += 1;
        this.#options.output.edited(bytes, this.#edits);
        return;
      }
    }
    const text = serialize(result);
    if (typeof text !== "string") {
      this.#bad(line, `processor output cannot be written as JSON: ${text.reason}`, bytes);
      return;
    }
    this.records += 1;
    this.#options.output.line(text);
  }

  #bad(line: number, reason: string, bytes: Buffer): void {
    this.badRecords += 1;
    const entry = { line, reason: capReason(reason), record: recordPreview(bytes, this.#maxBad) };
    this.#options.errors.line(JSON.stringify(entry));
  }
}

/** At most `maxBytes` of a line as text: whole characters only; bytes that are not UTF-8 show as U+FFFD. */
export function recordPreview(bytes: Buffer, maxBytes: number): string {
  const head = bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes;
  // stream: true holds back a character cut in half at the end instead of turning it into U+FFFD.
  return new TextDecoder("utf-8", { fatal: false }).decode(head, { stream: bytes.length > maxBytes });
}

/** Empty, or only spaces, tabs and carriage returns. */
function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  }
  return true;
}

function serialize(value: unknown): string | { reason: string } {
  try {
    const text = JSON.stringify(value);
    return typeof text === "string" ? text : { reason: `a ${typeof value} has no JSON form` };
  } catch (err) {
    // JSON.stringify recurses: output a processor made deeper than records may be can exhaust the stack.
    if (err instanceof RangeError && valueNestsDeeperThan(value, MAX_RECORD_DEPTH)) {
      return { reason: TOO_DEEP_REASON };
    }
    return { reason: (err as Error).message };
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
