import { EventarcTrigger } from "@cdktf/provider-google/lib/eventarc-trigger/index.js";
import { Construct } from "constructs";
import {
  AUDIT_LOG_EVENT_TYPE,
  inputsPathPattern,
  OBJECT_CREATE_METHOD,
  STORAGE_SERVICE_NAME,
} from "../../core/triggers.ts";
import { triggerName, workflowResourceId } from "../names.ts";

export interface ClientTriggerProps {
  project: string;
  region: string;
  bucket: string;
  product: string;
  client: string;
  /** Email of the platform's trigger account. */
  serviceAccountEmail: string;
}

/**
 * The audit-log event filters of a client's trigger; the same constants and path pattern drive the local
 * Eventarc (core/triggers.ts), so what is tested locally is what is deployed.
 */
export function triggerCriteria(bucket: string, product: string, client: string) {
  return [
    { attribute: "type", value: AUDIT_LOG_EVENT_TYPE },
    { attribute: "serviceName", value: STORAGE_SERVICE_NAME },
    { attribute: "methodName", value: OBJECT_CREATE_METHOD },
    {
      attribute: "resourceName",
      value: inputsPathPattern(bucket, product, client),
      operator: "match-path-pattern",
    },
  ];
}

/**
 * Starts the workflow when an object is created under the client's `inputs/` (any depth). The trigger sits in
 * the bucket's region, where the bucket's audit logs are written.
 */
export class ClientTrigger extends Construct {
  readonly trigger: EventarcTrigger;

  constructor(scope: Construct, id: string, props: ClientTriggerProps) {
    super(scope, id);
    this.trigger = new EventarcTrigger(this, "trigger", {
      project: props.project,
      location: props.region,
      name: triggerName(props.product, props.client),
      matchingCriteria: triggerCriteria(props.bucket, props.product, props.client),
      destination: { workflow: workflowResourceId(props.project, props.region, props.product) },
      serviceAccount: props.serviceAccountEmail,
    });
  }
}
