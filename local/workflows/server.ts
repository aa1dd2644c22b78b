import { createServer } from "node:http";
import { protos } from "@google-cloud/workflows";
import { BatchlineError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { type BatchApiError, failedPrecondition, invalidArgument, notFound } from "../batch/errors.ts";
import { type FieldLookup, matches, parseFilter } from "../batch/filter.ts";
import {
  type ApiRoute,
  dispatch,
  intParam,
  type LocalApiServer,
  listen,
  type Params,
  queryParams,
  readJsonBody,
  sendError,
  sendJson,
  snakeCase,
} from "../google-api.ts";
import { type DeployedWorkflow, type Execution, NotFoundError, type WorkflowEngine } from "./engine.ts";
import { ExecutionArgumentError } from "./run.ts";

/**
 * The Workflow Executions v1 and Workflows v1 REST surfaces (executions.proto's and workflows.proto's
 * google.api.http rules) over a WorkflowEngine, on one port:
 *   POST /v1/{parent=projects/*\/locations/*\/workflows/*}/executions                  body: Execution
 *   GET  /v1/{name=projects/*\/locations/*\/workflows/*\/executions/*}?view=BASIC|FULL
 *   GET  /v1/{parent=projects/*\/locations/*\/workflows/*}/executions?pageSize&pageToken&filter&orderBy&view
 *   POST /v1/{name=projects/*\/locations/*\/workflows/*\/executions/*}:cancel           body: {}
 *   GET  /v1/{name=projects/*\/locations/*\/workflows/*}?revisionId
 *   GET  /v1/{parent=projects/*\/locations/*}/workflows?pageSize&pageToken&filter&orderBy
 * The paths of the two APIs never collide, so the official clients and gcloud can be pointed at the same
 * URL for both services. Errors are Google API error bodies (the same shape and helpers as the local Batch);
 * query parameters may be camelCase or snake_case; `$alt=json;enum-encoding=int`, which the client
 * libraries' REST transport sends, makes enums come back as numbers.
 *
 * Only the engine's project and location exist: any other is answered as a workflow that does not exist.
 * Labels and the call log level of an execution are kept here, beside the engine, for the executions
 * created through this server.
 */

/** A local API server on a loopback port (`url` is `http://127.0.0.1:PORT`). */
export type WorkflowsServer = LocalApiServer;

const EXEC = protos.google.cloud.workflows.executions.v1;
const WF = protos.google.cloud.workflows.v1;
const CALL_LOG_LEVELS = EXEC.Execution.CallLogLevel as unknown as Record<string, number>;
const EXECUTION_STATES = EXEC.Execution.State as unknown as Record<string, number>;
const EXECUTION_VIEWS = EXEC.ExecutionView as unknown as Record<string, number>;
const WORKFLOW_STATES = WF.Workflow.State as unknown as Record<string, number>;

/** An enum given by name or number (the client libraries send numbers), as its name. */
function enumValue(
  values: Record<string, number>,
  typeName: string,
  field: string,
  v: unknown,
): string | undefined {
  if (v === undefined || v === null) return undefined;
  const names = Object.keys(values);
  const name =
    typeof v === "number"
      ? names.find((n) => values[n] === v)
      : names.includes(String(v))
        ? String(v)
        : undefined;
  if (name === undefined) {
    throw invalidArgument(
      `Invalid value at '${field}' (type.googleapis.com/${typeName}), ${JSON.stringify(v)}`,
      [
        {
          field,
          description: `Invalid value at '${field}' (type.googleapis.com/${typeName}), ${JSON.stringify(v)}`,
        },
      ],
    );
  }
  return name;
}

function viewParam(p: Params, fallback: "BASIC" | "FULL"): "BASIC" | "FULL" {
  const raw = p.get("view");
  if (raw === undefined) return fallback;
  const name = enumValue(
    EXECUTION_VIEWS,
    "google.cloud.workflows.executions.v1.ExecutionView",
    "view",
    /^\d+$/.test(raw) ? Number(raw) : raw,
  );
  return name === "BASIC" || name === "FULL" ? name : fallback;
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// --- the Execution body of executions.create ------------------------------------------------------------

/** Fields of the v1 Execution resource the service sets itself; a request may carry them, they are ignored. */
const EXECUTION_OUTPUT_ONLY = [
  "name",
  "startTime",
  "endTime",
  "duration",
  "state",
  "result",
  "error",
  "workflowRevisionId",
  "status",
  "stateError",
  "createTime",
];

/**
 * Fields of the v1 Execution resource that are accepted and have no effect locally: there is no concurrency
 * quota to overflow and no execution history (step entries) to keep.
 */
const EXECUTION_ACCEPTED = ["disableConcurrencyQuotaOverflowBuffering", "executionHistoryLevel"];

interface ExecutionInput {
  argument: string;
  callLogLevel?: string;
  labels?: Record<string, string>;
}

const LABEL_KEY = /^\p{Ll}[\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

function parseExecutionBody(body: unknown): ExecutionInput {
  if (!isObject(body)) {
    throw invalidArgument(`Invalid JSON payload received. Expected an object for 'execution'.`);
  }
  const known = new Map<string, string>();
  for (const f of ["argument", "callLogLevel", "labels", ...EXECUTION_OUTPUT_ONLY, ...EXECUTION_ACCEPTED]) {
    known.set(f, f);
    known.set(snakeCase(f), f);
  }
  const fields: JsonObject = {};
  for (const [key, value] of Object.entries(body)) {
    const name = known.get(key);
    if (!name) {
      const message = `Invalid JSON payload received. Unknown name "${key}" at 'execution': Cannot find field.`;
      throw invalidArgument(message, [{ field: "execution", description: message }]);
    }
    if (value !== null) fields[name] = value;
  }
  const argument = fields.argument ?? "";
  if (typeof argument !== "string") {
    throw invalidArgument(`Invalid value at 'execution.argument' (TYPE_STRING), ${JSON.stringify(argument)}`);
  }
  const input: ExecutionInput = { argument: argument === "" ? "null" : argument };
  const level = enumValue(
    CALL_LOG_LEVELS,
    "google.cloud.workflows.executions.v1.Execution.CallLogLevel",
    "execution.call_log_level",
    fields.callLogLevel,
  );
  if (level !== undefined && level !== "CALL_LOG_LEVEL_UNSPECIFIED") input.callLogLevel = level;
  if (fields.labels !== undefined) {
    const labels = fields.labels;
    if (!isObject(labels) || Object.values(labels).some((v) => typeof v !== "string")) {
      throw invalidArgument(
        `Invalid value at 'execution.labels' (map<string, string>), ${JSON.stringify(labels)}`,
      );
    }
    const entries = Object.entries(labels as Record<string, string>);
    // The limits executions.proto documents for labels.
    if (entries.length > 64) throw invalidArgument("Labels can contain at most 64 entries.");
    for (const [k, v] of entries) {
      if (!LABEL_KEY.test(k)) {
        throw invalidArgument(
          `Invalid label key "${k}": keys must start with a lowercase letter, be at most 63 characters and use lowercase letters, digits, _ and -.`,
        );
      }
      if (!LABEL_VALUE.test(v)) {
        throw invalidArgument(
          `Invalid label value "${v}" for key "${k}": values must be at most 63 characters of lowercase letters, digits, _ and -.`,
        );
      }
    }
    if (entries.length > 0) input.labels = Object.fromEntries(entries);
  }
  return input;
}

// --- names --------------------------------------------------------------------------------------------

interface Names {
  project: string;
  location: string;
}

function workflowName(n: Names, workflow: string): string {
  return `projects/${n.project}/locations/${n.location}/workflows/${workflow}`;
}

function resourceNotFound(name: string): BatchApiError {
  return notFound(`Resource '${name}' was not found`);
}

// --- listing: filter, order, pages ----------------------------------------------------------------------

interface PageToken {
  /** Id of the last item on the previous page. */
  after: string;
  /** The request the token belongs to (filter, order, view): AIP-158 says the others must not change. */
  query: string;
}

function encodeToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t)).toString("base64url");
}

