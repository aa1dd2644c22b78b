import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../core/errors.ts";
import { loadBatchLocalConfig, parseBatchLocalConfig, resolveImage } from "../../../local/batch/config.ts";
import { containerCommand } from "../../../local/batch/runner.ts";
import { thrownBy } from "../../support/thrown.ts";

const FILE = "config/local.yaml";

function configError(text: string): ConfigError {
  return thrownBy(ConfigError, () => parseBatchLocalConfig(FILE, text));
}

describe("config/local.yaml, batch section", () => {
  it("maps the platform's worker image to the worker under tsx", () => {
    const config = loadBatchLocalConfig("config/local.yaml");
    const found = resolveImage(
      config.images,
      "europe-west2-docker.pkg.dev/batchline-demo/batchline/worker:latest",
    );
    expect(found?.mapping.command).toEqual(["node", ".batchline/worker/worker.js"]);
    expect(found?.mapping.cwd).toBe(".");
  });

  it("fills defaults and leaves other services' sections alone", () => {
    const config = parseBatchLocalConfig(FILE, "workflows:\n  anything: 1\n");
    expect(config).toEqual({
      images: {},
      logDir: ".batchline/batch/logs",
      secrets: { dir: ".batchline/secrets" },
      env: {},
    });
  });

  it("names the file, the field and the value of every problem", () => {
    const err = configError(
      [
        "batch:",
        "  images:",
        '    "repo/x:*":',
        "      command: []",
        "      entrypoint: sh",
        "  logdir: x",
        "  env:",
        "    1BAD: v",
      ].join("\n"),
    );
    expect(err.file).toBe(FILE);
    expect(err.message).toContain(`${FILE}: `);
    expect(err.problems).toEqual(
      expect.arrayContaining([
        {
          field: "batch.images.repo/x:*.command",
          message: "must name at least the program to run",
          value: [],
        },
        { field: "batch.images.repo/x:*.entrypoint", message: "is not a known setting (check the spelling)" },
        { field: "batch.logdir", message: "is not a known setting (check the spelling)" },
      ]),
    );
    expect(err.message).toContain(
      'field "batch.images.repo/x:*.command": must name at least the program to run (got [])',
    );
    expect(err.message).toContain("1BAD");
  });

  it("allows '*' only at the end of an image key", () => {
    const err = configError(["batch:", "  images:", '    "repo/*/x":', "      command: [sh]"].join("\n"));
    expect(err.message).toContain("a '*' may only end the image name");
  });
});

describe("image resolution", () => {
  const mapping = (name: string) => ({ command: [name], args: [], cwd: ".", env: {} });
  const images = {
    "repo/worker:*": mapping("prefix"),
    "repo/worker:v2*": mapping("longer-prefix"),
    "repo/worker:pinned": mapping("exact"),
    "repo/tool:latest": mapping("tool"),
  };

  it("prefers the exact URI, then the longest prefix", () => {
    expect(resolveImage(images, "repo/worker:pinned")?.mapping.command).toEqual(["exact"]);
    expect(resolveImage(images, "repo/worker:v2.1")?.mapping.command).toEqual(["longer-prefix"]);
    expect(resolveImage(images, "repo/worker:v1")?.mapping.command).toEqual(["prefix"]);
  });

  it("reads an untagged URI as :latest, as Docker does", () => {
    expect(resolveImage(images, "repo/tool")?.key).toBe("repo/tool:latest");
    expect(resolveImage(images, "repo/worker")?.key).toBe("repo/worker:*");
  });

  it("finds nothing for an image that is not mapped", () => {
    expect(resolveImage(images, "other/image:1")).toBeUndefined();
  });
});

describe("container command, as docker run builds it", () => {
  const image = { command: ["node", "main.js"], args: ["--default"], cwd: ".", env: {} };

  it("runs the entrypoint with the image's default arguments", () => {
    expect(containerCommand(image, { imageUri: "x" })).toEqual(["node", "main.js", "--default"]);
  });

  it("appends commands to the entrypoint in place of the defaults", () => {
    expect(containerCommand(image, { imageUri: "x", commands: ["a", "b"] })).toEqual([
      "node",
      "main.js",
      "a",
      "b",
    ]);
  });

  it("replaces the entrypoint (and drops the defaults) when the runnable gives one", () => {
    expect(containerCommand(image, { imageUri: "x", entrypoint: "sh", commands: ["-c", "echo hi"] })).toEqual(
      ["sh", "-c", "echo hi"],
    );
    expect(containerCommand(image, { imageUri: "x", entrypoint: "env" })).toEqual(["env"]);
  });
});
