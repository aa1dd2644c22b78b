import { type FieldViolation, invalidArgument } from "./errors.ts";
import { durationMs, type JsonObject, parseMessage, V1, verifyWithGeneratedCode } from "./schema.ts";

/**
 * The parts of a Batch v1 Job (canonical REST JSON) that the local service reads, and the checks the
 * service makes beyond the schema. Field comments quote job.proto / task.proto where the rule comes from.
 */

export interface EnvironmentJson {
  variables?: Record<string, string>;
  secretVariables?: Record<string, string>;
  encryptedVariables?: JsonObject;
}

export interface RunnableJson {
  container?: {
    imageUri?: string;
    commands?: string[];
    entrypoint?: string;
    volumes?: string[];
    options?: string;
    blockExternalNetwork?: boolean;
    username?: string;
    password?: string;
    enableImageStreaming?: boolean;
  };
  script?: { path?: string; text?: string };
  barrier?: { name?: string };
  displayName?: string;
  ignoreExitStatus?: boolean;
  background?: boolean;
  alwaysRun?: boolean;
  environment?: EnvironmentJson;
  timeout?: string;
  labels?: Record<string, string>;
}

export interface LifecyclePolicyJson {
  action?: "ACTION_UNSPECIFIED" | "RETRY_TASK" | "FAIL_TASK";
  actionCondition?: { exitCodes?: number[] };
}

export interface TaskSpecJson {
  runnables?: RunnableJson[];
  computeResource?: { cpuMilli?: string; memoryMib?: string; bootDiskMib?: string };
  maxRunDuration?: string;
  maxRetryCount?: number;
  lifecyclePolicies?: LifecyclePolicyJson[];
  environments?: Record<string, string>;
  volumes?: JsonObject[];
  environment?: EnvironmentJson;
}

export interface TaskGroupJson {
  name?: string;
  taskSpec?: TaskSpecJson;
  taskCount?: string;
  parallelism?: string;
  schedulingPolicy?: "SCHEDULING_POLICY_UNSPECIFIED" | "AS_SOON_AS_POSSIBLE" | "IN_ORDER";
  taskEnvironments?: EnvironmentJson[];
  taskCountPerNode?: string;
  requireHostsFile?: boolean;
  permissiveSsh?: boolean;
  runAsNonRoot?: boolean;
}

export interface JobJson {
  name?: string;
  uid?: string;
  priority?: string;
  taskGroups?: TaskGroupJson[];
  allocationPolicy?: {
    instances?: { policy?: { machineType?: string; provisioningModel?: string; bootDisk?: JsonObject } }[];
  } & JsonObject;
  labels?: Record<string, string>;
  status?: JsonObject;
  createTime?: string;
  updateTime?: string;
  logsPolicy?: {
    destination?: "DESTINATION_UNSPECIFIED" | "CLOUD_LOGGING" | "PATH";
    logsPath?: string;
  } & JsonObject;
  notifications?: JsonObject[];
}

/** Batch's job limits (cloud.google.com/batch/quotas, "Job limits"), and the ranges job.proto/task.proto give. */
export const LIMITS = {
  /** Tasks per task group. */
  tasksPerGroup: 100_000,
  /** Parallel tasks per job. */
  parallelTasksPerJob: 5_000,
  /** TaskSpec.max_retry_count: "The valid value range is [0, 10]". */
  maxRetryCount: 10,
  /** TaskGroup.task_environments: "supports up to 200 entries" (client library docs of the field). */
  taskEnvironments: 200,
  /** Job.priority: "The valid value range is [0, 100)". */
  priorityExclusiveMax: 100,
  /** Size of the job definition: 1 MB. */
  definitionBytes: 1_000_000,
} as const;

/** The one task group's name; the API names groups `group0`, `group1`, … in order. */
export const GROUP = "group0";

