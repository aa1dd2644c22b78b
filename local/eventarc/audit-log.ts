import { randomBytes } from "node:crypto";
import {
  AUDIT_LOG_EVENT_TYPE,
  OBJECT_CREATE_METHOD,
  objectResourceName,
  STORAGE_SERVICE_NAME,
} from "../../core/triggers.ts";

export interface AuditLogObjectCreate {
  project: string;
  bucket: string;
  object: string;
  /** Bucket location as audit logs name it, e.g. `europe-west2`. */
  location: string;
  /** Who uploaded. */
  principalEmail: string;
  /** When the upload finished. */
  time: Date;
  /** Log entry insertId; random when not given. Redeliveries of one event keep it (and so the event id). */
  insertId?: string;
}

/**
 * The CloudEvent a Cloud Audit Log Eventarc trigger hands a workflow for `storage.objects.create`, in the
 * structured JSON form Workflows passes as the execution argument: the CloudEvent attributes (including
 * the audit-log extension attributes `methodname`, `servicename`, `resourcename`, `recordedtime`) and the
 * LogEntry as `data`. Fixtures of the same shape are in test/events/audit-log/.
 */
export function auditLogObjectCreateEvent(e: AuditLogObjectCreate): Record<string, unknown> {
  const insertId = e.insertId ?? randomBytes(6).toString("hex");
  const resourceName = objectResourceName(e.bucket, e.object);
  const logName = `projects/${e.project}/logs/cloudaudit.googleapis.com%2Fdata_access`;
  const timestamp = e.time.toISOString();
  const received = new Date(e.time.getTime() + 150).toISOString();
  return {
    specversion: "1.0",
    id: `${logName}${insertId}${e.time.getTime() * 1000}`,
    source: `//cloudaudit.googleapis.com/projects/${e.project}/logs/data_access`,
    type: AUDIT_LOG_EVENT_TYPE,
    time: received,
    subject: `${STORAGE_SERVICE_NAME}/${resourceName}`,
    datacontenttype: "application/json; charset=utf-8",
    dataschema:
      "https://googleapis.github.io/google-cloudevents/jsonschema/google/events/cloud/audit/v1/LogEntryData.json",
    methodname: OBJECT_CREATE_METHOD,
    servicename: STORAGE_SERVICE_NAME,
    resourcename: resourceName,
    recordedtime: timestamp,
    data: {
      insertId,
      logName,
      protoPayload: {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        authenticationInfo: { principalEmail: e.principalEmail },
        authorizationInfo: [
          {
            granted: true,
            permission: "storage.objects.create",
            resource: resourceName,
            resourceAttributes: {},
          },
        ],
        methodName: OBJECT_CREATE_METHOD,
        requestMetadata: {
          callerIp: "127.0.0.1",
          callerSuppliedUserAgent: "batchline-local",
          destinationAttributes: {},
          requestAttributes: { auth: {}, time: timestamp },
        },
        resourceLocation: { currentLocations: [e.location] },
        resourceName,
        serviceName: STORAGE_SERVICE_NAME,
        status: {},
      },
      receiveTimestamp: received,
      resource: {
        labels: { bucket_name: e.bucket, location: e.location, project_id: e.project },
        type: "gcs_bucket",
      },
      severity: "INFO",
      timestamp,
    },
  };
}
