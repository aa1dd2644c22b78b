import { describe, expect, it } from "vitest";
import type { BatchlineConfig } from "../../../core/config/load.ts";
import { loadConfig } from "../../../core/config/load.ts";
import { clientConfigSchema } from "../../../core/config/schema.ts";
import { scheduleArgument, startLocalScheduler } from "../../../local/scheduler/index.ts";

function withClients(clients: unknown[]): BatchlineConfig {
  const base = loadConfig("config");
  const map = new Map(clients.map((c) => clientConfigSchema.parse(c)).map((c) => [c.id, c]));
  return { platform: base.platform, clients: map };
}

describe("local Cloud Scheduler", () => {
  it("passes the same argument infra's scheduler job sends", () => {
    expect(scheduleArgument("acme")).toEqual({ client: "acme", trigger: "schedule" });
  });

  it("creates a job only for clients with a schedule, in their time zone", () => {
    const scheduler = startLocalScheduler({
      config: withClients([
        { id: "acme", schedule: { cron: "0 5 * * *", timeZone: "Asia/Tokyo" } },
        { id: "globex" },
      ]),
      start: async () => undefined,
    });
    try {
      expect(scheduler.jobs.map((j) => j.client)).toEqual(["acme"]);
      const next = scheduler.jobs[0]?.nextRun();
      expect(next).toBeInstanceOf(Date);
      // 05:00 in Tokyo is 20:00 UTC the day before.
      expect(next?.getUTCHours()).toBe(20);
      expect(next?.getUTCMinutes()).toBe(0);
    } finally {
      scheduler.stop();
    }
  });

  it("schedules an every-minute cron for the top of the next minute", async () => {
    const fired: unknown[] = [];
    const scheduler = startLocalScheduler({
      config: withClients([{ id: "acme", schedule: { cron: "* * * * *" } }]),
      start: async (arg) => void fired.push(arg),
    });
    try {
      const next = scheduler.jobs[0]?.nextRun();
      expect(next).toBeInstanceOf(Date);
      expect((next as Date).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
      expect((next as Date).getUTCSeconds()).toBe(0);
    } finally {
      scheduler.stop();
    }
    expect(fired).toEqual([]);
  });

  it("runs a job now on request, and refuses a client without a schedule", async () => {
    const fired: unknown[] = [];
    const scheduler = startLocalScheduler({
      config: withClients([{ id: "acme", schedule: { cron: "0 5 * * *" } }, { id: "globex" }]),
      start: async (arg) => void fired.push(arg),
    });
    try {
      await scheduler.runNow("acme");
      expect(fired).toEqual([{ client: "acme", trigger: "schedule" }]);
      await expect(scheduler.runNow("globex")).rejects.toThrow('client "globex" has no schedule');
    } finally {
      scheduler.stop();
    }
  });
});
