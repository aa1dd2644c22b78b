import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bundleFunctions, packageNameOf } from "../../../infra/bundle.ts";
import { InfraError } from "../../../infra/errors.ts";
import type { FunctionSpec } from "../../../infra/functions-spec.ts";
import { PIPELINE_FUNCTIONS } from "../../../infra/functions-spec.ts";
import { REPO_ROOT } from "../../../infra/settings.ts";
import { crc32, createZip } from "../../../infra/zip.ts";
import { tempDir } from "../../support/temp.ts";
import { FIXTURES } from "./support/synth.ts";

const ROOT = join(FIXTURES, "bundle-root");

function spec(name: string, source: string): FunctionSpec {
  return {
    name,
    entryPoint: name,
    source,
    runAs: "plan",
    description: name,
    availableMemory: "256Mi",
    timeoutSeconds: 60,
    maxInstances: 1,
  };
}

const FIXTURE_FUNCTIONS = [spec("hello", "functions/hello/index.ts"), spec("bye", "functions/bye/index.ts")];

function scratchDir(label: string): string {
  return tempDir(`batchline-${label}-`);
}

/** `unzip` is an independent reader: what it extracts is what Cloud Functions' build will see. */
function unzip(zip: string, into: string): void {
  execFileSync("unzip", ["-q", zip, "-d", into]);
}

