import { randomBytes, randomUUID } from "node:crypto";
import { BatchlineError } from "../../core/errors.ts";
import { parseWorkflow, type WorkflowProgram } from "./compile/program.ts";
import { createConnectorRegistry } from "./connectors/defaults.ts";
import type { ConnectorRegistry } from "./connectors/registry.ts";
import type { RuntimeLimits } from "./limits.ts";
import { type ExecutionRecord, type StartedExecution, startExecution } from "./run.ts";
import type { Clock } from "./runtime.ts";

export type ExecutionState = "ACTIVE" | "SUCCEEDED" | "FAILED" | "CANCELLED";

/** An execution as the Executions API shows it: argument and result are JSON text, as the API returns them. */
export interface Execution {
  /** `projects/P/locations/L/workflows/W/executions/ID` */
  name: string;
  id: string;
  workflowId: string;
  workflowRevisionId: string;
  state: ExecutionState;
  argument: string;
  result?: string;
  error?: { payload: string; context: string };
  startTime: string;
  endTime?: string;
  /** Like the API's duration: seconds with a trailing `s`, e.g. `0.042s`. */
  duration?: string;
  status: { currentSteps: Array<{ routine: string; step: string }> };
  stepCount: number;
}

export interface DeployedWorkflow {
  id: string;
  revisionId: string;
  program: WorkflowProgram;
  env: Record<string, string>;
  fileName?: string;
  /** The source as deployed (the Workflows API's `sourceContents`). */
  source: string;
  /** When the first revision was deployed, and when this one was (RFC 3339). */
  createTime: string;
  revisionCreateTime: string;
}

export interface WorkflowEngineOptions {
  projectId?: string;
  location?: string;
  connectors?: ConnectorRegistry;
  logSink?: (entry: unknown) => void;
  clock?: Clock;
  limits?: Partial<RuntimeLimits>;
}

/** Asked for a workflow or execution that does not exist. */
export class NotFoundError extends BatchlineError {}

interface Entry {
  started: StartedExecution;
  workflowId: string;
  revisionId: string;
  id: string;
  argument: string;
  record?: ExecutionRecord;
  startMs: number;
}

/**
 * Deployed workflows by id and their executions, kept the way the Workflows and Executions APIs keep
 * them: deploy creates a new revision, execute starts an ACTIVE execution, cancel stops it at its next step
 * (or inside a sleep/HTTP wait) and marks it CANCELLED.
 */
export class WorkflowEngine {
  private readonly workflows = new Map<string, DeployedWorkflow>();
  private readonly executions = new Map<string, Entry>();
  readonly projectId: string;
  readonly location: string;
  private readonly connectors: ConnectorRegistry;

  constructor(private readonly options: WorkflowEngineOptions = {}) {
    this.projectId = options.projectId ?? "local-project";
    this.location = options.location ?? "us-central1";
    this.connectors = options.connectors ?? createConnectorRegistry();
  }