const SECRET_RE = /^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/;
const LABEL_KEY_RE = /^\p{Ll}[\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE_RE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

class Checks {
  readonly list: FieldViolation[] = [];
  add(field: string, description: string): void {
    this.list.push({ field, description });
  }
}

function checkEnvironment(env: EnvironmentJson | undefined, at: string, checks: Checks): void {
  if (!env) return;
  if (env.encryptedVariables !== undefined) {
    checks.add(
      `${at}.encrypted_variables`,
      "encryptedVariables (Cloud KMS) is not supported by the local Batch service; use variables or secretVariables",
    );
  }
  for (const [name, ref] of Object.entries(env.secretVariables ?? {})) {
    if (!SECRET_RE.test(ref)) {
      checks.add(
        `${at}.secret_variables`,
        `secret variable ${name}: "${ref}" is not a Secret Manager secret version (projects/*/secrets/*/versions/*)`,
      );
    }
  }
}

function int(text: string | undefined): number {
  return text === undefined ? 0 : Number(text);
}

/**
 * Validates a create request's Job the way the service does and returns it with the defaults the service
 * fills in (task group name, taskCount, parallelism, scheduling policy). `jobName` is the new job's name.
 */
export function validateJob(body: unknown, jobName: string): JobJson {
  const size = Buffer.byteLength(JSON.stringify(body ?? null));
  if (size > LIMITS.definitionBytes) {
    throw invalidArgument(
      `The job definition is ${size} bytes, more than the ${LIMITS.definitionBytes}-byte limit.`,
    );
  }
  const job = parseMessage(`${V1}.Job`, body, "job") as JobJson;
  const checks = new Checks();

  const priority = int(job.priority);
  if (priority < 0 || priority >= LIMITS.priorityExclusiveMax) {
    checks.add("job.priority", `priority must be in [0, 100), got ${priority}`);
  }
  for (const [key, value] of Object.entries(job.labels ?? {})) {
    if (key.startsWith("goog-") || key.startsWith("google-")) {
      checks.add(
        "job.labels",
        `label "${key}": names starting with "goog-" or "google-" are reserved for predefined labels`,
      );
    } else if (!LABEL_KEY_RE.test(key)) {
      checks.add(
        "job.labels",
        `label key "${key}" is invalid: 1-63 lower-case letters, digits, '_' or '-', starting with a lower-case letter`,
      );
    }
    if (!LABEL_VALUE_RE.test(value)) {
      checks.add(
        "job.labels",
        `label "${key}" has an invalid value "${value}": at most 63 lower-case letters, digits, '_' or '-'`,
      );
    }
  }
  if (job.notifications && job.notifications.length > 0) {
    checks.add(
      "job.notifications",
      "notifications (Pub/Sub job and task state messages) are not supported by the local Batch service",
    );
  }
  const logs = job.logsPolicy;
  if (logs?.destination === "PATH" && !logs.logsPath) {
    checks.add("job.logs_policy.logs_path", "logsPath is required when destination is PATH");
  }

  const groups = job.taskGroups ?? [];
  if (groups.length === 0) {
    checks.add("job.task_groups", "taskGroups is required: a job needs exactly one task group");
  } else if (groups.length > 1) {
    checks.add("job.task_groups", `Only one TaskGroup is supported now; the job has ${groups.length}`);
  }
  const group = groups[0];
  if (group) {
    const at = "job.task_groups[0]";
    const spec = group.taskSpec;
    if (!spec) {
      checks.add(`${at}.task_spec`, "taskSpec is required");
    } else {
      const runnables = spec.runnables ?? [];
      if (runnables.length === 0) {
        checks.add(
          `${at}.task_spec.runnables`,
          "a task spec needs at least one runnable (script, container or barrier)",
        );
      }
      runnables.forEach((r, i) => {
        const rat = `${at}.task_spec.runnables[${i}]`;
        const kinds = [r.container, r.script, r.barrier].filter((x) => x !== undefined).length;
        if (kinds === 0) checks.add(rat, "a runnable needs one of container, script or barrier");
        if (r.barrier !== undefined) {
          checks.add(`${rat}.barrier`, "barrier runnables are not supported by the local Batch service");
        }
        if (r.container !== undefined) {
          if (!r.container.imageUri)
            checks.add(`${rat}.container.image_uri`, "container.imageUri is required");
        }
        if (r.script !== undefined && !r.script.text && !r.script.path) {
          checks.add(`${rat}.script`, "a script runnable needs text or path");
        }
        if (r.timeout !== undefined && durationMs(r.timeout) < 0) {
          checks.add(`${rat}.timeout`, `timeout must not be negative, got ${r.timeout}`);
        }
        checkEnvironment(r.environment, `${rat}.environment`, checks);
      });
      if ((spec.maxRetryCount ?? 0) < 0 || (spec.maxRetryCount ?? 0) > LIMITS.maxRetryCount) {
        checks.add(
          `${at}.task_spec.max_retry_count`,
          `maxRetryCount must be in [0, 10], got ${spec.maxRetryCount}`,
        );
      }
      if (spec.maxRunDuration !== undefined && durationMs(spec.maxRunDuration) < 0) {
        checks.add(
          `${at}.task_spec.max_run_duration`,
          `maxRunDuration must not be negative, got ${spec.maxRunDuration}`,
        );
      }
      (spec.lifecyclePolicies ?? []).forEach((p, i) => {
        if (!p.action || p.action === "ACTION_UNSPECIFIED") {
          checks.add(
            `${at}.task_spec.lifecycle_policies[${i}].action`,
            "a lifecycle policy needs an action: RETRY_TASK or FAIL_TASK",
          );
        }
      });
      if (spec.volumes && spec.volumes.length > 0) {
        checks.add(
          `${at}.task_spec.volumes`,
          "volumes (GCS, NFS, disks) are not supported by the local Batch service",
        );
      }
      checkEnvironment(spec.environment, `${at}.task_spec.environment`, checks);
    }
    (group.taskEnvironments ?? []).forEach((env, i) => {
      checkEnvironment(env, `${at}.task_environments[${i}]`, checks);
    });
    if ((group.taskEnvironments?.length ?? 0) > LIMITS.taskEnvironments) {
      checks.add(
        `${at}.task_environments`,
        `at most ${LIMITS.taskEnvironments} taskEnvironments, got ${group.taskEnvironments?.length}`,
      );
    }
    const taskCount = int(group.taskCount);
    if (taskCount < 0 || taskCount > LIMITS.tasksPerGroup) {
      checks.add(
        `${at}.task_count`,
        `taskCount must be between 1 and ${LIMITS.tasksPerGroup}, got ${taskCount}`,
      );
    }
    const parallelism = int(group.parallelism);
    if (parallelism < 0 || parallelism > LIMITS.parallelTasksPerJob) {
      checks.add(
        `${at}.parallelism`,
        `parallelism must be between 1 and ${LIMITS.parallelTasksPerJob}, got ${parallelism}`,
      );
    }
    if (group.schedulingPolicy === "IN_ORDER" && parallelism > 1) {
      checks.add(`${at}.parallelism`, "Field parallelism must be 1 if the scheduling_policy is IN_ORDER");
    }
  }
  if (checks.list.length > 0) {
    throw invalidArgument(checks.list.map((c) => `${c.field}: ${c.description}`).join("\n"), checks.list);
  }
  verifyWithGeneratedCode(job as JsonObject);
  return withDefaults(job, jobName);
}

/**
 * What the service fills in on create: the group's name, taskCount (1, or the number of taskEnvironments,
 * which then wins), parallelism (min(taskCount, parallel tasks per job); 1 for IN_ORDER) and the scheduling
 * policy. Zero means "not set" in proto3, so 0 gets the default too.
 */
function withDefaults(job: JobJson, jobName: string): JobJson {
  const group = job.taskGroups?.[0] as TaskGroupJson;
  const envCount = group.taskEnvironments?.length ?? 0;
  const taskCount = envCount > 0 ? envCount : Math.max(1, int(group.taskCount));
  const policy =
    group.schedulingPolicy && group.schedulingPolicy !== "SCHEDULING_POLICY_UNSPECIFIED"
      ? group.schedulingPolicy
      : "AS_SOON_AS_POSSIBLE";
  const parallelism =
    policy === "IN_ORDER"
      ? 1
      : int(group.parallelism) > 0
        ? int(group.parallelism)
        : Math.min(taskCount, LIMITS.parallelTasksPerJob);
  const filled: TaskGroupJson = {
    name: `${jobName}/taskGroups/${GROUP}`,
    ...group,
    taskCount: String(taskCount),
    parallelism: String(parallelism),
    schedulingPolicy: policy,
  };
  return { ...job, taskGroups: [filled] };
}
