import { randomBytes } from "node:crypto";
import type { Message, PubSub, Subscription } from "@google-cloud/pubsub";
import type { Logger } from "../core/logger.ts";
import type { MessageView } from "./views.ts";

/** Messages kept per client topic; older ones drop off. */
export const MESSAGES_KEPT = 100;

/**
 * A client topic's recent messages, as a subscriber sees them: the console owns one pull subscription per
 * client topic on the local cloud's Pub/Sub emulator (`batchline-console-<client>-<hex>`), acks what arrives
 * and keeps the newest MESSAGES_KEPT. A subscription receives only what is published after it exists, so the
 * page shows messages since the console started; the client's own subscriptions are left alone.
 */
export class TopicRecorder {
  private readonly kept = new Map<string, MessageView[]>();
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to each topic (client id → topic name). */
  async start(topics: Map<string, string>): Promise<void> {
    for (const [client, topic] of topics) {
      this.kept.set(client, []);
      const name = `batchline-console-${client}-${randomBytes(4).toString("hex")}`;
      const [subscription] = await this.pubsub.topic(topic).createSubscription(name);
      subscription.on("message", (message: Message) => {
        message.ack();
        const list = this.kept.get(client) ?? [];
        list.unshift({
          messageId: message.id,
          publishTime: message.publishTime ? new Date(message.publishTime.getTime()).toISOString() : null,
          attributes: { ...message.attributes },
          data: message.data.toString("utf8"),
        });
        list.length = Math.min(list.length, MESSAGES_KEPT);
        this.kept.set(client, list);
      });
      subscription.on("error", (err: Error) =>
        this.logger.warn({ err, client }, "console: the topic subscription failed"),
      );
      this.subscriptions.push(subscription);
    }
  }

  /** Newest first. */
  messages(client: string): MessageView[] {
    return this.kept.get(client) ?? [];
  }

  /** The message of a run, by its runId attribute, when one arrived. */
  byRun(client: string, runId: string): MessageView | undefined {
    return this.messages(client).find((m) => m.attributes.runId === runId);
  }

  /** Closes and deletes the console's subscriptions. */
  async stop(): Promise<void> {
    await Promise.allSettled(
      this.subscriptions.map(async (s) => {
        await s.close();
        await s.delete();
      }),
    );
    this.subscriptions.length = 0;
  }
}
