// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the task contract spells ${…} in commands on purpose
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfigText, resolveJobSettings } from "../../../core/config/load.ts";
import { clientConfigSchema, platformConfigSchema } from "../../../core/config/schema.ts";
import { ConfigError } from "../../../core/errors.ts";
import {
  containerJobBody,
  EXIT_BAD_INPUT,
  expandContractPaths,
  TASK_ENV_FILE,
  TASK_HOST_DIR,
  WORKLOAD_INPUT_PATH,
  WORKLOAD_OUTPUT_DIR,
} from "../../../core/workload.ts";
import { clientWorkerAccountId, serviceAccountEmail } from "../../../infra/names.ts";
import { validateJob } from "../../../local/batch/spec.ts";
import { thrownBy } from "../../support/thrown.ts";

const PLATFORM = parseConfigText(
  "config/platform.yaml",
  readFileSync("config/platform.yaml", "utf8"),
  platformConfigSchema,
);
const NAME = "projects/batchline-demo/locations/europe-west2/jobs/bl-demo-gpu-ev-0123456789abcdef";

const GPU_CLIENT = `
id: gpu
job:
  container:
    imageUri: europe-west2-docker.pkg.dev/batchline-demo/clients/model:2.1
    entrypoint: python3
    commands: ["main.py", "--in=\${BATCHLINE_INPUT_PATH}", "\${BATCHLINE_OUTPUT_DIR}", "\${HOME}"]
  machineType: n1-standard-8
  provisioningModel: STANDARD
  cpuMilli: 4000
  memoryMib: 16384
  accelerators: [{ type: nvidia-tesla-t4, count: 1 }]
  bootDisk: { sizeGb: 200, image: batch-cos, type: pd-ssd }
  allowedLocations: ["zones/europe-west2-b", "regions/europe-west2"]
  maxRetryCount: 2
  maxRunDuration: 7200s
  env: { MODEL: large }
  secrets: { API_KEY: projects/batchline-demo/secrets/api-key/versions/latest }
`;

function clientConfig(text: string, file = "config/clients/gpu.yaml") {
  return parseConfigText(file, text, clientConfigSchema);
}

function bodyFor(text: string, client = "gpu") {
  const config = clientConfig(text);
  const job = resolveJobSettings(PLATFORM, config);
  if (!job.container) throw new Error("not a container client");
  return containerJobBody(
    job.container,
    job,
    {
      product: "demo",
      client,
      runId: "ev-0123456789abcdef",
      jobId: "bl-demo-gpu-ev-0123456789abcdef",
      taskCount: 3,
      manifestUri: "gs://batchline-demo-batch/demo/gpu/runs/ev-0123456789abcdef/manifest.json",
    },
    {
      workerImage: PLATFORM.workerImage,
      serviceAccountEmail: serviceAccountEmail(clientWorkerAccountId("demo", client), PLATFORM.project),
      maxInputBytes: PLATFORM.maxInputBytes,
    },
    // biome-ignore lint/suspicious/noExplicitAny: a REST JSON body, read by path in the assertions
  ) as Record<string, any>;
}

