import { ProjectService } from "@cdktf/provider-google/lib/project-service/index.js";
import { Construct } from "constructs";

/** The Google APIs the platform uses; enabling them is the first thing the `platform` stack does. */
export const REQUIRED_SERVICES = [
  "artifactregistry.googleapis.com",
  "batch.googleapis.com",
  "cloudbuild.googleapis.com",
  "cloudfunctions.googleapis.com",
  "cloudresourcemanager.googleapis.com",
  "cloudscheduler.googleapis.com",
  "compute.googleapis.com",
  "eventarc.googleapis.com",
  "iam.googleapis.com",
  "logging.googleapis.com",
  "monitoring.googleapis.com",
  "pubsub.googleapis.com",
  "run.googleapis.com",
  "secretmanager.googleapis.com",
  "storage.googleapis.com",
  "workflowexecutions.googleapis.com",
  "workflows.googleapis.com",
] as const;

export interface RequiredApisProps {
  project: string;
}

/** Enables every API in REQUIRED_SERVICES; other constructs depend on `services` so they wait for it. */
export class RequiredApis extends Construct {
  readonly services: ProjectService[];

  constructor(scope: Construct, id: string, props: RequiredApisProps) {
    super(scope, id);
    this.services = REQUIRED_SERVICES.map(
      (service) =>
        new ProjectService(this, service.replace(".googleapis.com", ""), {
          project: props.project,
          service,
          // Turning an API off on destroy would break anything else in the project that uses it.
          disableOnDestroy: false,
        }),
    );
  }
}
