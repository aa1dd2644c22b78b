// Prints the worker image's repository path (no tag) from config/platform.yaml, for the build to tag and push:
//   node --import tsx infra/worker-image.ts   →   europe-west2-docker.pkg.dev/PROJECT/REPOSITORY/worker
// The image name has one source, the config; the build and the deployed stacks cannot disagree about it.
import { loadConfig } from "../core/config/load.ts";
import { BatchlineError } from "../core/errors.ts";
import { resolveWorkerImage } from "./app.ts";
import { imageRepositoryPath } from "./names.ts";
import { settingsFromEnv } from "./settings.ts";

try {
  const settings = settingsFromEnv();
  const { platform } = loadConfig(settings.configDir);
  console.log(imageRepositoryPath(resolveWorkerImage(platform, settings.workerTag ?? "unused").parsed));
} catch (err) {
  if (!(err instanceof BatchlineError)) throw err;
  console.error(`worker image: ${err.message}`);
  process.exitCode = 2;
}
