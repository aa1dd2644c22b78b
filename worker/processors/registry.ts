import { BatchlineError } from "../../core/errors.ts";
import { PROCESSOR_NAME, type Processor } from "./types.ts";
import { createUppercaseProcessor } from "./uppercase.ts";

/** Makes a fresh processor for one task, so per-task state (a loaded model, running totals) never leaks. */
export type ProcessorFactory = () => Processor;

export type ProcessorRegistry = ReadonlyMap<string, ProcessorFactory>;

/** The processors this worker image ships. Add yours here (docs/processors.md). */
export const PROCESSORS: ProcessorRegistry = new Map<string, ProcessorFactory>([
  ["uppercase", createUppercaseProcessor],
]);

/** The run names a processor this image does not have: no retry can fix that. */
export class UnknownProcessorError extends BatchlineError {
  readonly processor: string;
  constructor(name: string, known: readonly string[]) {
    super(
      `unknown processor ${JSON.stringify(name)}; this worker has: ${known.length > 0 ? known.join(", ") : "none"}`,
    );
    this.processor = name;
  }
}

/** Builds the processor a run names, checking that it is what it says it is. */
export function createProcessor(name: string, registry: ProcessorRegistry = PROCESSORS): Processor {
  const factory = registry.get(name);
  if (!factory) throw new UnknownProcessorError(name, [...registry.keys()].sort());
  const processor = factory();
  if (processor.name !== name || !PROCESSOR_NAME.test(processor.name)) {
    throw new BatchlineError(
      `processor registered as ${JSON.stringify(name)} calls itself ${JSON.stringify(processor.name)}`,
    );
  }
  if (processor.version.length === 0) {
    throw new BatchlineError(`processor ${JSON.stringify(name)} has an empty version`);
  }
  return processor;
}
