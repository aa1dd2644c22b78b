import type { Compiled } from "../expression.ts";
import type { Block } from "../interpreter.ts";
import type { ProgramCompiler } from "./deploy-state.ts";
import type { AssignTarget, BlockContext, BranchWriteRules, StepFn } from "./shared.ts";

/**
 * What a step compiler (./steps/) may ask of the routine it compiles in. RoutineCompiler implements it; the
 * step compilers see only this, so they and the routine that dispatches to them do not import each other.
 */
export interface RoutineContext {
  /** The routine's name: `main` or a subworkflow's. */
  readonly name: string;
  /** The routine's source, as parsed. */
  readonly raw: unknown;
  /** Deploy state of the whole source: problems, subworkflow signatures, connectors. */
  readonly program: ProgramCompiler;
  /** Records a deploy problem against a step (prefixed with the routine's name outside main). */
  problem(step: string | undefined, message: string): void;
  /** Compiles a value that may hold `${…}` expressions anywhere inside it. */
  value(v: unknown, step: string): Compiled;
  /** Compiles an expression's text (without the `${ }`). */
  expression(text: string, step: string): Compiled;
  /** Compiles the left side of an assignment; undefined (with a problem recorded) when it is not one. */
  target(text: unknown, step: string, parallel?: BranchWriteRules): AssignTarget | undefined;
  /** Checks a variable name written in a step; undefined (with a problem recorded) when it is not one. */
  varName(v: unknown, step: string, what: string): string | undefined;
  /** Compiles a list of steps into a block. */
  block(list: unknown, ctx: BlockContext, where: string | undefined): Block;
  /** Compiles one named step. */
  step(name: string, body: unknown, ctx: BlockContext): StepFn;
}