function decodeToken(token: string, query: string): PageToken {
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    t = undefined;
  }
  if (!isObject(t) || typeof t.after !== "string" || typeof t.query !== "string") {
    throw invalidArgument(`Invalid page_token "${token}"`);
  }
  if (t.query !== query) {
    throw invalidArgument(
      "The page_token was issued for a request with a different filter, order_by or view.",
    );
  }
  return t as unknown as PageToken;
}

type Compare<T> = (a: T, b: T) => number;

/**
 * A page of `items` (already filtered and sorted by `cmp`), resumed after the token's item. The token names
 * the last item given, not an offset, so executions started between two pages do not shift the next page;
 * `anchor` finds that item even when it no longer passes the filter (an execution that has since finished).
 */
function page<T>(
  items: T[],
  cmp: Compare<T>,
  id: (item: T) => string,
  anchor: (id: string) => T | undefined,
  options: { pageSize?: number; pageToken?: string; query: string; defaultSize: number; maxSize: number },
): { page: T[]; next?: string } {
  if (options.pageSize !== undefined && options.pageSize < 0) {
    throw invalidArgument("page_size must not be negative.");
  }
  const size = Math.min(options.pageSize || options.defaultSize, options.maxSize);
  let start = 0;
  if (options.pageToken) {
    const token = decodeToken(options.pageToken, options.query);
    const last = anchor(token.after);
    if (last === undefined) throw invalidArgument(`Invalid page_token "${options.pageToken}"`);
    start = items.findIndex((x) => cmp(x, last) > 0);
    if (start === -1) start = items.length;
  }
  const slice = items.slice(start, start + size);
  const end = start + size;
  const lastGiven = slice[slice.length - 1];
  return end < items.length && lastGiven !== undefined
    ? { page: slice, next: encodeToken({ after: id(lastGiven), query: options.query }) }
    : { page: slice };
}

