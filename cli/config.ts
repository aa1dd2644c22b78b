import type { Command } from "commander";
import { loadConfig } from "../core/config/load.ts";
import { ConfigError } from "../core/errors.ts";
import { topicName } from "../core/ids.ts";

export function registerConfigCommands(program: Command): void {
  program
    .command("config")
    .description("validate config/platform.yaml and config/clients/*.yaml and print what they resolve to")
    .option("--dir <dir>", "config directory", "config")
    .action((opts: { dir: string }) => {
      try {
        const { platform, clients } = loadConfig(opts.dir);
        console.log(
          `platform ${platform.product} in ${platform.project}/${platform.region}, bucket ${platform.bucket}`,
        );
        for (const client of clients.values()) {
          const schedule = client.schedule
            ? `${client.schedule.cron} (${client.schedule.timeZone}, ${client.schedule.mode})`
            : "none";
          console.log(
            `client ${client.id}: topic ${topicName(platform.product, client.id)}, schedule ${schedule}`,
          );
        }
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(`invalid config: ${err.message}`);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
    });
}
