/**
 * Structured log events that alerting counts (infra/constructs/pipeline-alerts.ts makes log-based metrics of
 * them). The notify function writes one per failed run, with the run's client, so an alert can say which
 * client's run failed. Renaming one breaks its metric: both sides import these names.
 */
export const ALERT_EVENTS = {
  /** A run ended FAILED (an input failed, the job failed or was refused, or a stage failed). */
  runFailed: "batchline.run_failed",
  /** A run's Batch job did not succeed: it ended FAILED or CANCELLED, or could not be created or read. */
  jobFailed: "batchline.job_failed",
} as const;
