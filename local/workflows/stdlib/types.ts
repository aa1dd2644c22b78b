import type { Exec, Scope } from "../runtime.ts";
import type { Value } from "../values.ts";

/**
 * A standard-library function. Expressions pass arguments by position; call steps pass `args` by name,
 * mapped onto `params`. Arguments not given arrive as `undefined`.
 */
export interface FunctionDef {
  name: string;
  params: readonly string[];
  /** How many leading params are required. */
  required: number;
  /** Blocking calls (HTTP, sleep, log, connectors) may only be made from a call step, never in an expression. */
  blocking: boolean;
  /** Accept named arguments not in `params` (connectors take whatever their API takes). */
  open?: boolean;
  fn: (args: (Value | undefined)[], exec: Exec, scope: Scope) => Value | Promise<Value>;
}
