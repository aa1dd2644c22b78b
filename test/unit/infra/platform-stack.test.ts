import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { platformConfigSchema } from "../../../core/config/schema.ts";
import { retentionFields } from "../../../core/naming.ts";
import { WORKFLOW_ENV_NAMES } from "../../../core/workflow-env.ts";
import { parseConfigJson } from "../../../functions/shared/config.ts";
import { lifecycleRules } from "../../../infra/constructs/platform-bucket.ts";
import { REQUIRED_SERVICES } from "../../../infra/constructs/required-apis.ts";
import { FUNCTION_ENV } from "../../../infra/runtime-env.ts";
import type { StackJson } from "./support/provider-schema.ts";
import {
  asTerraformPassesIt,
  type Body,
  FIXTURE_WORKFLOW,
  findOne,
  resolveAccount,
  resourcesOf,
  type Synthesized,
  synthWith,
} from "./support/synth.ts";

const PROJECT = "bl-fixture-1";
const email = (id: string) => `${id}@${PROJECT}.iam.gserviceaccount.com`;
const member = (id: string) => `serviceAccount:${email(id)}`;

let synth: Synthesized;
let platform: StackJson;

beforeAll(() => {
  synth = synthWith();
  platform = synth.stack("platform");
});

describe("synth", () => {
  it("writes the platform stack and one stack per client, each client stack depending on platform", () => {
    expect(synth.stacks).toEqual(["platform", "client-acme-eu", "client-acme"]);
    const manifest = JSON.parse(readFileSync(join(synth.outdir, "manifest.json"), "utf8")) as {
      stacks: Record<string, { dependencies: string[] }>;
    };
    expect(Object.keys(manifest.stacks).sort()).toEqual(["client-acme", "client-acme-eu", "platform"]);
    expect(manifest.stacks["client-acme"]?.dependencies).toEqual(["platform"]);
    expect(manifest.stacks["client-acme-eu"]?.dependencies).toEqual(["platform"]);
    expect(manifest.stacks.platform?.dependencies).toEqual([]);
  });

  it("points the google provider at the platform's project and region", () => {
    expect(platform.provider?.google?.[0]).toMatchObject({ project: PROJECT, region: "europe-west2" });
  });
});

describe("required APIs", () => {
  it("enables exactly the required services and never disables them on destroy", () => {
    const services = resourcesOf(platform, "google_project_service").map(([, s]) => s);
    expect(services.map((s) => s.service).sort()).toEqual([...REQUIRED_SERVICES].sort());
    for (const s of services) expect(s).toMatchObject({ project: PROJECT, disable_on_destroy: false });
    for (const api of ["storage", "workflows", "workflowexecutions", "batch", "eventarc", "pubsub"]) {
      expect(REQUIRED_SERVICES).toContain(`${api}.googleapis.com`);
    }
  });
});

describe("bucket", () => {
  it("is regional, IAM-only, never public and unversioned", () => {
    const [[, bucket] = ["", {}], ...rest] = resourcesOf(platform, "google_storage_bucket");
    expect(rest).toHaveLength(0);
    expect(bucket).toMatchObject({
      name: "bl-fixture-1-batch",
      project: PROJECT,
      location: "EUROPE-WEST2",
      uniform_bucket_level_access: true,
      public_access_prevention: "enforced",
      versioning: { enabled: false },
      force_destroy: false,
    });
  });

  it("deletes run records of every client after their retention with one rule for the product, and nothing else (claims live as long as their inputs)", () => {
    const bucket = findOne(platform, "google_storage_bucket", "name", "bl-fixture-1-batch");
    // Run records carry a customTime (core/naming.ts retentionFields); inputs, outputs, errors and claims none.
    expect(bucket.lifecycle_rule).toEqual([
      {
        action: { type: "Delete" },
        condition: { days_since_custom_time: 30, matches_prefix: ["shop/"] },
      },
    ]);
    expect(retentionFields("shop/acme/runs/r1/manifest.json", new Date(0))).toEqual({
      customTime: "1970-01-01T00:00:00.000Z",
    });
    for (const name of [
      "shop/acme/inputs/runs/x",
      "shop/acme/outputs/a",
      "shop/acme/claims/a",
      "registry/shop/acme.json",
    ]) {
      expect(retentionFields(name)).toEqual({});
    }
  });

  it("takes the retention it is given", () => {
    const custom = synthWith({}, { runsDays: 7 }).stack("platform");
    const bucket = findOne(custom, "google_storage_bucket", "name", "bl-fixture-1-batch");
    const days = (bucket.lifecycle_rule as { condition: { days_since_custom_time: number } }[]).map(
      (r) => r.condition.days_since_custom_time,
    );
    expect(days).toEqual([7]);
    expect(lifecycleRules("shop", { runsDays: 7 })).toHaveLength(1);
  });
});

