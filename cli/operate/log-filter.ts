/**
 * The Cloud Logging filter for a Batch job's task logs. Batch writes each task's output to
 * `projects/P/logs/batch_task_logs` with the labels `job_uid` (the job's uid) and
 * `task_id` = `task/<job uid>-group0-<index>/<attempt>/0`, so one task's lines, every attempt, are those whose
 * task_id has `task/<uid>-group0-<index>/`.
 */
export function taskLogFilter(options: {
  project: string;
  jobUid: string;
  /** Only this task's lines. */
  task?: number;
  /** Only entries at or after this time (RFC 3339). */
  since?: string;
}): string {
  const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  const parts = [
    `logName=${quote(`projects/${options.project}/logs/batch_task_logs`)}`,
    `labels.job_uid=${quote(options.jobUid)}`,
  ];
  if (options.task !== undefined)
    parts.push(`labels.task_id:${quote(`task/${options.jobUid}-group0-${options.task}/`)}`);
  if (options.since !== undefined) parts.push(`timestamp>=${quote(options.since)}`);
  return parts.join(" AND ");
}

/** The task index and attempt a task_id label names, or null. */
export function parseTaskId(taskId: string | undefined): { index: number; attempt: number } | null {
  const m = /-group0-(\d+)\/(\d+)\/\d+$/.exec(taskId ?? "");
  return m ? { index: Number(m[1]), attempt: Number(m[2]) } : null;
}
