import { Cron } from "croner";
import type { BatchlineConfig } from "../../core/config/load.ts";
import type { Logger } from "../../core/logger.ts";

/** The argument Cloud Scheduler passes the workflow for a client (same as infra's scheduler job body). */
export function scheduleArgument(client: string): { client: string; trigger: "schedule" } {
  return { client, trigger: "schedule" };
}

export interface LocalSchedulerOptions {
  config: BatchlineConfig;
  /** Starts a workflow execution with the argument (the scheduler job's target). */
  start: (argument: { client: string; trigger: "schedule" }) => Promise<unknown>;
  logger?: Logger;
}

export interface LocalScheduledJob {
  client: string;
  cron: string;
  timeZone: string;
  /** Next time the job fires. */
  nextRun(): Date | null;
}

export interface LocalScheduler {
  jobs: readonly LocalScheduledJob[];
  /** Fires a client's job now, as `gcloud scheduler jobs run` does. */
  runNow(client: string): Promise<unknown>;
  stop(): void;
}

/** Cloud Scheduler for the local cloud: one cron per client with a schedule, in the client's time zone. */
export function startLocalScheduler(options: LocalSchedulerOptions): LocalScheduler {
  const crons: Cron[] = [];
  const jobs: LocalScheduledJob[] = [];
  const fire = (client: string) => {
    options.logger?.info({ client }, "scheduler: firing");
    return options.start(scheduleArgument(client));
  };
  for (const client of options.config.clients.values()) {
    const schedule = client.schedule;
    if (!schedule) continue;
    const cron = new Cron(schedule.cron, { timezone: schedule.timeZone, protect: true }, () => {
      fire(client.id).catch((err: unknown) =>
        options.logger?.error({ client: client.id, err }, "scheduler: run failed"),
      );
    });
    crons.push(cron);
    jobs.push({
      client: client.id,
      cron: schedule.cron,
      timeZone: schedule.timeZone,
      nextRun: () => cron.nextRun(),
    });
  }
  return {
    jobs,
    runNow(client: string) {
      if (!jobs.some((j) => j.client === client)) {
        return Promise.reject(
          new Error(`client "${client}" has no schedule (add schedule.cron to its config)`),
        );
      }
      return fire(client);
    },
    stop() {
      for (const cron of crons) cron.stop();
    },
  };
}
