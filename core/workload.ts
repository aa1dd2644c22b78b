import type { ContainerWorkload, ResolvedJobSettings } from "./config/schema.ts";
import { EXIT } from "./runs.ts";

/**
 * The container workload's task contract (docs/processors.md "Container workloads") and the Batch job body
 * that carries it out. The same body runs on Google Cloud Batch and on the local Batch:
 *
 *   runnables: stage-in (platform worker image) → the client's image → stage-out (worker) → record failure
 *   (worker, alwaysRun)
 *
 * The runnables share one directory of the VM, TASK_HOST_DIR, as a container volume. stage-in downloads the
 * task's input generation into it and writes the per-task variables to an env file that `docker run
 * --env-file` hands to the client's container; stage-out uploads what the client left in its output
 * directory (see worker/stage.ts). One task per VM (`taskCountPerNode: 1`) keeps that directory the task's own.
 */

/** Directory of the VM the staging runnables and the client's container share. */
export const STAGING_HOST_DIR = "/mnt/disks/batchline";
/** The current task's part of it; stage-in empties it first. */
export const TASK_HOST_DIR = `${STAGING_HOST_DIR}/task`;
/** Where TASK_HOST_DIR appears inside the client's container. */
export const WORKLOAD_MOUNT = "/batchline";
/** BATCHLINE_INPUT_PATH: the input's bytes. */
export const WORKLOAD_INPUT_PATH = `${WORKLOAD_MOUNT}/in/input`;
/** BATCHLINE_OUTPUT_DIR: empty when the container starts; every file left in it becomes an output object. */
export const WORKLOAD_OUTPUT_DIR = `${WORKLOAD_MOUNT}/out`;
/** BATCHLINE_ERROR_FILE: a line the container may write before exiting non-zero; the run's message quotes it. */
export const WORKLOAD_ERROR_FILE = `${WORKLOAD_MOUNT}/error.txt`;
/** The env file stage-in writes (a VM path: docker reads it before the container starts). */
export const TASK_ENV_FILE = `${TASK_HOST_DIR}/task.env`;

/** Exit code meaning "this input is bad, do not retry": Batch fails the task at once (FAIL_TASK). */
export const EXIT_BAD_INPUT = EXIT.PERMANENT;

/** Subcommands of the worker image that do the staging (worker/main.ts). */
export const STAGE_COMMANDS = {
  in: "stage-in",
  out: "stage-out",
  failed: "stage-failed",
} as const;

/** The two variables written as `${NAME}` in `commands`/`entrypoint` that are replaced by their paths. */
export const EXPANDED_VARIABLES: Readonly<Record<string, string>> = {
  BATCHLINE_INPUT_PATH: WORKLOAD_INPUT_PATH,
  BATCHLINE_OUTPUT_DIR: WORKLOAD_OUTPUT_DIR,
};

/** `${BATCHLINE_INPUT_PATH}` and `${BATCHLINE_OUTPUT_DIR}` replaced; any other text is left as it is. */
export function expandContractPaths(text: string): string {
  return text.replace(/\$\{(BATCHLINE_INPUT_PATH|BATCHLINE_OUTPUT_DIR)\}/g, (_, name: string) => {
    return EXPANDED_VARIABLES[name] as string;
  });
}

export interface ContainerJobRun {
  product: string;
  client: string;
  runId: string;
  jobId: string;
  taskCount: number;
  manifestUri: string;
}

export interface ContainerJobPlatform {
  /** The platform's worker image, which runs the staging steps. */
  workerImage: string;
  /** The client's worker service account (infra/names.ts clientWorkerAccountId). */
  serviceAccountEmail: string;
  /** BATCHLINE_MAX_INPUT_BYTES for stage-in. */
  maxInputBytes: number;
}

type Json = Record<string, unknown>;

function workerRunnable(workerImage: string, command: string, extra: Json = {}): Json {
  return {
    displayName: `batchline ${command}`,
    container: {
      imageUri: workerImage,
      commands: [command],
      volumes: [`${STAGING_HOST_DIR}:${STAGING_HOST_DIR}`],
      // The worker image runs as `node`; docker creates a missing bind-mount directory as root, and
      // stage-in makes the task's directory writable for whatever user the client's image runs as.
      options: "--user root",
    },
    ...extra,
  };
}