/** `order_by` (AIP-132): comma-separated fields, each optionally followed by `desc` (or `asc`). */
function parseOrderBy<T>(
  text: string | undefined,
  keys: Record<string, (item: T) => string | number | undefined>,
  tieBreak: Compare<T>,
): Compare<T> {
  const parts: Array<{ key: (item: T) => string | number | undefined; desc: boolean }> = [];
  for (const clause of (text ?? "").split(",")) {
    if (clause.trim() === "") continue;
    const m = /^\s*([A-Za-z_]+)(?:\s+(asc|desc))?\s*$/i.exec(clause);
    const key = m ? keys[m[1] as string] : undefined;
    if (!m || !key) {
      throw invalidArgument(
        `Invalid order_by "${text}": supported fields are ${[...new Set(Object.keys(keys).filter((k) => !k.includes("_")))].join(", ")}, each optionally followed by "desc".`,
      );
    }
    parts.push({ key, desc: m[2]?.toLowerCase() === "desc" });
  }
  return (a, b) => {
    for (const { key, desc } of parts) {
      const x = key(a);
      const y = key(b);
      // Unset values (an ACTIVE execution's endTime) sort after set ones.
      const c =
        x === y ? 0 : x === undefined ? 1 : y === undefined ? -1 : x < y ? (desc ? 1 : -1) : desc ? -1 : 1;
      if (c !== 0) return c;
    }
    return tieBreak(a, b);
  };
}

function durationSeconds(duration: string | undefined): number | undefined {
  return duration === undefined ? undefined : Number.parseFloat(duration);
}

// --- the server -----------------------------------------------------------------------------------------

interface Reply {
  status: number;
  body: unknown;
  /** What the body is, for enum-encoding=int. */
  type: "Execution" | "ListExecutionsResponse" | "Workflow" | "ListWorkflowsResponse";
}

interface ExecutionExtras {
  labels?: Record<string, string>;
  callLogLevel?: string;
}

class Api {
  /** Labels and call log level of executions created here, by execution id. */
  private readonly extras = new Map<string, ExecutionExtras>();

  constructor(private readonly engine: WorkflowEngine) {}

  private workflow(n: Names, id: string): DeployedWorkflow {
    const name = workflowName(n, id);
    if (n.project !== this.engine.projectId || n.location !== this.engine.location)
      throw resourceNotFound(name);
    try {
      return this.engine.getWorkflow(id);
    } catch (err) {
      if (err instanceof NotFoundError) throw resourceNotFound(name);
      throw err;
    }
  }

  private execution(n: Names, workflow: string, id: string): Execution {
    const name = `${workflowName(n, workflow)}/executions/${id}`;
    if (n.project !== this.engine.projectId || n.location !== this.engine.location)
      throw resourceNotFound(name);
    let e: Execution;
    try {
      e = this.engine.get(id);
    } catch (err) {
      if (err instanceof NotFoundError) throw resourceNotFound(name);
      throw err;
    }
    if (e.workflowId !== workflow) throw resourceNotFound(name);
    return e;
  }