describe("zip writer", () => {
  it("computes the standard CRC-32", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it("writes archives unzip reads back byte for byte, including UTF-8 names and empty files", () => {
    const dir = scratchDir("zip");
    const big = Buffer.from(`${"x".repeat(200_000)}end`);
    const entries = [
      { name: "a.txt", data: Buffer.from("alpha\n") },
      { name: "dir/ünï.json", data: Buffer.from('{"k":1}') },
      { name: "empty", data: Buffer.alloc(0) },
      { name: "big.txt", data: big },
    ];
    const file = join(dir, "t.zip");
    writeFileSync(file, createZip(entries));
    expect(execFileSync("unzip", ["-t", file]).toString()).toContain("No errors detected");
    const out = join(dir, "out");
    unzip(file, out);
    for (const e of entries) expect(readFileSync(join(out, e.name)).equals(e.data), e.name).toBe(true);
  });

  it("is deterministic and refuses unsafe or duplicate names", () => {
    const entries = [{ name: "x", data: Buffer.from("1") }];
    expect(createZip(entries).equals(createZip(entries))).toBe(true);
    expect(() => createZip([{ name: "../x", data: Buffer.from("") }])).toThrow(/unsafe/);
    expect(() => createZip([{ name: "/x", data: Buffer.from("") }])).toThrow(/unsafe/);
    expect(() => createZip([...entries, ...entries])).toThrow(/duplicate/);
  });

  it("stores deflated data that inflates to the input (checked without unzip too)", () => {
    const data = Buffer.from("hello hello hello hello");
    const zip = createZip([{ name: "h", data }]);
    const compressedSize = zip.readUInt32LE(18);
    const nameLength = zip.readUInt16LE(26);
    expect(zip.readUInt16LE(8)).toBe(8); // deflate
    expect(inflateRawSync(zip.subarray(30 + nameLength, 30 + nameLength + compressedSize)).equals(data)).toBe(
      true,
    );
  });
});

describe("function bundle", () => {
  it("holds package.json and one index.js that registers every function with one functions-framework", async () => {
    const dir = scratchDir("bundle");
    const result = await bundleFunctions({
      root: ROOT,
      functions: FIXTURE_FUNCTIONS,
      outFile: join(dir, "f.zip"),
    });
    expect(result.entries).toEqual(["package.json", "index.js"]);
    expect(result.dependencies).toEqual({ "@google-cloud/functions-framework": "^5.0.5", zod: "^4.6.7" });

    const out = join(dir, "unzipped");
    unzip(result.outFile, out);
    const manifest = JSON.parse(readFileSync(join(out, "package.json"), "utf8"));
    expect(manifest).toMatchObject({ type: "module", main: "index.js", dependencies: result.dependencies });
    const code = readFileSync(join(out, "index.js"), "utf8");
    // Our own modules are compiled in; packages stay imports, resolved by the deployed node_modules.
    expect(code).toContain("function greeting(");
    expect(code).toContain("function clientPrefix(");
    expect(code).toMatch(/from "@google-cloud\/functions-framework"/);
    expect(code).not.toMatch(/from "\.{1,2}\//);

    // Run it as Cloud Functions does: load index.js, then look the entry points up in functions-framework.
    symlinkSync(join(REPO_ROOT, "node_modules"), join(out, "node_modules"), "dir");
    const probe = `
      await import("./index.js");
      const { getFunction } = await import("@google-cloud/functions-framework/testing");
      const said = [];
      for (const name of ["hello", "bye"]) getFunction(name)({ body: { name: "Ada" } }, { send: (s) => said.push(s) });
      console.log(JSON.stringify(said));`;
    const said = execFileSync("node", ["--input-type=module", "-e", probe], { cwd: out }).toString().trim();
    expect(JSON.parse(said)).toEqual(["hello, Ada (shop/ada/)", "bye, Ada (shop/ada/)"]);
  });

  it("gives the same bytes for the same sources", async () => {
    const dir = scratchDir("bundle-twice");
    const a = await bundleFunctions({
      root: ROOT,
      functions: FIXTURE_FUNCTIONS,
      outFile: join(dir, "a.zip"),
    });
    const b = await bundleFunctions({
      root: ROOT,
      functions: FIXTURE_FUNCTIONS,
      outFile: join(dir, "b.zip"),
    });
    expect(a.sha256).toBe(b.sha256);
    expect(readFileSync(a.outFile).equals(readFileSync(b.outFile))).toBe(true);
  });

  it("refuses code that imports a devDependency, naming the package", async () => {
    const dir = scratchDir("bundle-dev");
    const run = bundleFunctions({
      root: ROOT,
      functions: [spec("dev", "functions/dev-only/index.ts")],
      outFile: join(dir, "x.zip"),
    });
    await expect(run).rejects.toThrow(InfraError);
    await expect(run).rejects.toThrow(/the functions import "esbuild", which is only a devDependency/);
  });

  it("names a missing function source", async () => {
    const run = bundleFunctions({
      root: ROOT,
      functions: [spec("gone", "functions/gone/index.ts")],
      outFile: join(scratchDir("bundle-gone"), "x.zip"),
    });
    await expect(run).rejects.toThrow(/function "gone": source .*functions\/gone\/index\.ts does not exist/);
  });

  it("bundles the repository's own functions, pinned to the installed versions", async () => {
    const dir = scratchDir("bundle-repo");
    mkdirSync(dir, { recursive: true });
    const result = await bundleFunctions({
      root: REPO_ROOT,
      functions: PIPELINE_FUNCTIONS,
      outFile: join(dir, "f.zip"),
    });
    const installed = JSON.parse(
      readFileSync(join(REPO_ROOT, "node_modules/@google-cloud/functions-framework/package.json"), "utf8"),
    ).version;
    expect(result.dependencies["@google-cloud/functions-framework"]).toBe(installed);
    const out = join(dir, "unzipped");
    unzip(result.outFile, out);
    symlinkSync(join(REPO_ROOT, "node_modules"), join(out, "node_modules"), "dir");
    const probe = `
      await import("./index.js");
      const { getFunction } = await import("@google-cloud/functions-framework/testing");
      console.log(JSON.stringify(${JSON.stringify(PIPELINE_FUNCTIONS.map((f) => f.entryPoint))}.map((n) => typeof getFunction(n))));`;
    const types = execFileSync("node", ["--input-type=module", "-e", probe], { cwd: out }).toString().trim();
    expect(JSON.parse(types)).toEqual(PIPELINE_FUNCTIONS.map(() => "function"));
  });
});

describe("packageNameOf", () => {
  it("keeps the scope and drops subpaths", () => {
    expect(packageNameOf("@google-cloud/functions-framework/testing")).toBe(
      "@google-cloud/functions-framework",
    );
    expect(packageNameOf("zod/v4")).toBe("zod");
    expect(packageNameOf("yaml")).toBe("yaml");
  });
});