function workloadRunnable(
  container: ContainerWorkload,
  job: ResolvedJobSettings,
  run: ContainerJobRun,
): Json {
  const spec: Json = {
    imageUri: container.imageUri,
    volumes: [`${TASK_HOST_DIR}:${WORKLOAD_MOUNT}`],
    options: `--env-file ${TASK_ENV_FILE}`,
  };
  if (container.entrypoint !== undefined) spec.entrypoint = expandContractPaths(container.entrypoint);
  if (container.commands !== undefined) spec.commands = container.commands.map(expandContractPaths);
  const environment: Json = {
    variables: {
      ...(job.env ?? {}),
      BATCHLINE_INPUT_PATH: WORKLOAD_INPUT_PATH,
      BATCHLINE_OUTPUT_DIR: WORKLOAD_OUTPUT_DIR,
      BATCHLINE_ERROR_FILE: WORKLOAD_ERROR_FILE,
      BATCHLINE_RUN_ID: run.runId,
      BATCHLINE_CLIENT: run.client,
      BATCHLINE_PRODUCT: run.product,
    },
  };
  if (job.secrets && Object.keys(job.secrets).length > 0) environment.secretVariables = { ...job.secrets };
  return { displayName: `workload ${run.client}`, container: spec, environment };
}

/** The labels that say whose a job and its VMs are, for billing and for `gcloud batch jobs list --filter`. */
export function clientLabels(product: string, client: string): Record<string, string> {
  return { "batchline-product": product, "batchline-client": client };
}

/**
 * The Batch job body (REST JSON) of a container client's run, all but the trigger label, which the
 * workflow adds. Numbers Batch declares as int64 are strings, as the REST API writes them.
 */
export function containerJobBody(
  container: ContainerWorkload,
  job: ResolvedJobSettings,
  run: ContainerJobRun,
  platform: ContainerJobPlatform,
): Json {
  const policy: Json = { machineType: job.machineType, provisioningModel: job.provisioningModel };
  if (job.accelerators) {
    policy.accelerators = job.accelerators.map((a) => ({ type: a.type, count: String(a.count) }));
  }
  if (job.bootDisk) {
    const disk: Json = {};
    if (job.bootDisk.image !== undefined) disk.image = job.bootDisk.image;
    if (job.bootDisk.sizeGb !== undefined) disk.sizeGb = String(job.bootDisk.sizeGb);
    if (job.bootDisk.type !== undefined) disk.type = job.bootDisk.type;
    policy.bootDisk = disk;
  }
  const instance: Json = { policy };
  if (job.accelerators) instance.installGpuDrivers = job.installGpuDrivers ?? true;
  const allocationPolicy: Json = {
    instances: [instance],
    serviceAccount: { email: platform.serviceAccountEmail },
    labels: clientLabels(run.product, run.client),
  };
  if (job.allowedLocations) allocationPolicy.location = { allowedLocations: [...job.allowedLocations] };
  return {
    priority: String(job.priority ?? 0),
    labels: { ...clientLabels(run.product, run.client), "batchline-run": run.runId },
    taskGroups: [
      {
        taskCount: String(run.taskCount),
        parallelism: String(job.parallelism),
        // The staging directory is the VM's: one task at a time per VM keeps it the task's own.
        taskCountPerNode: "1",
        taskSpec: {
          runnables: [
            workerRunnable(platform.workerImage, STAGE_COMMANDS.in),
            workloadRunnable(container, job, run),
            workerRunnable(platform.workerImage, STAGE_COMMANDS.out),
            // Runs after a failure too: records why the task failed (the client's error file, if any).
            workerRunnable(platform.workerImage, STAGE_COMMANDS.failed, { alwaysRun: true }),
          ],
          computeResource: { cpuMilli: String(job.cpuMilli), memoryMib: String(job.memoryMib) },
          maxRetryCount: job.maxRetryCount,
          maxRunDuration: job.maxRunDuration,
          // As for the built-in worker (workflows/batch.workflows.yaml): bad input stops at once, a
          // preempted SPOT VM is always worth another try.
          lifecyclePolicies: [
            { action: "FAIL_TASK", actionCondition: { exitCodes: [EXIT_BAD_INPUT] } },
            { action: "RETRY_TASK", actionCondition: { exitCodes: [EXIT.PREEMPTED] } },
          ],
          environment: {
            variables: {
              BATCHLINE_MANIFEST_URI: run.manifestUri,
              BATCHLINE_JOB_ID: run.jobId,
              BATCHLINE_IMAGE: container.imageUri,
              BATCHLINE_STAGING_DIR: TASK_HOST_DIR,
              BATCHLINE_MAX_INPUT_BYTES: String(platform.maxInputBytes),
            },
          },
        },
      },
    ],
    allocationPolicy,
    logsPolicy: { destination: "CLOUD_LOGGING" },
  };
}
