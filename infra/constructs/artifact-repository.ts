import { ArtifactRegistryRepository } from "@cdktf/provider-google/lib/artifact-registry-repository/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { ArtifactRegistryImage } from "../names.ts";

export interface ArtifactRepositoryProps {
  /** The worker image's repository, parsed from platform.yaml's `workerImage`. */
  image: ArtifactRegistryImage;
  product: string;
  dependsOn?: ITerraformDependable[];
}

/**
 * The Docker repository that `workerImage` points into. Cloud Build pushes the worker image here, and the
 * functions' build containers are stored here too (their `docker_repository`).
 */
export class ArtifactRepository extends Construct {
  readonly repository: ArtifactRegistryRepository;

  constructor(scope: Construct, id: string, props: ArtifactRepositoryProps) {
    super(scope, id);
    this.repository = new ArtifactRegistryRepository(this, "docker", {
      project: props.image.project,
      location: props.image.location,
      repositoryId: props.image.repository,
      format: "DOCKER",
      description: `Batchline ${props.product}: worker image and function builds`,
      dependsOn: props.dependsOn,
    });
  }
}
