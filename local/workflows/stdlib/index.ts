import { HTTP_FUNCTIONS } from "./http.ts";
import { NOT_EMULATED_FUNCTIONS } from "./published.ts";
import { PURE_FUNCTIONS } from "./pure.ts";
import { SYS_BLOCKING } from "./sys.ts";
import type { FunctionDef } from "./types.ts";

const ALL = new Map<string, FunctionDef>(
  [...PURE_FUNCTIONS, ...SYS_BLOCKING, ...HTTP_FUNCTIONS, ...NOT_EMULATED_FUNCTIONS].map((f) => [f.name, f]),
);

/** The standard-library function called `name`, if there is one. */
export function stdlibFunction(name: string): FunctionDef | undefined {
  return ALL.get(name);
}

/** Named retry policies usable as `retry: ${…}` (docs, "Standard library > http" and "retry"). */
export const RETRY_POLICIES: Readonly<
  Record<
    string,
    { predicate: string; maxRetries: number; initialDelay: number; maxDelay: number; multiplier: number }
  >
> = {
  "http.default_retry": {
    predicate: "http.default_retry_predicate",
    maxRetries: 5,
    initialDelay: 1,
    maxDelay: 60,
    multiplier: 1.25,
  },
  "http.default_retry_non_idempotent": {
    predicate: "http.default_retry_predicate_non_idempotent",
    maxRetries: 5,
    initialDelay: 1,
    maxDelay: 60,
    multiplier: 1.25,
  },
};

/** Built-in predicates usable as `predicate: ${…}`. */
export const RETRY_PREDICATES = new Set([
  "http.default_retry_predicate",
  "http.default_retry_predicate_non_idempotent",
  "retry.always",
  "retry.never",
]);

/** `retry.default_backoff`: 1 s initial delay, 60 s at most, ×1.25. */
export const DEFAULT_BACKOFF = { initialDelay: 1, maxDelay: 60, multiplier: 1.25 };
