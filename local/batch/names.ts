import { BATCH_JOB_ID_PATTERN } from "../../core/ids.ts";
import { invalidArgument } from "./errors.ts";

/**
 * Resource names of the Batch API (`google.api.resource` patterns in job.proto / task.proto):
 * `projects/{project}/locations/{location}/jobs/{job}/taskGroups/{task_group}/tasks/{task}`.
 */

export interface ParentName {
  project: string;
  location: string;
}

export interface JobName extends ParentName {
  jobId: string;
}

export interface TaskGroupName extends JobName {
  group: string;
}

export interface TaskName extends TaskGroupName {
  task: string;
}

/** A path segment: anything but `/`, not empty. */
const SEGMENT = "([^/]+)";
const PARENT_RE = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}$`);
const JOB_RE = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}/jobs/${SEGMENT}$`);
const GROUP_RE = new RegExp(
  `^projects/${SEGMENT}/locations/${SEGMENT}/jobs/${SEGMENT}/taskGroups/${SEGMENT}$`,
);
const TASK_RE = new RegExp(
  `^projects/${SEGMENT}/locations/${SEGMENT}/jobs/${SEGMENT}/taskGroups/${SEGMENT}/tasks/${SEGMENT}$`,
);
const OPERATION_RE = new RegExp(`^projects/${SEGMENT}/locations/${SEGMENT}/operations/${SEGMENT}$`);

export function parseParent(parent: string): ParentName {
  const m = PARENT_RE.exec(parent);
  if (!m)
    throw invalidArgument(
      `Invalid parent "${parent}": must be of the form projects/{project}/locations/{location}`,
    );
  return { project: m[1] as string, location: m[2] as string };
}

export function parseJobName(name: string): JobName {
  const m = JOB_RE.exec(name);
  if (!m) {
    throw invalidArgument(
      `Invalid job name "${name}": must be of the form projects/{project}/locations/{location}/jobs/{job}`,
    );
  }
  return { project: m[1] as string, location: m[2] as string, jobId: m[3] as string };
}

export function parseTaskGroupName(name: string): TaskGroupName {
  const m = GROUP_RE.exec(name);
  if (!m) {
    throw invalidArgument(
      `Invalid task group name "${name}": must be of the form ` +
        "projects/{project}/locations/{location}/jobs/{job}/taskGroups/{task_group}",
    );
  }
  return { project: m[1] as string, location: m[2] as string, jobId: m[3] as string, group: m[4] as string };
}

export function parseTaskName(name: string): TaskName {
  const m = TASK_RE.exec(name);
  if (!m) {
    throw invalidArgument(
      `Invalid task name "${name}": must be of the form ` +
        "projects/{project}/locations/{location}/jobs/{job}/taskGroups/{task_group}/tasks/{task}",
    );
  }
  return {
    project: m[1] as string,
    location: m[2] as string,
    jobId: m[3] as string,
    group: m[4] as string,
    task: m[5] as string,
  };
}

export function parseOperationName(name: string): ParentName & { operation: string } {
  const m = OPERATION_RE.exec(name);
  if (!m) {
    throw invalidArgument(
      `Invalid operation name "${name}": must be of the form projects/{project}/locations/{location}/operations/{operation}`,
    );
  }
  return { project: m[1] as string, location: m[2] as string, operation: m[3] as string };
}

export function parentName(p: ParentName): string {
  return `projects/${p.project}/locations/${p.location}`;
}

export function jobName(j: JobName): string {
  return `${parentName(j)}/jobs/${j.jobId}`;
}

/**
 * CreateJobRequest.job_id: at most 63 characters, starts with a lower-case letter, only lower-case letters,
 * digits and '-', not ending with '-' (batch.proto). Same rule as core/ids.ts BATCH_JOB_ID_PATTERN.
 */
export function checkJobId(jobId: string): void {
  if (!BATCH_JOB_ID_PATTERN.test(jobId)) {
    throw invalidArgument(
      `Job id "${jobId}" is invalid: it must match the regular expression ${BATCH_JOB_ID_PATTERN.source}, ` +
        "that is 1-63 characters of lower-case letters, digits and '-', starting with a letter and not ending with '-'.",
      [{ field: "job_id", description: `"${jobId}" does not match ${BATCH_JOB_ID_PATTERN.source}` }],
    );
  }
}