describe("a container client's Batch job body", () => {
  const body = bodyFor(GPU_CLIENT);
  const group = body.taskGroups[0];
  const spec = group.taskSpec;

  it("passes the Batch v1 protos and the service's own checks", () => {
    expect(() => validateJob(structuredClone(body), NAME)).not.toThrow();
  });

  it("puts the GPUs, driver install, boot disk and machine on the VM", () => {
    expect(body.allocationPolicy.instances).toEqual([
      {
        policy: {
          machineType: "n1-standard-8",
          provisioningModel: "STANDARD",
          accelerators: [{ type: "nvidia-tesla-t4", count: "1" }],
          bootDisk: { image: "batch-cos", sizeGb: "200", type: "pd-ssd" },
        },
        installGpuDrivers: true,
      },
    ]);
    expect(spec.computeResource).toEqual({ cpuMilli: "4000", memoryMib: "16384" });
  });

  it("keeps the VMs to the allowed locations", () => {
    expect(body.allocationPolicy.location).toEqual({
      allowedLocations: ["zones/europe-west2-b", "regions/europe-west2"],
    });
  });

  it("labels the job and its VMs with the client, so billing splits by client", () => {
    expect(body.allocationPolicy.labels).toEqual({ "batchline-product": "demo", "batchline-client": "gpu" });
    expect(body.labels).toEqual({
      "batchline-product": "demo",
      "batchline-client": "gpu",
      "batchline-run": "ev-0123456789abcdef",
    });
  });

  it("runs as the client's own worker account, not a shared one", () => {
    expect(body.allocationPolicy.serviceAccount).toEqual({
      email: "blw-demo-gpu@batchline-demo.iam.gserviceaccount.com",
    });
    const other = bodyFor(GPU_CLIENT.replace("id: gpu", "id: other"), "other");
    expect(other.allocationPolicy.serviceAccount.email).toBe(
      "blw-demo-other@batchline-demo.iam.gserviceaccount.com",
    );
  });

  it("stages in, runs the image with the contract, stages out, and always records a failure", () => {
    const [stageIn, workload, stageOut, failed] = spec.runnables;
    for (const [r, command] of [
      [stageIn, "stage-in"],
      [stageOut, "stage-out"],
      [failed, "stage-failed"],
    ] as const) {
      expect(r.container).toMatchObject({ imageUri: PLATFORM.workerImage, commands: [command] });
      expect(r.container.volumes).toEqual(["/mnt/disks/batchline:/mnt/disks/batchline"]);
      expect(r.container.options).toBe("--user root");
    }
    expect(stageIn.alwaysRun).toBeUndefined();
    expect(stageOut.alwaysRun).toBeUndefined();
    expect(failed.alwaysRun).toBe(true);
    expect(workload.container).toEqual({
      imageUri: "europe-west2-docker.pkg.dev/batchline-demo/clients/model:2.1",
      entrypoint: "python3",
      // The two contract paths are expanded; other ${…} text is the client's own business.
      commands: ["main.py", `--in=${WORKLOAD_INPUT_PATH}`, WORKLOAD_OUTPUT_DIR, "${HOME}"],
      volumes: [`${TASK_HOST_DIR}:/batchline`],
      options: `--env-file ${TASK_ENV_FILE}`,
    });
    expect(workload.environment).toEqual({
      variables: {
        MODEL: "large",
        BATCHLINE_INPUT_PATH: WORKLOAD_INPUT_PATH,
        BATCHLINE_OUTPUT_DIR: WORKLOAD_OUTPUT_DIR,
        BATCHLINE_ERROR_FILE: "/batchline/error.txt",
        BATCHLINE_RUN_ID: "ev-0123456789abcdef",
        BATCHLINE_CLIENT: "gpu",
        BATCHLINE_PRODUCT: "demo",
      },
      secretVariables: { API_KEY: "projects/batchline-demo/secrets/api-key/versions/latest" },
    });
    // The client's variables and secrets go to its image only, not to the platform's staging steps.
    expect(spec.environment.variables).not.toHaveProperty("MODEL");
    expect(spec.environment.secretVariables).toBeUndefined();
  });

  it("fails bad input at once, retries anything else within maxRetryCount, one task per VM", () => {
    expect(spec.lifecyclePolicies).toEqual([
      { action: "FAIL_TASK", actionCondition: { exitCodes: [EXIT_BAD_INPUT] } },
      { action: "RETRY_TASK", actionCondition: { exitCodes: [50001] } },
    ]);
    expect(EXIT_BAD_INPUT).toBe(3);
    expect(spec.maxRetryCount).toBe(2);
    expect(spec.maxRunDuration).toBe("7200s");
    expect(group.taskCount).toBe("3");
    expect(group.taskCountPerNode).toBe("1");
  });

  it("leaves out what the client does not ask for", () => {
    const plain = bodyFor(`
id: gpu
job:
  container: { imageUri: "europe-west2-docker.pkg.dev/p/r/img:1" }
`);
    expect(plain.allocationPolicy.instances).toEqual([
      { policy: { machineType: PLATFORM.jobDefaults.machineType, provisioningModel: "SPOT" } },
    ]);
    expect(plain.allocationPolicy.location).toBeUndefined();
    // No entrypoint or commands: the image's own ENTRYPOINT and CMD run.
    expect(plain.taskGroups[0].taskSpec.runnables[1].container).not.toHaveProperty("commands");
    expect(plain.taskGroups[0].taskSpec.runnables[1].container).not.toHaveProperty("entrypoint");
    expect(() => validateJob(structuredClone(plain), NAME)).not.toThrow();
  });

  it("lets a client turn the driver install off", () => {
    const body = bodyFor(GPU_CLIENT.replace("  bootDisk:", "  installGpuDrivers: false\n  bootDisk:"));
    expect(body.allocationPolicy.instances[0].installGpuDrivers).toBe(false);
  });
});

