import type { Storage } from "@google-cloud/storage";
import { BatchlineError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";

/**
 * The processor interface: what a worker task runs over its input. See docs/processors.md.
 *
 * The worker owns everything around the records: it reads exactly the claimed input generation, splits it
 * into lines, skips blank lines, rejects lines that are too long, not UTF-8 or not JSON (as bad records),
 * writes the output as one upload, writes bad records to the errors file and the task record. A processor
 * only turns one parsed JSONL record into one output record, or says why the record is bad.
 */
export interface Processor {
  /** The name runs select it by (`jobDefaults.processor` in config): `^[a-z][a-z0-9-]{0,62}$`. */
  readonly name: string;
  /** Recorded in every output's metadata and task record; change it whenever the output can change. */
  readonly version: string;
  /** Content type of the output object. Default `application/x-ndjson`. */
  readonly contentType?: string;
  /** Once per task, before the first record: load models or reference data. Errors fail the task. */
  setup?(ctx: ProcessorContext): void | Promise<void>;
  /**
   * One record (a parsed JSON value from one line, the processor's to change or return) to its output:
   * return the output record (written as one JSON line), `undefined` to write nothing for it, or
   * `bad(reason)` to send it to the errors file.
   * Throw `FatalInputError` when the input as a whole can never be processed (the task fails, no retry);
   * any other error fails the task as retryable unless it says otherwise (see worker/classify.ts).
   */
  processRecord(record: unknown, ctx: RecordContext): RecordResult | Promise<RecordResult>;
  /**
   * Optional, for processors whose processRecord only replaces one top-level string field of an object
   * record: the field and the function that gives its new value. The worker then handles a line whose field
   * is a plain string without building the record (no JSON.parse), which is several times cheaper. Lines it
   * cannot handle so still go to processRecord, which must do exactly what `map` does for such records:
   * build both from one function with `stringFieldProcessor` (worker/processors/string-field.ts).
   */
  readonly stringField?: StringFieldMap;
  /** After the last record: output records that depend on all of them (totals, a trailer). */
  flush?(ctx: ProcessorContext): Iterable<unknown> | Promise<Iterable<unknown>>;
  /**
   * An `always` schedule runs one task even when nothing is pending; that task has no input and calls this
   * instead (e.g. retrain from `ctx.storage`). Without it, the task succeeds with zero records.
   */
  runWithoutInput?(ctx: ProcessorContext): NoInputResult | undefined | Promise<NoInputResult | undefined>;
}

/** See `Processor.stringField`. */
export interface StringFieldMap {
  /** The top-level field, e.g. `text`. */
  readonly name: string;
  /** The field's new value, or `bad(reason)` for a record that goes to the errors file. Synchronous. */
  map(value: string, ctx: RecordContext): string | BadRecord;
}

/** What an input-less run reports in its task record. */
export interface NoInputResult {
  records?: number;
}

/** The task a processor runs in. */
export interface ProcessorContext {
  readonly product: string;
  readonly client: string;
  readonly runId: string;
  readonly jobId: string;
  readonly taskIndex: number;
  readonly attempt: number;
  /** The claimed input, or null for the input-less task of an `always` run. */
  readonly input: { readonly object: string; readonly generation: string; readonly size: number } | null;
  /** The run's bucket and a client for it, for processors that need more than their input. */
  readonly bucket: string;
  readonly storage: Storage;
  readonly logger: Logger;
}

/** Passed to processRecord: the task plus where the record came from. */
export interface RecordContext extends ProcessorContext {
  /** 1-based line number of the record in the input. */
  readonly line: number;
}

/** Returned by processRecord for a record that goes to the errors file. Create it with `bad()`. */
export class BadRecord {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/** A bad record with a reason a person can act on, e.g. `bad('field "text" is missing')`. */
export function bad(reason: string): BadRecord {
  return new BadRecord(reason);
}

export type RecordResult = unknown;

/** Thrown by a processor when the input can never be processed; the task fails without a retry (exit 3). */
export class FatalInputError extends BatchlineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** Processor names, as config accepts them. */
export const PROCESSOR_NAME = /^[a-z][a-z0-9-]{0,62}$/;
