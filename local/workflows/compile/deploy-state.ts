import { catalogueMethod, catalogueSource } from "../connectors/catalogue.ts";
import type { ConnectorRegistry } from "../connectors/registry.ts";
import type { DeployProblem } from "../errors.ts";
import type { SubworkflowSignature } from "../expression.ts";
import { stdlibFunction } from "../stdlib/index.ts";
import type { FunctionDef } from "../stdlib/types.ts";
import { collectAssigned } from "./validate.ts";

/** Deploy state of one source: problems found so far, subworkflow signatures, connectors used. */
export class ProgramCompiler {
  readonly problems: DeployProblem[] = [];
  readonly signatures = new Map<string, SubworkflowSignature>();
  readonly usedConnectors = new Set<string>();

  constructor(
    readonly fileName: string | undefined,
    readonly connectors: ConnectorRegistry,
  ) {}

  problem(step: string | undefined, message: string): void {
    const p: DeployProblem = { message };
    if (this.fileName !== undefined) p.file = this.fileName;
    if (step !== undefined) p.step = step;
    this.problems.push(p);
  }

  functionFor(name: string): FunctionDef | undefined {
    const f = stdlibFunction(name);
    if (f) return f;
    if (name.startsWith("googleapis.") && (this.connectors.has(name) || catalogueMethod(name))) {
      return { name, params: [], required: 0, blocking: true, open: true, fn: () => null };
    }
    return undefined;
  }

  unknownMessage(name: string): string {
    if (name.startsWith("googleapis."))
      return `unknown connector ${name}: no Google API method of that name in the connector catalogue (${catalogueSource()})`;
    return `unknown function or subworkflow ${name}`;
  }

  assignedOutside(routineRaw: unknown, parallelRaw: unknown): Set<string> {
    const out = new Set<string>();
    collectAssigned(routineRaw, parallelRaw, out);
    return out;
  }
}
