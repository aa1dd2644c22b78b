import type { JobName } from "./names.ts";
import type { JobJson, TaskGroupJson } from "./spec.ts";
import type { JobState, StatusEvent, TaskState } from "./status.ts";

/**
 * What the local Batch keeps about each job and task while it lives. Named LocalJob/LocalTask so they do not
 * collide with the pipeline's run records (core/runs.ts TaskRecord).
 */

export interface LocalTask {
  index: number;
  state: TaskState;
  events: StatusEvent[];
  /** Attempt number of the current (or last) attempt: BATCH_TASK_RETRY_ATTEMPT. */
  attempt: number;
  /** Log file of each attempt, by attempt number. */
  logs: string[];
}

export interface LocalJob {
  name: string;
  id: JobName;
  uid: string;
  spec: JobJson;
  group: TaskGroupJson;
  state: JobState;
  events: StatusEvent[];
  createTime: Date;
  updateTime: Date;
  runStart?: number;
  runEnd?: number;
  tasks: LocalTask[];
  parallelism: number;
  priority: number;
  abort: AbortController;
  killAtOnce: boolean;
  firstFailure?: { index: number; event: StatusEvent };
  finished: Promise<void>;
  workDir: string;
  logDir: string;
  waiters: Set<{ resolve: (job: JobJson) => void; reject: (err: unknown) => void }>;
}

/** Progress of one task, for "tasks n/N" displays. */
export interface TaskEvent {
  job: string;
  task: string;
  index: number;
  attempt: number;
  previous: TaskState;
  state: TaskState;
  event: StatusEvent;
  /** Tasks of the job per state, after this change. */
  counts: Partial<Record<TaskState, number>>;
  taskCount: number;
}

export interface JobEvent {
  job: string;
  previous: JobState;
  state: JobState;
  event: StatusEvent;
}

export function deepCopy<T>(v: T): T {
  return structuredClone(v);
}
