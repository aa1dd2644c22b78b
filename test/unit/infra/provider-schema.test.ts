import { join } from "node:path";
import { App, TerraformStack } from "cdktf";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../infra/settings.ts";
import {
  loadProviderSchema,
  type ProviderSchema,
  type StackJson,
  structsOf,
  validateStack,
} from "./support/provider-schema.ts";
import { type Synthesized, synthWith } from "./support/synth.ts";

let synth: Synthesized;
let schema: ProviderSchema;

beforeAll(() => {
  schema = loadProviderSchema();
  // Two variants between them use every optional path: schedules, pull subscriptions, created and named
  // principals, a GCS backend.
  synth = synthWith({ BATCHLINE_STATE_BUCKET: "acme-tfstate", BATCHLINE_WORKER_TAG: "abc123" });
});

const clone = (stack: StackJson): StackJson => structuredClone(stack);

describe("synthesized stacks against the google provider's schema", () => {
  it("uses the provider version the package was generated for", () => {
    const platform = synth.stack("platform");
    const required = (platform.terraform as { required_providers: { google: { version: string } } })
      .required_providers;
    expect(schema.version.startsWith("16.")).toBe(true);
    expect(required.google.version).toBe("6.50.0");
  });

  it("has only known resource types, known attributes at every depth, all required ones, and the right types", () => {
    for (const name of synth.stacks) {
      expect(validateStack(synth.stack(name), schema), name).toEqual([]);
    }
  });

  it("holds for the repository's own config and workflow too (what `npm run infra:synth` deploys)", () => {
    const own = synthWith({
      BATCHLINE_CONFIG_DIR: join(REPO_ROOT, "config"),
      BATCHLINE_WORKFLOW_FILE: join(REPO_ROOT, "workflows", "batch.workflows.yaml"),
    });
    expect(own.stacks[0]).toBe("platform");
    expect(own.stacks.length).toBeGreaterThan(1);
    for (const name of own.stacks) expect(validateStack(own.stack(name), schema), name).toEqual([]);
  });
});

describe("the schema derived from the package's jsii assembly", () => {
  const usedTypes = () => [
    ...new Set(synth.stacks.flatMap((name) => Object.keys(synth.stack(name).resource ?? {}))),
  ];

  it("names exactly the attributes the generated classes synthesize, for every resource type the stacks use", async () => {
    const stack = new TerraformStack(new App({ outdir: synth.outdir }), "probe");
    expect(usedTypes().length).toBeGreaterThan(15);
    for (const tfType of usedTypes()) {
      const resource = schema.resources.get(tfType);
      expect(resource, tfType).toBeDefined();
      if (!resource) continue;
      const mod = (await import(`@cdktf/provider-google/lib/${resource.module}/index.js`)) as Record<
        string,
        unknown
      >;
      const Resource = mod[resource.className] as new (
        scope: TerraformStack,
        id: string,
        config: object,
      ) => { synthesizeAttributes(): Record<string, unknown> };
      const generated = Object.keys(new Resource(stack, tfType, {}).synthesizeAttributes()).sort();
      expect([...resource.config.attributes.keys()].sort(), tfType).toEqual(generated);
      // Nested blocks: each struct's generated `<struct>ToTerraform` emits every attribute key it knows.
      for (const struct of structsOf(resource).slice(1)) {
        const toTerraform = mod[`${struct.name.charAt(0).toLowerCase()}${struct.name.slice(1)}ToTerraform`] as
          | ((s: object) => Record<string, unknown>)
          | undefined;
        expect(toTerraform, `${struct.name}ToTerraform`).toBeTypeOf("function");
        if (!toTerraform) continue;
        expect([...struct.attributes.keys()].sort(), struct.name).toEqual(
          Object.keys(toTerraform({})).sort(),
        );
      }
    }
  });

  it("names exactly the provider block's attributes", async () => {
    const { GoogleProvider } = await import("@cdktf/provider-google/lib/provider/index.js");
    const stack = new TerraformStack(new App({ outdir: synth.outdir }), "provider-probe");
    const provider = new GoogleProvider(stack, "google", {}) as unknown as {
      synthesizeAttributes(): Record<string, unknown>;
    };
    expect([...schema.provider.config.attributes.keys()].sort()).toEqual(
      Object.keys(provider.synthesizeAttributes()).sort(),
    );
  });
});

describe("the validator", () => {
  const trigger = (stack: StackJson) =>
    Object.values(stack.resource?.google_eventarc_trigger ?? {})[0] as Record<string, unknown>;

  it("catches a misspelled top-level attribute", () => {
    const stack = clone(synth.stack("client-acme"));
    const t = trigger(stack);
    t.service_acount = t.service_account;
    delete t.service_account;
    expect(validateStack(stack, schema)).toEqual([
      expect.stringMatching(
        /google_eventarc_trigger\..*\.service_acount: not an attribute of EventarcTriggerConfig/,
      ),
    ]);
  });

  it("catches a misspelled attribute inside a nested block", () => {
    const stack = clone(synth.stack("client-acme"));
    const criteria = trigger(stack).matching_criteria as Record<string, unknown>[];
    const last = criteria[3] as Record<string, unknown>;
    last.operater = last.operator;
    delete last.operator;
    expect(validateStack(stack, schema)).toEqual([
      expect.stringMatching(
        /matching_criteria\[3\]\.operater: not an attribute of EventarcTriggerMatchingCriteria/,
      ),
    ]);
  });

  it("catches a missing required attribute and a wrong primitive type", () => {
    const stack = clone(synth.stack("platform"));
    const bucket = Object.values(stack.resource?.google_storage_bucket ?? {})[0] as Record<string, unknown>;
    delete bucket.location;
    bucket.uniform_bucket_level_access = "yes";
    const problems = validateStack(stack, schema);
    expect(problems).toContainEqual(
      expect.stringMatching(/google_storage_bucket\..*\.location: required, missing/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/uniform_bucket_level_access: expected a boolean, got "yes"/),
    );
    expect(problems).toHaveLength(2);
  });

  it("catches an unknown resource type and a bad provider attribute", () => {
    const stack = clone(synth.stack("client-acme"));
    (stack.resource as Record<string, unknown>).google_storage_buckets = { x: { name: "n" } };
    (stack.provider?.google?.[0] as Record<string, unknown>).regoin = "europe-west2";
    const problems = validateStack(stack, schema);
    expect(problems).toContainEqual(expect.stringMatching(/^google_storage_buckets: not a resource type/));
    expect(problems).toContainEqual(
      expect.stringMatching(/^provider\.google\[0\]\.regoin: not an attribute/),
    );
    expect(problems).toHaveLength(2);
  });
});