  /** The v1 Execution resource, in the FULL view or the BASIC one executions.proto lists. */
  executionJson(e: Execution, view: "BASIC" | "FULL"): JsonObject {
    const out: JsonObject = { name: e.name, createTime: e.startTime, startTime: e.startTime };
    if (e.endTime !== undefined) out.endTime = e.endTime;
    if (e.duration !== undefined) out.duration = e.duration;
    out.state = e.state;
    out.workflowRevisionId = e.workflowRevisionId;
    if (view === "BASIC") return out;
    out.argument = e.argument;
    if (e.result !== undefined) out.result = e.result;
    if (e.error !== undefined) out.error = { payload: e.error.payload, context: e.error.context };
    const extras = this.extras.get(e.id);
    if (extras?.callLogLevel !== undefined) out.callLogLevel = extras.callLogLevel;
    if (extras?.labels !== undefined) out.labels = extras.labels;
    if (e.status.currentSteps.length > 0) {
      out.status = { currentSteps: e.status.currentSteps.map((s) => ({ routine: s.routine, step: s.step })) };
    }
    return out;
  }

  workflowJson(n: Names, w: DeployedWorkflow): JsonObject {
    const out: JsonObject = {
      name: workflowName(n, w.id),
      state: "ACTIVE",
      revisionId: w.revisionId,
      createTime: w.createTime,
      updateTime: w.revisionCreateTime,
      revisionCreateTime: w.revisionCreateTime,
      sourceContents: w.source,
    };
    if (Object.keys(w.env).length > 0) out.userEnvVars = { ...w.env };
    return out;
  }

  createExecution(n: Names, workflow: string, body: unknown): Reply {
    this.workflow(n, workflow);
    const input = parseExecutionBody(body);
    let argument: unknown;
    try {
      argument = JSON.parse(input.argument);
    } catch (err) {
      const message = `Invalid value at 'execution.argument': the argument is not valid JSON: ${(err as Error).message}`;
      throw invalidArgument(message, [{ field: "execution.argument", description: message }]);
    }
    let e: Execution;
    try {
      e = this.engine.execute(workflow, argument);
    } catch (err) {
      if (err instanceof ExecutionArgumentError) {
        throw invalidArgument(`Invalid value at 'execution.argument': ${err.message}`);
      }
      throw err;
    }
    const extras: ExecutionExtras = {};
    if (input.labels) extras.labels = input.labels;
    if (input.callLogLevel) extras.callLogLevel = input.callLogLevel;
    this.extras.set(e.id, extras);
    return { status: 200, body: this.executionJson(e, "FULL"), type: "Execution" };
  }

  getExecution(n: Names, workflow: string, id: string, url: URL): Reply {
    const p = queryParams(url, ["view"]);
    const view = viewParam(p, "FULL");
    return {
      status: 200,
      body: this.executionJson(this.execution(n, workflow, id), view),
      type: "Execution",
    };
  }

  async cancelExecution(n: Names, workflow: string, id: string): Promise<Reply> {
    const e = this.execution(n, workflow, id);
    const refuse = (state: string) =>
      failedPrecondition(
        `Execution ${e.name} is ${state} and cannot be cancelled: only ACTIVE executions can.`,
      );
    if (e.state !== "ACTIVE") throw refuse(e.state);
    try {
      const done = await this.engine.cancel(e.id);
      // It had ended on its own just before the cancel reached it.
      if (done.state !== "CANCELLED") throw refuse(done.state);
      return { status: 200, body: this.executionJson(done, "FULL"), type: "Execution" };
    } catch (err) {
      // It ended between the check and the cancel.
      if (err instanceof BatchlineError && !(err instanceof NotFoundError))
        throw refuse(this.engine.get(e.id).state);
      throw err;
    }
  }

