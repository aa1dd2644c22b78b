import { PubSub, type Topic } from "@google-cloud/pubsub";
import type { Logger } from "../../../core/logger.ts";
import type { NotificationRecord } from "../backend/types.ts";
import type { ChangeEvent } from "./events.ts";

export interface PubsubNotifierOptions {
  /** host:port of Google's Pub/Sub emulator. */
  emulatorHost: string;
  /** Project the Pub/Sub client is created for; topics name their own project. */
  projectId: string;
  logger: Logger;
}

/** `//pubsub.googleapis.com/projects/P/topics/T` -> `projects/P/topics/T`. */
export function topicPath(topic: string): string {
  return topic.replace(/^\/\/pubsub\.googleapis\.com\//, "");
}

/** Does `config` want `event`? Event types (all when none are listed) and the object name prefix. */
export function wants(config: NotificationRecord, event: ChangeEvent): boolean {
  if (config.event_types && config.event_types.length > 0 && !config.event_types.includes(event.eventType))
    return false;
  const name = String(event.object.name ?? "");
  return config.object_name_prefix === undefined || name.startsWith(config.object_name_prefix);
}

/** The attributes GCS puts on a notification message (custom attributes first, GCS's own win). */
export function messageAttributes(config: NotificationRecord, event: ChangeEvent): Record<string, string> {
  const attributes: Record<string, string> = {
    ...(config.custom_attributes ?? {}),
    notificationConfig: `projects/_/buckets/${event.bucket}/notificationConfigs/${config.id}`,
    eventType: event.eventType,
    payloadFormat: config.payload_format,
    bucketId: event.bucket,
    objectId: String(event.object.name),
    objectGeneration: String(event.object.generation),
    eventTime: event.eventTime,
  };
  if (event.overwroteGeneration !== undefined) attributes.overwroteGeneration = event.overwroteGeneration;
  if (event.overwrittenByGeneration !== undefined)
    attributes.overwrittenByGeneration = event.overwrittenByGeneration;
  return attributes;
}

/**
 * Publishes change events to the Pub/Sub topics of a bucket's notification configs, on Google's
 * Pub/Sub emulator, as GCS's Pub/Sub notifications do: JSON_API_V1 carries the object resource as the
 * message data, NONE carries no data. Publishing is asynchronous to the request that caused it;
 * `flush()` waits for everything handed over so far.
 */
export class PubsubNotifier {
  #pubsub: PubSub;
  #topics = new Map<string, Topic>();
  #pending = new Set<Promise<unknown>>();
  #log: Logger;

  constructor(options: PubsubNotifierOptions) {
    // An explicit universe domain keeps the auth library from probing for the GCE metadata server
    // (169.254.169.254) to find one: the emulator needs no credentials and only talks to loopback.
    this.#pubsub = new PubSub({
      projectId: options.projectId,
      apiEndpoint: options.emulatorHost,
      emulatorMode: true,
      universeDomain: "googleapis.com",
    });
    this.#log = options.logger;
  }

  async topicExists(topic: string): Promise<boolean> {
    const [exists] = await this.#topic(topic).exists();
    return exists;
  }

  publish(configs: readonly NotificationRecord[], event: ChangeEvent): void {
    for (const config of configs) {
      if (!wants(config, event)) continue;
      const data =
        config.payload_format === "JSON_API_V1" ? Buffer.from(JSON.stringify(event.object)) : Buffer.alloc(0);
      const attributes = messageAttributes(config, event);
      const p = this.#topic(config.topic)
        .publishMessage({ data, attributes })
        .catch((err: unknown) => {
          this.#log.warn(
            { err, topic: config.topic, eventType: event.eventType, object: event.object.name },
            "notification publish failed",
          );
        })
        .finally(() => this.#pending.delete(p));
      this.#pending.add(p);
    }
  }

  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all([...this.#topics.values()].map((t) => t.flush().catch(() => undefined)));
    await this.#pubsub.close();
  }

  #topic(topic: string): Topic {
    const path = topicPath(topic);
    let t = this.#topics.get(path);
    if (!t) {
      t = this.#pubsub.topic(path, { batching: { maxMessages: 100, maxMilliseconds: 5 } });
      this.#topics.set(path, t);
    }
    return t;
  }
}
