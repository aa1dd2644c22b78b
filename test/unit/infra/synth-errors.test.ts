import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../core/errors.ts";
import { InfraError } from "../../../infra/errors.ts";
import { REPO_ROOT, settingsFromEnv } from "../../../infra/settings.ts";
import { tempDir } from "../../support/temp.ts";
import { configDirWith, FIXTURE_CONFIG, FIXTURE_WORKFLOW, synthWith } from "./support/synth.ts";

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
}

describe("invalid config", () => {
  it("fails synth naming the client file, the field and the value", () => {
    const dir = configDirWith({ "clients/broken.yaml": "id: broken\njob:\n  parallelism: 0\n" });
    const err = errorOf(() => synthWith({ BATCHLINE_CONFIG_DIR: dir }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(join(dir, "clients", "broken.yaml"));
    expect(err.message).toMatch(/field "job\.parallelism": .*\(got 0\)/);
  });

  it("names a misspelled setting", () => {
    const dir = configDirWith({ "clients/typo.yaml": "id: typo\nuploader: [group:x@example.com]\n" });
    const err = errorOf(() => synthWith({ BATCHLINE_CONFIG_DIR: dir }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/field "uploader": is not a known setting/);
  });

  it("names an uploader that is not an IAM member", () => {
    const dir = configDirWith({ "clients/odd.yaml": "id: odd\nuploaders: [alice@example.com]\n" });
    const err = errorOf(() => synthWith({ BATCHLINE_CONFIG_DIR: dir }));
    expect(err.message).toMatch(/field "uploaders\.0": must be an IAM member.*\(got "alice@example\.com"\)/);
  });

  it("refuses a worker image outside this project's Artifact Registry, naming workerImage", () => {
    const platform = (image: string) =>
      `project: bl-fixture-1\nregion: europe-west2\nproduct: shop\nbucket: bl-fixture-1-batch\nworkerImage: ${image}\n` +
      "jobDefaults: {machineType: e2-standard-2, provisioningModel: SPOT, cpuMilli: 1000, memoryMib: 2048, " +
      "maxRetryCount: 3, maxRunDuration: 3600s, parallelism: 4, processor: uppercase}\n";
    for (const image of [
      "docker.io/library/worker:1",
      "europe-west2-docker.pkg.dev/other-project/batchline/worker:1",
      "us-central1-docker.pkg.dev/bl-fixture-1/batchline/worker:1",
    ]) {
      const dir = configDirWith({ "platform.yaml": platform(image) });
      const err = errorOf(() => synthWith({ BATCHLINE_CONFIG_DIR: dir }));
      expect(err).toBeInstanceOf(InfraError);
      expect(err.message).toContain(`field "workerImage"`);
      expect(err.message).toContain(JSON.stringify(image));
    }
    const untagged = configDirWith({
      "platform.yaml": platform("europe-west2-docker.pkg.dev/bl-fixture-1/batchline/worker"),
    });
    expect(errorOf(() => synthWith({ BATCHLINE_CONFIG_DIR: untagged })).message).toMatch(/has no tag/);
    // A deploy-time tag makes the untagged reference usable.
    expect(() => synthWith({ BATCHLINE_CONFIG_DIR: untagged, BATCHLINE_WORKER_TAG: "abc" })).not.toThrow();
  });
});

describe("workflow file", () => {
  it("fails with the path when it is missing", () => {
    const missing = join(tempDir("batchline-nowf-"), "batch.workflows.yaml");
    const err = errorOf(() => synthWith({ BATCHLINE_WORKFLOW_FILE: missing }));
    expect(err).toBeInstanceOf(InfraError);
    expect(err.message).toBe(
      `workflow definition ${missing} does not exist; write it, or point BATCHLINE_WORKFLOW_FILE at another file`,
    );
  });

  it("fails with the path and the YAML problem when it does not parse", () => {
    const file = join(tempDir("batchline-badwf-"), "bad.workflows.yaml");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Workflows expression, not a JS template
    writeFileSync(file, 'main:\n  steps:\n    - fail:\n        raise: ${"bad: " + x}\n');
    const err = errorOf(() => synthWith({ BATCHLINE_WORKFLOW_FILE: file }));
    expect(err).toBeInstanceOf(InfraError);
    expect(err.message).toMatch(new RegExp(`^workflow definition ${file} is not valid YAML: .*line 4`));
  });
});

describe("deploy settings from the environment", () => {
  it("names the variable and the value that are wrong", () => {
    expect(() => settingsFromEnv({ BATCHLINE_STATE_BUCKET: "Not A Bucket" })).toThrow(
      'invalid deploy settings: BATCHLINE_STATE_BUCKET: must be a bucket name (got "Not A Bucket")',
    );
    expect(() => settingsFromEnv({ BATCHLINE_FUNCTIONS_OBJECT: "functions/../x.zip" })).toThrow(
      /BATCHLINE_FUNCTIONS_OBJECT: must be a safe object name ending in \.zip.*\(got "functions\/\.\.\/x\.zip"\)/,
    );
    expect(() => settingsFromEnv({ BATCHLINE_WORKER_TAG: "has space" })).toThrow(/BATCHLINE_WORKER_TAG/);
    expect(() => settingsFromEnv({ BATCHLINE_STATE_PREFIX: "/lead" })).toThrow(/BATCHLINE_STATE_PREFIX/);
  });

  it("defaults to the repository's config, workflow and infra/cdktf.out, and treats blank as unset", () => {
    const settings = settingsFromEnv({ BATCHLINE_STATE_BUCKET: " " });
    expect(settings).toEqual({
      configDir: join(REPO_ROOT, "config"),
      workflowFile: join(REPO_ROOT, "workflows", "batch.workflows.yaml"),
      outdir: join(REPO_ROOT, "infra", "cdktf.out"),
      statePrefix: "batchline",
      localStateDir: join(REPO_ROOT, "infra", "state"),
      functionsObject: "functions/dev.zip",
    });
  });
});

describe("infra/main.ts (npm run infra:synth)", () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "infra", "main.ts")], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      encoding: "utf8",
    });

  it("synthesizes every stack and says where", () => {
    const out = tempDir("batchline-main-");
    const result = run({
      BATCHLINE_CONFIG_DIR: FIXTURE_CONFIG,
      BATCHLINE_WORKFLOW_FILE: FIXTURE_WORKFLOW,
      CDKTF_OUTDIR: out,
      BATCHLINE_LOCAL_STATE_DIR: join(out, "state"),
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^synthesized platform, client-acme-eu, client-acme to .*\/stacks\/\n$/);
    for (const stack of ["platform", "client-acme", "client-acme-eu"]) {
      expect(existsSync(join(out, "stacks", stack, "cdk.tf.json")), stack).toBe(true);
    }
  });

  it("exits 2 with the message, not a stack trace, when config is invalid", () => {
    const dir = configDirWith({ "clients/broken.yaml": "id: broken\nschedule: {cron: '61 * * * *'}\n" });
    const result = run({
      BATCHLINE_CONFIG_DIR: dir,
      BATCHLINE_WORKFLOW_FILE: FIXTURE_WORKFLOW,
      CDKTF_OUTDIR: tempDir("batchline-main-bad-"),
    });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^infra synth: .*broken\.yaml: field "schedule\.cron": /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
