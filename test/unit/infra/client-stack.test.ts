import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.ts";
import { parseRegistryDocument, registryDocument } from "../../../core/registry.ts";
import { matchesPathPattern } from "../../../core/triggers.ts";
import { scheduleArgument } from "../../../local/scheduler/index.ts";
import type { StackJson } from "./support/provider-schema.ts";
import {
  type Body,
  FIXTURE_CONFIG,
  findOne,
  resolveAccount,
  resourcesOf,
  type Synthesized,
  synthWith,
} from "./support/synth.ts";

const PROJECT = "bl-fixture-1";
const platformMember = (id: string) => `serviceAccount:${id}@${PROJECT}.iam.gserviceaccount.com`;
const ACME_ACCOUNT = platformMember("blc-shop-acme");
const ACME_EU_UPLOADERS = [
  "serviceAccount:uploader@acme-eu-prod.iam.gserviceaccount.com",
  "group:acme-eu-data@example.com",
];

const CREATE_ACME =
  'resource.name.startsWith("projects/_/buckets/bl-fixture-1-batch/objects/shop/acme/inputs/")';
const READ_ACME =
  '(resource.type == "storage.googleapis.com/Object" && ' +
  'resource.name.startsWith("projects/_/buckets/bl-fixture-1-batch/objects/shop/acme/")) || ' +
  'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("shop/acme/")';
const CREATE_ACME_EU =
  'resource.name.startsWith("projects/_/buckets/bl-fixture-1-batch/objects/shop/acme-eu/inputs/")';
const READ_ACME_EU =
  '(resource.type == "storage.googleapis.com/Object" && ' +
  'resource.name.startsWith("projects/_/buckets/bl-fixture-1-batch/objects/shop/acme-eu/")) || ' +
  'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("shop/acme-eu/")';

let synth: Synthesized;
let acme: StackJson;
let acmeEu: StackJson;

beforeAll(() => {
  synth = synthWith();
  acme = synth.stack("client-acme");
  acmeEu = synth.stack("client-acme-eu");
});

const ACME_WORKER = platformMember("blw-shop-acme");
const objects = (prefix: string) => `projects/_/buckets/bl-fixture-1-batch/objects/shop/${prefix}`;

function allBucketGrants(stack: StackJson) {
  return resourcesOf(stack, "google_storage_bucket_iam_member").map(([, g]) => ({
    bucket: g.bucket,
    role: g.role,
    member: resolveAccount(stack, g.member),
    expression: (g.condition as Body | undefined)?.expression,
  }));
}

/** The grants of the client's principals (its worker account's are checked on their own below). */
function bucketGrants(stack: StackJson) {
  return allBucketGrants(stack).filter((g) => !String(g.member).startsWith("serviceAccount:blw-"));
}

describe("client principals", () => {
  it("creates a service account for a client that names no uploaders", () => {
    const accounts = resourcesOf(acme, "google_service_account").map(([, a]) => a);
    expect(accounts.map((a) => a.account_id).sort()).toEqual(["blc-shop-acme", "blw-shop-acme"]);
    expect(accounts.find((a) => a.account_id === "blc-shop-acme")).toMatchObject({ project: PROJECT });
  });

  it("uses the named uploaders, and creates no account, when the config lists them", () => {
    // Only the worker account its tasks run as.
    expect(resourcesOf(acmeEu, "google_service_account").map(([, a]) => a.account_id)).toEqual([
      "blw-shop-acme-eu",
    ]);
    expect([...new Set(bucketGrants(acmeEu).map((g) => g.member))].sort()).toEqual(
      [...ACME_EU_UPLOADERS].sort(),
    );
  });
});

describe("client bucket access", () => {
  it("lets the client create under its own inputs/ and read and list its own prefix, with exact conditions", () => {
    expect(bucketGrants(acme)).toEqual([
      {
        bucket: "bl-fixture-1-batch",
        role: "roles/storage.objectCreator",
        member: ACME_ACCOUNT,
        expression: CREATE_ACME,
      },
      {
        bucket: "bl-fixture-1-batch",
        role: "roles/storage.objectViewer",
        member: ACME_ACCOUNT,
        expression: READ_ACME,
      },
    ]);
  });

  it("grants every uploader the same two conditional roles and nothing else", () => {
    const grants = bucketGrants(acmeEu);
    expect(grants).toHaveLength(2 * ACME_EU_UPLOADERS.length);
    for (const uploader of ACME_EU_UPLOADERS) {
      expect(grants).toContainEqual({
        bucket: "bl-fixture-1-batch",
        role: "roles/storage.objectCreator",
        member: uploader,
        expression: CREATE_ACME_EU,
      });
      expect(grants).toContainEqual({
        bucket: "bl-fixture-1-batch",
        role: "roles/storage.objectViewer",
        member: uploader,
        expression: READ_ACME_EU,
      });
    }
  });

  it("grants nothing at project level but the worker account's Batch agent and log writing", () => {
    for (const [stack, client] of [
      [acme, "acme"],
      [acmeEu, "acme-eu"],
    ] as const) {
      const projectLevel = resourcesOf(stack, "google_project_iam_member").map(([, g]) => ({
        role: g.role,
        member: resolveAccount(stack, g.member),
        condition: g.condition,
      }));
      expect(projectLevel).toEqual([
        {
          role: "roles/batch.agentReporter",
          member: platformMember(`blw-shop-${client}`),
          condition: undefined,
        },
        {
          role: "roles/logging.logWriter",
          member: platformMember(`blw-shop-${client}`),
          condition: undefined,
        },
      ]);
      expect(Object.keys(stack.resource ?? {}).filter((t) => t.startsWith("google_project_iam"))).toEqual([
        "google_project_iam_member",
      ]);
    }
  });
});

