import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type Logger } from "../../core/logger.ts";
import { type BatchLocalConfig, batchLocalSchema, resolveFrom } from "./config.ts";
import { BatchApiError, failedPrecondition, invalidArgument, notFound } from "./errors.ts";
import { type FieldLookup, matches, parseFilter } from "./filter.ts";
import { decideOutcome } from "./lifecycle.ts";
import {
  checkJobId,
  type JobName,
  jobName,
  type ParentName,
  parentName,
  parseJobName,
  parseOperationName,
  parseParent,
  parseTaskGroupName,
  parseTaskName,
} from "./names.ts";
import { type AttemptSettings, openLog, runAttempt } from "./runner.ts";
import { localSecretResolver, type SecretResolver } from "./secrets.ts";
import { GROUP, type JobJson, type TaskGroupJson, validateJob } from "./spec.ts";
import {
  durationFromMs,
  EXIT_CODES,
  type JobState,
  jobFailedByTask,
  jobStateEvent,
  type StatusEvent,
  type TaskState,
  TERMINAL_JOB_STATES,
  taskRetryEvent,
  taskStateEvent,
} from "./status.ts";

export interface LocalBatchOptions {
  /** The `batch` section of config/local.yaml (image map, log dir, secrets, env); defaults when absent. */
  config?: BatchLocalConfig;
  /** Name of the config file, for messages (default `config/local.yaml`). */
  configFile?: string;
  /** Paths in the config (image cwd, logDir, secrets dir, script paths) are relative to this (default: cwd). */
  rootDir?: string;
  /** Scratch space for task attempts (default: a new directory under the OS temp dir, removed by close()). */
  workDir?: string;
  /** Overrides config.logDir. */
  logDir?: string;
  secrets?: SecretResolver;
  logger?: Logger;
  /** Time a killed task gets between SIGTERM and SIGKILL (default 10 s, as `docker stop`). */
  killGraceMs?: number;
  /** Tasks running at once across all jobs, like a machine's capacity (default: no limit beyond parallelism). */
  maxConcurrentTasks?: number;
  /** Host variables task processes inherit (default PATH, HOME, USER, LOGNAME, LANG, LC_ALL, TZ, TMPDIR). */
  inheritEnv?: readonly string[];
  /** The "VM" tasks report to run on, as in `zones/Z/instances/I` (default `zones/local/instances/<hostname>`). */
  instance?: string;
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

export interface ListOptions {
  filter?: string;
  orderBy?: string;
  pageSize?: number;
  pageToken?: string;
}

export interface Operation {
  name: string;
  metadata: {
    "@type": string;
    createTime: string;
    endTime?: string;
    target: string;
    verb: string;
    requestedCancellation: boolean;
    apiVersion: string;
  };
  done: boolean;
  response?: { "@type": string };
}

interface TaskRecord {
  index: number;
  state: TaskState;
  events: StatusEvent[];
  /** Attempt number of the current (or last) attempt: BATCH_TASK_RETRY_ATTEMPT. */
  attempt: number;
  logs: string[];
}

interface JobRecord {
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
  tasks: TaskRecord[];
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

interface OperationRecord {
  op: Operation;
}

const DEFAULT_INHERIT = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
const REQUEST_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REQUEST_ID_TTL_MS = 60 * 60 * 1000;

/** Tasks running at once across jobs; higher job priority first, then first come. */
class Slots {
  private used = 0;
  private readonly waiting: { priority: number; seq: number; grant: () => void }[] = [];
  private seq = 0;
  constructor(private readonly capacity: number) {}

