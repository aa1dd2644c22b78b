import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where `npm`-less checks find the bundle; the Dockerfile passes its own path. */
export const DEFAULT_BUNDLE = resolve(ROOT, "dist/worker/worker.js");

/**
 * Bundles worker/main.ts and everything it imports (storage client, zod, pino, core/) into one ESM file
 * that runs on plain Node 20 with no node_modules next to it. The Dockerfile runs this same function, so
 * what CI checks is what ships.
 */
export async function buildWorkerBundle(
  outfile: string = DEFAULT_BUNDLE,
): Promise<{ outfile: string; bytes: number }> {
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
  return { outfile, bytes: statSync(outfile).size };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const flag = process.argv.indexOf("--outfile");
  const outfile =
    flag >= 0 && process.argv[flag + 1] ? resolve(process.argv[flag + 1] as string) : DEFAULT_BUNDLE;
  const result = await buildWorkerBundle(outfile);
  process.stdout.write(`built ${result.outfile} (${(result.bytes / 1024 / 1024).toFixed(1)} MiB)\n`);
}
