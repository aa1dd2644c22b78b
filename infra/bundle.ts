// Bundles the Cloud Functions into one zip for Cloud Functions' Node.js runtime:
//   node --import tsx infra/bundle.ts [--out dist/functions.zip]
// The zip holds `index.js` (every function's source and what it imports from this repository, compiled by
// esbuild into one ES module) and a `package.json` naming the npm packages the code imports, pinned to the
// versions installed here; Cloud Functions' build installs them. Packages stay external so that
// functions-framework is one module instance (the one that also loads `index.js` and finds the handlers)
// and so client libraries keep the files they load at runtime.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { InfraError } from "./errors.ts";
import { type FunctionSpec, PIPELINE_FUNCTIONS } from "./functions-spec.ts";
import { REPO_ROOT } from "./settings.ts";
import { createZip } from "./zip.ts";

export interface BundleOptions {
  /** Repository root: function sources are relative to it, and its package.json lists the dependencies. */
  root: string;
  functions: readonly FunctionSpec[];
  /** Where to write the zip. */
  outFile: string;
}

export interface BundleResult {
  outFile: string;
  /** SHA-256 of the zip, hex. */
  sha256: string;
  bytes: number;
  /** npm packages the bundle's package.json lists, with the pinned versions. */
  dependencies: Record<string, string>;
  /** The zip's entries, in order. */
  entries: string[];
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

interface RootPackage {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/** The version of `name` installed under `root`, or the range package.json asks for when not installed. */
function pinnedVersion(root: string, name: string, range: string): string {
  const installed = join(root, "node_modules", name, "package.json");
  return existsSync(installed) ? readJson<{ version: string }>(installed).version : range;
}

export async function bundleFunctions(options: BundleOptions): Promise<BundleResult> {
  const { root, functions } = options;
  if (functions.length === 0) throw new InfraError("no functions to bundle");
  for (const spec of functions) {
    const source = resolve(root, spec.source);
    if (!existsSync(source)) {
      throw new InfraError(`function "${spec.name}": source ${source} does not exist`);
    }
  }
  const entry = functions.map((spec) => `import ${JSON.stringify(`./${spec.source}`)};`).join("\n");
  const result = await build({
    stdin: { contents: entry, resolveDir: root, sourcefile: "functions-entry.ts", loader: "ts" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: "index.js",
    write: false,
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
  }).catch((err: unknown) => {
    throw new InfraError(`bundling the functions failed: ${(err as Error).message}`, { cause: err });
  });
  const code = result.outputFiles.find((f) => f.path.endsWith("index.js"));
  if (!code) throw new InfraError("esbuild produced no index.js");

  const imported = new Set<string>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imp of output.imports) {
      if (imp.external && !BUILTINS.has(imp.path)) imported.add(packageNameOf(imp.path));
    }
  }
  const pkg = readJson<RootPackage>(join(root, "package.json"));
  const dependencies: Record<string, string> = {};
  for (const name of [...imported].sort()) {
    const range = pkg.dependencies?.[name];
    if (range === undefined) {
      const where = pkg.devDependencies?.[name] ? "only a devDependency" : "not a dependency";
      throw new InfraError(
        `the functions import "${name}", which is ${where} in package.json; ` +
          "Cloud Functions installs only what the bundle's package.json lists",
      );
    }
    dependencies[name] = pinnedVersion(root, name, range);
  }
  const manifest = {
    name: "batchline-functions",
    private: true,
    type: "module",
    main: "index.js",
    engines: { node: ">=20" },
    dependencies,
  };
  const entries = [
    { name: "package.json", data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8") },
    { name: "index.js", data: Buffer.from(code.contents) },
  ];
  const zip = createZip(entries);
  mkdirSync(dirname(options.outFile), { recursive: true });
  writeFileSync(options.outFile, zip);
  return {
    outFile: options.outFile,
    sha256: createHash("sha256").update(zip).digest("hex"),
    bytes: zip.length,
    dependencies,
    entries: entries.map((e) => e.name),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string", default: "dist/functions.zip" } } });
  const out = values.out ?? "dist/functions.zip";
  const outFile = isAbsolute(out) ? out : resolve(process.cwd(), out);
  const result = await bundleFunctions({ root: REPO_ROOT, functions: PIPELINE_FUNCTIONS, outFile });
  const deps = Object.entries(result.dependencies).map(([n, v]) => `${n}@${v}`);
  console.log(
    `wrote ${relative(process.cwd(), result.outFile)} (${result.bytes} bytes, sha256 ${result.sha256}); ` +
      `dependencies: ${deps.join(", ")}`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: unknown) => {
    console.error(`bundle: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });
}
