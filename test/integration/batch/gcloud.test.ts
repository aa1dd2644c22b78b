import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchServer, startBatchServer } from "../../../local/batch/server.ts";
import type { LocalBatch } from "../../../local/batch/service.ts";
import { findGcloud } from "../../support/gcloud.ts";
import { tempDir } from "../../support/temp.ts";
import { localBatch } from "./helpers.ts";

// `gcloud batch` pointed at the local Batch service (api_endpoint_overrides/batch), as docs/local-batch.md
// tells users to do: submit, describe, list jobs and tasks, delete, and the error for a job that is not there.

const GCLOUD = findGcloud();
const WHERE = ["--project", "batchline-test", "--location", "europe-west2"];

if (GCLOUD === undefined) {
  console.info(
    "gcloud is not on PATH: the `gcloud batch` checks against the local Batch service are not run (install the Google Cloud CLI to run them).",
  );
  it("has no gcloud to drive the local Batch service with, and says so", () => {
    expect(findGcloud()).toBeUndefined();
  });
} else {
  const gcloudPath = GCLOUD;
  describe("gcloud batch pointed at the local Batch service", () => {
    let batch: LocalBatch;
    let server: BatchServer;
    let env: NodeJS.ProcessEnv;
    // Async, never spawnSync: the server answering gcloud runs in this process.
    const gcloud = async (...args: string[]) =>
      (await promisify(execFile)(gcloudPath, args, { env, timeout: 60_000 })).stdout;
    const json = async (...args: string[]) => JSON.parse(await gcloud(...args, "--format=json"));

    beforeAll(async () => {
      batch = localBatch();
      server = await startBatchServer(batch);
      env = {
        ...process.env,
        CLOUDSDK_CONFIG: tempDir("batch-gcloud-"),
        CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: "true",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      };
      await gcloud("config", "set", "auth/disable_credentials", "true");
      await gcloud("config", "set", "api_endpoint_overrides/batch", `${server.url}/`);
    });

    afterAll(async () => {
      await server?.close();
      await batch?.close();
    });

    it("submits a job, describes it to the end, lists it and its tasks, and deletes it", async () => {
      const config = join(tempDir("batch-gcloud-job-"), "job.json");
      writeFileSync(
        config,
        JSON.stringify({
          taskGroups: [
            { taskCount: 2, taskSpec: { runnables: [{ script: { text: "echo hi $BATCH_TASK_INDEX" } }] } },
          ],
          labels: { suite: "gcloud" },
        }),
      );
      const submitted = await json("batch", "jobs", "submit", "via-gcloud", "--config", config, ...WHERE);
      expect(submitted.name).toBe("projects/batchline-test/locations/europe-west2/jobs/via-gcloud");
      expect(submitted.status.state).toBe("QUEUED");

      await batch.waitForJob(submitted.name);
      const described = await json("batch", "jobs", "describe", "via-gcloud", ...WHERE);
      expect(described.status.state).toBe("SUCCEEDED");
      expect(described.labels).toEqual({ suite: "gcloud" });

      const jobs = await json("batch", "jobs", "list", ...WHERE);
      expect(jobs.map((j: { name: string }) => j.name)).toContain(submitted.name);
      const tasks = await json("batch", "tasks", "list", "--job", "via-gcloud", ...WHERE);
      expect(tasks.map((t: { status: { state: string } }) => t.status.state)).toEqual([
        "SUCCEEDED",
        "SUCCEEDED",
      ]);

      expect(await gcloud("batch", "jobs", "delete", "via-gcloud", "--quiet", ...WHERE)).toBe("");
    });

    it("says a job that is not there was not found, exit 1", async () => {
      const failure = await gcloud("batch", "jobs", "describe", "nope", ...WHERE).then(
        () => null,
        (err: { code?: number; stderr?: string }) => err,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toContain(
        "Job projects/batchline-test/locations/europe-west2/jobs/nope not found",
      );
    });
  });
}