  acquire(priority: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.used < this.capacity) {
      this.used++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const entry = {
        priority,
        seq: this.seq++,
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(true);
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(entry);
      this.waiting.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.used--;
  }
}

function pick(env: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = env[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

function deepCopy<T>(v: T): T {
  return structuredClone(v);
}

/** Splits a byte stream into lines, keeping a partial line until its end arrives. */
class Lines {
  private rest = "";
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: Buffer): void {
    const text = this.rest + chunk.toString("utf8");
    const parts = text.split("\n");
    this.rest = parts.pop() ?? "";
    for (const p of parts) this.emit(p.replace(/\r$/, ""));
  }
  end(): void {
    if (this.rest !== "") this.emit(this.rest);
    this.rest = "";
  }
}

/**
 * Google Cloud Batch (v1), locally: jobs are validated as the API validates them, each task attempt runs as
 * a local process tree, and jobs and tasks report the states and status events the API reports.
 * See docs/local-batch.md for what is supported and how it differs from the service.
 */
export class LocalBatch {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly operations = new Map<string, OperationRecord>();
  private readonly requestIds = new Map<string, { job: string; at: number }>();
  private readonly taskListeners = new Set<(e: TaskEvent) => void>();
  private readonly jobListeners = new Set<(e: JobEvent) => void>();
  private readonly config: BatchLocalConfig;
  private readonly settings: AttemptSettings;
  private readonly slots: Slots;
  private readonly logger: Logger;
  private readonly instance: string;
  private readonly logDir: string;
  private workDir: string | undefined;
  private ownWorkDir = false;
  private closed = false;

  constructor(options: LocalBatchOptions = {}) {
    this.config = options.config ?? batchLocalSchema.parse({});
    const rootDir = options.rootDir ?? process.cwd();
    this.logger = options.logger ?? createLogger({ component: "local-batch" });
    this.instance = options.instance ?? `zones/local/instances/${hostname()}`;
    this.logDir = resolveFrom(rootDir, options.logDir ?? this.config.logDir);
    this.workDir = options.workDir;
    this.settings = {
      config: this.config,
      configFile: options.configFile ?? "config/local.yaml",
      rootDir,
      secrets: options.secrets ?? localSecretResolver({ dir: resolveFrom(rootDir, this.config.secrets.dir) }),
      baseEnv: pick(process.env, options.inheritEnv ?? DEFAULT_INHERIT),
      killGraceMs: options.killGraceMs ?? 10_000,
    };
    this.slots = new Slots(options.maxConcurrentTasks ?? Number.POSITIVE_INFINITY);
  }

  // --- API: jobs ---------------------------------------------------------------------------------------

  /** jobs.create. `jobId` may be empty: the service then makes one up. */
  async createJob(
    parent: string,
    jobId: string | undefined,
    body: unknown,
    options: { requestId?: string } = {},
  ): Promise<JobJson> {
    this.assertOpen();
    const p = parseParent(parent);
    if (options.requestId !== undefined && options.requestId !== "") {
      if (!REQUEST_ID_RE.test(options.requestId) || /^[0-]+$/.test(options.requestId)) {
        throw invalidArgument(
          `request_id "${options.requestId}" is not a valid UUID (and must not be the zero UUID)`,
          [{ field: "request_id", description: "must be a valid non-zero UUID" }],
        );
      }
      const key = `${parentName(p)}|${options.requestId}`;
      const seen = this.requestIds.get(key);
      if (seen && Date.now() - seen.at < REQUEST_ID_TTL_MS) {
        const existing = this.jobs.get(seen.job);
        if (existing) return this.jobView(existing);
      }
    }
    const id = jobId === undefined || jobId === "" ? `job-${randomUUID()}` : jobId;
    checkJobId(id);
    const name = jobName({ ...p, jobId: id });
    const spec = validateJob(body, name);
    if (this.jobs.has(name)) {
      throw new BatchApiError("ALREADY_EXISTS", `Job ${name} already exists.`);
    }
    const group = spec.taskGroups?.[0] as TaskGroupJson;
    const taskCount = Number(group.taskCount);
    const uid = `${id.slice(0, 27).replace(/-+$/, "")}-${randomUUID()}`;
    const now = new Date();
    const workRoot = await this.ensureWorkDir();
    const record: JobRecord = {
      name,
      id: { ...p, jobId: id },
      uid,
      spec,
      group,
      state: "QUEUED",
      events: [],
      createTime: now,
      updateTime: now,
      tasks: Array.from({ length: taskCount }, (_, index) => ({
        index,
        state: "PENDING" as TaskState,
        events: [],
        attempt: 0,
        logs: [],
      })),
      parallelism: Number(group.parallelism),
      priority: Number(spec.priority ?? 0),
      abort: new AbortController(),
      killAtOnce: false,
      finished: Promise.resolve(),
      workDir: join(workRoot, uid),
      logDir: join(this.logDir, `${id}.${uid.slice(-12)}`),
      waiters: new Set(),
    };
    this.jobs.set(name, record);
    if (options.requestId)
      this.requestIds.set(`${parentName(p)}|${options.requestId}`, { job: name, at: Date.now() });
    this.logger.info(
      { job: name, uid, taskCount, parallelism: record.parallelism },
      `batch job ${id} created`,
    );
    record.finished = this.run(record).catch((err) => {
      this.logger.error({ job: name, err }, `batch job ${id}: internal error`);
      if (!TERMINAL_JOB_STATES.has(record.state) && record.state !== "DELETION_IN_PROGRESS") {
        this.setJobState(record, "FAILED", `Local Batch internal error: ${(err as Error).message}`);
      }
    });
    return this.jobView(record);
  }

  /** jobs.get */
  getJob(name: string): JobJson {
    return this.jobView(this.mustGet(name));
  }

  /** jobs.list; `parent` may use `-` as location for every location of the project. */
  listJobs(parent: string, options: ListOptions = {}): { jobs: JobJson[]; nextPageToken?: string } {
    const p = parseParent(parent);
    const filter = parseFilter(options.filter ?? "");
    let list = [...this.jobs.values()].filter(
      (j) => j.id.project === p.project && (p.location === "-" || j.id.location === p.location),
    );
    list = list.filter((j) => matches(filter, this.jobField(j)));
    list = this.order(list, options.orderBy);
    const { page, next } = this.paginate(list, options);
    const result: { jobs: JobJson[]; nextPageToken?: string } = { jobs: page.map((j) => this.jobView(j)) };
    if (next) result.nextPageToken = next;
    return result;
  }

  /** jobs.delete: kills the job's tasks, then removes it. Returns the long-running operation. */
  deleteJob(name: string, _options: { reason?: string; requestId?: string } = {}): Operation {
    const job = this.mustGet(name);
    const op = this.newOperation(job, "delete");
    if (job.state !== "DELETION_IN_PROGRESS") {
      this.setJobState(job, "DELETION_IN_PROGRESS");
      job.killAtOnce = true;
      job.abort.abort();
    }
    void job.finished.then(async () => {
      if (this.jobs.get(name) === job) {
        this.jobs.delete(name);
        for (const w of job.waiters) w.reject(notFound(`Job ${name} was deleted.`));
        job.waiters.clear();
        this.logger.info({ job: name }, `batch job ${job.id.jobId} deleted`);
      }
      await rm(job.workDir, { recursive: true, force: true });
      this.finishOperation(op, "type.googleapis.com/google.protobuf.Empty");
    });
    return deepCopy(op.op);
  }

  /** jobs.cancel: stops running tasks (SIGTERM, grace, SIGKILL); tasks not started become UNEXECUTED. */
  cancelJob(name: string, _options: { requestId?: string } = {}): Operation {
    const job = this.mustGet(name);
    if (TERMINAL_JOB_STATES.has(job.state) || job.state === "DELETION_IN_PROGRESS") {
      throw failedPrecondition(`Job ${name} is in state ${job.state} and cannot be cancelled.`);
    }
    const op = this.newOperation(job, "cancel");
    if (job.state !== "CANCELLATION_IN_PROGRESS") {
      this.setJobState(job, "CANCELLATION_IN_PROGRESS");
      job.abort.abort();
    }
    void job.finished.then(() => {
      if (job.state === "CANCELLATION_IN_PROGRESS") {
        const now = new Date();
        for (const t of job.tasks) {
          if (t.state === "SUCCEEDED" || t.state === "FAILED" || t.state === "UNEXECUTED") continue;
          if (t.state === "PENDING") {
            this.setTaskState(job, t, "UNEXECUTED", taskStateEvent(t.state, "UNEXECUTED", "", now));
          } else {
            this.setTaskState(
              job,
              t,
              "FAILED",
              taskStateEvent(t.state, "FAILED", this.instance, now, {
                exitCode: EXIT_CODES.GENERIC_FAILURE,
                reason: "job cancellation",
              }),
            );
          }
        }
        this.setJobState(job, "CANCELLED");
      }
      this.finishOperation(op, "type.googleapis.com/google.cloud.batch.v1.CancelJobResponse");
    });
    return deepCopy(op.op);
  }

  /** operations.get, for the operations delete and cancel return. */
  getOperation(name: string): Operation {
    parseOperationName(name);
    const op = this.operations.get(name);
    if (!op) throw notFound(`Operation ${name} not found.`);
    return deepCopy(op.op);
  }

  /** Resolves with the job once it is SUCCEEDED, FAILED or CANCELLED; rejects NOT_FOUND if it is deleted. */
  waitForJob(name: string, options: { signal?: AbortSignal } = {}): Promise<JobJson> {
    const job = this.mustGet(name);
    if (TERMINAL_JOB_STATES.has(job.state)) return Promise.resolve(this.jobView(job));
    return new Promise((resolve, reject) => {
      const signal = options.signal;
      const waiter = {
        resolve: (j: JobJson) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(j);
        },
        reject: (err: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        job.waiters.delete(waiter);
        reject(signal?.reason ?? new Error("aborted"));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      job.waiters.add(waiter);
    });
  }

  // --- API: tasks --------------------------------------------------------------------------------------

  /** jobs.taskGroups.tasks.get */
  getTask(name: string): { name: string; status: { state: TaskState; statusEvents: StatusEvent[] } } {
    const t = parseTaskName(name);
    const job = this.mustGet(jobName(t));
    const task = this.findTask(job, t.group, t.task, name);
    return this.taskView(job, task);
  }

  /** jobs.taskGroups.tasks.list; filter fields: `status.state`, `name`. */
  listTasks(
    parent: string,
    options: ListOptions = {},
  ): {
    tasks: { name: string; status: { state: TaskState; statusEvents: StatusEvent[] } }[];
    nextPageToken?: string;
  } {
    const g = parseTaskGroupName(parent);
    const job = this.mustGet(jobName(g));
    if (g.group !== GROUP) throw notFound(`Task group ${parent} not found.`);
    const filter = parseFilter(options.filter ?? "");
    const list = job.tasks.filter((t) =>
      matches(filter, (field) => {
        if (field === "status.state" || field === "state") return t.state;
        if (field === "name") return this.taskName(job, t.index);
        return null;
      }),
    );
    const { page, next } = this.paginate(list, options);
    const result: { tasks: ReturnType<LocalBatch["taskView"]>[]; nextPageToken?: string } = {
      tasks: page.map((t) => this.taskView(job, t)),
    };
    if (next) result.nextPageToken = next;
    return result;
  }

  /** The log (stdout and stderr, interleaved) of one attempt of a task; the last attempt by default. */
  async taskLog(jobNameText: string, index: number, attempt?: number): Promise<string> {
    return readFile(this.taskLogPath(jobNameText, index, attempt), "utf8");
  }

  taskLogPath(jobNameText: string, index: number, attempt?: number): string {
    const job = this.mustGet(jobNameText);
    const task = job.tasks[index];
    if (!task) throw notFound(`Task ${index} of ${jobNameText} not found.`);
    const file = attempt === undefined ? task.logs[task.logs.length - 1] : task.logs[attempt];
    if (file === undefined) {
      throw notFound(
        `Task ${index} of ${jobNameText} has no log${attempt === undefined ? " yet" : ` for attempt ${attempt}`}.`,
      );
    }
    return file;
  }

  // --- progress ----------------------------------------------------------------------------------------

  /** Every task state change; returns the unsubscribe function. */
  onTaskEvent(listener: (e: TaskEvent) => void): () => void {
    this.taskListeners.add(listener);
    return () => this.taskListeners.delete(listener);
  }

  /** Every job state change; returns the unsubscribe function. */
  onJobEvent(listener: (e: JobEvent) => void): () => void {
    this.jobListeners.add(listener);
    return () => this.jobListeners.delete(listener);
  }

  /** Deletes every job (killing their tasks) and removes the scratch directory if this service made it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.jobs.values()].map((job) => {
      if (job.state !== "DELETION_IN_PROGRESS") {
        job.killAtOnce = true;
        job.abort.abort();
      }
      return job.finished;
    });
    await Promise.all(pending);
    for (const job of this.jobs.values()) {
      for (const w of job.waiters)
        w.reject(notFound(`Job ${job.name} was deleted: the local Batch service closed.`));
    }
    this.jobs.clear();
    if (this.ownWorkDir && this.workDir) await rm(this.workDir, { recursive: true, force: true });
  }

  // --- running -----------------------------------------------------------------------------------------

  private async run(job: JobRecord): Promise<void> {
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
  private async runTask(job: JobRecord, index: number, hostsFile: string | undefined): Promise<boolean> {
    const task = job.tasks[index] as TaskRecord;
    const attemptDir = join(job.workDir, `task-${index}`, `attempt-${task.attempt}`);
    await mkdir(attemptDir, { recursive: true });
    const logFile = join(job.logDir, `task-${index}.attempt-${task.attempt}.log`);
    task.logs[task.attempt] = logFile;
    const log = await openLog(logFile);
    const forward = await this.forwarder(job, index, task.attempt);
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

  /**
   * Where task output goes besides the attempt's log file, per job.logsPolicy: CLOUD_LOGGING sends each line
   * to the logger (stdout as INFO, stderr as ERROR, as Batch does to Cloud Logging), PATH appends it to a file
   * under logsPath.
   */
  private async forwarder(
    job: JobRecord,
    index: number,
    attempt: number,
  ): Promise<{ stdout: Lines; stderr: Lines; close(): Promise<void> } | undefined> {
    const policy = job.spec.logsPolicy;
    if (policy?.destination === "PATH" && policy.logsPath) {
      const dir = resolveFrom(this.settings.rootDir, policy.logsPath);
      await mkdir(dir, { recursive: true });
      const copy = await openLog(join(dir, `${job.uid}-${GROUP}-${index}-${attempt}.log`));
      const write = (line: string) => copy.write(Buffer.from(`${line}\n`));
      const stdout = new Lines(write);
      const stderr = new Lines(write);
      return {
        stdout,
        stderr,
        async close() {
          stdout.end();
          stderr.end();
          await copy.close();
        },
      };
    }
    if (policy?.destination !== "CLOUD_LOGGING") return undefined;
    const labels = {
      job: job.name,
      job_uid: job.uid,
      task_id: `task/${job.uid}-${GROUP}-${index}/${attempt}/0`,
      ...(job.spec.labels ?? {}),
    };
    const emit = (severity: "info" | "error") => (line: string) => {
      let fields: Record<string, unknown> = { ...labels, logName: "batch_task_logs" };
      let message = line;
      if (line.startsWith("{")) {
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (typeof parsed.message === "string") message = parsed.message;
          fields = { ...fields, jsonPayload: parsed };
        } catch {
          // Not JSON after all: keep the text.
        }
      }
      this.logger[severity](fields, message);
    };
    const stdout = new Lines(emit("info"));
    const stderr = new Lines(emit("error"));
    return {
      stdout,
      stderr,
      async close() {
        stdout.end();
        stderr.end();
      },
    };
  }

  // --- state -------------------------------------------------------------------------------------------

  private setJobState(job: JobRecord, to: JobState, extra = ""): void {
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
      const view = this.jobView(job);
      for (const w of job.waiters) w.resolve(deepCopy(view));
      job.waiters.clear();
    }
  }

  private setTaskState(job: JobRecord, task: TaskRecord, to: TaskState, event: StatusEvent): void {
    const from = task.state;
    task.state = to;
    task.events.push(event);
    job.updateTime = new Date(event.eventTime);
    if (this.taskListeners.size === 0) return;
    const e: TaskEvent = {
      job: job.name,
      task: this.taskName(job, task.index),
      index: task.index,
      attempt: task.attempt,
      previous: from,
      state: to,
      event,
      counts: this.counts(job),
      taskCount: job.tasks.length,
    };
    for (const l of this.taskListeners) l(e);
  }

  // --- views -------------------------------------------------------------------------------------------

  private counts(job: JobRecord): Partial<Record<TaskState, number>> {
    const counts: Partial<Record<TaskState, number>> = {};
    for (const t of job.tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
    return counts;
  }

  private jobView(job: JobRecord): JobJson {
    const spec = job.spec;
    const status: Record<string, unknown> = { state: job.state };
    if (job.events.length > 0) status.statusEvents = deepCopy(job.events);
    if (job.state !== "QUEUED") {
      const counts = Object.fromEntries(Object.entries(this.counts(job)).map(([k, v]) => [k, String(v)]));
      const policy = spec.allocationPolicy?.instances?.[0]?.policy;
      status.taskGroups = {
        [GROUP]: {
          counts,
          instances: [
            {
              machineType: policy?.machineType ?? "local",
              provisioningModel: policy?.provisioningModel ?? "STANDARD",
              taskPack: String(job.parallelism),
            },
          ],
        },
      };
    }
    const end = job.runEnd ?? Date.now();
    status.runDuration = job.runStart === undefined ? "0s" : durationFromMs(end - job.runStart);
    const view: JobJson = { name: job.name, uid: job.uid };
    if (spec.priority !== undefined) view.priority = spec.priority;
    view.taskGroups = deepCopy(spec.taskGroups);
    if (spec.allocationPolicy !== undefined) view.allocationPolicy = deepCopy(spec.allocationPolicy);
    if (spec.labels !== undefined) view.labels = { ...spec.labels };
    view.status = status;
    view.createTime = job.createTime.toISOString();
    view.updateTime = job.updateTime.toISOString();
    if (spec.logsPolicy !== undefined) view.logsPolicy = deepCopy(spec.logsPolicy);
    return view;
  }

  private taskName(job: JobRecord, index: number): string {
    return `${job.name}/taskGroups/${GROUP}/tasks/${index}`;
  }

  private taskView(
    job: JobRecord,
    task: TaskRecord,
  ): { name: string; status: { state: TaskState; statusEvents: StatusEvent[] } } {
    return {
      name: this.taskName(job, task.index),
      status: { state: task.state, statusEvents: deepCopy(task.events) },
    };
  }

  private findTask(job: JobRecord, group: string, task: string, name: string): TaskRecord {
    const found = group === GROUP && /^(0|[1-9]\d*)$/.test(task) ? job.tasks[Number(task)] : undefined;
    if (!found) throw notFound(`Task ${name} not found.`);
    return found;
  }

  private jobField(job: JobRecord): FieldLookup {
    return (field) => {
      switch (field) {
        case "name":
          return job.name;
        case "uid":
          return job.uid;
        case "status.state":
        case "state":
          return job.state;
        case "priority":
          return job.spec.priority ?? "0";
        case "create_time":
        case "createTime":
          return job.createTime.toISOString();
        case "update_time":
        case "updateTime":
          return job.updateTime.toISOString();
        default:
          if (field.startsWith("labels.")) return job.spec.labels?.[field.slice("labels.".length)];
          return null;
      }
    };
  }

  private order(list: JobRecord[], orderBy: string | undefined): JobRecord[] {
    if (!orderBy || orderBy.trim() === "") return list;
    const m = /^\s*(name|create_time|createTime)(?:\s+(asc|desc))?\s*$/.exec(orderBy);
    if (!m) {
      throw invalidArgument(
        `Invalid order_by "${orderBy}": supported are "name", "name desc", "create_time", "create_time desc"`,
      );
    }
    const key = (j: JobRecord) => (m[1] === "name" ? j.name : j.createTime.toISOString());
    const sorted = [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    return m[2] === "desc" ? sorted.reverse() : sorted;
  }

  private paginate<T>(list: T[], options: ListOptions): { page: T[]; next?: string } {
    let start = 0;
    if (options.pageToken) {
      const decoded = Buffer.from(options.pageToken, "base64url").toString("utf8");
      const m = /^offset:(\d+)$/.exec(decoded);
      if (!m) throw invalidArgument(`Invalid page_token "${options.pageToken}"`);
      start = Number(m[1]);
    }
    const size = options.pageSize && options.pageSize > 0 ? options.pageSize : list.length;
    if (options.pageSize !== undefined && options.pageSize < 0)
      throw invalidArgument("page_size must not be negative");
    const page = list.slice(start, start + size);
    const end = start + size;
    return end < list.length ? { page, next: Buffer.from(`offset:${end}`).toString("base64url") } : { page };
  }

  // --- helpers -----------------------------------------------------------------------------------------

  private mustGet(name: string): JobRecord {
    parseJobName(name);
    const job = this.jobs.get(name);
    if (!job) throw notFound(`Job ${name} not found.`);
    return job;
  }

  private newOperation(job: JobRecord, verb: "delete" | "cancel"): OperationRecord {
    const now = new Date();
    const name = `${parentName(job.id as ParentName)}/operations/operation-${now.getTime()}-${randomUUID().slice(0, 13)}`;
    const record: OperationRecord = {
      op: {
        name,
        metadata: {
          "@type": "type.googleapis.com/google.cloud.batch.v1.OperationMetadata",
          createTime: now.toISOString(),
          target: job.name,
          verb,
          requestedCancellation: false,
          apiVersion: "v1",
        },
        done: false,
      },
    };
    this.operations.set(name, record);
    return record;
  }

  private finishOperation(record: OperationRecord, responseType: string): void {
    record.op.done = true;
    record.op.metadata.endTime = new Date().toISOString();
    record.op.response = { "@type": responseType };
  }

  private async ensureWorkDir(): Promise<string> {
    if (!this.workDir) {
      this.workDir = await mkdtemp(join(tmpdir(), "batchline-batch-"));
      this.ownWorkDir = true;
    } else {
      await mkdir(this.workDir, { recursive: true });
    }
    return this.workDir;
  }

  private assertOpen(): void {
    if (this.closed) throw new BatchApiError("UNAVAILABLE", "The local Batch service is closed.");
  }
}
