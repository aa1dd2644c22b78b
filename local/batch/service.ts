import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type Logger } from "../../core/logger.ts";
import { type BatchLocalConfig, batchLocalSchema, resolveFrom } from "./config.ts";
import { BatchApiError, failedPrecondition, invalidArgument, notFound } from "./errors.ts";
import { matches, parseFilter } from "./filter.ts";
import { deepCopy, type JobEvent, type LocalJob, type TaskEvent } from "./jobs.ts";
import {
  checkJobId,
  jobName,
  type ParentName,
  parentName,
  parseJobName,
  parseOperationName,
  parseParent,
  parseTaskGroupName,
  parseTaskName,
} from "./names.ts";
import type { AttemptSettings } from "./runner.ts";
import { JobScheduler } from "./scheduler.ts";
import { localSecretResolver, type SecretResolver } from "./secrets.ts";
import { Slots } from "./slots.ts";
import { GROUP, type JobJson, type TaskGroupJson, validateJob } from "./spec.ts";
import { EXIT_CODES, type TaskState, TERMINAL_JOB_STATES, taskStateEvent } from "./status.ts";
import {
  findTask,
  jobField,
  jobView,
  type ListOptions,
  orderJobs,
  paginate,
  type TaskView,
  taskField,
  taskView,
} from "./views.ts";

export type { JobEvent, TaskEvent } from "./jobs.ts";
export type { ListOptions, TaskView } from "./views.ts";

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

interface OperationRecord {
  op: Operation;
}

const DEFAULT_INHERIT = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"];
const REQUEST_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REQUEST_ID_TTL_MS = 60 * 60 * 1000;

function pick(env: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = env[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/**
 * Google Cloud Batch (v1), locally: jobs are validated as the API validates them, each task attempt runs as
 * a local process tree, and jobs and tasks report the states and status events the API reports.
 * See docs/local-batch.md for what is supported and how it differs from the service.
 */
export class LocalBatch {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly operations = new Map<string, OperationRecord>();
  private readonly requestIds = new Map<string, { job: string; at: number }>();
  private readonly config: BatchLocalConfig;
  private readonly scheduler: JobScheduler;
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
    const settings: AttemptSettings = {
      config: this.config,
      configFile: options.configFile ?? "config/local.yaml",
      rootDir,
      secrets: options.secrets ?? localSecretResolver({ dir: resolveFrom(rootDir, this.config.secrets.dir) }),
      baseEnv: pick(process.env, options.inheritEnv ?? DEFAULT_INHERIT),
      killGraceMs: options.killGraceMs ?? 10_000,
    };
    const slots = new Slots(options.maxConcurrentTasks ?? Number.POSITIVE_INFINITY);
    this.scheduler = new JobScheduler(settings, slots, this.logger, this.instance);
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
        if (existing) return jobView(existing);
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
    const record: LocalJob = {
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
    record.finished = this.scheduler.run(record).catch((err) => {
      this.logger.error({ job: name, err }, `batch job ${id}: internal error`);
      if (!TERMINAL_JOB_STATES.has(record.state) && record.state !== "DELETION_IN_PROGRESS") {
        this.scheduler.setJobState(record, "FAILED", `Local Batch internal error: ${(err as Error).message}`);
      }
    });
    return jobView(record);
  }

  /** jobs.get */
  getJob(name: string): JobJson {
    return jobView(this.mustGet(name));
  }

  /** jobs.list; `parent` may use `-` as location for every location of the project. */
  listJobs(parent: string, options: ListOptions = {}): { jobs: JobJson[]; nextPageToken?: string } {
    const p = parseParent(parent);
    const filter = parseFilter(options.filter ?? "");
    let list = [...this.jobs.values()].filter(
      (j) => j.id.project === p.project && (p.location === "-" || j.id.location === p.location),
    );
    list = list.filter((j) => matches(filter, jobField(j)));
    list = orderJobs(list, options.orderBy);
    const { page, next } = paginate(list, options);
    const result: { jobs: JobJson[]; nextPageToken?: string } = { jobs: page.map((j) => jobView(j)) };
    if (next) result.nextPageToken = next;
    return result;
  }

  /** jobs.delete: kills the job's tasks, then removes it. Returns the long-running operation. */
  deleteJob(name: string, _options: { reason?: string; requestId?: string } = {}): Operation {
    const job = this.mustGet(name);
    const op = this.newOperation(job, "delete");
    if (job.state !== "DELETION_IN_PROGRESS") {
      this.scheduler.setJobState(job, "DELETION_IN_PROGRESS");
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
      this.scheduler.setJobState(job, "CANCELLATION_IN_PROGRESS");
      job.abort.abort();
    }
    void job.finished.then(() => {
      if (job.state === "CANCELLATION_IN_PROGRESS") {
        const now = new Date();
        for (const t of job.tasks) {
          if (t.state === "SUCCEEDED" || t.state === "FAILED" || t.state === "UNEXECUTED") continue;
          if (t.state === "PENDING") {
            this.scheduler.setTaskState(job, t, "UNEXECUTED", taskStateEvent(t.state, "UNEXECUTED", "", now));
          } else {
            this.scheduler.setTaskState(
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
        this.scheduler.setJobState(job, "CANCELLED");
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
    if (TERMINAL_JOB_STATES.has(job.state)) return Promise.resolve(jobView(job));
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
  getTask(name: string): TaskView {
    const t = parseTaskName(name);
    const job = this.mustGet(jobName(t));
    const task = findTask(job, t.group, t.task, name);
    return taskView(job, task);
  }

  /** jobs.taskGroups.tasks.list; filter fields: `status.state`, `name`. */
  listTasks(parent: string, options: ListOptions = {}): { tasks: TaskView[]; nextPageToken?: string } {
    const g = parseTaskGroupName(parent);
    const job = this.mustGet(jobName(g));
    if (g.group !== GROUP) throw notFound(`Task group ${parent} not found.`);
    const filter = parseFilter(options.filter ?? "");
    const list = job.tasks.filter((t) => matches(filter, taskField(job, t)));
    const { page, next } = paginate(list, options);
    const result: { tasks: TaskView[]; nextPageToken?: string } = {
      tasks: page.map((t) => taskView(job, t)),
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
    return this.scheduler.onTaskEvent(listener);
  }

  /** Every job state change; returns the unsubscribe function. */
  onJobEvent(listener: (e: JobEvent) => void): () => void {
    return this.scheduler.onJobEvent(listener);
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

  // --- helpers -----------------------------------------------------------------------------------------

  private mustGet(name: string): LocalJob {
    parseJobName(name);
    const job = this.jobs.get(name);
    if (!job) throw notFound(`Job ${name} not found.`);
    return job;
  }

  private newOperation(job: LocalJob, verb: "delete" | "cancel"): OperationRecord {
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
