import { Cron } from "croner";
import { z } from "zod";

/**
 * Ids of products and clients become parts of bucket paths, topic names, service-account ids, Batch job ids
 * and labels, so they follow the strictest of those rules: lower-case letters, digits and dashes, starting
 * with a letter, not ending with a dash, at most 24 characters (leaving room for prefixes in 30-char
 * service-account ids and 63-char job ids).
 */
export const ID_PATTERN = /^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$/;

export const idSchema = z
  .string()
  .regex(ID_PATTERN, "must be 1-24 characters of a-z, 0-9 and '-', start with a letter and not end with '-'");

/** Batch's own duration format for maxRunDuration: seconds with an `s` suffix, e.g. `3600s`. */
export const durationSchema = z
  .string()
  .regex(/^\d+(?:\.\d{1,9})?s$/, 'must be a duration in seconds such as "3600s"');

/** IAM member strings accepted for uploaders and subscribers. */
export const memberSchema = z
  .string()
  .regex(
    /^(?:serviceAccount|user|group|domain|principal|principalSet):[^\s]+$/,
    'must be an IAM member such as "serviceAccount:x@p.iam.gserviceaccount.com" or "group:team@example.com"',
  );

/** Secret Manager version ref: `projects/P/secrets/S/versions/V` (V may be `latest`). */
export const secretRefSchema = z
  .string()
  .regex(
    /^projects\/[^/\s]+\/secrets\/[A-Za-z0-9_-]{1,255}\/versions\/(?:latest|\d+)$/,
    'must be "projects/PROJECT/secrets/NAME/versions/VERSION"',
  );

const envNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
  .refine((n) => !n.startsWith("BATCH_"), "names starting with BATCH_ are reserved by Google Batch");

/**
 * A client's own container image as its workload (docs/processors.md "Container workloads"). Batch runs it
 * once per input, with the task contract's variables; `${BATCHLINE_INPUT_PATH}` and `${BATCHLINE_OUTPUT_DIR}`
 * in `commands` (or `entrypoint`) are replaced by those paths.
 */
export const containerWorkloadSchema = z.strictObject({
  /** The image, e.g. `europe-west2-docker.pkg.dev/PROJECT/clients/my-model:1.4`. */
  imageUri: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]*(?::\d+)?\/[a-z0-9._/-]+(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})?$/,
      'must be an image reference such as "europe-west2-docker.pkg.dev/my-project/clients/model:1"',
    ),
  /** Replaces the image's ENTRYPOINT, e.g. `python3`. */
  entrypoint: z.string().min(1, "must not be empty").optional(),
  /** Replace the image's CMD, e.g. `["main.py", "${BATCHLINE_INPUT_PATH}", "${BATCHLINE_OUTPUT_DIR}"]`. */
  commands: z.array(z.string()).optional(),
});
export type ContainerWorkload = z.infer<typeof containerWorkloadSchema>;

/** One kind of GPU on each VM (allocationPolicy.instances[].policy.accelerators). */
export const acceleratorSchema = z.strictObject({
  /** Compute Engine accelerator type, e.g. `nvidia-tesla-t4` or `nvidia-l4`. */
  type: z
    .string()
    .regex(/^[a-z][a-z0-9-]*[a-z0-9]$/, 'must be an accelerator type such as "nvidia-tesla-t4"'),
  /** GPUs of this type per VM. */
  count: z.number().int().min(1).max(16),
});

/** The VM's boot disk (allocationPolicy.instances[].policy.bootDisk). */
export const bootDiskSchema = z.strictObject({
  /** Size in GB; it holds the image layers, so large ML images need more than Batch's 30 GB default. */
  sizeGb: z.number().int().min(10).max(64_000).optional(),
  /** Boot image: `batch-debian`, `batch-cos`, `batch-hpc-rocky`, or an image URL / family. */
  image: z.string().min(1).optional(),
  /** Disk type: `pd-balanced` (default), `pd-ssd`, `pd-standard`. */
  type: z.enum(["pd-balanced", "pd-ssd", "pd-standard", "pd-extreme", "hyperdisk-balanced"]).optional(),
});

/** Settings that only a container workload takes; named in errors when given without `container`. */
export const CONTAINER_ONLY_SETTINGS = [
  "accelerators",
  "installGpuDrivers",
  "bootDisk",
  "allowedLocations",
] as const;

