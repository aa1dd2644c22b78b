import { spawnSync } from "node:child_process";
import { createLogger, type Logger } from "../../../core/logger.ts";
import { type BatchLocalConfig, batchLocalSchema } from "../../../local/batch/config.ts";
import { LocalBatch, type LocalBatchOptions } from "../../../local/batch/service.ts";
import { memoryLogger } from "../../fixtures/functions/logger.ts";
import { tempDir } from "../../support/temp.ts";

export const PARENT = "projects/batchline-test/locations/europe-west2";

/** A fresh scratch directory. */
export function scratch(prefix = "batch-it-"): string {
  return tempDir(prefix);
}

/** Logger lines captured as parsed JSON (for logsPolicy CLOUD_LOGGING). */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  return memoryLogger("local-batch", "info");
}

/** A LocalBatch with its logs in a scratch dir, a short kill grace and a silent logger. */
export function localBatch(
  options: Partial<LocalBatchOptions> & { images?: BatchLocalConfig["images"] } = {},
): LocalBatch {
  const { images, ...rest } = options;
  return new LocalBatch({
    config: batchLocalSchema.parse({ images: images ?? {} }),
    logDir: scratch("batch-logs-"),
    killGraceMs: 300,
    logger: createLogger({ component: "local-batch", level: "silent" }),
    ...rest,
  });
}

/** Processes whose command line contains `marker` (pgrep -f), excluding pgrep itself. */
export function processesMatching(marker: string): string[] {
  const out = spawnSync("pgrep", ["-af", marker], { encoding: "utf8" });
  return out.stdout.split("\n").filter((l) => l.trim() !== "" && !l.includes("pgrep"));
}

/** Polls until `check` holds or the time is up; returns whether it held. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

/** A sleep whose command line is unique, so a test can look for it: `sleep 30.<digits>`. */
export function markedSleep(): { command: string; marker: string } {
  const digits = String(Math.floor(Math.random() * 1e9)).padStart(9, "1");
  const marker = `sleep 30.${digits}`;
  return { command: marker, marker };
}