  listExecutions(n: Names, workflow: string, url: URL): Reply {
    const p = queryParams(url, ["pageSize", "pageToken", "filter", "orderBy", "view"]);
    this.workflow(n, workflow);
    const view = viewParam(p, "BASIC");
    // Newest first; the position is the creation order (two executions may share a millisecond).
    const all = this.engine.list(workflow);
    const seq = new Map(all.map((e, i) => [e.id, i]));
    const age = (e: Execution) => seq.get(e.id) ?? -1;
    const time = (e: Execution) => -age(e);
    const keys: Record<string, (e: Execution) => string | number | undefined> = {
      executionId: (e) => e.id,
      executionID: (e) => e.id,
      execution_id: (e) => e.id,
      state: (e) => e.state,
      createTime: time,
      create_time: time,
      startTime: time,
      start_time: time,
      endTime: (e) => e.endTime,
      end_time: (e) => e.endTime,
      duration: (e) => durationSeconds(e.duration),
      workflowRevisionId: (e) => e.workflowRevisionId,
      workflowRevisionID: (e) => e.workflowRevisionId,
      workflow_revision_id: (e) => e.workflowRevisionId,
    };
    const newestFirst: Compare<Execution> = (a, b) => age(a) - age(b);
    const cmp = p.has("orderBy") ? parseOrderBy(p.get("orderBy"), keys, newestFirst) : newestFirst;
    const filter = parseFilter(p.get("filter") ?? "");
    const lookup =
      (e: Execution): FieldLookup =>
      (field) => {
        switch (field) {
          case "executionId":
          case "executionID":
          case "execution_id":
            return e.id;
          case "state":
            return e.state;
          case "workflowRevisionId":
          case "workflowRevisionID":
          case "workflow_revision_id":
            return e.workflowRevisionId;
          case "createTime":
          case "create_time":
          case "startTime":
          case "start_time":
            return e.startTime;
          case "endTime":
          case "end_time":
            return e.endTime;
          case "stepName":
          case "step_name":
            return e.status.currentSteps[0]?.step;
          default:
            if (field.startsWith("labels."))
              return this.extras.get(e.id)?.labels?.[field.slice("labels.".length)];
            return null;
        }
      };
    const selected = all.filter((e) => matches(filter, lookup(e))).sort(cmp);
    const result = page(
      selected,
      cmp,
      (e) => e.id,
      (id) => all.find((e) => e.id === id),
      {
        pageSize: intParam(p, "pageSize", "page_size"),
        pageToken: p.get("pageToken"),
        query: JSON.stringify([p.get("filter") ?? "", p.get("orderBy") ?? "", view]),
        // executions.proto: 100 by default; at most 1000 in the BASIC view and 100 in the FULL one.
        defaultSize: 100,
        maxSize: view === "BASIC" ? 1000 : 100,
      },
    );
    const body: JsonObject = { executions: result.page.map((e) => this.executionJson(e, view)) };
    if (result.next) body.nextPageToken = result.next;
    return { status: 200, body, type: "ListExecutionsResponse" };
  }

  getWorkflow(n: Names, id: string, url: URL): Reply {
    const p = queryParams(url, ["revisionId"]);
    const w = this.workflow(n, id);
    const revision = p.get("revisionId");
    // Only the latest revision is kept; an older one is answered as the service answers an unknown one.
    if (revision !== undefined && revision !== "" && revision !== w.revisionId) {
      throw resourceNotFound(`${workflowName(n, id)}@${revision}`);
    }
    return { status: 200, body: this.workflowJson(n, w), type: "Workflow" };
  }

  listWorkflows(n: Names, url: URL): Reply {
    const p = queryParams(url, ["pageSize", "pageToken", "filter", "orderBy"]);
    const here = n.project === this.engine.projectId && n.location === this.engine.location;
    const all = here ? this.engine.listWorkflows() : [];
    const seq = new Map(all.map((w, i) => [w.id, i]));
    const deployOrder: Compare<DeployedWorkflow> = (a, b) => (seq.get(a.id) ?? 0) - (seq.get(b.id) ?? 0);
    const keys: Record<string, (w: DeployedWorkflow) => string | number | undefined> = {
      name: (w) => workflowName(n, w.id),
      createTime: (w) => w.createTime,
      create_time: (w) => w.createTime,
      updateTime: (w) => w.revisionCreateTime,
      update_time: (w) => w.revisionCreateTime,
    };
    const cmp = p.has("orderBy") ? parseOrderBy(p.get("orderBy"), keys, deployOrder) : deployOrder;
    const filter = parseFilter(p.get("filter") ?? "");
    const lookup =
      (w: DeployedWorkflow): FieldLookup =>
      (field) => {
        switch (field) {
          case "name":
            return workflowName(n, w.id);
          case "state":
            return "ACTIVE";
          case "revisionId":
          case "revision_id":
            return w.revisionId;
          case "createTime":
          case "create_time":
            return w.createTime;
          case "updateTime":
          case "update_time":
            return w.revisionCreateTime;
          default:
            // Workflows deployed to the engine carry no labels.
            return field.startsWith("labels.") ? undefined : null;
        }
      };
    const selected = all.filter((w) => matches(filter, lookup(w))).sort(cmp);
    const result = page(
      selected,
      cmp,
      (w) => w.id,
      (id) => all.find((w) => w.id === id),
      {
        pageSize: intParam(p, "pageSize", "page_size"),
        pageToken: p.get("pageToken"),
        query: JSON.stringify([p.get("filter") ?? "", p.get("orderBy") ?? ""]),
        defaultSize: 500,
        maxSize: 1000,
      },
    );
    const body: JsonObject = { workflows: result.page.map((w) => this.workflowJson(n, w)) };
    if (result.next) body.nextPageToken = result.next;
    return { status: 200, body, type: "ListWorkflowsResponse" };
  }
}

