import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { localConnectors } from "../../../local/connectors.ts";
import { parseWorkflow, WorkflowDeployError } from "../../../local/workflows/index.ts";
import { REPO_ROOT } from "./cases.ts";

// Workflow YAML is code: every *.workflows.yaml in the repository must deploy on our engine,
// the way GoogleCloudPlatform/workflows-samples validates every file in CI.

const SKIP_DIRS = new Set(["node_modules", ".git", "dist", "cdktf.out"]);

// Test fixtures that exist to be rejected follow the name invalid*.workflows.yaml; they are not deployable.
function isRejectFixture(path: string): boolean {
  return /(^|\/)fixtures\//.test(path) && /(^|\/)invalid[^/]*\.workflows\.yaml$/.test(path);
}

function findWorkflowFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...findWorkflowFiles(join(dir, entry.name)));
    } else if (entry.name.endsWith(".workflows.yaml")) {
      out.push(join(dir, entry.name));
    }
  }
  return out.sort();
}

// Deploy with the connectors the local cloud registers (the endpoints are not contacted by a deploy).
const connectors = localConnectors({
  storageEndpoint: "http://127.0.0.1:1",
  pubsubEmulatorHost: "127.0.0.1:1",
  batchEndpoint: "http://127.0.0.1:1",
});

const files = findWorkflowFiles(REPO_ROOT)
  .map((f) => relative(REPO_ROOT, f))
  .filter((f) => !isRejectFixture(f));

describe("repository workflow files", () => {
  it("finds the pipeline workflow and the example workflows", () => {
    expect(files).toContain("workflows/batch.workflows.yaml");
    expect(files).toEqual(
      expect.arrayContaining([expect.stringMatching(/^examples\/workflows\/.+\.workflows\.yaml$/)]),
    );
  });

  for (const file of files) {
    it(`${file} deploys`, () => {
      const source = readFileSync(join(REPO_ROOT, file), "utf8");
      try {
        parseWorkflow(source, { fileName: file, connectors });
      } catch (err) {
        const detail =
          err instanceof WorkflowDeployError ? JSON.stringify(err.problems, null, 2) : String(err);
        throw new Error(`${file} does not deploy:\n${detail}`);
      }
    });
  }
});
