import { LoggingMetric } from "@cdktf/provider-google/lib/logging-metric/index.js";
import { MonitoringAlertPolicy } from "@cdktf/provider-google/lib/monitoring-alert-policy/index.js";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ALERT_EVENTS } from "../../core/alerts.ts";
import { terraformLiteral } from "../terraform-literal.ts";

/** Cloud Monitoring's documentation variable for the client label of the failed-jobs metric. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Cloud Monitoring's variable syntax, filled in by Monitoring
const CLIENT_LABEL = "${metric.label.client}";

export interface PipelineAlertsProps {
  project: string;
  product: string;
  /** The batch workflow's id. */
  workflow: string;
  /** The notify function's name (its Cloud Run service carries the same name). */
  notifyFunction: string;
  /** Cloud Monitoring notification channels that receive the alerts; none: incidents only. */
  notificationChannels: readonly string[];
  dependsOn?: ITerraformDependable[];
}

/** Log-based metric names: `batchline_<product>_…` (letters, digits and `_`, as metric names allow). */
export function alertMetricName(product: string, what: "failed_executions" | "failed_jobs"): string {
  return `batchline_${product.replaceAll("-", "_")}_${what}`;
}

/** Five minutes: a failure alerts within one alignment period, and a burst of failures is one incident. */
const ALIGNMENT_PERIOD = "300s";

/**
 * Alerting on the two things an on-call engineer must hear about:
 * - a failed workflow execution (a stage failed, notify failed, a message could not be published), counted
 *   from Workflows' own execution system log;
 * - a failed Batch job (FAILED or CANCELLED, or not created), counted from the event notify logs for it, by
 *   client.
 * Each is a log-based metric and an alert policy on it, to the channels the platform config names.
 */
export class PipelineAlerts extends Construct {
  readonly failedExecutions: LoggingMetric;
  readonly failedJobs: LoggingMetric;
  readonly policies: MonitoringAlertPolicy[];

  constructor(scope: Construct, id: string, props: PipelineAlertsProps) {
    super(scope, id);
    const { project, product } = props;

    this.failedExecutions = new LoggingMetric(this, "failed-executions", {
      project,
      name: alertMetricName(product, "failed_executions"),
      description: `Executions of workflow ${props.workflow} that ended FAILED`,
      filter: [
        'resource.type="workflows.googleapis.com/Workflow"',
        `resource.labels.workflow_id="${props.workflow}"`,
        `logName="projects/${project}/logs/workflows.googleapis.com%2Fexecutions_system"`,
        'jsonPayload.state="FAILED"',
      ].join(" AND "),
      metricDescriptor: { metricKind: "DELTA", valueType: "INT64", unit: "1" },
      dependsOn: props.dependsOn,
    });

    this.failedJobs = new LoggingMetric(this, "failed-jobs", {
      project,
      name: alertMetricName(product, "failed_jobs"),
      description: `Batch jobs of product ${product} that did not succeed, by client`,
      filter: [
        'resource.type="cloud_run_revision"',
        `resource.labels.service_name="${props.notifyFunction}"`,
        `jsonPayload.event="${ALERT_EVENTS.jobFailed}"`,
      ].join(" AND "),
      metricDescriptor: {
        metricKind: "DELTA",
        valueType: "INT64",
        unit: "1",
        labels: [{ key: "client", valueType: "STRING", description: "The client whose run's job failed" }],
      },
      labelExtractors: { client: "EXTRACT(jsonPayload.client)" },
      dependsOn: props.dependsOn,
    });

    const channels = [...props.notificationChannels];
    this.policies = [
      new MonitoringAlertPolicy(this, "failed-executions-policy", {
        project,
        displayName: `Batchline ${product}: a workflow execution failed`,
        combiner: "OR",
        severity: "ERROR",
        notificationChannels: channels,
        conditions: [
          {
            displayName: `execution of ${props.workflow} FAILED`,
            conditionThreshold: {
              filter: `metric.type="logging.googleapis.com/user/${this.failedExecutions.name}" AND resource.type="workflows.googleapis.com/Workflow"`,
              comparison: "COMPARISON_GT",
              thresholdValue: 0,
              duration: "0s",
              aggregations: [
                {
                  alignmentPeriod: ALIGNMENT_PERIOD,
                  perSeriesAligner: "ALIGN_SUM",
                  crossSeriesReducer: "REDUCE_SUM",
                },
              ],
              trigger: { count: 1 },
            },
          },
        ],
        alertStrategy: { autoClose: "86400s" },
        documentation: {
          mimeType: "text/markdown",
          subject: `Batchline ${product}: a workflow execution failed`,
          content: [
            `An execution of workflow \`${props.workflow}\` ended FAILED in the last five minutes.`,
            "",
            "The client was sent a FAILED message when the client was known; the execution's error says which stage",
            "failed and where an undelivered message is kept. To look:",
            "",
            `- \`batchline runs --client CLIENT\` and \`batchline status RUN --client CLIENT\``,
            `- \`gcloud workflows executions list ${props.workflow} --location LOCATION --filter state=FAILED\``,
            "",
            'docs/deploy.md, "Alerts", says what each failure means and what to do.',
          ].join("\n"),
        },
        dependsOn: [this.failedExecutions],
      }),
      new MonitoringAlertPolicy(this, "failed-jobs-policy", {
        project,
        displayName: `Batchline ${product}: a Batch job failed`,
        combiner: "OR",
        severity: "WARNING",
        notificationChannels: channels,
        conditions: [
          {
            displayName: "Batch job did not succeed, by client",
            conditionThreshold: {
              filter: `metric.type="logging.googleapis.com/user/${this.failedJobs.name}" AND resource.type="cloud_run_revision"`,
              comparison: "COMPARISON_GT",
              thresholdValue: 0,
              duration: "0s",
              aggregations: [
                {
                  alignmentPeriod: ALIGNMENT_PERIOD,
                  perSeriesAligner: "ALIGN_SUM",
                  crossSeriesReducer: "REDUCE_SUM",
                  groupByFields: ["metric.label.client"],
                },
              ],
              trigger: { count: 1 },
            },
          },
        ],
        alertStrategy: { autoClose: "86400s" },
        // Cloud Monitoring fills in ${metric.label.client}; Terraform must pass it on as written.
        documentation: {
          mimeType: "text/markdown",
          subject: terraformLiteral(`Batchline ${product}: a Batch job of client ${CLIENT_LABEL} failed`),
          content: terraformLiteral(
            [
              `A run's Batch job of client \`${CLIENT_LABEL}\` ended FAILED or CANCELLED, or could not be created.`,
              "",
              "The client has its FAILED message naming every input and its reason. To look:",
              "",
              `- \`batchline runs --client ${CLIENT_LABEL}\`, then \`batchline status RUN --client ${CLIENT_LABEL}\``,
              `- \`batchline logs RUN --client ${CLIENT_LABEL} --task N\` for a task's output`,
            ].join("\n"),
          ),
        },
        dependsOn: [this.failedJobs],
      }),
    ];
  }
}