/** Job settings a platform sets as defaults and a client may override. Every field is optional here. */
export const jobSettingsSchema = z.strictObject({
  /** Compute Engine machine type for the job's VMs, e.g. `e2-standard-2`. */
  machineType: z
    .string()
    .regex(/^[a-z][a-z0-9-]*[a-z0-9]$/, 'must be a machine type such as "e2-standard-2"')
    .optional(),
  /** SPOT is cheaper but preemptible (preempted tasks are retried); STANDARD is not preempted. */
  provisioningModel: z.enum(["SPOT", "STANDARD"]).optional(),
  /** CPU for one task in thousandths of a vCPU (1000 = one vCPU). */
  cpuMilli: z.number().int().min(1).max(416_000).optional(),
  /** Memory for one task in MiB. */
  memoryMib: z.number().int().min(1).max(12_000_000).optional(),
  /** Times Batch retries a failed task (0-10, Batch's own limit). */
  maxRetryCount: z.number().int().min(0).max(10).optional(),
  /** Longest a task may run before Batch kills it, e.g. `3600s`. */
  maxRunDuration: durationSchema.optional(),
  /** Tasks run at once. */
  parallelism: z.number().int().min(1).max(10_000).optional(),
  /**
   * The Batch job's priority, 0 (default) to 99: when the project's Batch quota is short, higher-priority
   * jobs are more likely to run first.
   */
  priority: z.number().int().min(0).max(99).optional(),
  /** Extra environment variables for every task. */
  env: z.record(envNameSchema, z.string()).optional(),
  /** Environment variables filled from Secret Manager: NAME -> projects/P/secrets/S/versions/V. */
  secrets: z.record(envNameSchema, secretRefSchema).optional(),
  /** The client's own container image as its workload, instead of a built-in processor. Clients only. */
  container: containerWorkloadSchema.optional(),
  /** GPUs on each VM (container workloads only). */
  accelerators: z.array(acceleratorSchema).min(1, "must list at least one accelerator").optional(),
  /** Let Batch install the GPU drivers (default true when accelerators are set; container workloads only). */
  installGpuDrivers: z.boolean().optional(),
  /** Boot disk size, image and type (container workloads only). */
  bootDisk: bootDiskSchema.optional(),
  /** Where the VMs may run, e.g. `["zones/europe-west2-b", "regions/europe-west2"]` (container workloads only). */
  allowedLocations: z
    .array(
      z
        .string()
        .regex(
          /^(?:regions\/[a-z]+-[a-z]+\d+|zones\/[a-z]+-[a-z]+\d+-[a-z])$/,
          'must be "regions/REGION" or "zones/ZONE", e.g. "zones/europe-west2-b"',
        ),
    )
    .min(1, "must list at least one location")
    .optional(),
  /** Name of the worker processor that handles each input (see docs/processors.md). */
  processor: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a processor name such as "uppercase"')
    .optional(),
});
export type JobSettings = z.infer<typeof jobSettingsSchema>;

/** The settings every job ends up with once platform defaults are applied. */
export const resolvedJobSettingsSchema = jobSettingsSchema.required({
  machineType: true,
  provisioningModel: true,
  cpuMilli: true,
  memoryMib: true,
  maxRetryCount: true,
  maxRunDuration: true,
  parallelism: true,
  processor: true,
});
export type ResolvedJobSettings = z.infer<typeof resolvedJobSettingsSchema>;

/** `config/platform.yaml`: one per product and GCP project. */
export const platformConfigSchema = z.strictObject({
  /** GCP project id that hosts the platform. */
  project: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a GCP project id (6-30 chars, a-z 0-9 -)"),
  /** Region for the workflow, functions, Batch jobs, scheduler jobs and the bucket, e.g. `europe-west2`. */
  region: z.string().regex(/^[a-z]+-[a-z]+\d+$/, 'must be a GCP region such as "europe-west2"'),
  /** Product id: the first path segment of every object and part of every topic name. */
  product: idSchema,
  /** The one bucket that holds every client's inputs, outputs and run records. */
  bucket: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$/,
      "must be a bucket name (3-63 chars of a-z 0-9 - _, starting and ending with a letter or digit)",
    ),
  /** Worker container image, e.g. `europe-west2-docker.pkg.dev/PROJECT/batchline/worker:TAG`. */
  workerImage: z.string().min(1, "must name the worker image"),
  /**
   * Client workload images this project builds (cloudbuild.yaml builds each, tagged with the commit and
   * `latest`, and pushes it once the tests pass). Clients' `job.container.imageUri` name them with a tag.
   */
  workloadImages: z
    .array(
      z.strictObject({
        /** Repository path without a tag, e.g. `europe-west2-docker.pkg.dev/PROJECT/clients/model`. */
        image: z
          .string()
          .regex(
            /^[a-z0-9][a-z0-9.-]*(?::\d+)?\/[a-z0-9._/-]+$/,
            'must be an image path without a tag, such as "europe-west2-docker.pkg.dev/my-project/clients/model"',
          ),
        /** Build context, a directory relative to the repository root, e.g. `examples/python-client`. */
        context: z
          .string()
          .regex(
            /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]+$/,
            "must be a relative path inside the repository",
          ),
        /** Dockerfile, relative to the context (default `Dockerfile`). */
        dockerfile: z
          .string()
          .regex(
            /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]+$/,
            "must be a relative path inside the context",
          )
          .default("Dockerfile"),
      }),
    )
    .default([]),
  /** Defaults for every client's jobs. A container workload and its VM settings are a client's own. */
  jobDefaults: resolvedJobSettingsSchema.superRefine((job, ctx) => {
    for (const key of ["container", ...CONTAINER_ONLY_SETTINGS] as const) {
      if (job[key] !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: [key],
          message: "belongs to a client's job (config/clients/<id>.yaml), not to the platform's defaults",
        });
      }
    }
  }),
  /** Runs an input may fail before it is a poison input that is no longer retried. */
  maxInputFailures: z.number().int().min(1).max(100).default(3),
  /** Largest input object a run accepts; bigger ones are reported as failed, not processed. */
  maxInputBytes: z
    .number()
    .int()
    .min(1)
    .default(10 * 1024 ** 3),
  /** Most inputs one run claims; the rest wait for the next run. */
  maxInputsPerRun: z.number().int().min(1).max(100_000).default(10_000),
  /**
   * Alerting (docs/deploy.md, "Alerts"): the platform stack always creates the failed-execution and
   * failed-job alert policies; these Cloud Monitoring notification channels receive them.
   */
  alerts: z
    .strictObject({
      /** `projects/<project>/notificationChannels/<id>`, e.g. from `gcloud beta monitoring channels list`. */
      notificationChannels: z
        .array(
          z
            .string()
            .regex(
              /^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/notificationChannels\/[0-9]+$/,
              "must be a notification channel such as projects/my-project/notificationChannels/1234567890",
            ),
        )
        .min(1, "must name at least one channel"),
    })
    .optional(),
});
export type PlatformConfig = z.infer<typeof platformConfigSchema>;

