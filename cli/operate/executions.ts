import { runId as computeRunId, type TriggerKind } from "../../core/ids.ts";
import { EXECUTION_STATE_NAMES, enumName } from "../../functions/shared/google-enums.ts";

/** A workflow execution as the operator commands use it, whichever transport the client used. */
export interface ExecutionView {
  /** `projects/P/locations/R/workflows/W/executions/E` */
  name: string;
  id: string;
  /** ACTIVE, SUCCEEDED, FAILED, CANCELLED, QUEUED, UNAVAILABLE */
  state: string;
  createTime: string | null;
  endTime: string | null;
  argument: unknown;
  result: unknown;
  /** The error payload of a FAILED execution, as text. */
  error: string | null;
  /** The innermost step the execution is at (status.currentSteps), e.g. `main.waitForJob`. */
  currentStep: string | null;
}

/** RFC 3339 from a protobuf Timestamp ({seconds, nanos}, seconds maybe a string or a Long) or a string. */
export function timestampIso(ts: unknown): string | null {
  if (ts === null || ts === undefined) return null;
  if (typeof ts === "string") return Number.isNaN(Date.parse(ts)) ? null : new Date(ts).toISOString();
  if (ts instanceof Date) return ts.toISOString();
  const t = ts as { seconds?: unknown; nanos?: unknown };
  if (t.seconds === undefined || t.seconds === null) return null;
  const seconds = Number(String(t.seconds));
  const millis = Math.floor(Number(t.nanos ?? 0) / 1e6);
  return new Date(seconds * 1000 + millis).toISOString();
}

function parseJson(text: unknown): unknown {
  if (typeof text !== "string" || text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Normalizes an Execution from @google-cloud/workflows (gRPC or REST). */
export function executionView(raw: {
  name?: string | null;
  state?: unknown;
  createTime?: unknown;
  startTime?: unknown;
  endTime?: unknown;
  argument?: string | null;
  result?: string | null;
  error?: { payload?: string | null; context?: string | null } | null;
  status?: { currentSteps?: { routine?: string | null; step?: string | null }[] | null } | null;
}): ExecutionView {
  const name = String(raw.name ?? "");
  const steps = raw.status?.currentSteps ?? [];
  const last = steps[steps.length - 1];
  let error: string | null = null;
  if (raw.error?.payload) {
    const payload = parseJson(raw.error.payload);
    const message =
      payload !== null &&
      typeof payload === "object" &&
      typeof (payload as { message?: unknown }).message === "string"
        ? (payload as { message: string }).message
        : typeof payload === "string"
          ? payload
          : JSON.stringify(payload);
    error = raw.error.context ? `${message} (${raw.error.context})` : message;
  }
  return {
    name,
    id: name.split("/").pop() ?? "",
    state: enumName(raw.state, EXECUTION_STATE_NAMES),
    createTime: timestampIso(raw.createTime) ?? timestampIso(raw.startTime),
    endTime: timestampIso(raw.endTime),
    argument: parseJson(raw.argument),
    result: parseJson(raw.result),
    error,
    currentStep: last ? `${last.routine ?? "main"}.${last.step ?? "?"}` : null,
  };
}

/** What an execution is about: its client, trigger kind and the run id plan computes for it. */
export interface ExecutionRun {
  client: string;
  trigger: TriggerKind;
  runId: string;
}

/**
 * The run an execution plans, from its argument alone (the workflow's own routing): an audit-log event of an
 * object under `<product>/<client>/inputs/` is an upload run keyed by the event id; `{client, trigger}` is a
 * schedule, manual or recovery run keyed by the execution id. Null for anything else.
 */
export function executionRun(e: ExecutionView, product: string, bucket: string): ExecutionRun | null {
  const arg = e.argument;
  if (arg === null || typeof arg !== "object") return null;
  const a = arg as Record<string, unknown>;
  if (a.type === "google.cloud.audit.log.v1.written") {
    const data = a.data as { protoPayload?: { resourceName?: unknown } } | undefined;
    const resource = data?.protoPayload?.resourceName;
    const prefix = `projects/_/buckets/${bucket}/objects/${product}/`;
    if (typeof resource !== "string" || !resource.startsWith(prefix) || typeof a.id !== "string") return null;
    const [client, area] = resource.slice(prefix.length).split("/");
    if (!client || area !== "inputs") return null;
    return {
      client,
      trigger: "event",
      runId: computeRunId({ product, client, trigger: "event", key: a.id }),
    };
  }
  const trigger = a.trigger;
  if (
    typeof a.client !== "string" ||
    (trigger !== "schedule" && trigger !== "manual" && trigger !== "recovery")
  ) {
    return null;
  }
  return {
    client: a.client,
    trigger,
    runId: computeRunId({ product, client: a.client, trigger, key: e.id }),
  };
}

/** True when an execution is about this client's runs (its argument names the client or one of its inputs). */
export function isClientExecution(
  e: ExecutionView,
  product: string,
  bucket: string,
  client: string,
): boolean {
  return executionRun(e, product, bucket)?.client === client;
}

/** What a finished execution's result says: a run, nothing to do, or an ignored event. */
export function executionOutcome(e: ExecutionView): "nothing-to-do" | "ignored" | "run" | "none" {
  const r = e.result;
  if (r === null || typeof r !== "object") return "none";
  const result = r as Record<string, unknown>;
  if (result.status === "NOTHING_TO_DO") return "nothing-to-do";
  if (result.ignored === true) return "ignored";
  return typeof result.runId === "string" ? "run" : "none";
}
