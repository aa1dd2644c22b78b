import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { WORKFLOW_ENV_NAMES } from "../../../core/workflow-env.ts";
import { PROJECT_GRANTS } from "../../../infra/constructs/service-accounts.ts";
import { clientReaderCondition } from "../../../infra/iam.ts";
import { FUNCTION_ENV } from "../../../infra/runtime-env.ts";
import { REPO_ROOT, SETTINGS_ENV } from "../../../infra/settings.ts";

const DOC = readFileSync(join(REPO_ROOT, "docs", "deploy.md"), "utf8");

/** The first column of every row of the markdown table under `heading`. */
function tableKeys(heading: string): string[] {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  expect(start, heading).toBeGreaterThan(-1);
  const section = DOC.slice(start + 1).split(/\n## /)[0] ?? "";
  return section
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => /^\| `([^`]+)`/.exec(line)?.[1] ?? "");
}

describe("docs/deploy.md", () => {
  it("lists exactly the deploy settings infra reads", () => {
    expect(tableKeys("Deploy settings").sort()).toEqual(Object.keys(SETTINGS_ENV).sort());
  });

  it("lists exactly the workflow's and the functions' environment", () => {
    const keys = tableKeys("Runtime environment");
    const functionNames = FUNCTION_ENV.map((e) => e.name);
    expect(keys.slice(0, WORKFLOW_ENV_NAMES.length).sort()).toEqual([...WORKFLOW_ENV_NAMES].sort());
    expect(keys.slice(WORKFLOW_ENV_NAMES.length).sort()).toEqual([...functionNames].sort());
  });

  it("lists exactly cloudbuild.yaml's substitutions, with their defaults", () => {
    const build = parse(readFileSync(join(REPO_ROOT, "cloudbuild.yaml"), "utf8")) as {
      substitutions: Record<string, string>;
    };
    expect(tableKeys("Cloud Build").sort()).toEqual(Object.keys(build.substitutions).sort());
    for (const [key, value] of Object.entries(build.substitutions)) {
      if (value === "") continue;
      expect(DOC).toMatch(new RegExp(`\\| \`${key}\`\\s*\\|.*\\| \`${value.replace(/\./g, "\\.")}\`\\s*\\|`));
    }
  });

  it("has every project-level grant in the IAM table, and the read condition exactly as deployed", () => {
    const iam = DOC.slice(DOC.indexOf("## IAM: who can do what"));
    for (const grants of Object.values(PROJECT_GRANTS)) {
      for (const grant of grants) expect(iam).toContain(`\`${grant.role}\``);
    }
    const expression = clientReaderCondition("BUCKET", "demo", "CLIENT").expression.replaceAll(
      "CLIENT",
      "<client>",
    );
    const [objects, list] = expression.split(" || ");
    expect(iam).toContain(objects);
    expect(iam).toContain(`  || ${list}`);
  });

  it("walks from an empty project to the first message, in order", () => {
    const steps = [
      "## Prerequisites",
      "## 1. The deploy bucket",
      "## 2. Configure",
      "## 3. Bundle the functions",
      "## 4. Deploy the platform",
      "## 5. Build and push the worker image",
      "## 6. Deploy the client",
      "## 7. Upload a file",
      "## 8. Read the message",
    ];
    const at = steps.map((s) => DOC.indexOf(`\n${s}\n`));
    for (const [i, s] of steps.entries()) expect(at[i], s).toBeGreaterThan(-1);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(DOC).toContain("deploy platform");
    expect(DOC).toContain("deploy client-demo");
  });

  it("covers onboarding, offboarding and the known troubles", () => {
    for (const heading of ["## Onboard a client", "## Offboard a client", "## Troubleshooting"]) {
      expect(DOC).toContain(`\n${heading}\n`);
    }
    for (const trouble of [
      "Workflows memory limit",
      "An upload did not start a run",
      "Eventarc service agent",
      "Batch quota",
      "Spot preemption",
      "Function invoker 403",
    ]) {
      expect(DOC).toContain(`**${trouble}`);
    }
  });
});