const cronSchema = z.string().superRefine((expr, ctx) => {
  // Cloud Scheduler takes unix-cron: exactly five fields, no seconds.
  if (expr.trim().split(/\s+/).length !== 5) {
    ctx.addIssue({
      code: "custom",
      message: 'must be a five-field unix-cron expression such as "4 5 * * *"',
    });
    return;
  }
  try {
    new Cron(expr, { paused: true });
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `is not a valid cron expression: ${(err as Error).message}` });
  }
});

const timeZoneSchema = z.string().superRefine((tz, ctx) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    ctx.addIssue({ code: "custom", message: 'is not an IANA time zone such as "Europe/London"' });
  }
});

/** A client's schedule: Cloud Scheduler starts the workflow on this cron. */
export const scheduleSchema = z.strictObject({
  /** Unix cron, five fields, e.g. `4 5 * * *`. */
  cron: cronSchema,
  /** IANA time zone the cron is read in. */
  timeZone: timeZoneSchema.default("Etc/UTC"),
  /** `sweep`: process pending inputs, nothing when none. `always`: run and publish on every tick. */
  mode: z.enum(["sweep", "always"]).default("sweep"),
});
export type Schedule = z.infer<typeof scheduleSchema>;

/** `config/clients/<client>.yaml`: one per client. */
export const clientConfigSchema = z.strictObject({
  /** Client id; must equal the file name without `.yaml`. */
  id: idSchema,
  /** Human name for docs and messages. */
  displayName: z.string().min(1).max(100).optional(),
  /** Optional cron schedule. */
  schedule: scheduleSchema.optional(),
  /** Overrides of the platform's job defaults; `container` makes the client's own image its workload. */
  job: jobSettingsSchema.default({}).superRefine((job, ctx) => {
    if (job.container !== undefined && job.processor !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["processor"],
        message: "a job runs either a built-in processor or a container, not both: remove one",
      });
    }
    if (job.container === undefined) {
      for (const key of CONTAINER_ONLY_SETTINGS) {
        if (job[key] !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: "applies to container workloads only: set job.container, or remove it",
          });
        }
      }
    }
    if (job.installGpuDrivers === true && job.accelerators === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["installGpuDrivers"],
        message: "installs drivers for GPUs the job does not ask for: add job.accelerators",
      });
    }
  }),
  /**
   * Principals that may upload inputs and read this client's objects. Empty or absent: the infra creates a
   * service account for the client.
   */
  uploaders: z.array(memberSchema).default([]),
  /** Principals that may subscribe to the client's output topic (the uploaders may too). */
  subscribers: z.array(memberSchema).default([]),
  /** Create a pull subscription on the output topic for the client. */
  pullSubscription: z.boolean().default(false),
  /**
   * Seconds of quiet to wait for after an upload before planning, so a burst of uploads becomes one job.
   * An upload run waits at most ten times this long in all, so steady uploads cannot hold it off forever.
   */
  debounceSeconds: z.number().int().min(0).max(3600).default(0),
  /** Overrides the platform's maxInputFailures for this client. */
  maxInputFailures: z.number().int().min(1).max(100).optional(),
  /**
   * Most Batch jobs of this client at once (default 1). A run that would start one more waits until one
   * ends, then takes everything pending: its inputs are merged into that run, never lost.
   */
  maxConcurrentJobs: z.number().int().min(1).max(1000).default(1),
});
export type ClientConfig = z.infer<typeof clientConfigSchema>;
