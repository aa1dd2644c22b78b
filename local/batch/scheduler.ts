import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../core/logger.ts";
import { deepCopy, type JobEvent, type LocalJob, type LocalTask, type TaskEvent } from "./jobs.ts";
import { decideOutcome } from "./lifecycle.ts";
import { forwardTaskOutput } from "./log-forwarder.ts";
import { type AttemptSettings, openLog, runAttempt } from "./runner.ts";
import type { Slots } from "./slots.ts";
import {
  type JobState,
  jobFailedByTask,
  jobStateEvent,
  type StatusEvent,
  type TaskState,
  TERMINAL_JOB_STATES,
  taskRetryEvent,
  taskStateEvent,
} from "./status.ts";
import { jobView, taskCounts, taskName } from "./views.ts";

/**
 * Runs jobs: hands out task slots (parallelism, machine capacity, priority), runs each task attempt through
 * the runner, applies the lifecycle policies and retries, and keeps job and task states and status events as
 * the service reports them.
 */
export class JobScheduler {
  private readonly taskListeners = new Set<(e: TaskEvent) => void>();
  private readonly jobListeners = new Set<(e: JobEvent) => void>();

  constructor(
    private readonly settings: AttemptSettings,
    private readonly slots: Slots,
    private readonly logger: Logger,
    /** The "VM" tasks report to run on, as in `zones/Z/instances/I`. */
    private readonly instance: string,
  ) {}

  onTaskEvent(listener: (e: TaskEvent) => void): () => void {
    this.taskListeners.add(listener);
    return () => this.taskListeners.delete(listener);
  }

  onJobEvent(listener: (e: JobEvent) => void): () => void {
    this.jobListeners.add(listener);
    return () => this.jobListeners.delete(listener);
  }

  /** Runs the job's tasks to the end (or until its abort signal), then sets its final state. */
  async run(job: LocalJob): Promise<void> {
    // QUEUED is observable until the next turn of the event loop, as it is for a moment in the service.
    await new Promise((r) => setImmediate(r));
    if (job.abort.signal.aborted) return;
    this.setJobState(job, "SCHEDULED");
    await mkdir(job.workDir, { recursive: true });
    await mkdir(job.logDir, { recursive: true });
    let hostsFile: string | undefined;
    if (job.group.requireHostsFile) {
      hostsFile = join(job.workDir, "hosts");
      await writeFile(hostsFile, `${hostname()}\n`);
    }
    const inOrder = job.group.schedulingPolicy === "IN_ORDER";
    const queue = job.tasks.map((t) => t.index);
    const active = new Set<Promise<void>>();
    const signal = job.abort.signal;
    while ((queue.length > 0 || active.size > 0) && !signal.aborted) {
      while (queue.length > 0 && active.size < job.parallelism && !signal.aborted) {
        if (!(await this.slots.acquire(job.priority, signal))) break;
        const index = queue.shift() as number;
        const p: Promise<void> = this.runTask(job, index, hostsFile)
          .then((again) => {
            if (again) {
              if (inOrder) queue.unshift(index);
              else queue.push(index);
            }
          })
          .finally(() => {
            this.slots.release();
            active.delete(p);
          });
        active.add(p);
      }
      if (active.size > 0) await Promise.race(active);
    }
    await Promise.allSettled(active);
    if (signal.aborted) return;
    if (job.tasks.every((t) => t.state === "SUCCEEDED")) {
      this.setJobState(job, "SUCCEEDED");
    } else {
      const first = job.firstFailure;
      this.setJobState(job, "FAILED", first ? jobFailedByTask(first.index, first.event) : "");
    }
  }

  /** One attempt of a task; resolves true when the task is to be retried. */
  private async runTask(job: LocalJob, index: number, hostsFile: string | undefined): Promise<boolean> {
    const task = job.tasks[index] as LocalTask;
    const attemptDir = join(job.workDir, `task-${index}`, `attempt-${task.attempt}`);
    await mkdir(attemptDir, { recursive: true });
    const logFile = join(job.logDir, `task-${index}.attempt-${task.attempt}.log`);
    task.logs[task.attempt] = logFile;
    const log = await openLog(logFile);
    const forward = await forwardTaskOutput(job, index, task.attempt, this.settings.rootDir, this.logger);
    this.setTaskState(
      job,
      task,
      "ASSIGNED",
      taskStateEvent(task.state, "ASSIGNED", this.instance, new Date()),
    );
    const result = await runAttempt(this.settings, {
      group: job.group,
      index,
      taskCount: job.tasks.length,
      attempt: task.attempt,
      workDir: attemptDir,
      hostsFile,
      output: (chunk, stream) => {
        log.write(chunk);
        forward?.[stream].push(chunk);
      },
      onRunning: () => {
        this.setTaskState(
          job,
          task,
          "RUNNING",
          taskStateEvent(task.state, "RUNNING", this.instance, new Date()),
        );
        if (job.state === "SCHEDULED") this.setJobState(job, "RUNNING");
      },
      signal: job.abort.signal,
      killAtOnce: () => job.killAtOnce,
    });
    await forward?.close();
    await log.close();
    if (result.aborted) return false;
    const spec = job.group.taskSpec ?? {};
    const now = new Date();
    const outcome = decideOutcome(
      result.exitCode,
      spec.lifecyclePolicies ?? [],
      task.attempt,
      spec.maxRetryCount ?? 0,
    );
    if (outcome === "succeeded") {
      this.setTaskState(job, task, "SUCCEEDED", taskStateEvent(task.state, "SUCCEEDED", this.instance, now));
      return false;
    }
    const failed = taskStateEvent(task.state, "FAILED", this.instance, now, {
      exitCode: result.exitCode,
      reason: result.reason,
    });
    this.setTaskState(job, task, "FAILED", failed);
    job.events.push(failed);
    if (outcome === "retry") {
      task.attempt++;
      this.setTaskState(job, task, "PENDING", taskRetryEvent(task.attempt, spec.maxRetryCount ?? 0, now));
      return true;
    }
    if (!job.firstFailure) job.firstFailure = { index, event: failed };
    return false;
  }

  setJobState(job: LocalJob, to: JobState, extra = ""): void {
    const from = job.state;
    const now = new Date();
    const event = jobStateEvent(from, to, job.name, now, extra);
    job.state = to;
    job.events.push(event);
    job.updateTime = now;
    if (to === "RUNNING" && job.runStart === undefined) job.runStart = now.getTime();
    if (TERMINAL_JOB_STATES.has(to) && job.runEnd === undefined) job.runEnd = now.getTime();
    this.logger.info({ job: job.name, from, to }, `batch job ${job.id.jobId}: ${from} -> ${to}`);
    for (const l of this.jobListeners) l({ job: job.name, previous: from, state: to, event });
    if (TERMINAL_JOB_STATES.has(to)) {
      const view = jobView(job);
      for (const w of job.waiters) w.resolve(deepCopy(view));
      job.waiters.clear();
    }
  }

  setTaskState(job: LocalJob, task: LocalTask, to: TaskState, event: StatusEvent): void {
    const from = task.state;
    task.state = to;
    task.events.push(event);
    job.updateTime = new Date(event.eventTime);
    if (this.taskListeners.size === 0) return;
    const e: TaskEvent = {
      job: job.name,
      task: taskName(job, task.index),
      index: task.index,
      attempt: task.attempt,
      previous: from,
      state: to,
      event,
      counts: taskCounts(job),
      taskCount: job.tasks.length,
    };
    for (const l of this.taskListeners) l(e);
  }
}