describe("audit logs", () => {
  it("turns on DATA_WRITE (only) for Cloud Storage so uploads reach the audit-log triggers", () => {
    const configs = resourcesOf(platform, "google_project_iam_audit_config").map(([, c]) => c);
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({
      project: PROJECT,
      service: "storage.googleapis.com",
      audit_log_config: [{ log_type: "DATA_WRITE" }],
    });
  });
});

describe("artifact registry", () => {
  it("creates the Docker repository platform.yaml's workerImage points into", () => {
    const repos = resourcesOf(platform, "google_artifact_registry_repository").map(([, r]) => r);
    expect(repos).toHaveLength(1);
    expect(repos[0]).toMatchObject({
      project: PROJECT,
      location: "europe-west2",
      repository_id: "batchline",
      format: "DOCKER",
    });
  });
});

describe("service accounts", () => {
  const ACCOUNTS = [
    "bl-shop-wf",
    "bl-shop-worker",
    "bl-shop-plan",
    "bl-shop-notify",
    "bl-shop-trigger",
    "bl-shop-sched",
    "bl-shop-build",
  ];

  it("creates one account per role", () => {
    const ids = resourcesOf(platform, "google_service_account").map(([, a]) => a.account_id);
    expect(ids.sort()).toEqual([...ACCOUNTS].sort());
  });

  it("grants exactly these project-level roles, and no others", () => {
    const grants = resourcesOf(platform, "google_project_iam_member").map(([, g]) => ({
      member: resolveAccount(platform, g.member),
      role: g.role,
      condition: (g.condition as Body | undefined)?.expression,
    }));
    const key = (g: { member: string; role: unknown }) => `${g.member} ${String(g.role)}`;
    expect(grants.map(key).sort()).toEqual(
      [
        `${member("bl-shop-wf")} roles/batch.jobsEditor`,
        `${member("bl-shop-wf")} roles/logging.logWriter`,
        `${member("bl-shop-plan")} roles/workflows.viewer`,
        `${member("bl-shop-plan")} roles/batch.jobsViewer`,
        `${member("bl-shop-worker")} roles/batch.agentReporter`,
        `${member("bl-shop-worker")} roles/logging.logWriter`,
        `${member("bl-shop-trigger")} roles/eventarc.eventReceiver`,
        `${member("bl-shop-trigger")} roles/workflows.invoker`,
        `${member("bl-shop-sched")} roles/workflows.invoker`,
        `${member("bl-shop-build")} roles/logging.logWriter`,
        `${member("bl-shop-build")} roles/storage.objectAdmin`,
      ].sort(),
    );
    // The one project-level storage grant is the build account's, narrowed to Cloud Functions' own buckets.
    const storage = grants.filter((g) => String(g.role).startsWith("roles/storage."));
    expect(storage).toEqual([
      {
        member: member("bl-shop-build"),
        role: "roles/storage.objectAdmin",
        condition: 'resource.name.startsWith("projects/_/buckets/gcf-v2-")',
      },
    ]);
    expect(resourcesOf(platform, "google_project_iam_binding")).toHaveLength(0);
    expect(resourcesOf(platform, "google_project_iam_policy")).toHaveLength(0);
  });

  it("lets the workflow act as the worker account only", () => {
    const actAs = resourcesOf(platform, "google_service_account_iam_member").map(([, g]) => g);
    expect(actAs).toHaveLength(1);
    expect(actAs[0]?.role).toBe("roles/iam.serviceAccountUser");
    expect(resolveAccount(platform, actAs[0]?.member)).toBe(member("bl-shop-wf"));
    const worker = resourcesOf(platform, "google_service_account").find(
      ([, a]) => a.account_id === "bl-shop-worker",
    );
    expect(actAs[0]?.service_account_id).toBe(`\${google_service_account.${worker?.[0]}.name}`);
  });

  it("gives plan and notify object access on the data bucket, the builder the bundles, the shared worker nothing", () => {
    const grants = resourcesOf(platform, "google_storage_bucket_iam_member").map(([, g]) => ({
      bucket: g.bucket,
      role: g.role,
      member: resolveAccount(platform, g.member),
      condition: g.condition,
    }));
    const bucketRef = `\${google_storage_bucket.${resourcesOf(platform, "google_storage_bucket")[0]?.[0]}.name}`;
    expect(grants).toEqual(
      expect.arrayContaining([
        {
          bucket: bucketRef,
          role: "roles/storage.objectUser",
          member: member("bl-shop-plan"),
          condition: undefined,
        },
        {
          bucket: bucketRef,
          role: "roles/storage.objectUser",
          member: member("bl-shop-notify"),
          condition: undefined,
        },
        {
          bucket: "bl-fixture-1-batchline-deploy",
          role: "roles/storage.objectViewer",
          member: member("bl-shop-build"),
          condition: undefined,
        },
      ]),
    );
    expect(grants).toHaveLength(3);
    // Tasks run as each client's own worker account (client stacks), never as one with the whole bucket.
    expect(grants.filter((g) => g.member === member("bl-shop-worker"))).toEqual([]);
  });

  it("lets the worker pull the image and the builder push build images, on the repository only", () => {
    const grants = resourcesOf(platform, "google_artifact_registry_repository_iam_member").map(([, g]) => [
      resolveAccount(platform, g.member),
      g.role,
    ]);
    expect(grants.sort()).toEqual(
      [
        [member("bl-shop-build"), "roles/artifactregistry.writer"],
        [member("bl-shop-worker"), "roles/artifactregistry.reader"],
      ].sort(),
    );
  });

  it("grants no job secret: each client stack grants its secrets to that client's own worker account", () => {
    expect(resourcesOf(platform, "google_secret_manager_secret_iam_member")).toEqual([]);
    for (const client of ["acme", "acme-eu"]) {
      const stack = synth.stack(`client-${client}`);
      const grants = resourcesOf(stack, "google_secret_manager_secret_iam_member").map(([, g]) => g);
      expect(grants.length).toBeGreaterThan(0);
      for (const g of grants) expect(resolveAccount(stack, g.member)).toMatch(/^serviceAccount:blw-shop-/);
    }
  });
});

