import { StorageBucketIamMember } from "@cdktf/provider-google/lib/storage-bucket-iam-member/index.js";
import { Construct } from "constructs";
import { clientReaderCondition, inputsCreatorCondition, ROLES } from "../iam.ts";
import type { Principal } from "./client-principals.ts";

export interface ClientStorageAccessProps {
  bucket: string;
  product: string;
  client: string;
  principals: readonly Principal[];
}

/**
 * The client's whole view of the bucket, granted on the bucket and narrowed by IAM conditions: create under
 * its own `inputs/`, read and list under its own `<product>/<client>/`. Nothing at project level.
 */
export class ClientStorageAccess extends Construct {
  constructor(scope: Construct, id: string, props: ClientStorageAccessProps) {
    super(scope, id);
    const create = inputsCreatorCondition(props.bucket, props.product, props.client);
    const read = clientReaderCondition(props.bucket, props.product, props.client);
    for (const { key, member } of props.principals) {
      new StorageBucketIamMember(this, `create-${key}`, {
        bucket: props.bucket,
        role: ROLES.storageObjectCreator,
        member,
        condition: create,
      });
      new StorageBucketIamMember(this, `read-${key}`, {
        bucket: props.bucket,
        role: ROLES.storageObjectViewer,
        member,
        condition: read,
      });
    }
  }
}
