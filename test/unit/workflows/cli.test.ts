// biome-ignore-all lint/suspicious/noTemplateCurlyInString: workflow sources spell ${…} expressions on purpose
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../../support/temp.ts";

const REPO = join(import.meta.dirname, "..", "..", "..");
const dir = tempDir("wf-cli-");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/batchline.js", "workflows", ...args], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, BATCHLINE_LOG_FORMAT: "json" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SUM = `
main:
  params: [args]
  steps:
    - log:
        call: sys.log
        args: {text: "summing"}
    - r:
        return:
          sum: \${args.a + args.b}
          who: \${sys.get_env("WHO")}
`;

describe("batchline workflows run", () => {
  it("prints the result as JSON on stdout and exits 0; sys.log goes to stderr", () => {
    const r = cli("run", file("sum.yaml", SUM), "--data", '{"a": 2, "b": 40}', "--env", "WHO=cli");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ sum: 42, who: "cli" });
    expect(r.stderr).toContain('"payload":"summing"');
  });

  it("prints the unhandled error map on stderr and exits 1", () => {
    const r = cli("run", file("boom.yaml", "- a:\n    assign: [x: '${1 / 0}']\n"));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(JSON.parse(r.stderr)).toEqual({ message: "division by zero", tags: ["ZeroDivisionError"] });
  });

  it("exits 2 with file, step and reason when the workflow does not deploy", () => {
    const path = file("bad.yaml", "- a:\n    next: nowhere\n");
    const r = cli("run", path);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `${path}: step "a": next: "nowhere" is not a step that can be reached from here (undefined, or inside another block)`,
    );
  });

  it("exits 2 when --data is not JSON", () => {
    const r = cli("run", file("sum2.yaml", SUM), "--data", "{nope");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--data is not JSON");
  });
});

describe("batchline workflows check", () => {
  it("checks every file, prints problems with file and step, and exits 1 if any is bad", () => {
    const good = file("good.yaml", SUM);
    const bad = file("bad2.yaml", "- a:\n    call: no.such.function\n");
    const r = cli("check", good, bad);
    expect(r.code).toBe(1);
    expect(r.stdout.trim()).toBe(`${good}: ok`);
    expect(r.stderr.trim()).toBe(`${bad}: step "a": unknown function or subworkflow no.such.function`);
  });

  it("knows the local Batch connector, so Batch workflows validate", () => {
    const path = file(
      "batch.yaml",
      "- g:\n    call: googleapis.batch.v1.projects.locations.jobs.get\n    args: {name: projects/p/locations/l/jobs/j}\n",
    );
    expect(cli("check", path)).toMatchObject({ code: 0, stdout: `${path}: ok\n` });
  });

  it("accepts published connectors and gke functions, and run names the one it cannot emulate", () => {
    const path = file(
      "published.yaml",
      [
        "- secret:",
        "    call: googleapis.secretmanager.v1.projects.secrets.versions.accessString",
        "    args: {secret_id: db}",
        "- job:",
        "    call: gke.create_job",
        "    args: {cluster_id: c, job: {}}",
        "",
      ].join("\n"),
    );
    expect(cli("check", path)).toMatchObject({ code: 0, stdout: `${path}: ok\n` });
    const r = cli("run", path);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toMatchObject({
      tags: ["SystemError"],
      message: expect.stringContaining(
        "connector googleapis.secretmanager.v1.projects.secrets.versions.accessString is not emulated by the local cloud; emulated connectors: googleapis.batch.v1.",
      ),
    });
  });

  it("exits 0 when all files deploy", () => {
    expect(cli("check", file("good2.yaml", SUM)).code).toBe(0);
  });
});
