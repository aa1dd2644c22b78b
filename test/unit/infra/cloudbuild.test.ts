import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../../core/config/load.ts";
import { REPO_ROOT } from "../../../infra/settings.ts";
import { workloadImageLines } from "../../../infra/workload-images.ts";

interface Step {
  id: string;
  name: string;
  waitFor?: string[];
  entrypoint?: string;
  args?: string[];
  env?: string[];
}

interface Build {
  substitutions: Record<string, string>;
  steps: Step[];
  [key: string]: unknown;
}

const TEXT = readFileSync(join(REPO_ROOT, "cloudbuild.yaml"), "utf8");
const BUILD = parse(TEXT) as Build;
const step = (id: string): Step => {
  const found = BUILD.steps.find((s) => s.id === id);
  if (!found) throw new Error(`no step ${id}`);
  return found;
};
const script = (s: Step) => [s.entrypoint ?? "", ...(s.args ?? [])].join(" ");

/** Cloud Build's built-in substitutions the file may use without declaring them. */
const BUILT_INS = new Set([
  "PROJECT_ID",
  "PROJECT_NUMBER",
  "BUILD_ID",
  "LOCATION",
  "COMMIT_SHA",
  "SHORT_SHA",
]);

/**
 * Every substitution reference in the file's steps, the way Cloud Build reads them: `$$` is a literal `$`,
 * `$NAME` and `${NAME}` are substitutions, and any other `$` is an error Cloud Build would refuse.
 */
function references(text: string): { names: string[]; invalid: string[] } {
  const names: string[] = [];
  const invalid: string[] = [];
  const re = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|.?)/g;
  for (const m of text.matchAll(re)) {
    if (m[1] === "$") continue;
    const name = m[2] ?? m[3];
    if (name && /^[A-Z_][A-Z0-9_]*$/.test(name)) names.push(name);
    else invalid.push(m[0]);
  }
  return { names, invalid };
}

/** Every step a step waits on, directly or not. */
function upstream(id: string): Set<string> {
  const seen = new Set<string>();
  const visit = (s: string) => {
    for (const dep of step(s).waitFor ?? []) {
      if (dep === "-" || seen.has(dep)) continue;
      seen.add(dep);
      visit(dep);
    }
  };
  visit(id);
  return seen;
}

