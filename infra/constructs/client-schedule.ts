import { CloudSchedulerJob } from "@cdktf/provider-google/lib/cloud-scheduler-job/index.js";
import { Construct } from "constructs";
import type { Schedule } from "../../core/config/schema.ts";
import { schedulerJobName, workflowExecutionsUrl } from "../names.ts";

/**
 * The Executions API request body that starts a scheduled run. The API takes `argument` as a JSON *string*
 * (the workflow receives it parsed), and Cloud Scheduler takes the body base64-encoded.
 */
export function scheduleRequestBody(client: string): string {
  const body = { argument: JSON.stringify({ client, trigger: "schedule" }) };
  return Buffer.from(JSON.stringify(body), "utf8").toString("base64");
}

export interface ClientScheduleProps {
  project: string;
  region: string;
  product: string;
  client: string;
  schedule: Schedule;
  /** Email of the platform's scheduler account, whose OAuth token authorises the call. */
  serviceAccountEmail: string;
}

/** Starts the workflow on the client's cron with `{"client": C, "trigger": "schedule"}`. */
export class ClientSchedule extends Construct {
  readonly job: CloudSchedulerJob;

  constructor(scope: Construct, id: string, props: ClientScheduleProps) {
    super(scope, id);
    this.job = new CloudSchedulerJob(this, "job", {
      project: props.project,
      region: props.region,
      name: schedulerJobName(props.product, props.client),
      description: `Batchline ${props.client}: ${props.schedule.mode} run on "${props.schedule.cron}"`,
      schedule: props.schedule.cron,
      timeZone: props.schedule.timeZone,
      attemptDeadline: "60s",
      // A failed POST created no execution, so retrying cannot start a run twice.
      retryConfig: { retryCount: 3, minBackoffDuration: "30s", maxBackoffDuration: "300s" },
      httpTarget: {
        httpMethod: "POST",
        uri: workflowExecutionsUrl(props.project, props.region, props.product),
        headers: { "Content-Type": "application/json" },
        body: scheduleRequestBody(props.client),
        // Google APIs take OAuth access tokens; OIDC tokens are for Cloud Run and functions.
        oauthToken: {
          serviceAccountEmail: props.serviceAccountEmail,
          scope: "https://www.googleapis.com/auth/cloud-platform",
        },
      },
    });
  }
}
