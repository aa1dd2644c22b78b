import { TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import type { ClientConfig, PlatformConfig } from "../../core/config/schema.ts";
import { topicName } from "../../core/ids.ts";
import { ClientLane } from "../constructs/client-lane.ts";
import type { InfraSettings } from "../settings.ts";
import { configureBackend, configureProvider } from "./stack-base.ts";

export interface ClientStackProps {
  platform: PlatformConfig;
  client: ClientConfig;
  settings: InfraSettings;
}

/** `client-<name>`: one client's lane. Onboarding deploys it; offboarding destroys it. */
export class ClientStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: ClientStackProps) {
    super(scope, id);
    configureBackend(this, id, props.platform, props.settings);
    configureProvider(this, props.platform);
    const lane = new ClientLane(this, "lane", { platform: props.platform, client: props.client });
    new TerraformOutput(this, "topic", { value: topicName(props.platform.product, props.client.id) });
    if (lane.principals.account) {
      new TerraformOutput(this, "client_service_account", { value: lane.principals.account.email });
    }
  }
}
