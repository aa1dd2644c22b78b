import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "cdktf";
import { describe, expect, it } from "vitest";
import { writeManyClients } from "../../../bench/fixtures/many-clients.ts";
import { loadConfig } from "../../../core/config/load.ts";
import { resolveWorkerImage } from "../../../infra/app.ts";
import { PLATFORM_STACK } from "../../../infra/names.ts";
import { settingsFromEnv } from "../../../infra/settings.ts";
import { PlatformStack } from "../../../infra/stacks/platform-stack.ts";
import { readWorkflowSource } from "../../../infra/workflow-source.ts";
import { tempDir } from "../../support/temp.ts";
import { FIXTURE_CONFIG, FIXTURE_WORKFLOW, synthWith } from "./support/synth.ts";

/** The platform stack's synthesized Terraform JSON, as bytes, for a config dir (same settings every time). */
function platformJson(configDir: string, stateDir: string): string {
  const outdir = tempDir("batchline-platform-only-");
  const settings = settingsFromEnv({
    BATCHLINE_CONFIG_DIR: configDir,
    BATCHLINE_WORKFLOW_FILE: FIXTURE_WORKFLOW,
    CDKTF_OUTDIR: outdir,
    BATCHLINE_LOCAL_STATE_DIR: stateDir,
  });
  const config = loadConfig(configDir);
  const worker = resolveWorkerImage(config.platform, settings.workerTag);
  const app = new App({ outdir });
  new PlatformStack(app, PLATFORM_STACK, {
    config,
    settings,
    workflowSource: readWorkflowSource(settings.workflowFile),
    workerImage: worker.parsed,
    workerImageRef: worker.ref,
  });
  app.synth();
  return readFileSync(join(outdir, "stacks", PLATFORM_STACK, "cdk.tf.json"), "utf8");
}

describe("the platform stack does not depend on the client list", () => {
  it("synthesizes byte-identical JSON with 1 client and with 1,000", () => {
    const one = tempDir("batchline-1-client-");
    const thousand = tempDir("batchline-1000-clients-");
    writeManyClients(FIXTURE_CONFIG, one, 1);
    writeManyClients(FIXTURE_CONFIG, thousand, 1000);
    expect(loadConfig(thousand).clients.size).toBe(1000);
    const state = tempDir("batchline-state-");
    const withOne = platformJson(one, state);
    const withThousand = platformJson(thousand, state);
    expect(withThousand).toBe(withOne);
    // And it is the same as with the fixture's own clients: nothing of a client is in it.
    expect(platformJson(FIXTURE_CONFIG, state)).toBe(withOne);
    expect(withOne).not.toContain("c00001");
  });

  it("synthesizes an app of 50 client stacks (npm run bench:synth times 1,000), each with its registry object", () => {
    const dir = tempDir("batchline-50-clients-");
    writeManyClients(FIXTURE_CONFIG, dir, 50);
    const synth = synthWith({ BATCHLINE_CONFIG_DIR: dir });
    expect(synth.stacks).toHaveLength(51);
    const last = synth.stack("client-c00050");
    const objects = Object.values(
      (last.resource as Record<string, Record<string, { name: string }>>).google_storage_bucket_object ?? {},
    );
    expect(objects.map((o) => o.name)).toEqual(["registry/shop/c00050.json"]);
  });
});
