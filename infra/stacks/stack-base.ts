import { join } from "node:path";
import { GoogleProvider } from "@cdktf/provider-google/lib/provider/index.js";
import { GcsBackend, LocalBackend, type TerraformStack } from "cdktf";
import type { PlatformConfig } from "../../core/config/schema.ts";
import type { InfraSettings } from "../settings.ts";

/**
 * State per stack: `gs://<stateBucket>/<statePrefix>/<product>/<stack>/` when a state bucket is configured,
 * else a local file (what tests and a first look use). Products sharing a state bucket never collide.
 */
export function configureBackend(
  stack: TerraformStack,
  stackName: string,
  platform: PlatformConfig,
  settings: InfraSettings,
): void {
  if (settings.stateBucket) {
    new GcsBackend(stack, {
      bucket: settings.stateBucket,
      prefix: `${settings.statePrefix}/${platform.product}/${stackName}`,
    });
    return;
  }
  new LocalBackend(stack, { path: join(settings.localStateDir, `terraform.${stackName}.tfstate`) });
}

/** Every stack talks to the platform's project and region, and labels what it creates. */
export function configureProvider(stack: TerraformStack, platform: PlatformConfig): GoogleProvider {
  return new GoogleProvider(stack, "google", {
    project: platform.project,
    region: platform.region,
    defaultLabels: { managed_by: "batchline", batchline_product: platform.product },
  });
}
