import { raise, WorkflowError } from "../errors.ts";
import {
  type Compiled,
  type CompileEnv,
  compileList,
  compileNode,
  constant,
  ExpressionSyntaxError,
  type Node,
  parseExpression,
} from "../expression.ts";
import { type Block, BREAK, CONTINUE, END, runBlock, type Signal } from "../interpreter.ts";
import { MAX_EXPRESSION_LENGTH } from "../limits.ts";
import { copyValue, newMap, typeName, type Value } from "../values.ts";
import type { ProgramCompiler } from "./deploy-state.ts";
import type { RoutineContext } from "./routine-context.ts";
import {
  type AssignTarget,
  type BlockContext,
  type BranchWriteRules,
  describe,
  isPlainMap,
  type StepFn,
} from "./shared.ts";
import { compileAssign } from "./steps/assign.ts";
import { compileCall } from "./steps/call.ts";
import { compileFor } from "./steps/for.ts";
import { compileParallel } from "./steps/parallel.ts";
import { compileSwitch } from "./steps/switch.ts";
import { compileTry } from "./steps/try.ts";
import { stepKind, VAR_NAME } from "./validate.ts";

/**
 * Compiles one routine (main or a subworkflow): values and expressions, assignment targets, blocks of steps
 * and `next` jumps, and the dispatch of each step to the compiler of its kind (./steps/). Problems go to the
 * program's list with the step's name (prefixed with the routine's, outside main).
 */
export class RoutineCompiler implements RoutineContext {
  readonly pending: Array<{ step: string; target: string; chain: Block[] }> = [];

  constructor(
    readonly name: string,
    readonly raw: unknown,
    readonly program: ProgramCompiler,
  ) {}

  problem(step: string | undefined, message: string): void {
    this.program.problem(
      step === undefined ? undefined : this.name === "main" ? step : `${this.name}/${step}`,
      message,
    );
  }

  env(step: string): CompileEnv {
    return {
      functions: (n) => this.program.functionFor(n),
      subworkflows: this.program.signatures,
      problem: (m) => this.problem(step, m),
      unknown: (n) => this.program.unknownMessage(n),
    };
  }

  /** A value that may hold `${…}` expressions anywhere inside it. */
  value(v: unknown, step: string): Compiled {
    if (typeof v === "string") {
      const m = /^\$\{([\s\S]*)\}$/.exec(v);
      if (!m) {
        if (v.startsWith("${"))
          this.problem(step, `unterminated expression ${v.slice(0, 60)}: a \${ must close with }`);
        return constant(v);
      }
      return this.expression(m[1] as string, step);
    }
    if (v === null || v === undefined) return constant(null);
    if (typeof v === "bigint" || typeof v === "boolean") return constant(v);
    if (typeof v === "number") return constant(v);
    if (Array.isArray(v)) return compileList(v.map((e) => this.value(e, step)));
    if (isPlainMap(v)) {
      const entries = Object.entries(v).map(([k, e]) => [k, this.value(e, step)] as const);
      // Keys may be expressions too (docs, "Maps": `{"${key}": value}`); they must give strings.
      const dynamic = entries.map(([k]) => (/^\$\{[\s\S]*\}$/.test(k) ? this.value(k, step) : undefined));
      const keyOf = (i: number, k: string, kv: Value | undefined): string => {
        if (dynamic[i] === undefined) return k;
        if (typeof kv !== "string")
          return raise("TypeError", `map key ${k} must evaluate to a string, got ${typeName(kv ?? null)}`);
        return kv;
      };
      if (entries.every(([, c]) => !c.isAsync) && dynamic.every((d) => d === undefined || !d.isAsync)) {
        return {
          isAsync: false,
          evaluate: (scope, exec) => {
            const m = newMap();
            for (let i = 0; i < entries.length; i++) {
              const [k, c] = entries[i] as (typeof entries)[number];
              const d = dynamic[i];
              m[keyOf(i, k, d ? (d.evaluate(scope, exec) as Value) : undefined)] = c.evaluate(
                scope,
                exec,
              ) as Value;
            }
            return m;
          },
        };
      }
      return {
        isAsync: true,
        evaluate: async (scope, exec) => {
          const m = newMap();
          for (let i = 0; i < entries.length; i++) {
            const [k, c] = entries[i] as (typeof entries)[number];
            const d = dynamic[i];
            m[keyOf(i, k, d ? await d.evaluate(scope, exec) : undefined)] = await c.evaluate(scope, exec);
          }
          return m;
        },
      };
    }
    this.problem(step, `unsupported value ${String(v)}`);
    return constant(null);
  }

  parse(text: string, step: string): Node | undefined {
    if (text.length > MAX_EXPRESSION_LENGTH) {
      this.problem(step, `expression longer than ${MAX_EXPRESSION_LENGTH} characters`);
      return undefined;
    }
    try {
      return parseExpression(text);
    } catch (err) {
      if (err instanceof ExpressionSyntaxError) {
        this.problem(step, `invalid expression \${${text}}: ${err.message}`);
        return undefined;
      }
      throw err;
    }
  }

