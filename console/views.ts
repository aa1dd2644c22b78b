/**
 * What the console's JSON API answers, shared by the server (console/source.ts builds these) and the page
 * (console/web/, which imports the types only). Every field is plain JSON.
 */

/** One client on the clients page. */
export interface ClientView {
  id: string;
  displayName: string | null;
  /** The client's config as loaded (defaults applied). */
  config: unknown;
  schedule: { cron: string; timeZone: string; mode: string; nextRun: string | null } | null;
  lastRun: RunRowView | null;
  /** Inputs by state (pending, running, done, failed, poison, invalid). */
  inputs: Record<string, number>;
  topic: string;
}

/** One row of the runs page: a run of one client. */
export interface RunRowView {
  client: string;
  runId: string;
  trigger: string;
  plannedAt: string | null;
  startedAt: string | null;
  inputs: number | null;
  status: string;
  detail: string;
  error: string | null;
}

export interface RunsView {
  runs: RunRowView[];
  /** Executions that had nothing to do, per client (not runs; counted apart as `batchline runs` does). */
  nothingToDo: Record<string, number>;
}

/** Display states of a task on the timeline, one letter each in `TimelineView.states`. */
export const TASK_MARKS = {
  q: "queued",
  r: "running",
  s: "succeeded",
  f: "failed",
} as const;
export type TaskMark = keyof typeof TASK_MARKS;

/**
 * Every task of a run in columns (10,000 tasks are ~100 kB of JSON, not megabytes of objects): task i has
 * state `states[i]`, `attempts[i]` attempts, and ran from `start[i]` to `end[i]` (ms after `origin`; -1 when
 * it did not start or has not ended). A task with more than one attempt is drawn as retried.
 */
export interface TimelineView {
  /** Epoch ms the job was created (or the run planned); null when neither is known. */
  origin: number | null;
  /** Epoch ms the server read the states. */
  now: number;
  states: string;
  attempts: number[];
  start: number[];
  end: number[];
}

export interface InputView {
  index: number;
  object: string;
  generation: string;
  output: string;
  errors: string | null;
  status: string;
  records: number | null;
  badRecords: number | null;
  reason: string | null;
}

export interface RunView {
  client: string;
  runId: string;
  status: string;
  failure: string | null;
  trigger: string | null;
  plannedAt: string | null;
  execution: {
    name: string;
    state: string;
    currentStep: string | null;
    startTime: string | null;
    endTime: string | null;
  } | null;
  job: { name: string; state: string } | null;
  timeline: TimelineView;
  /** Tasks per display state; `retried` counts tasks with more than one attempt. */
  counts: { queued: number; running: number; retried: number; succeeded: number; failed: number };
  /** Inputs in the order worth looking at (failed and with bad records first), at most INPUTS_SHOWN. */
  inputs: InputView[];
  inputCount: number;
  rejected: { object: string; generation: string; reason: string }[];
  /** The message published to the client's topic (the run's summary records it byte for byte), or null. */
  message: { body: unknown; messageId: string | null; attributes: Record<string, string> | null } | null;
  live: boolean;
  /** What the page should say about a run that is not one yet or never became one. */
  note: string | null;
}

export interface LogLineView {
  timestamp: string | null;
  severity: string;
  task: number | null;
  attempt: number | null;
  message: string;
}

export interface LogsView {
  lines: LogLineView[];
  /** True when older lines were left out (the newest LOG_LINES are shown). */
  truncated: boolean;
  note: string | null;
}

export interface BucketView {
  bucket: string;
  prefix: string;
  prefixes: string[];
  objects: { name: string; size: number; updated: string | null; generation: string }[];
  truncated: boolean;
}

export interface PreviewView {
  object: string;
  size: number;
  contentType: string | null;
  /** The first PREVIEW_BYTES as UTF-8 text. */
  text: string;
  truncated: boolean;
}

export interface MessageView {
  messageId: string;
  publishTime: string | null;
  attributes: Record<string, string>;
  data: string;
}

export interface MessagesView {
  client: string;
  topic: string;
  /** How they were collected, for the page to say. */
  source: string;
  /** Set when messages may be missing (the console's subscription failed and was made again), saying when. */
  gap: string | null;
  messages: MessageView[];
}

export interface InfoView {
  target: string;
  readOnly: boolean;
  /** Local cloud only pages and actions (bucket browser, topic messages, upload, run, retry). */
  local: boolean;
  bucket: string;
  clients: string[];
  note: string | null;
}

/** The numbers the page keeps small enough to render fast. */
export const INPUTS_SHOWN = 200;
export const LOG_LINES = 500;
export const PREVIEW_BYTES = 4096;
/** Largest file the console uploads (the page refuses a bigger one before sending it). */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
