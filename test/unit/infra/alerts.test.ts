import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ALERT_EVENTS } from "../../../core/alerts.ts";
import { loadProviderSchema, type StackJson, validateStack } from "./support/provider-schema.ts";
import { type Body, configDirWith, FIXTURE_CONFIG, resourcesOf, synthWith } from "./support/synth.ts";

const CHANNEL = "projects/bl-fixture-1/notificationChannels/1234567890";
let withChannel: StackJson;
let without: StackJson;

beforeAll(() => {
  const platformYaml = readFileSync(join(FIXTURE_CONFIG, "platform.yaml"), "utf8");
  const dir = configDirWith({
    "platform.yaml": `${platformYaml}alerts:\n  notificationChannels: ["${CHANNEL}"]\n`,
  });
  withChannel = synthWith({ BATCHLINE_CONFIG_DIR: dir }).stack("platform");
  without = synthWith().stack("platform");
});

const metric = (stack: StackJson, name: string): Body => {
  const found = resourcesOf(stack, "google_logging_metric").find(([, m]) => m.name === name);
  if (!found) throw new Error(`no logging metric ${name}`);
  return found[1];
};

describe("alerting", () => {
  it("counts failed executions of the batch workflow from Workflows' own execution log", () => {
    const m = metric(withChannel, "batchline_shop_failed_executions");
    expect(m.filter).toBe(
      [
        'resource.type="workflows.googleapis.com/Workflow"',
        'resource.labels.workflow_id="bl-shop-batch"',
        'logName="projects/bl-fixture-1/logs/workflows.googleapis.com%2Fexecutions_system"',
        'jsonPayload.state="FAILED"',
      ].join(" AND "),
    );
    expect(m.metric_descriptor).toMatchObject({ metric_kind: "DELTA", value_type: "INT64" });
  });

  it("counts failed Batch jobs by client from the event the notify function logs", () => {
    const m = metric(withChannel, "batchline_shop_failed_jobs");
    expect(m.filter).toBe(
      `resource.type="cloud_run_revision" AND resource.labels.service_name="bl-shop-notify" AND jsonPayload.event="${ALERT_EVENTS.jobFailed}"`,
    );
    expect(m.label_extractors).toEqual({ client: "EXTRACT(jsonPayload.client)" });
    expect((m.metric_descriptor as Body).labels).toEqual([
      { key: "client", value_type: "STRING", description: "The client whose run's job failed" },
    ]);
  });

  it("alerts on each metric to the channels the platform config names, with what to do", () => {
    const policies = resourcesOf(withChannel, "google_monitoring_alert_policy").map(([, p]) => p);
    expect(policies.map((p) => p.display_name).sort()).toEqual([
      "Batchline shop: a Batch job failed",
      "Batchline shop: a workflow execution failed",
    ]);
    for (const p of policies) {
      expect(p.notification_channels).toEqual([CHANNEL]);
      const [condition] = p.conditions as Body[];
      const threshold = condition?.condition_threshold as Body;
      expect(threshold.comparison).toBe("COMPARISON_GT");
      expect(threshold.threshold_value).toBe(0);
      expect(String(threshold.filter)).toMatch(
        /^metric\.type="logging\.googleapis\.com\/user\/\$\{google_logging_metric\./,
      );
      expect(String((p.documentation as Body).content)).toContain("batchline runs --client");
    }
    const jobs = policies.find((p) => p.display_name === "Batchline shop: a Batch job failed");
    if (jobs === undefined) throw new Error("no failed-jobs policy");
    const [condition] = jobs.conditions as Body[];
    if (condition === undefined) throw new Error("the failed-jobs policy has no condition");
    const aggregations = (condition.condition_threshold as Body).aggregations as Body[];
    expect(aggregations[0]?.group_by_fields).toEqual(["metric.label.client"]);
  });

  it("still creates the policies (incidents in the console) when no channel is configured", () => {
    const policies = resourcesOf(without, "google_monitoring_alert_policy").map(([, p]) => p);
    expect(policies).toHaveLength(2);
    for (const p of policies) expect(p.notification_channels).toEqual([]);
  });

  it("is valid against the google provider's schema", () => {
    expect(validateStack(withChannel, loadProviderSchema())).toEqual([]);
  });

  it("refuses a notification channel that is not one, naming the field", async () => {
    const { platformConfigSchema } = await import("../../../core/config/schema.ts");
    const result = platformConfigSchema.safeParse({ alerts: { notificationChannels: ["ops@example.com"] } });
    const issue = result.error?.issues.find((i) => i.path.join(".") === "alerts.notificationChannels.0");
    expect(issue?.message).toBe(
      "must be a notification channel such as projects/my-project/notificationChannels/1234567890",
    );
  });
});
