// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} is what these tests are about
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { terraformLiteral } from "../../../infra/terraform-literal.ts";
import { asTerraformPassesIt, configDirWith, synthWith } from "./support/synth.ts";

// In Terraform's JSON syntax every string is a template: `${…}` is an expression and `%{…}` a directive, and
// only `$${` and `%%{` stand for the characters themselves. Workflow sources, the client registry object and
// the alerts' documentation are full of `${…}` meant for Workflows, the container and Cloud Monitoring; let
// one through unescaped and `terraform plan` fails on a reference to something that was never declared.

/** Every string in a synthesized stack, with its JSON path. */
function strings(value: unknown, path = ""): [string, string][] {
  if (typeof value === "string") return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

/** The template sequences Terraform would act on: `${` not preceded by `$`, `%{` not preceded by `%`. */
function templateSequences(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(\$+)\{|(%+)\{/g)) {
    const run = m[1] ?? m[2] ?? "";
    if (run.length % 2 === 1) found.push(text.slice(m.index + run.length - 1, m.index + run.length + 40));
  }
  return found;
}

/** A reference CDKTF writes on purpose: to a resource's attribute, a data source, a variable or a local. */
const REFERENCE = /^\$\{(google_[a-z0-9_]+\.|data\.|var\.|local\.)/;

function stackNamed(
  name: string,
  index = 0,
): Record<string, Record<string, Record<string, Record<string, unknown>>>> {
  const found = stacks.filter((s) => s.name === name)[index];
  if (!found) throw new Error(`no stack ${name}`);
  return found.json as Record<string, Record<string, Record<string, Record<string, unknown>>>>;
}

function onlyResource(name: string, type: string, index = 0): Record<string, unknown> {
  const instances = Object.values(stackNamed(name, index).resource?.[type] ?? {});
  expect(instances).toHaveLength(1);
  return instances[0] as Record<string, unknown>;
}

let stacks: Array<{ name: string; json: unknown }>;

beforeAll(() => {
  // The repository's own workflow and a container client whose commands carry ${BATCHLINE_INPUT_PATH}.
  // And a client whose display name (its own text) happens to hold both template sequences.
  const oddName = 'id: odd-name\ndisplayName: "Team ${x} and %{y}"\nsubscribers: []\n';
  const dir = configDirWith({
    "clients/python-client.yaml": readFileSync("examples/python-client/client.yaml", "utf8"),
    "clients/odd-name.yaml": oddName,
  });
  const channel = "projects/bl-fixture-1/notificationChannels/1234567890";
  const platform = readFileSync(`${dir}/platform.yaml`, "utf8");
  const withAlerts = configDirWith({
    "platform.yaml": `${platform}alerts:\n  notificationChannels: ["${channel}"]\n`,
    "clients/python-client.yaml": readFileSync("examples/python-client/client.yaml", "utf8"),
  });
  stacks = [];
  for (const configDir of [dir, withAlerts]) {
    const app = synthWith({
      BATCHLINE_CONFIG_DIR: configDir,
      BATCHLINE_WORKFLOW_FILE: "workflows/batch.workflows.yaml",
    });
    for (const name of app.stacks) stacks.push({ name, json: app.stack(name) });
  }
});

describe("Terraform sees every string as written", () => {
  it("synthesizes the platform stack and one stack per client, the container client among them", () => {
    const names = stacks.map((s) => s.name);
    expect(names).toContain("platform");
    expect(names).toContain("client-python-client");
    expect(names).toContain("client-odd-name");
  });

  it("leaves no ${ or %{ unescaped except CDKTF's own references", () => {
    const stray: string[] = [];
    for (const { name, json } of stacks) {
      for (const [path, text] of strings(json)) {
        for (const seq of templateSequences(text)) {
          if (!(seq.startsWith("${") && REFERENCE.test(seq))) stray.push(`${name} ${path}: ${seq}`);
        }
      }
    }
    expect(stray).toEqual([]);
  });

  it("hands Workflows the workflow source exactly as it is in the repository", () => {
    const workflow = onlyResource("platform", "google_workflows_workflow");
    expect(asTerraformPassesIt(String(workflow.source_contents))).toBe(
      readFileSync("workflows/batch.workflows.yaml", "utf8"),
    );
  });

  it("writes the container client's registry object with its ${…} commands intact", () => {
    const object = onlyResource("client-python-client", "google_storage_bucket_object");
    const document = JSON.parse(asTerraformPassesIt(String(object.content))) as {
      client: { job: { container: { commands: string[] } } };
    };
    expect(document.client.job.container.commands).toEqual([
      "main.py",
      "${BATCHLINE_INPUT_PATH}",
      "${BATCHLINE_OUTPUT_DIR}",
    ]);
  });

  it("keeps Cloud Monitoring's ${metric.label.client} in the failed-jobs alert's documentation", () => {
    const policies = Object.values(stackNamed("platform", 1).resource?.google_monitoring_alert_policy ?? {});
    const docs = policies.map((p) => p.documentation as { subject: string; content: string });
    const failedJobs = docs.find((d) => d.subject.includes("Batch job"));
    expect(asTerraformPassesIt(failedJobs?.subject ?? "")).toBe(
      "Batchline shop: a Batch job of client ${metric.label.client} failed",
    );
    expect(asTerraformPassesIt(failedJobs?.content ?? "")).toContain(
      "batchline runs --client ${metric.label.client}",
    );
  });

  it("passes a client's display name on as written", () => {
    const descriptions = Object.values(
      stackNamed("client-odd-name").resource?.google_service_account ?? {},
    ).map((account) => asTerraformPassesIt(String(account.description)));
    expect(descriptions.length).toBeGreaterThan(0);
    for (const description of descriptions) expect(description).toContain("Team ${x} and %{y}");
  });

  it("escapes both of Terraform's template sequences, and only those", () => {
    const text = 'a ${x} b %{ if y } c $ d % e {f} "${"';
    const escaped = terraformLiteral(text);
    expect(escaped).toBe('a $${x} b %%{ if y } c $ d % e {f} "$${"');
    expect(templateSequences(escaped)).toEqual([]);
    expect(asTerraformPassesIt(escaped)).toBe(text);
  });
});
