import { StorageBucketObject } from "@cdktf/provider-google/lib/storage-bucket-object/index.js";
import { Construct } from "constructs";
import type { ClientConfig, PlatformConfig } from "../../core/config/schema.ts";
import { topicName } from "../../core/ids.ts";
import { registryDocument, registryObjectName } from "../../core/registry.ts";
import { platformAccountId, serviceAccountEmail, serviceAccountMember } from "../names.ts";
import { terraformLiteral } from "../terraform-literal.ts";
import { ClientPrincipals } from "./client-principals.ts";
import { ClientSchedule } from "./client-schedule.ts";
import { ClientStorageAccess } from "./client-storage-access.ts";
import { ClientTopic, subscribersOf } from "./client-topic.ts";
import { ClientTrigger } from "./client-trigger.ts";
import { ClientWorker } from "./client-worker.ts";

export interface ClientLaneProps {
  platform: PlatformConfig;
  client: ClientConfig;
}

/**
 * Everything one client has: its registry object (its resolved config, which plan and notify read at run
 * time), its principals and their bucket access, the worker account its Batch tasks run as, its upload
 * trigger, its result topic and, when it has a schedule, its scheduler job. Platform resources are named, not referenced (names.ts),
 * so the lane deploys on its own once the platform exists.
 */
export class ClientLane extends Construct {
  readonly principals: ClientPrincipals;
  readonly worker: ClientWorker;
  readonly registration: StorageBucketObject;

  constructor(scope: Construct, id: string, props: ClientLaneProps) {
    super(scope, id);
    const { platform, client } = props;
    const { project, region, product, bucket } = platform;
    const platformEmail = (role: "notify" | "plan" | "trigger" | "scheduler") =>
      serviceAccountEmail(platformAccountId(product, role), project);

    // The registry object: deploying it onboards the client into the functions, destroying it offboards it.
    // Terraform writes it with the deployer's credentials (storage.objects.create on the
    // platform bucket); the functions read it with the bucket access the platform stack gives them.
    this.registration = new StorageBucketObject(this, "registry", {
      bucket,
      name: registryObjectName(product, client.id),
      // Container commands carry ${BATCHLINE_INPUT_PATH} and the like, which Terraform must not read as its own.
      content: terraformLiteral(registryDocument(product, client)),
      contentType: "application/json",
    });
    this.principals = new ClientPrincipals(this, "principals", { project, product, client });
    new ClientStorageAccess(this, "storage", {
      bucket,
      product,
      client: client.id,
      principals: this.principals.members,
    });
    this.worker = new ClientWorker(this, "worker", { platform, client });
    new ClientTrigger(this, "uploads", {
      project,
      region,
      bucket,
      product,
      client: client.id,
      serviceAccountEmail: platformEmail("trigger"),
    });
    new ClientTopic(this, "results", {
      project,
      topic: topicName(product, client.id),
      publishers: (["notify", "plan"] as const).map((role) => ({
        key: role,
        member: serviceAccountMember(platformEmail(role)),
      })),
      subscribers: subscribersOf(this.principals.members, client.subscribers),
      pullSubscription: client.pullSubscription,
    });
    if (client.schedule) {
      new ClientSchedule(this, "schedule", {
        project,
        region,
        product,
        client: client.id,
        schedule: client.schedule,
        serviceAccountEmail: platformEmail("scheduler"),
      });
    }
  }
}
