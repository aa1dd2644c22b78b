import {
  StorageBucket,
  type StorageBucketLifecycleRule,
} from "@cdktf/provider-google/lib/storage-bucket/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { type Area, areaPrefix } from "../../core/naming.ts";

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
  /** Every client id; lifecycle rules list each client's prefixes. */
  clients: readonly string[];
  retention: Retention;
  dependsOn?: ITerraformDependable[];
}

/**
 * Builds the bucket's lifecycle rules: delete `runs/` objects after their retention. A rule
 * with an empty `matches_prefix` would match every object in the bucket, so with no clients there are no
 * rules at all.
 */
export function lifecycleRules(
  product: string,
  clients: readonly string[],
  retention: Retention,
): StorageBucketLifecycleRule[] {
  if (clients.length === 0) return [];
  const rule = (area: Area, days: number): StorageBucketLifecycleRule => ({
    action: { type: "Delete" },
    condition: { age: days, matchesPrefix: clients.map((c) => areaPrefix(product, c, area)) },
  });
  return [rule("runs", retention.runsDays)];
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
      lifecycleRule: lifecycleRules(props.product, props.clients, props.retention),
      dependsOn: props.dependsOn,
    });
  }
}