describe("workflow", () => {
  it("deploys workflows/batch.workflows.yaml as written, running as the workflow account", () => {
    const workflows = resourcesOf(platform, "google_workflows_workflow").map(([, w]) => w);
    expect(workflows).toHaveLength(1);
    const workflow = workflows[0] as Body;
    expect(workflow).toMatchObject({ name: "bl-shop-batch", project: PROJECT, region: "europe-west2" });
    expect(asTerraformPassesIt(String(workflow.source_contents))).toBe(
      readFileSync(FIXTURE_WORKFLOW, "utf8"),
    );
    expect(resolveAccount(platform, workflow.service_account)).toBe(email("bl-shop-wf"));
  });

  it("sets exactly core's workflow env contract, with the deployed values", () => {
    const workflow = resourcesOf(platform, "google_workflows_workflow")[0]?.[1] as Body;
    const env = workflow.user_env_vars as Record<string, string>;
    expect(Object.keys(env).sort()).toEqual([...WORKFLOW_ENV_NAMES].sort());
    const fn = (name: string) =>
      resourcesOf(platform, "google_cloudfunctions2_function").find(([, f]) => f.name === name)?.[0];
    expect(env).toMatchObject({
      BATCHLINE_PRODUCT: "shop",
      BATCHLINE_BUCKET: "bl-fixture-1-batch",
      BATCHLINE_REGION: "europe-west2",
      BATCHLINE_WORKER_IMAGE: "europe-west2-docker.pkg.dev/bl-fixture-1/batchline/worker:v1",
      BATCHLINE_PLAN_URL: `\${google_cloudfunctions2_function.${fn("bl-shop-plan")}.url}`,
      BATCHLINE_NOTIFY_URL: `\${google_cloudfunctions2_function.${fn("bl-shop-notify")}.url}`,
      BATCHLINE_POLL_SECONDS: "30",
    });
    // No per-client settings: debounce comes from plan's answer, so onboarding leaves the workflow alone.
    expect(Object.values(env).join(" ")).not.toMatch(/acme/);
    expect(resolveAccount(platform, env.BATCHLINE_BATCH_SERVICE_ACCOUNT)).toBe(email("bl-shop-worker"));
  });
});

