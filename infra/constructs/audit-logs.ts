import { ProjectIamAuditConfig } from "@cdktf/provider-google/lib/project-iam-audit-config/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

export interface StorageAuditLogsProps {
  project: string;
  dependsOn?: ITerraformDependable[];
}

/**
 * Turns on Cloud Storage's DATA_WRITE Data Access audit logs. Uploads (`storage.objects.create`) are only
 * logged, and so only reach the Eventarc triggers, with this on. DATA_READ is left off: nothing listens to
 * reads, and read logs are the expensive ones.
 *
 * The resource is authoritative for storage's audit config in the project: any other storage log types
 * enabled by hand are removed on apply.
 */
export class StorageAuditLogs extends Construct {
  readonly config: ProjectIamAuditConfig;

  constructor(scope: Construct, id: string, props: StorageAuditLogsProps) {
    super(scope, id);
    this.config = new ProjectIamAuditConfig(this, "storage", {
      project: props.project,
      service: "storage.googleapis.com",
      auditLogConfig: [{ logType: "DATA_WRITE" }],
      dependsOn: props.dependsOn,
    });
  }
}