/** Enums as numbers, for `$alt=json;enum-encoding=int`. */
function executionEnums(e: JsonObject): JsonObject {
  const out = { ...e };
  if (typeof out.state === "string") out.state = EXECUTION_STATES[out.state] ?? out.state;
  if (typeof out.callLogLevel === "string")
    out.callLogLevel = CALL_LOG_LEVELS[out.callLogLevel] ?? out.callLogLevel;
  return out;
}

function workflowEnums(w: JsonObject): JsonObject {
  const out = { ...w };
  if (typeof out.state === "string") out.state = WORKFLOW_STATES[out.state] ?? out.state;
  return out;
}

function numericEnums({ body, type }: Reply): unknown {
  const b = body as JsonObject;
  switch (type) {
    case "Execution":
      return executionEnums(b);
    case "ListExecutionsResponse":
      return { ...b, executions: (b.executions as JsonObject[]).map(executionEnums) };
    case "Workflow":
      return workflowEnums(b);
    case "ListWorkflowsResponse":
      return { ...b, workflows: (b.workflows as JsonObject[]).map(workflowEnums) };
  }
}

const SEG = "([^/:]+)";
const PREFIX = `^/v1/projects/${SEG}/locations/${SEG}`;

type Route = ApiRoute<Api, Reply>;

const names = (seg: string[]): Names => ({ project: seg[0] as string, location: seg[1] as string });

const ROUTES: Route[] = [
  {
    method: "POST",
    pattern: new RegExp(`${PREFIX}/workflows/${SEG}/executions$`),
    run: async (api, seg, url, req) => {
      queryParams(url, []);
      return api.createExecution(names(seg), seg[2] as string, await readJsonBody(req));
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/workflows/${SEG}/executions$`),
    run: (api, seg, url) => api.listExecutions(names(seg), seg[2] as string, url),
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/workflows/${SEG}/executions/${SEG}$`),
    run: (api, seg, url) => api.getExecution(names(seg), seg[2] as string, seg[3] as string, url),
  },
  {
    method: "POST",
    pattern: new RegExp(`${PREFIX}/workflows/${SEG}/executions/${SEG}:cancel$`),
    run: async (api, seg, url, req) => {
      queryParams(url, []);
      await readJsonBody(req);
      return api.cancelExecution(names(seg), seg[2] as string, seg[3] as string);
    },
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/workflows/${SEG}$`),
    run: (api, seg, url) => api.getWorkflow(names(seg), seg[2] as string, url),
  },
  {
    method: "GET",
    pattern: new RegExp(`${PREFIX}/workflows$`),
    run: (api, seg, url) => api.listWorkflows(names(seg), url),
  },
];

/** Serves `engine`'s workflows and executions over HTTP on a loopback port (0: any free port). */
export function startWorkflowsServer(
  engine: WorkflowEngine,
  options: { host?: string; port?: number; logger?: Logger } = {},
): Promise<WorkflowsServer> {
  const host = options.host ?? "127.0.0.1";
  const api = new Api(engine);
  const server = createServer((req, res) => {
    dispatch(ROUTES, api, req, "the Workflow Executions v1 or Workflows v1 API")
      .then((reply) => {
        const url = new URL(req.url ?? "/", "http://localhost");
        const numeric = /enum-encoding=int/.test(url.searchParams.get("$alt") ?? "");
        sendJson(res, reply.status, numeric ? numericEnums(reply) : reply.body);
      })
      .catch((err: unknown) => {
        sendError(res, err, options.logger, "local workflows server");
      });
  });
  return listen(server, host, options.port);
}