describe("functions", () => {
  const fns = () => resourcesOf(platform, "google_cloudfunctions2_function").map(([, f]) => f);

  it("deploys plan and notify as gen2 Node 20 functions from the bundle object", () => {
    expect(
      fns()
        .map((f) => f.name)
        .sort(),
    ).toEqual(["bl-shop-notify", "bl-shop-plan"]);
    for (const f of fns()) {
      const short = String(f.name).replace("bl-shop-", "");
      expect(f).toMatchObject({
        project: PROJECT,
        location: "europe-west2",
        build_config: {
          runtime: "nodejs20",
          entry_point: short,
          source: {
            storage_source: { bucket: "bl-fixture-1-batchline-deploy", object: "functions/dev.zip" },
          },
          docker_repository: "projects/bl-fixture-1/locations/europe-west2/repositories/batchline",
        },
        service_config: { ingress_settings: "ALLOW_ALL", min_instance_count: 0 },
      });
      const service = f.service_config as Body;
      expect(resolveAccount(platform, service.service_account_email)).toBe(email(`bl-shop-${short}`));
      const build = f.build_config as Body;
      const builder = resourcesOf(platform, "google_service_account").find(
        ([, a]) => a.account_id === "bl-shop-build",
      );
      expect(build.service_account).toBe(`\${google_service_account.${builder?.[0]}.id}`);
    }
  });

  it("gives both functions the documented env, with the config as JSON core's schemas accept", () => {
    for (const f of fns()) {
      const env = (f.service_config as Body).environment_variables as Record<string, string>;
      expect(Object.keys(env).sort()).toEqual(FUNCTION_ENV.map((e) => e.name).sort());
      // The platform part only: clients come from their registry objects (core/registry.ts).
      const config = JSON.parse(env.BATCHLINE_CONFIG ?? "") as Record<string, unknown>;
      expect(Object.keys(config)).toEqual(["platform"]);
      expect(platformConfigSchema.parse(config.platform).product).toBe("shop");
      // The functions read it with their own loader; what infra writes must be what they accept.
      const loaded = parseConfigJson(env.BATCHLINE_CONFIG ?? "");
      expect(loaded.platform.workerImage).toBe(
        "europe-west2-docker.pkg.dev/bl-fixture-1/batchline/worker:v1",
      );
      expect(loaded.clients.size).toBe(0);
    }
  });

  it("lets only the workflow's account invoke them (run.invoker on each function's service)", () => {
    const invokers = resourcesOf(platform, "google_cloud_run_service_iam_member").map(([, g]) => g);
    expect(invokers).toHaveLength(2);
    const names = resourcesOf(platform, "google_cloudfunctions2_function").map(([n]) => n);
    for (const g of invokers) {
      expect(g.role).toBe("roles/run.invoker");
      expect(resolveAccount(platform, g.member)).toBe(member("bl-shop-wf"));
      expect(names.map((n) => `\${google_cloudfunctions2_function.${n}.name}`)).toContain(g.service);
    }
    expect(resourcesOf(platform, "google_cloudfunctions2_function_iam_member")).toHaveLength(0);
    expect(resourcesOf(platform, "google_cloud_run_service_iam_binding")).toHaveLength(0);
  });
});

describe("deploy settings", () => {
  it("keeps state in local files when no state bucket is set", () => {
    const backend = (platform.terraform as Body).backend as Body;
    expect(Object.keys(backend)).toEqual(["local"]);
    expect((backend.local as Body).path).toBe(join(synth.outdir, "state", "terraform.platform.tfstate"));
    expect(existsSync(join(synth.outdir, "state"))).toBe(true);
  });

  it("keeps each stack's state under the state bucket's prefix when one is set, and takes bundles from it", () => {
    const remote = synthWith({
      BATCHLINE_STATE_BUCKET: "acme-tfstate",
      BATCHLINE_STATE_PREFIX: "infra/batch",
    });
    for (const name of remote.stacks) {
      const backend = (remote.stack(name).terraform as Body).backend as Body;
      expect(backend).toEqual({ gcs: { bucket: "acme-tfstate", prefix: `infra/batch/shop/${name}` } });
    }
    const fn = findOne(remote.stack("platform"), "google_cloudfunctions2_function", "name", "bl-shop-plan");
    expect(fn.build_config).toMatchObject({ source: { storage_source: { bucket: "acme-tfstate" } } });
  });

  it("deploys the bundle object and worker tag the build produced", () => {
    const stack = synthWith({
      BATCHLINE_FUNCTIONS_BUCKET: "acme-bundles",
      BATCHLINE_FUNCTIONS_OBJECT: "functions/0123abcd.zip",
      BATCHLINE_WORKER_TAG: "0123abcd",
    }).stack("platform");
    const image = "europe-west2-docker.pkg.dev/bl-fixture-1/batchline/worker:0123abcd";
    const fn = findOne(stack, "google_cloudfunctions2_function", "name", "bl-shop-notify");
    expect(fn.build_config).toMatchObject({
      source: { storage_source: { bucket: "acme-bundles", object: "functions/0123abcd.zip" } },
    });
    const env = (fn.service_config as Body).environment_variables as Record<string, string>;
    expect(env.BATCHLINE_WORKER_IMAGE).toBe(image);
    expect(JSON.parse(env.BATCHLINE_CONFIG ?? "").platform.workerImage).toBe(image);
    const workflow = resourcesOf(stack, "google_workflows_workflow")[0]?.[1] as Body;
    expect((workflow.user_env_vars as Body).BATCHLINE_WORKER_IMAGE).toBe(image);
    const builderGrant = findOne(stack, "google_storage_bucket_iam_member", "bucket", "acme-bundles");
    expect(builderGrant.role).toBe("roles/storage.objectViewer");
  });
});