  expression(text: string, step: string): Compiled {
    const node = this.parse(text, step);
    return node ? compileNode(node, this.env(step)) : constant(null);
  }

  target(text: unknown, step: string, parallel?: BranchWriteRules): AssignTarget | undefined {
    if (typeof text !== "string") {
      this.problem(step, `assignment target must be a variable name, got ${describe(text)}`);
      return undefined;
    }
    const node = this.parse(text, step);
    if (!node) return undefined;
    const keys: Compiled[] = [];
    let n: Node = node;
    while (n.kind === "member" || n.kind === "index") {
      keys.unshift(n.kind === "member" ? constant(n.name) : compileNode(n.index, this.env(step)));
      n = n.obj;
    }
    if (n.kind !== "var") {
      this.problem(step, `"${text}" is not a variable, map key or list element that can be assigned`);
      return undefined;
    }
    if (parallel && !parallel.shared.has(n.name) && parallel.outer.has(n.name)) {
      this.problem(
        step,
        `variable "${n.name}" belongs to the enclosing scope; list it in the parallel step's shared to assign it`,
      );
    }
    return { root: n.name, keys };
  }

  varName(v: unknown, step: string, what: string): string | undefined {
    if (typeof v !== "string" || !VAR_NAME.test(v)) {
      this.problem(
        step,
        `${what} must be a variable name (letters, digits, underscores), got ${describe(v)}`,
      );
      return undefined;
    }
    return v;
  }

  block(list: unknown, ctx: BlockContext, where: string | undefined): Block {
    const block: Block = { steps: [], index: new Map() };
    if (!Array.isArray(list) || list.length === 0) {
      this.problem(where, "steps must be a non-empty list of steps");
      return block;
    }
    const inner: BlockContext = { ...ctx, chain: [block, ...ctx.chain] };
    for (const item of list) {
      if (!isPlainMap(item) || Object.keys(item).length !== 1) {
        this.problem(
          where,
          `each step must be a map with exactly one key, the step name; got ${describe(item)}`,
        );
        continue;
      }
      const [name, body] = Object.entries(item)[0] as [string, unknown];
      if (ctx.names.has(name)) this.problem(name, `duplicate step name "${name}"`);
      else block.index.set(name, block.steps.length);
      ctx.names.add(name);
      block.steps.push({ name, exec: this.step(name, body, inner) });
    }
    return block;
  }

  next(v: unknown, step: string, ctx: BlockContext): Signal | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== "string") {
      this.problem(step, `next must be a step name, end, break or continue; got ${describe(v)}`);
      return undefined;
    }
    if (v === "end") return END;
    if (v === "break" || v === "continue") {
      if (ctx.loop === "none") this.problem(step, `next: ${v} is only allowed inside a for loop`);
      if (v === "break" && ctx.loop === "parallel-for")
        this.problem(step, "next: break is not allowed in a parallel for loop");
      return v === "break" ? BREAK : CONTINUE;
    }
    this.pending.push({ step, target: v, chain: ctx.chain });
    return { kind: "next", target: v };
  }

  step(name: string, body: unknown, ctx: BlockContext): StepFn {
    const noop = () => undefined;
    if (!isPlainMap(body)) {
      this.problem(name, `a step must be a map of fields, got ${describe(body)}`);
      return noop;
    }
    const kind = stepKind(body, (message) => this.problem(name, message));
    if (!kind) return noop;
    const next = this.next(body.next, name, ctx);
    switch (kind) {
      case "next":
        return () => next;
      case "assign":
        return compileAssign(this, name, body.assign, next, ctx);
      case "call":
        return compileCall(this, name, body, next, ctx);
      case "switch":
        return compileSwitch(this, name, body.switch, next, ctx);
      case "for":
        return compileFor(this, name, body.for, next, ctx);
      case "parallel":
        return compileParallel(this, name, body.parallel, next, ctx);
      case "try":
        return compileTry(this, name, body, next, ctx);
      case "raise": {
        const v = this.value(body.raise, name);
        if (v.isAsync) {
          const f = v.evaluate;
          return async (scope, exec) => {
            throw new WorkflowError(copyValue(await f(scope, exec)));
          };
        }
        const f = v.evaluate;
        return (scope, exec) => {
          throw new WorkflowError(copyValue(f(scope, exec)));
        };
      }
      case "return": {
        if (ctx.parallel) this.problem(name, "return is not allowed inside a parallel step");
        const v = this.value(body.return, name);
        if (v.isAsync) {
          const f = v.evaluate;
          return async (scope, exec) => ({ kind: "return", value: await f(scope, exec) });
        }
        const f = v.evaluate;
        return (scope, exec) => ({ kind: "return", value: f(scope, exec) });
      }
      case "steps": {
        const block = this.block(body.steps, ctx, name);
        return async (scope, exec) => (await runBlock(block, scope, exec)) ?? next;
      }
    }
  }
}
