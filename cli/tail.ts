import { randomBytes } from "node:crypto";
import type { Message, Subscription } from "@google-cloud/pubsub";
import type { Command } from "commander";
import { topicName } from "../core/ids.ts";
import { clientOrExit, cloudClients, configOrExit } from "./shared.ts";

/** `batchline tail --client C`: prints each result message on the client's topic as it arrives. */
export function registerTailCommand(program: Command): void {
  program
    .command("tail")
    .description("print each result message published to a client's output topic as it arrives")
    .requiredOption("--client <id>", "client id")
    .option("--config <dir>", "config directory", "config")
    .option("--subscription <name>", "read from this existing subscription instead of a temporary one")
    .option("--count <n>", "exit after this many messages")
    .action(async (opts: { client: string; config: string; subscription?: string; count?: string }) => {
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const { pubsub, target } = cloudClients(config);
      const topic = pubsub.topic(topicName(config.platform.product, client.id));
      let subscription: Subscription;
      let temporary = false;
      if (opts.subscription) {
        subscription = pubsub.subscription(opts.subscription);
      } else {
        const name = `batchline-tail-${client.id}-${randomBytes(4).toString("hex")}`;
        try {
          [subscription] = await topic.createSubscription(name, {
            expirationPolicy: { ttl: { seconds: 86_400 } },
          });
        } catch (err) {
          console.error(`cannot subscribe to ${topic.name} on ${target}: ${(err as Error).message}`);
          process.exit(1);
        }
        temporary = true;
      }
      const limit = opts.count ? Number(opts.count) : Number.POSITIVE_INFINITY;
      let seen = 0;
      console.error(`tailing ${topic.name} on ${target} (Ctrl-C to stop)`);
      const stop = async (code: number) => {
        await subscription.close().catch(() => undefined);
        if (temporary) await subscription.delete().catch(() => undefined);
        await pubsub.close().catch(() => undefined);
        process.exit(code);
      };
      subscription.on("message", (message: Message) => {
        message.ack();
        seen++;
        let body: unknown;
        try {
          body = JSON.parse(message.data.toString("utf8"));
        } catch {
          body = message.data.toString("utf8");
        }
        console.log(JSON.stringify({ messageId: message.id, attributes: message.attributes, body }, null, 2));
        if (seen >= limit) void stop(0);
      });
      subscription.on("error", (err: Error) => {
        console.error(`subscription error: ${err.message}`);
        void stop(1);
      });
      process.once("SIGINT", () => void stop(0));
      process.once("SIGTERM", () => void stop(0));
    });
}
