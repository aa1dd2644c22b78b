import { batchJobId, isRunId } from "../../core/ids.ts";
import type { OperatorCloud } from "./cloud.ts";
import { type ExecutionView, executionRun } from "./executions.ts";
import { executionPages, getExecution, isApiNotFound, type RunRecords, readRunRecords } from "./records.ts";
import { UsageError } from "./usage.ts";

/** Executions searched for a run that left no records (10 pages of 100, newest first). */
const SEARCH_PAGES = 10;

/** What is known of one run: its records, its execution and its Batch job. */
export interface RunContext extends RunRecords {
  runId: string;
  execution: ExecutionView | "gone" | null;
  jobId: string;
  /** `projects/P/locations/R/jobs/J` */
  jobName: string;
}

/** Gathers a run by id; a UsageError when the client has no such run. */
export async function runContext(cloud: OperatorCloud, client: string, runId: string): Promise<RunContext> {
  if (!isRunId(runId)) {
    throw new UsageError(
      `"${runId}" is not a run id (ev-, sc-, mn- or rc- and 16 hex digits; see batchline runs)`,
    );
  }
  const { product, bucket } = cloud.config.platform;
  const records = await readRunRecords(cloud.bucket, product, client, runId);
  const name = records.manifest?.execution ?? records.open?.execution ?? null;
  let execution: RunContext["execution"] = name ? await getExecution(cloud, name) : null;
  if (execution === null) {
    // No record names it (it failed before planning): find it by the run id its argument gives.
    search: for await (const page of executionPages(cloud, SEARCH_PAGES)) {
      for (const e of page) {
        const run = executionRun(e, product, bucket);
        if (run?.client === client && run.runId === runId) {
          execution = e;
          break search;
        }
      }
    }
  }
  if (!records.manifest && !records.summary && execution === null) {
    throw new UsageError(`client ${client} has no run ${runId} (no run records and no execution for it)`);
  }
  const jobId = records.manifest?.jobId ?? batchJobId(product, client, runId);
  return { ...records, runId, execution, jobId, jobName: `${cloud.location}/jobs/${jobId}` };
}

/** The run's Batch job, or null when there is none (never created, or deleted). */
export async function getJob(cloud: OperatorCloud, jobName: string) {
  try {
    const [job] = await cloud.batch.getJob({ name: jobName });
    return job;
  } catch (err) {
    if (isApiNotFound(err)) return null;
    throw err;
  }
}
