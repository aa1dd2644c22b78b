import { IdempotencyStrategy, Storage } from "@google-cloud/storage";
import { createLogger } from "../core/logger.ts";
import { taskLabels } from "./env.ts";
import { runTask } from "./task.ts";

/**
 * The container's entry point: reads process.env, builds the storage client and logger, runs the one task
 * and exits with its code (0 done, 1 retry may help, 3 never will). All logic is in runTask.
 *
 * The storage client picks up STORAGE_EMULATOR_HOST by itself (the local cloud sets it). Every write the
 * worker makes is idempotent (same input generation, same bytes), so writes retry like reads do.
 */
const logger = createLogger({ component: "worker", labels: taskLabels(process.env) });

async function main(): Promise<number> {
  const storage = new Storage({
    retryOptions: { idempotencyStrategy: IdempotencyStrategy.RetryAlways },
  });
  const outcome = await runTask(process.env, { storage, logger, now: () => new Date() });
  if (process.env.BATCHLINE_REPORT_RESOURCE_USAGE === "1") {
    // For bench/worker.ts: peak memory as the kernel counted it (maxRSS is in KiB).
    process.stderr.write(`${JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
  }
  return outcome.exitCode;
}

function exit(code: number): void {
  // Exit explicitly: idle keep-alive sockets of the storage client must not hold the task open.
  logger.flush(() => process.exit(code));
}

main().then(exit, (err: unknown) => {
  // runTask never throws; getting here means the shell itself broke (e.g. the client could not be built).
  logger.fatal({ err }, "worker crashed");
  exit(1);
});