describe("client worker account", () => {
  it("reads only the client's inputs and runs, and writes only its outputs, errors and runs", () => {
    expect(allBucketGrants(acme).filter((g) => g.member === ACME_WORKER)).toEqual([
      {
        bucket: "bl-fixture-1-batch",
        role: "roles/storage.objectViewer",
        member: ACME_WORKER,
        expression: `resource.name.startsWith("${objects("acme/inputs/")}") || resource.name.startsWith("${objects("acme/runs/")}")`,
      },
      {
        bucket: "bl-fixture-1-batch",
        role: "roles/storage.objectUser",
        member: ACME_WORKER,
        expression: ["outputs", "errors", "runs"]
          .map((a) => `resource.name.startsWith("${objects(`acme/${a}/`)}")`)
          .join(" || "),
      },
    ]);
  });

  it("may be used by the workflow's account only, to create the client's jobs", () => {
    const actAs = resourcesOf(acme, "google_service_account_iam_member").map(([, g]) => ({
      role: g.role,
      member: g.member,
    }));
    expect(actAs).toEqual([{ role: "roles/iam.serviceAccountUser", member: platformMember("bl-shop-wf") }]);
  });

  it("pulls images from the platform's repository", () => {
    const pulls = resourcesOf(acme, "google_artifact_registry_repository_iam_member").map(([, g]) => ({
      repository: g.repository,
      role: g.role,
      member: resolveAccount(acme, g.member),
    }));
    expect(pulls).toContainEqual({
      repository: "batchline",
      role: "roles/artifactregistry.reader",
      member: ACME_WORKER,
    });
  });
});

describe("upload trigger", () => {
  it("matches audit-logged object creations under the client's inputs/, at any depth", () => {
    const triggers = resourcesOf(acme, "google_eventarc_trigger").map(([, t]) => t);
    expect(triggers).toHaveLength(1);
    const trigger = triggers[0] as Body;
    expect(trigger).toEqual({
      "//": expect.anything(),
      project: PROJECT,
      location: "europe-west2",
      name: "bl-shop-acme-inputs",
      matching_criteria: [
        { attribute: "type", value: "google.cloud.audit.log.v1.written" },
        { attribute: "serviceName", value: "storage.googleapis.com" },
        { attribute: "methodName", value: "storage.objects.create" },
        {
          attribute: "resourceName",
          operator: "match-path-pattern",
          value: "/projects/_/buckets/bl-fixture-1-batch/objects/shop/acme/inputs/**",
        },
      ],
      destination: { workflow: "projects/bl-fixture-1/locations/europe-west2/workflows/bl-shop-batch" },
      service_account: `bl-shop-trigger@${PROJECT}.iam.gserviceaccount.com`,
    });
  });

  it("has a path pattern that takes nested inputs and nothing outside the client's inputs/", () => {
    const trigger = findOne(acme, "google_eventarc_trigger", "name", "bl-shop-acme-inputs");
    const pattern = (trigger.matching_criteria as Body[])[3]?.value as string;
    const object = (name: string) => `projects/_/buckets/bl-fixture-1-batch/objects/${name}`;
    expect(matchesPathPattern(pattern, object("shop/acme/inputs/a.jsonl"))).toBe(true);
    expect(matchesPathPattern(pattern, object("shop/acme/inputs/2024/01/a.jsonl"))).toBe(true);
    expect(matchesPathPattern(pattern, object("shop/acme/outputs/a.jsonl"))).toBe(false);
    expect(matchesPathPattern(pattern, object("shop/acme-eu/inputs/a.jsonl"))).toBe(false);
    expect(matchesPathPattern(pattern, "projects/_/buckets/other/objects/shop/acme/inputs/a")).toBe(false);
  });
});

