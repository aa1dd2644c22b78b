import { randomBytes } from "node:crypto";
import type { Message, PubSub, Subscription } from "@google-cloud/pubsub";
import type { Logger } from "../core/logger.ts";
import type { MessageView } from "./views.ts";

/** Messages kept per client topic; older ones drop off. */
export const MESSAGES_KEPT = 100;

/** How long to wait before subscribing again after the subscription failed. */
const RESUBSCRIBE_MS = 2000;

interface Watch {
  topic: string;
  kept: MessageView[];
  subscription: Subscription | null;
  /** When the subscription failed and when it was made again (null while not yet): messages may be missing. */
  gap: { from: string; to: string | null } | null;
}

/**
 * A client topic's recent messages, as a subscriber sees them: the console owns one pull subscription per
 * client topic on the local cloud's Pub/Sub emulator (`batchline-console-<client>-<hex>`), acks what arrives
 * and keeps the newest MESSAGES_KEPT. A subscription receives only what is published after it exists, so the
 * page shows messages since the console started; the client's own subscriptions are left alone. If the
 * subscription fails (the emulator restarted, and its topics were made again without it), a new one is made,
 * and the page is told that messages in between may be missing.
 */
export class TopicRecorder {
  private readonly watches = new Map<string, Watch>();
  private stopped = false;

  constructor(
    private readonly pubsub: PubSub,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to each topic (client id → topic name). */
  async start(topics: Map<string, string>): Promise<void> {
    for (const [client, topic] of topics) {
      const watch: Watch = { topic, kept: [], subscription: null, gap: null };
      this.watches.set(client, watch);
      await this.subscribe(client, watch);
    }
  }

  private async subscribe(client: string, watch: Watch): Promise<void> {
    const name = `batchline-console-${client}-${randomBytes(4).toString("hex")}`;
    const [subscription] = await this.pubsub.topic(watch.topic).createSubscription(name);
    watch.subscription = subscription;
    if (watch.gap && watch.gap.to === null) watch.gap.to = new Date().toISOString();
    subscription.on("message", (message: Message) => {
      message.ack();
      watch.kept.unshift({
        messageId: message.id,
        publishTime: message.publishTime ? new Date(message.publishTime.getTime()).toISOString() : null,
        attributes: { ...message.attributes },
        data: message.data.toString("utf8"),
      });
      watch.kept.length = Math.min(watch.kept.length, MESSAGES_KEPT);
    });
    subscription.on("error", (err: Error) => {
      if (watch.subscription !== subscription || this.stopped) return;
      this.logger.warn({ err, client }, "console: the topic subscription failed; subscribing again");
      watch.gap = { from: new Date().toISOString(), to: null };
      watch.subscription = null;
      void subscription.close().catch(() => undefined);
      this.retry(client, watch);
    });
  }

  private retry(client: string, watch: Watch): void {
    const timer = setTimeout(() => {
      if (this.stopped) return;
      this.subscribe(client, watch).catch((err: unknown) => {
        this.logger.warn({ err, client }, "console: cannot subscribe to the topic yet");
        this.retry(client, watch);
      });
    }, RESUBSCRIBE_MS);
    timer.unref();
  }

  /** Newest first. */
  messages(client: string): MessageView[] {
    return this.watches.get(client)?.kept ?? [];
  }

  /** Why messages may be missing (the last time the subscription failed), or null. */
  gap(client: string): string | null {
    const gap = this.watches.get(client)?.gap;
    if (!gap) return null;
    return gap.to
      ? `The console's subscription failed at ${gap.from} and was made again at ${gap.to}: messages published in between are not shown.`
      : `The console's subscription failed at ${gap.from} and is being made again: newer messages are not shown yet.`;
  }

  /** The message of a run, by its runId attribute, when one arrived. */
  byRun(client: string, runId: string): MessageView | undefined {
    return this.messages(client).find((m) => m.attributes.runId === runId);
  }

  /** Closes and deletes the console's subscriptions. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(
      [...this.watches.values()].map(async (w) => {
        const s = w.subscription;
        w.subscription = null;
        if (!s) return;
        await s.close();
        await s.delete();
      }),
    );
  }
}