describe("expanding the contract's paths in commands", () => {
  it("replaces exactly ${BATCHLINE_INPUT_PATH} and ${BATCHLINE_OUTPUT_DIR}, anywhere in an argument", () => {
    expect(expandContractPaths("${BATCHLINE_INPUT_PATH}")).toBe("/batchline/in/input");
    expect(expandContractPaths("-o=${BATCHLINE_OUTPUT_DIR}/x")).toBe("-o=/batchline/out/x");
    expect(expandContractPaths("$BATCHLINE_INPUT_PATH ${BATCHLINE_RUN_ID}")).toBe(
      "$BATCHLINE_INPUT_PATH ${BATCHLINE_RUN_ID}",
    );
  });
});

describe("container workload config", () => {
  it("accepts the shipped example client", () => {
    const client = clientConfig(
      readFileSync("examples/python-client/client.yaml", "utf8"),
      "examples/python-client/client.yaml",
    );
    expect(client.job.container?.commands).toEqual([
      "main.py",
      "${BATCHLINE_INPUT_PATH}",
      "${BATCHLINE_OUTPUT_DIR}",
    ]);
  });

  it.each([
    [
      "job:\n  processor: uppercase\n  container: { imageUri: europe-west2-docker.pkg.dev/p/r/i:1 }",
      'field "job.processor": a job runs either a built-in processor or a container, not both: remove one',
    ],
    [
      "job:\n  bootDisk: { sizeGb: 100 }",
      'field "job.bootDisk": applies to container workloads only: set job.container, or remove it',
    ],
    [
      "job:\n  container: { imageUri: europe-west2-docker.pkg.dev/p/r/i:1 }\n  installGpuDrivers: true",
      'field "job.installGpuDrivers": installs drivers for GPUs the job does not ask for: add job.accelerators',
    ],
    [
      "job:\n  container: { imageUri: 'Not An Image' }",
      'field "job.container.imageUri": must be an image reference',
    ],
    [
      "job:\n  container: { imageUri: europe-west2-docker.pkg.dev/p/r/i:1 }\n  allowedLocations: [europe-west2-b]",
      'field "job.allowedLocations.0": must be "regions/REGION" or "zones/ZONE"',
    ],
    [
      "job:\n  container: { imageUri: europe-west2-docker.pkg.dev/p/r/i:1 }\n  accelerators: [{ type: nvidia-tesla-t4, count: 0 }]",
      'field "job.accelerators.0.count"',
    ],
    [
      "job:\n  container: { imageUri: europe-west2-docker.pkg.dev/p/r/i:1, entrypoint: '' }",
      'field "job.container.entrypoint": must not be empty',
    ],
  ])("refuses %j, naming file and field", (job, expected) => {
    const err = thrownBy(ConfigError, () => clientConfig(`id: gpu\n${job}\n`));
    expect(err.message).toContain("config/clients/gpu.yaml: ");
    expect(err.message).toContain(expected);
  });

  it("refuses a container or VM settings in the platform's job defaults", () => {
    const text = readFileSync("config/platform.yaml", "utf8").replace(
      "  processor: uppercase",
      "  processor: uppercase\n  container: { imageUri: europe-west2-docker.pkg.dev/p/r/i:1 }\n  bootDisk: { sizeGb: 100 }",
    );
    const err = thrownBy(ConfigError, () =>
      parseConfigText("config/platform.yaml", text, platformConfigSchema),
    );
    expect(err.problems.map((p) => p.field).sort()).toEqual([
      "jobDefaults.bootDisk",
      "jobDefaults.container",
    ]);
    expect(err.message).toContain("belongs to a client's job (config/clients/<id>.yaml)");
  });
});
