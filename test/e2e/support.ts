import type { Message, Subscription } from "@google-cloud/pubsub";
import { inject } from "vitest";
import { topicName } from "../../core/ids.ts";
import { createLogger } from "../../core/logger.ts";
import { type ResultMessageV1, resultMessageV1Schema } from "../../core/messages.ts";
import { type LocalCloud, readerSubscriptionName, startLocalCloud } from "../../local/cloud.ts";

export const E2E_CONFIG = "test/fixtures/e2e/config";
export const E2E_LOCAL = "test/fixtures/e2e/local.yaml";

export interface Received {
  attributes: Record<string, string>;
  body: ResultMessageV1;
}

/** Collects every result message per client, so tests assert on what a subscriber would see. */
export class Inbox {
  private readonly messages = new Map<string, Received[]>();
  private readonly taken = new Map<string, number>();
  private readonly subscriptions: Subscription[] = [];

  async watch(cloud: LocalCloud, clients: Iterable<string>): Promise<void> {
    for (const client of clients) {
      this.messages.set(client, []);
      this.taken.set(client, 0);
      const topic = cloud.pubsub.topic(topicName(cloud.config.platform.product, client));
      const [subscription] = await topic.createSubscription(readerSubscriptionName(client));
      subscription.on("message", (message: Message) => {
        message.ack();
        const body = resultMessageV1Schema.parse(JSON.parse(message.data.toString("utf8")));
        this.messages.get(client)?.push({ attributes: message.attributes, body });
      });
      this.subscriptions.push(subscription);
    }
  }

  /** Waits for `count` messages not yet taken for `client`, and takes them. */
  async next(client: string, count = 1, timeoutMs = 30_000): Promise<Received[]> {
    const all = this.messages.get(client);
    if (!all) throw new Error(`inbox does not watch ${client}`);
    const from = this.taken.get(client) ?? 0;
    const deadline = Date.now() + timeoutMs;
    while (all.length < from + count) {
      if (Date.now() > deadline) {
        throw new Error(
          `expected ${count} new message(s) for ${client}, got ${all.length - from} in ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.taken.set(client, from + count);
    return all.slice(from, from + count);
  }

  /** Messages that arrived for `client` and were not taken (after waiting `quietMs` for stragglers). */
  async untaken(client: string, quietMs = 1_500): Promise<Received[]> {
    await new Promise((r) => setTimeout(r, quietMs));
    const all = this.messages.get(client) ?? [];
    return all.slice(this.taken.get(client) ?? 0);
  }

  async close(): Promise<void> {
    for (const s of this.subscriptions) {
      await s.close().catch(() => undefined);
      await s.delete().catch(() => undefined);
    }
  }
}

/** The local cloud on the e2e config, sharing the tier's Pub/Sub emulator. */
export function bootE2eCloud(options: { deliverTwice?: boolean } = {}): Promise<LocalCloud> {
  return startLocalCloud({
    configDir: E2E_CONFIG,
    localConfigFile: E2E_LOCAL,
    pubsubEmulatorHost: inject("pubsubEmulatorHost"),
    deliverTwice: options.deliverTwice,
    schedules: false,
    logger: createLogger({ component: "e2e", level: process.env.BATCHLINE_E2E_LOG ?? "error" }),
  });
}

/** A JSONL file of `n` records with text fields. */
export function jsonl(texts: string[]): string {
  return texts.map((text) => `${JSON.stringify({ text })}\n`).join("");
}

export async function readObject(cloud: LocalCloud, name: string): Promise<string> {
  const [contents] = await cloud.storage.bucket(cloud.config.platform.bucket).file(name).download();
  return contents.toString("utf8");
}

export async function objectMetadata(cloud: LocalCloud, name: string): Promise<Record<string, unknown>> {
  const [metadata] = await cloud.storage.bucket(cloud.config.platform.bucket).file(name).getMetadata();
  return metadata as Record<string, unknown>;
}

export async function listNames(cloud: LocalCloud, prefix: string): Promise<string[]> {
  const [files] = await cloud.storage.bucket(cloud.config.platform.bucket).getFiles({ prefix });
  return files.map((f) => f.name).sort();
}
