import { invalidArgument, notFound } from "./errors.ts";
import type { FieldLookup } from "./filter.ts";
import { deepCopy, type LocalJob, type LocalTask } from "./jobs.ts";
import { GROUP, type JobJson } from "./spec.ts";
import { durationFromMs, type StatusEvent, type TaskState } from "./status.ts";

/** How jobs and tasks look through the API (jobs.get/list, tasks.get/list), and list ordering and paging. */

export interface ListOptions {
  filter?: string;
  orderBy?: string;
  pageSize?: number;
  pageToken?: string;
}

export interface TaskView {
  name: string;
  status: { state: TaskState; statusEvents: StatusEvent[] };
}

export function taskCounts(job: LocalJob): Partial<Record<TaskState, number>> {
  const counts: Partial<Record<TaskState, number>> = {};
  for (const t of job.tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
  return counts;
}

export function jobView(job: LocalJob): JobJson {
  const spec = job.spec;
  const status: Record<string, unknown> = { state: job.state };
  if (job.events.length > 0) status.statusEvents = deepCopy(job.events);
  if (job.state !== "QUEUED") {
    const counts = Object.fromEntries(Object.entries(taskCounts(job)).map(([k, v]) => [k, String(v)]));
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

export function taskName(job: LocalJob, index: number): string {
  return `${job.name}/taskGroups/${GROUP}/tasks/${index}`;
}

export function taskView(job: LocalJob, task: LocalTask): TaskView {
  return {
    name: taskName(job, task.index),
    status: { state: task.state, statusEvents: deepCopy(task.events) },
  };
}

export function findTask(job: LocalJob, group: string, task: string, name: string): LocalTask {
  const found = group === GROUP && /^(0|[1-9]\d*)$/.test(task) ? job.tasks[Number(task)] : undefined;
  if (!found) throw notFound(`Task ${name} not found.`);
  return found;
}

/** The fields jobs.list filters on. */
export function jobField(job: LocalJob): FieldLookup {
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

/** The fields tasks.list filters on. */
export function taskField(job: LocalJob, task: LocalTask): FieldLookup {
  return (field) => {
    if (field === "status.state" || field === "state") return task.state;
    if (field === "name") return taskName(job, task.index);
    return null;
  };
}

export function orderJobs(list: LocalJob[], orderBy: string | undefined): LocalJob[] {
  if (!orderBy || orderBy.trim() === "") return list;
  const m = /^\s*(name|create_time|createTime)(?:\s+(asc|desc))?\s*$/.exec(orderBy);
  if (!m) {
    throw invalidArgument(
      `Invalid order_by "${orderBy}": supported are "name", "name desc", "create_time", "create_time desc"`,
    );
  }
  const key = (j: LocalJob) => (m[1] === "name" ? j.name : j.createTime.toISOString());
  const sorted = [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return m[2] === "desc" ? sorted.reverse() : sorted;
}

export function paginate<T>(list: T[], options: ListOptions): { page: T[]; next?: string } {
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