  /** Deploys (or redeploys, as a new revision) workflow `id`; throws WorkflowDeployError on bad source. */
  deploy(
    id: string,
    source: string,
    options: { env?: Record<string, string>; fileName?: string } = {},
  ): DeployedWorkflow {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(id)) {
      throw new BatchlineError(
        `workflow id ${JSON.stringify(id)} must start with a letter and use letters, digits, - and _`,
      );
    }
    const program = parseWorkflow(source, { fileName: options.fileName, connectors: this.connectors });
    const previous = this.workflows.get(id);
    const revision = previous ? Number.parseInt(previous.revisionId, 10) + 1 : 1;
    const now = new Date().toISOString();
    const deployed: DeployedWorkflow = {
      id,
      revisionId: `${String(revision).padStart(6, "0")}-${randomBytes(2).toString("hex").slice(0, 3)}`,
      program,
      env: { ...options.env },
      fileName: options.fileName,
      source,
      createTime: previous?.createTime ?? now,
      revisionCreateTime: now,
    };
    this.workflows.set(id, deployed);
    return deployed;
  }

  getWorkflow(id: string): DeployedWorkflow {
    const w = this.workflows.get(id);
    if (!w) throw new NotFoundError(`workflow ${id} is not deployed`);
    return w;
  }

  /** Deployed workflows (latest revision of each), in the order they were first deployed. */
  listWorkflows(): DeployedWorkflow[] {
    return [...this.workflows.values()];
  }

  /** Starts an execution of the latest revision; it runs in the background. */
  execute(workflowId: string, argument?: unknown): Execution {
    const w = this.getWorkflow(workflowId);
    const id = randomUUID();
    const started = startExecution(w.program, {
      argument,
      env: w.env,
      connectors: this.connectors,
      projectId: this.projectId,
      location: this.location,
      workflowId,
      revisionId: w.revisionId,
      executionId: id,
      logSink: this.options.logSink,
      clock: this.options.clock,
      limits: this.options.limits,
    });
    const entry: Entry = {
      started,
      workflowId,
      revisionId: w.revisionId,
      id,
      argument: argument === undefined ? "null" : JSON.stringify(argument),
      startMs: started.exec.clock.now(),
    };
    this.executions.set(id, entry);
    void started.done.then((rec) => {
      entry.record = rec;
    });
    return this.view(entry);
  }

  /** An execution by id or full name. */
  get(idOrName: string): Execution {
    return this.view(this.entry(idOrName));
  }

  /** Executions, newest first; optionally of one workflow only. */
  list(workflowId?: string): Execution[] {
    return [...this.executions.values()]
      .filter((e) => workflowId === undefined || e.workflowId === workflowId)
      .reverse()
      .map((e) => this.view(e));
  }

  /** Cancels an ACTIVE execution; cancelling a finished one is an error, as in the API. */
  async cancel(idOrName: string): Promise<Execution> {
    const e = this.entry(idOrName);
    if (e.record) throw new BatchlineError(`execution ${e.id} is already ${e.record.state}`);
    e.started.cancel();
    e.record = await e.started.done;
    return this.view(e);
  }

  /** Resolves when the execution has ended. */
  async wait(idOrName: string): Promise<Execution> {
    const e = this.entry(idOrName);
    e.record = await e.started.done;
    return this.view(e);
  }

  /** The ended execution's full record (plain result and error, step count, peak variable memory). */
  async record(idOrName: string): Promise<ExecutionRecord> {
    const e = this.entry(idOrName);
    e.record = await e.started.done;
    return e.record;
  }

  private entry(idOrName: string): Entry {
    const id = idOrName.includes("/") ? (idOrName.split("/").pop() as string) : idOrName;
    const e = this.executions.get(id);
    if (!e) throw new NotFoundError(`execution ${idOrName} not found`);
    return e;
  }

  private view(e: Entry): Execution {
    const x = e.started.exec;
    const base = {
      name: `projects/${this.projectId}/locations/${this.location}/workflows/${e.workflowId}/executions/${e.id}`,
      id: e.id,
      workflowId: e.workflowId,
      workflowRevisionId: e.revisionId,
      argument: e.argument,
      stepCount: x.steps,
    };
    const r = e.record;
    if (!r) {
      return {
        ...base,
        state: "ACTIVE",
        startTime: new Date(e.startMs).toISOString(),
        status: { currentSteps: x.currentStep ? [{ routine: x.currentRoutine, step: x.currentStep }] : [] },
      };
    }
    const out: Execution = {
      ...base,
      state: r.state,
      startTime: r.startTime,
      endTime: r.endTime,
      duration: `${((Date.parse(r.endTime) - Date.parse(r.startTime)) / 1000).toFixed(3)}s`,
      status: { currentSteps: [] },
      stepCount: r.stepCount,
    };
    if (r.state === "SUCCEEDED") out.result = JSON.stringify(r.result ?? null);
    if (r.error) out.error = { payload: JSON.stringify(r.error.payload), context: r.error.context ?? "" };
    return out;
  }
}
