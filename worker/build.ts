import { cpSync, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where `npm`-less checks find the bundle; the Dockerfile passes its own path. */
export const DEFAULT_BUNDLE = resolve(ROOT, "dist/worker/worker.js");

/** The one package the bundle loads at run time instead of containing: native code cannot be bundled. */
const NATIVE_PACKAGE = "@node-rs/crc32";

/**
 * Bundles worker/main.ts and everything it imports (storage client, zod, pino, core/) into one ESM file
 * that runs on plain Node 20, and puts beside it `node_modules/@node-rs/` with the native CRC32C module
 * and the prebuilt binary for this platform (core/crc32c.ts falls back to JavaScript without them, at about
 * a third of the speed). The Dockerfile runs this same function and ships the directory, so what CI checks
 * is what ships.
 */
export async function buildWorkerBundle(
  outfile: string = DEFAULT_BUNDLE,
): Promise<{ outfile: string; bytes: number; native: string[] }> {
  await build({
    entryPoints: [resolve(ROOT, "worker/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // Some dependencies are CommonJS and call require() for Node built-ins; give the ESM bundle one.
    banner: {
      js: 'import { createRequire as __batchlineCreateRequire } from "node:module"; const require = __batchlineCreateRequire(import.meta.url);',
    },
    legalComments: "none",
    logLevel: "warning",
  });
  const native = copyNativeModules(dirname(outfile));
  return { outfile, bytes: statSync(outfile).size, native };
}

/**
 * Copies the native CRC32C package and whichever of its per-platform binary packages npm installed here
 * into `<dir>/node_modules`, where the bundle's run-time require finds them. Returns the packages copied.
 */
function copyNativeModules(dir: string): string[] {
  const target = join(dir, "node_modules", "@node-rs");
  rmSync(target, { recursive: true, force: true });
  const mainDir = packageDir(join(ROOT, "package.json"), NATIVE_PACKAGE);
  if (mainDir === undefined) throw new Error(`${NATIVE_PACKAGE} is not installed: run npm ci`);
  const manifest = JSON.parse(readFileSync(join(mainDir, "package.json"), "utf8")) as {
    optionalDependencies?: Record<string, string>;
  };
  const copied: string[] = [];
  const copy = (name: string, from: string) => {
    cpSync(from, join(dir, "node_modules", name), { recursive: true });
    copied.push(name);
  };
  copy(NATIVE_PACKAGE, mainDir);
  for (const name of Object.keys(manifest.optionalDependencies ?? {})) {
    // Binaries for other platforms are not installed; the one for this platform is.
    const from = packageDir(join(mainDir, "package.json"), name);
    if (from !== undefined) copy(name, from);
  }
  return copied;
}

/** Where Node's resolution from `fromFile` finds package `name`'s directory (its exports map aside). */
function packageDir(fromFile: string, name: string): string | undefined {
  for (const base of createRequire(fromFile).resolve.paths(name) ?? []) {
    if (existsSync(join(base, name, "package.json"))) return join(base, name);
  }
  return undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const flag = process.argv.indexOf("--outfile");
  const outfile =
    flag >= 0 && process.argv[flag + 1] ? resolve(process.argv[flag + 1] as string) : DEFAULT_BUNDLE;
  const result = await buildWorkerBundle(outfile);
  process.stdout.write(
    `built ${result.outfile} (${(result.bytes / 1024 / 1024).toFixed(1)} MiB), beside it ${result.native.join(", ")}\n`,
  );
}
