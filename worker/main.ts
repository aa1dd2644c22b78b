import { IdempotencyStrategy, Storage } from "@google-cloud/storage";
import { crc32cImplementation, fastCrc32cGenerator } from "../core/crc32c.ts";
import { createLogger } from "../core/logger.ts";
import { taskLabels } from "./env.ts";
import { isStageCommand, runStage } from "./stage.ts";
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
    // The client's own CRC32C costs about as much CPU as processing the records; ours is 7-20x faster.
    crc32cGenerator: fastCrc32cGenerator,
  });
  // `stage-in` / `stage-out` / `stage-failed`: a staging step around a client's container (worker/stage.ts).
  const command = process.argv[2];
  if (isStageCommand(command)) {
    return runStage(command, process.env, { storage, logger, now: () => new Date() });
  }
  const outcome = await runTask(process.env, {
    storage,
    logger,
    now: () => new Date(),
    crc32cImplementation,
  });
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
