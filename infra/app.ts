import { mkdirSync } from "node:fs";
import { App } from "cdktf";
import { type BatchlineConfig, loadConfig } from "../core/config/load.ts";
import type { PlatformConfig } from "../core/config/schema.ts";
import { describeValue } from "../core/errors.ts";
import type { Retention } from "./constructs/platform-bucket.ts";
import { InfraError } from "./errors.ts";
import {
  type ArtifactRegistryImage,
  clientStackName,
  imageRepositoryPath,
  PLATFORM_STACK,
  parseArtifactRegistryImage,
} from "./names.ts";
import type { InfraSettings } from "./settings.ts";
import { ClientStack } from "./stacks/client-stack.ts";
import { PlatformStack } from "./stacks/platform-stack.ts";
import { readWorkflowSource } from "./workflow-source.ts";

export interface WorkerImage {
  parsed: ArtifactRegistryImage;
  /** The reference jobs run: the repository path with the deploy-time tag, or the config's own tag. */
  ref: string;
}

/**
 * The worker image must live in this project's Artifact Registry, in the platform's region: the platform
 * stack manages that repository, Batch VMs pull from it, and the function builds store their images there
 * (Cloud Functions needs that repository in the functions' region).
 */
export function resolveWorkerImage(platform: PlatformConfig, tag: string | undefined): WorkerImage {
  const parsed = parseArtifactRegistryImage(platform.workerImage);
  const expected = `${platform.region}-docker.pkg.dev/${platform.project}/REPOSITORY/IMAGE:TAG`;
  if (!parsed || parsed.project !== platform.project || parsed.location !== platform.region) {
    throw new InfraError(
      `platform.yaml: field "workerImage" must be an image in this project's Artifact Registry in the ` +
        `platform's region, ${expected} (got ${describeValue(platform.workerImage)})`,
    );
  }
  const finalTag = tag ?? parsed.tag;
  if (!finalTag) {
    throw new InfraError(
      `platform.yaml: field "workerImage" has no tag and BATCHLINE_WORKER_TAG is not set ` +
        `(got ${describeValue(platform.workerImage)})`,
    );
  }
  return { parsed: { ...parsed, tag: finalTag }, ref: `${imageRepositoryPath(parsed)}:${finalTag}` };
}

export interface AppInput {
  config: BatchlineConfig;
  settings: InfraSettings;
  workflowSource: string;
  retention?: Retention;
}

/** Builds the app: the `platform` stack, then one `client-<name>` stack per client, each depending on it. */
export function buildApp(input: AppInput): App {
  const { config, settings } = input;
  const worker = resolveWorkerImage(config.platform, settings.workerTag);
  mkdirSync(settings.outdir, { recursive: true });
  const app = new App({ outdir: settings.outdir });
  const platform = new PlatformStack(app, PLATFORM_STACK, {
    config,
    settings,
    workflowSource: input.workflowSource,
    workerImage: worker.parsed,
    workerImageRef: worker.ref,
    ...(input.retention ? { retention: input.retention } : {}),
  });
  for (const client of config.clients.values()) {
    const stack = new ClientStack(app, clientStackName(client.id), {
      platform: config.platform,
      client,
      settings,
    });
    stack.addDependency(platform);
  }
  return app;
}

export interface SynthResult {
  outdir: string;
  stacks: string[];
}

/**
 * Reads config (through core's loader only) and the workflow file, and writes every stack's Terraform JSON
 * to `settings.outdir/stacks/<stack>/cdk.tf.json`. Needs no network and no terraform binary.
 */
export function synthesize(settings: InfraSettings, retention?: Retention): SynthResult {
  const config = loadConfig(settings.configDir);
  const workflowSource = readWorkflowSource(settings.workflowFile);
  if (!settings.stateBucket) mkdirSync(settings.localStateDir, { recursive: true });
  const app = buildApp({ config, settings, workflowSource, ...(retention ? { retention } : {}) });
  app.synth();
  return {
    outdir: settings.outdir,
    stacks: [PLATFORM_STACK, ...[...config.clients.keys()].map(clientStackName)],
  };
}
