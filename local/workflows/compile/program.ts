import { parseDocument } from "yaml";
import { createConnectorRegistry } from "../connectors/defaults.ts";
import type { ConnectorRegistry } from "../connectors/registry.ts";
import { WorkflowDeployError } from "../errors.ts";
import type { Routine } from "../interpreter.ts";
import { MAX_SOURCE_BYTES } from "../limits.ts";
import { ProgramCompiler } from "./deploy-state.ts";
import { RoutineCompiler } from "./routine.ts";
import { describe, isPlainMap, type PlainMap } from "./shared.ts";
import { params, VAR_NAME } from "./validate.ts";

/** A deployed (parsed, validated and compiled) workflow. */
export interface WorkflowProgram {
  readonly fileName?: string;
  readonly main: Routine;
  readonly routines: ReadonlyMap<string, Routine>;
  /** Connector methods the workflow calls. */
  readonly connectors: readonly string[];
}

export interface ParseOptions {
  /** Named in deploy problems. */
  fileName?: string;
  /** Connector methods deploy accepts; defaults to the built-in ones. */
  connectors?: ConnectorRegistry;
}
/**
 * Parses and deploys a workflow written in YAML or JSON: validates it the way the service does at deploy
 * time and compiles every expression. Throws WorkflowDeployError listing every problem found.
 */
export function parseWorkflow(source: string, options: ParseOptions = {}): WorkflowProgram {
  const program = new ProgramCompiler(options.fileName, options.connectors ?? defaultRegistry());
  const fail = () => new WorkflowDeployError(program.problems);
  if (Buffer.byteLength(source, "utf8") > MAX_SOURCE_BYTES) {
    program.problem(undefined, `source is larger than the ${MAX_SOURCE_BYTES / 1024} KB limit`);
    throw fail();
  }
  const doc = parseDocument(source, { intAsBigInt: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors)
      program.problem(undefined, `could not parse the workflow: ${e.message.split("\n")[0]}`);
    throw fail();
  }
  const root: unknown = doc.toJS({ maxAliasCount: 100 });
  let defs: PlainMap;
  if (Array.isArray(root)) defs = { main: { steps: root } };
  else if (isPlainMap(root)) defs = root;
  else {
    program.problem(undefined, "a workflow is a list of steps or a map of workflow definitions with a main");
    throw fail();
  }
  if (!("main" in defs)) program.problem(undefined, "the workflow has no main workflow");
  for (const [name, def] of Object.entries(defs)) {
    if (!isPlainMap(def)) {
      program.problem(undefined, `${name}: a workflow definition is a map with steps (and optional params)`);
      continue;
    }
    for (const k of Object.keys(def)) {
      if (k !== "params" && k !== "steps")
        program.problem(undefined, `${name}: unknown field "${k}" in a workflow definition`);
    }
    const ps = params(def.params, name, program);
    if (name === "main" && ps.length > 1)
      program.problem(undefined, "main takes at most one parameter (the execution argument)");
    if (!VAR_NAME.test(name)) program.problem(undefined, `invalid workflow name ${describe(name)}`);
    program.signatures.set(name, { params: ps.map((p) => ({ name: p.name, required: p.required })) });
  }
  const routines = new Map<string, Routine>();
  for (const [name, def] of Object.entries(defs)) {
    if (!isPlainMap(def)) continue;
    const routine = new RoutineCompiler(name, def, program);
    const body = routine.block(def.steps, { chain: [], loop: "none", names: new Set() }, undefined);
    for (const { step, target, chain } of routine.pending) {
      if (!chain.some((b) => b.index.has(target))) {
        routine.problem(
          step,
          `next: "${target}" is not a step that can be reached from here (undefined, or inside another block)`,
        );
      }
    }
    routines.set(name, {
      name,
      params: params(def.params, name, new ProgramCompiler(undefined, program.connectors)),
      body,
    });
  }
  if (program.problems.length > 0) throw fail();
  return {
    fileName: options.fileName,
    main: routines.get("main") as Routine,
    routines,
    connectors: [...program.usedConnectors].sort(),
  };
}

let defaults: ConnectorRegistry | undefined;
function defaultRegistry(): ConnectorRegistry {
  defaults ??= createConnectorRegistry();
  return defaults;
}
