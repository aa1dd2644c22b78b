// Prints the client workload images config/platform.yaml lists (workloadImages), one per line as
// `IMAGE<TAB>CONTEXT<TAB>DOCKERFILE`, for cloudbuild.yaml to build, tag and push:
//   node --import tsx infra/workload-images.ts
// Checks that each context and Dockerfile exists, so a typo fails the build at once, naming the entry.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../core/config/load.ts";
import type { PlatformConfig } from "../core/config/schema.ts";
import { BatchlineError } from "../core/errors.ts";
import { InfraError } from "./errors.ts";
import { REPO_ROOT, settingsFromEnv } from "./settings.ts";

/** The build's lines for the config's workload images; InfraError naming the entry when one is missing. */
export function workloadImageLines(platform: PlatformConfig, root: string = REPO_ROOT): string[] {
  return platform.workloadImages.map((w, i) => {
    const where = `platform.yaml workloadImages[${i}] (${w.image})`;
    const context = join(root, w.context);
    if (!existsSync(context) || !statSync(context).isDirectory()) {
      throw new InfraError(`${where}: context ${w.context} is not a directory of the repository`);
    }
    if (!existsSync(join(context, w.dockerfile))) {
      throw new InfraError(`${where}: ${w.context}/${w.dockerfile} does not exist`);
    }
    return `${w.image}\t${w.context}\t${w.dockerfile}`;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const settings = settingsFromEnv();
    const { platform } = loadConfig(settings.configDir);
    for (const line of workloadImageLines(platform)) console.log(line);
  } catch (err) {
    if (!(err instanceof BatchlineError)) throw err;
    console.error(`workload images: ${err.message}`);
    process.exitCode = 2;
  }
}