describe("cloudbuild.yaml", () => {
  const stepsText = JSON.stringify(BUILD.steps);

  it("has uniquely named steps, each waiting only on steps defined before it", () => {
    const ids = BUILD.steps.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([
      "install",
      "lint",
      "typecheck",
      "test",
      "worker-image",
      "build-worker",
      "workload-images",
      "build-workloads",
      "bundle-functions",
      "push-worker",
      "push-workloads",
      "upload-functions",
      "deploy",
    ]);
    BUILD.steps.forEach((s, i) => {
      for (const dep of s.waitFor ?? []) {
        expect(ids.slice(0, i), `${s.id} waits for ${dep}`).toContain(dep);
      }
    });
    // Without waitFor a step waits for every earlier one; only the first may rely on that.
    for (const s of BUILD.steps.slice(1)) expect(s.waitFor, s.id).toBeDefined();
  });

  it("declares every substitution it uses, uses every one it declares, and escapes shell dollars", () => {
    const { names, invalid } = references(stepsText);
    expect(invalid).toEqual([]);
    const user = new Set(names.filter((n) => n.startsWith("_")));
    const builtIn = new Set(names.filter((n) => !n.startsWith("_")));
    expect([...user].sort()).toEqual(Object.keys(BUILD.substitutions).sort());
    for (const n of builtIn) expect(BUILT_INS, `${n} is not a built-in substitution`).toContain(n);
    for (const key of Object.keys(BUILD.substitutions)) expect(key).toMatch(/^_[A-Z0-9_]+$/);
  });

  it("documents every substitution in its header comment", () => {
    const header = TEXT.slice(0, TEXT.indexOf("substitutions:"));
    for (const key of Object.keys(BUILD.substitutions)) expect(header).toContain(`#   ${key} `);
  });

  it("installs with npm ci, lints with biome, typechecks and runs npm test", () => {
    expect(script(step("install"))).toBe("npm ci --no-audit --no-fund");
    expect(script(step("lint"))).toBe("npx biome check .");
    expect(script(step("typecheck"))).toBe("npm run typecheck");
    expect(script(step("test"))).toMatch(/\nnpm test\n$/);
    for (const id of ["lint", "typecheck", "test", "bundle-functions", "worker-image"]) {
      expect(upstream(id)).toContain("install");
    }
  });

  it("builds worker/Dockerfile into the config's image, tagged with the commit and latest", () => {
    const build = script(step("build-worker"));
    expect(step("build-worker").name).toBe("gcr.io/cloud-builders/docker");
    expect(build).toContain("-f worker/Dockerfile");
    expect(build).toContain('-t "$$image:$COMMIT_SHA" -t "$$image:latest"');
    expect(script(step("worker-image"))).toContain(
      "node --import tsx infra/worker-image.ts > /workspace/worker-image.txt",
    );
    expect(script(step("push-worker"))).toContain(
      'docker push --all-tags "$$(cat /workspace/worker-image.txt)"',
    );
  });

  it("builds every workload image config lists from its context, and pushes them after the tests", () => {
    expect(script(step("workload-images"))).toContain(
      "node --import tsx infra/workload-images.ts > /workspace/workload-images.txt",
    );
    const build = script(step("build-workloads"));
    expect(build).toContain("read -r image context dockerfile");
    expect(build).toContain(
      'docker build -f "$$context/$$dockerfile" -t "$$image:$COMMIT_SHA" -t "$$image:latest" "$$context"',
    );
    expect(build).toContain("< /workspace/workload-images.txt");
    expect(script(step("push-workloads"))).toContain('docker push --all-tags "$$image"');
    for (const id of ["lint", "typecheck", "test", "build-workloads"])
      expect(upstream("push-workloads")).toContain(id);
    expect(upstream("deploy")).toContain("push-workloads");
  });

  it("lists the workload images of config/platform.yaml, and names an entry whose context is missing", () => {
    const { platform } = loadConfig(join(REPO_ROOT, "config"));
    expect(workloadImageLines(platform)).toEqual([
      "europe-west2-docker.pkg.dev/batchline-demo/clients/python-client\texamples/python-client\tDockerfile",
    ]);
    const two = {
      ...platform,
      workloadImages: [
        ...platform.workloadImages,
        {
          image: "europe-west2-docker.pkg.dev/p/clients/model",
          context: "examples/none",
          dockerfile: "Dockerfile",
        },
      ],
    };
    expect(() => workloadImageLines(two)).toThrow(
      "platform.yaml workloadImages[1] (europe-west2-docker.pkg.dev/p/clients/model): context examples/none is not a directory of the repository",
    );
    expect(workloadImageLines({ ...platform, workloadImages: [] })).toEqual([]);
  });

  it("bundles the functions with infra/bundle.ts and uploads the zip under the commit", () => {
    expect(script(step("bundle-functions"))).toBe(
      "node --import tsx infra/bundle.ts --out dist/functions.zip",
    );
    const upload = script(step("upload-functions"));
    expect(upload).toContain(
      'gcloud storage cp dist/functions.zip "gs://$$bucket/functions/$COMMIT_SHA.zip"',
    );
    // Falls back the way infra does: sources bucket, else state bucket, else <project>-batchline-deploy.
    expect(upload).toContain(`bucket="\${_SOURCES_BUCKET}"`);
    expect(upload).toContain(`bucket="\${_STATE_BUCKET}"`);
    expect(upload).toContain('bucket="$PROJECT_ID-batchline-deploy"');
  });

  it("publishes nothing until lint, typecheck and test pass, and deploys last", () => {
    for (const id of ["push-worker", "upload-functions", "deploy"]) {
      const before = upstream(id);
      for (const gate of ["lint", "typecheck", "test"]) expect(before, `${id} after ${gate}`).toContain(gate);
    }
    const deploy = upstream("deploy");
    expect(deploy).toContain("push-worker");
    expect(deploy).toContain("upload-functions");
    expect(BUILD.steps.at(-1)?.id).toBe("deploy");
  });

  it("deploys only when _DEPLOY is true, with the artifacts this build produced", () => {
    const deploy = step("deploy");
    const body = script(deploy);
    expect(body).toMatch(/if \[ "\$\{_DEPLOY\}" != "true" \]; then[\s\S]*?exit 0\n\s*fi/);
    expect(body.indexOf(`"\${_DEPLOY}" != "true"`)).toBeLessThan(body.indexOf("cdktf-cli"));
    expect(body).toContain(`npx --yes "cdktf-cli@\${_CDKTF_CLI_VERSION}" deploy $$stacks --auto-approve`);
    expect(body).toContain("sha256sum -c -");
    expect(deploy.env).toEqual(
      expect.arrayContaining([
        `BATCHLINE_STATE_BUCKET=\${_STATE_BUCKET}`,
        "BATCHLINE_FUNCTIONS_OBJECT=functions/$COMMIT_SHA.zip",
        "BATCHLINE_WORKER_TAG=$COMMIT_SHA",
      ]),
    );
    expect(BUILD.substitutions._DEPLOY).toBe("false");
  });
});

describe("cdktf.json", () => {
  it("runs the synth entry point and writes where infra expects", () => {
    const config = JSON.parse(readFileSync(join(REPO_ROOT, "cdktf.json"), "utf8"));
    expect(config).toMatchObject({
      language: "typescript",
      app: "node --import tsx infra/main.ts",
      output: "infra/cdktf.out",
    });
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
    expect(pkg.scripts["infra:synth"]).toBe(config.app);
  });
});