describe("result topic", () => {
  it("is batch-<product>-<client>-outputs, published to by notify and (recovering a run) plan only", () => {
    const topics = resourcesOf(acme, "google_pubsub_topic").map(([, t]) => t);
    expect(topics.map((t) => t.name)).toEqual(["batch-shop-acme-outputs"]);
    const publishers = resourcesOf(acme, "google_pubsub_topic_iam_member").filter(
      ([, g]) => g.role === "roles/pubsub.publisher",
    );
    expect(publishers.map(([, g]) => g.member).sort()).toEqual(
      [platformMember("bl-shop-notify"), platformMember("bl-shop-plan")].sort(),
    );
  });

  it("lets the client's principals and its subscribers subscribe, once each", () => {
    const subscribers = (stack: StackJson) =>
      resourcesOf(stack, "google_pubsub_topic_iam_member")
        .filter(([, g]) => g.role === "roles/pubsub.subscriber")
        .map(([, g]) => resolveAccount(stack, g.member))
        .sort();
    expect(subscribers(acme)).toEqual([ACME_ACCOUNT, "group:acme-ops@example.com"].sort());
    expect(subscribers(acmeEu)).toEqual([...ACME_EU_UPLOADERS, "user:ops@acme.example"].sort());
    for (const stack of [acme, acmeEu]) {
      const roles = resourcesOf(stack, "google_pubsub_topic_iam_member").map(([, g]) => g.role);
      expect(new Set(roles)).toEqual(new Set(["roles/pubsub.publisher", "roles/pubsub.subscriber"]));
    }
  });

  it("has a never-expiring pull subscription when the config asks for one", () => {
    const subs = resourcesOf(acme, "google_pubsub_subscription").map(([, s]) => s);
    expect(subs).toHaveLength(1);
    const topicName = resourcesOf(acme, "google_pubsub_topic")[0]?.[0];
    expect(subs[0]).toMatchObject({
      name: "batch-shop-acme-outputs-pull",
      topic: `\${google_pubsub_topic.${topicName}.id}`,
      expiration_policy: { ttl: "" },
    });
    const readers = resourcesOf(acme, "google_pubsub_subscription_iam_member").map(([, g]) => [
      g.role,
      resolveAccount(acme, g.member),
    ]);
    expect(readers.sort()).toEqual(
      [
        ["roles/pubsub.subscriber", ACME_ACCOUNT],
        ["roles/pubsub.subscriber", "group:acme-ops@example.com"],
      ].sort(),
    );
    expect(resourcesOf(acmeEu, "google_pubsub_subscription")).toHaveLength(0);
  });
});

describe("schedule", () => {
  it("POSTs to the Executions API with the scheduler account's OAuth token on the client's cron", () => {
    const jobs = resourcesOf(acme, "google_cloud_scheduler_job").map(([, j]) => j);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      name: "bl-shop-acme-schedule",
      project: PROJECT,
      region: "europe-west2",
      schedule: "*/30 * * * *",
      time_zone: "Europe/Berlin",
      http_target: {
        http_method: "POST",
        uri: "https://workflowexecutions.googleapis.com/v1/projects/bl-fixture-1/locations/europe-west2/workflows/bl-shop-batch/executions",
        oauth_token: {
          service_account_email: `bl-shop-sched@${PROJECT}.iam.gserviceaccount.com`,
          scope: "https://www.googleapis.com/auth/cloud-platform",
        },
      },
    });
    const job = findOne(acme, "google_cloud_scheduler_job", "name", "bl-shop-acme-schedule");
    expect((job.http_target as Body).oidc_token).toBeUndefined();
  });

  it("sends a body whose argument is the JSON string of {client, trigger: schedule}", () => {
    const target = resourcesOf(acme, "google_cloud_scheduler_job")[0]?.[1].http_target as Body;
    const body = JSON.parse(Buffer.from(String(target.body), "base64").toString("utf8")) as Record<
      string,
      unknown
    >;
    expect(body).toEqual({ argument: '{"client":"acme","trigger":"schedule"}' });
    expect(typeof body.argument).toBe("string");
    // The same argument the local scheduler hands the local workflow engine.
    expect(JSON.parse(String(body.argument))).toEqual(scheduleArgument("acme"));
  });

  it("creates no scheduler job for a client without a schedule", () => {
    expect(resourcesOf(acmeEu, "google_cloud_scheduler_job")).toHaveLength(0);
  });
});

describe("registry object", () => {
  it("publishes each client's resolved config to registry/<product>/<client>.json in the platform bucket", () => {
    const config = loadConfig(FIXTURE_CONFIG);
    for (const [id, stack] of [
      ["acme", acme],
      ["acme-eu", acmeEu],
    ] as const) {
      const objects = resourcesOf(stack, "google_storage_bucket_object").map(([, o]) => o);
      expect(objects).toHaveLength(1);
      const [object] = objects as [Body];
      expect(object).toMatchObject({
        bucket: "bl-fixture-1-batch",
        name: `registry/shop/${id}.json`,
        content_type: "application/json",
      });
      // What plan and notify read back is exactly the client as core's loader resolved it.
      const client = parseRegistryDocument("registry object", String(object.content), "shop", id);
      expect(client).toEqual(config.clients.get(id));
      expect(object.content).toBe(registryDocument("shop", client));
    }
  });

  it("is only in client stacks: the platform stack writes no object", () => {
    expect(resourcesOf(synth.stack("platform"), "google_storage_bucket_object")).toEqual([]);
  });
});
