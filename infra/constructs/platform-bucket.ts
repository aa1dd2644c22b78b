import {
  StorageBucket,
  type StorageBucketLifecycleRule,
} from "@cdktf/provider-google/lib/storage-bucket/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

/**
 * How long run records are kept, in days. Claims have no retention: a claim lives as long as its input (a
 * claim that disappeared would make a processed input pending again), see docs/deploy.md.
 */
export interface Retention {
  /** `runs/`: manifests, task records, summaries. Nothing reads them once the run's message is out. */
  runsDays: number;
}

export const DEFAULT_RETENTION: Retention = { runsDays: 30 };

export interface PlatformBucketProps {
  project: string;
  name: string;
  /** Region; the bucket is regional, next to the workflow and the Batch jobs. */
  region: string;
  product: string;
  retention: Retention;
  dependsOn?: ITerraformDependable[];
}

/**
 * Builds the bucket's lifecycle rules: delete run records after their retention. One rule for the product,
 * whatever its clients: GCS's `matches_prefix` is a literal prefix, so it cannot match every `<product>/<client>/runs/`;
 * instead every run record is written with a `customTime` (core/naming.ts retentionFields) and the rule
 * matches `daysSinceCustomTime` under `<product>/`. Inputs, outputs, errors and claims have no custom time,
 * which GCS never matches, so they are kept. The client registry (`registry/`) is outside the prefix.
 */
export function lifecycleRules(product: string, retention: Retention): StorageBucketLifecycleRule[] {
  return [
    {
      action: { type: "Delete" },
      condition: { daysSinceCustomTime: retention.runsDays, matchesPrefix: [`${product}/`] },
    },
  ];
}

/** The one bucket for every client's inputs, outputs, run records, errors and claims. */
export class PlatformBucket extends Construct {
  readonly bucket: StorageBucket;

  constructor(scope: Construct, id: string, props: PlatformBucketProps) {
    super(scope, id);
    this.bucket = new StorageBucket(this, "bucket", {
      project: props.project,
      name: props.name,
      location: props.region.toUpperCase(),
      storageClass: "STANDARD",
      // IAM only (no ACLs), so the per-client IAM conditions are the whole access story.
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      // Inputs are immutable (clients cannot overwrite) and outputs are re-creatable: no object versions.
      versioning: { enabled: false },
      forceDestroy: false,
      lifecycleRule: lifecycleRules(props.product, props.retention),
      dependsOn: props.dependsOn,
    });
  }
}
