/**
 * Job and task states and the status events Batch reports for them. The descriptions follow the service's
 * wording as shown in its documentation (troubleshooting, "Task failure exit codes") and in real job output:
 *   "Job state is set from QUEUED to SCHEDULED for job projects/P/locations/L/jobs/J."
 *   "Task state is updated from RUNNING to FAILED on zones/Z/instances/I with exit code 1."
 *   "Task state is updated from RUNNING to FAILED on zones/Z/instances/I due to task runs over the maximum
 *    runtime with exit code 50005."
 *   "Job state is set from RUNNING to FAILED for job …. Job failed due to task failure. Specifically, task
 *    with index 0 failed due to the following task event: "Task state is updated from …""
 */

export type JobState =
  | "QUEUED"
  | "SCHEDULED"
  | "RUNNING"
  | "SUCCEEDED"
  | "FAILED"
  | "DELETION_IN_PROGRESS"
  | "CANCELLATION_IN_PROGRESS"
  | "CANCELLED";

export type TaskState = "PENDING" | "ASSIGNED" | "RUNNING" | "FAILED" | "SUCCEEDED" | "UNEXECUTED";

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/** Batch's reserved exit codes (troubleshooting, "Task failure exit codes"), the ones the local service uses. */
export const EXIT_CODES = {
  /** A task failed for a reason other than its runnables' own exit status. */
  GENERIC_FAILURE: 50000,
  /** Spot VM preemption (never produced locally; a task may exit with it to exercise lifecycle policies). */
  PREEMPTED: 50001,
  /** The task ran over maxRunDuration, or a runnable over its timeout. */
  TIMEOUT: 50005,
  /** `docker run` could not find or pull the image (Docker's own code). */
  IMAGE_UNAVAILABLE: 125,
} as const;

/** google.cloud.batch.v1.StatusEvent in REST JSON. */
export interface StatusEvent {
  type: string;
  description: string;
  eventTime: string;
  taskExecution?: { exitCode: number };
  taskState?: TaskState;
}

const STATUS_CHANGED = "STATUS_CHANGED";

export function jobStateEvent(
  from: JobState,
  to: JobState,
  jobName: string,
  time: Date,
  extra = "",
): StatusEvent {
  return {
    type: STATUS_CHANGED,
    description: `Job state is set from ${from} to ${to} for job ${jobName}.${extra ? ` ${extra}` : ""}`,
    eventTime: time.toISOString(),
  };
}

/** The failed job's event names the task that failed it and quotes that task's event. */
export function jobFailedByTask(index: number, taskEvent: StatusEvent): string {
  return `Job failed due to task failure. Specifically, task with index ${index} failed due to the following task event: "${taskEvent.description}"`;
}

export function taskStateEvent(
  from: TaskState,
  to: TaskState,
  instance: string,
  time: Date,
  failure?: { exitCode: number; reason?: string },
): StatusEvent {
  let description = `Task state is updated from ${from} to ${to}`;
  if (instance) description += ` on ${instance}`;
  if (failure) {
    if (failure.reason) description += ` due to ${failure.reason}`;
    description += ` with exit code ${failure.exitCode}`;
  }
  const event: StatusEvent = {
    type: STATUS_CHANGED,
    description: `${description}.`,
    eventTime: time.toISOString(),
    taskState: to,
  };
  if (failure) event.taskExecution = { exitCode: failure.exitCode };
  return event;
}

/** A task going back to PENDING for another attempt (the local service's wording; see docs/local-batch.md). */
export function taskRetryEvent(attempt: number, maxRetryCount: number, time: Date): StatusEvent {
  return {
    type: STATUS_CHANGED,
    description: `Task state is updated from FAILED to PENDING for retry attempt ${attempt} of ${maxRetryCount}.`,
    eventTime: time.toISOString(),
    taskState: "PENDING",
  };
}

/** Canonical JSON Duration from milliseconds: "0s", "12s", "1.500s". */
export function durationFromMs(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  const seconds = Math.floor(whole / 1000);
  const millis = whole % 1000;
  return millis === 0 ? `${seconds}s` : `${seconds}.${String(millis).padStart(3, "0")}s`;
}
