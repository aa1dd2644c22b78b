import type { BatchlineConfig } from "../../core/config/load.ts";
import type { Logger } from "../../core/logger.ts";
import { triggerName } from "../../core/resource-names.ts";
import {
  AUDIT_LOG_EVENT_TYPE,
  inputsPathPattern,
  matchesPathPattern,
  OBJECT_CREATE_METHOD,
  objectResourceName,
  STORAGE_SERVICE_NAME,
} from "../../core/triggers.ts";
import { auditLogObjectCreateEvent } from "./audit-log.ts";

/** The emulator's change events, as far as Eventarc reads them. */
export interface StorageChange {
  eventType: string;
  bucket: string;
  object: { name?: unknown; generation?: unknown };
  eventTime: string;
}
export interface StorageChangeSource {
  onChange(listener: (event: StorageChange) => void | Promise<void>): () => void;
}

/** One client's trigger, built from config exactly as infra builds the real one. */
export interface LocalTrigger {
  name: string;
  client: string;
  filters: { type: string; serviceName: string; methodName: string };
  pathPattern: string;
}

export interface LocalEventarcOptions {
  config: BatchlineConfig;
  storage: StorageChangeSource;
  /** Starts a workflow execution with the event as its argument (the trigger's destination). */
  deliver: (event: Record<string, unknown>, trigger: LocalTrigger) => Promise<unknown>;
  /** Deliver every event twice, with the same id, as at-least-once delivery may (to prove deduplication). */
  deliverTwice?: boolean;
  /** Delay before delivery, as audit logs reach Eventarc with a lag (default 0). */
  delayMs?: number;
  /** Uploader identity put in the audit log. */
  principalEmail?: string;
  logger?: Logger;
}

export interface LocalEventarc {
  triggers: readonly LocalTrigger[];
  /** Drops every event until resume(), as if audit-log entries were lost (for showing the scheduled sweep). */
  suspend(): void;
  resume(): void;
  /** Resolves when every delivery started so far has settled. */
  idle(): Promise<void>;
  stop(): void;
}

export function triggersFor(config: BatchlineConfig): LocalTrigger[] {
  const { platform } = config;
  return [...config.clients.values()].map((client) => ({
    name: triggerName(platform.product, client.id),
    client: client.id,
    filters: {
      type: AUDIT_LOG_EVENT_TYPE,
      serviceName: STORAGE_SERVICE_NAME,
      methodName: OBJECT_CREATE_METHOD,
    },
    pathPattern: inputsPathPattern(platform.bucket, platform.product, client.id),
  }));
}

/**
 * Eventarc for the local cloud: every object finalized in the platform bucket becomes the audit-log
 * CloudEvent a real Cloud Audit Log trigger would send, and goes to each trigger whose path pattern matches.
 * Difference from GCP: every finalize counts as `storage.objects.create` (copies and composes included).
 */
export function startLocalEventarc(options: LocalEventarcOptions): LocalEventarc {
  const { config, logger } = options;
  const triggers = triggersFor(config);
  const pending = new Set<Promise<unknown>>();
  let suspended = false;

  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const unsubscribe = options.storage.onChange((change) => {
    if (change.eventType !== "OBJECT_FINALIZE" || change.bucket !== config.platform.bucket) return;
    if (suspended) {
      logger?.warn({ object: change.object.name }, "eventarc: suspended, event dropped");
      return;
    }
    const object = String(change.object.name ?? "");
    const resourceName = objectResourceName(change.bucket, object);
    const matching = triggers.filter((t) => matchesPathPattern(t.pathPattern, resourceName));
    if (matching.length === 0) return;
    const event = auditLogObjectCreateEvent({
      project: config.platform.project,
      bucket: change.bucket,
      object,
      location: config.platform.region,
      principalEmail: options.principalEmail ?? "uploader@local.batchline",
      time: new Date(change.eventTime),
    });
    const copies = options.deliverTwice ? 2 : 1;
    for (const trigger of matching) {
      for (let i = 0; i < copies; i++) {
        const delivery = (async () => {
          if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
          logger?.info(
            { trigger: trigger.name, object, eventId: event.id, copy: i + 1 },
            "eventarc: delivering",
          );
          return options.deliver(event, trigger);
        })().catch((err: unknown) => {
          logger?.error({ trigger: trigger.name, object, err }, "eventarc: delivery failed");
        });
        track(delivery);
      }
    }
  });

  return {
    triggers,
    suspend() {
      suspended = true;
    },
    resume() {
      suspended = false;
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    stop() {
      unsubscribe();
    },
  };
}
