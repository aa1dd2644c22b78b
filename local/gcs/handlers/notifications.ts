import type { NotificationRecord } from "../backend/types.ts";
import { invalid, methodNotAllowed, required } from "../errors.ts";
import { readRequestJson, sendEmpty, sendJson } from "../http.ts";
import { EVENT_TYPES } from "../notifications/events.ts";
import { notificationResource } from "../resources.ts";
import type { RequestContext } from "./context.ts";

const TOPIC = /^(?:\/\/pubsub\.googleapis\.com\/)?projects\/([^/]+)\/topics\/([^/]+)$/;

/** `/b/<bucket>/notificationConfigs`: notifications.list (GET) and notifications.insert (POST). */
export async function handleNotifications(ctx: RequestContext, bucket: string): Promise<void> {
  if (ctx.req.method === "GET") {
    const configs = ctx.store.getBucket(bucket).notifications;
    const body: Record<string, unknown> = { kind: "storage#notifications" };
    if (configs.length > 0) body.items = configs.map((n) => notificationResource(bucket, n, ctx.baseUrl));
    sendJson(ctx.res, 200, body);
    return;
  }
  if (ctx.req.method !== "POST") throw methodNotAllowed();
  const body = await readRequestJson(ctx.req);
  ctx.store.getBucket(bucket);
  const config = parseNotification(body);
  if (ctx.notifier && !(await ctx.notifier.topicExists(config.topic))) {
    throw invalid(
      `Cloud Pub/Sub topic '${config.topic}' not found, or user 'service-0@gs-project-accounts.iam.gserviceaccount.com' does not have permission to it.`,
    );
  }
  if (!ctx.notifier) {
    ctx.log.warn(
      { bucket, topic: config.topic },
      "notification config stored, but no Pub/Sub emulator is configured to deliver it",
    );
  }
  const record = await ctx.store.addNotification(bucket, config);
  sendJson(ctx.res, 200, notificationResource(bucket, record, ctx.baseUrl));
}

/** `/b/<bucket>/notificationConfigs/<id>`: notifications.get and notifications.delete. */
export async function handleNotification(ctx: RequestContext, bucket: string, id: string): Promise<void> {
  if (ctx.req.method === "GET") {
    sendJson(ctx.res, 200, notificationResource(bucket, ctx.store.getNotification(bucket, id), ctx.baseUrl));
    return;
  }
  if (ctx.req.method === "DELETE") {
    await ctx.store.deleteNotification(bucket, id);
    sendEmpty(ctx.res, 204);
    return;
  }
  throw methodNotAllowed();
}

function parseNotification(body: Record<string, unknown>): Omit<NotificationRecord, "id"> {
  const topic = body.topic;
  const m = typeof topic === "string" ? TOPIC.exec(topic) : null;
  if (!m)
    throw invalid(
      "Invalid Google Cloud Pub/Sub topic. It should look like '//pubsub.googleapis.com/projects/*/topics/*.'",
    );
  const format = body.payload_format ?? "JSON_API_V1";
  if (format !== "JSON_API_V1" && format !== "NONE")
    throw invalid(`Invalid value for payload_format: ${JSON.stringify(format)}`);
  const out: Omit<NotificationRecord, "id"> = {
    topic: `//pubsub.googleapis.com/projects/${m[1]}/topics/${m[2]}`,
    payload_format: format,
  };
  if (body.event_types !== undefined && body.event_types !== null) {
    if (!Array.isArray(body.event_types)) throw invalid("Invalid value for event_types.");
    for (const t of body.event_types) {
      if (!(EVENT_TYPES as readonly unknown[]).includes(t))
        throw invalid(`Invalid value for event_types: ${JSON.stringify(t)}`);
    }
    if (body.event_types.length > 0) out.event_types = body.event_types as string[];
  }
  if (body.custom_attributes !== undefined && body.custom_attributes !== null) {
    if (typeof body.custom_attributes !== "object" || Array.isArray(body.custom_attributes)) {
      throw invalid("Invalid value for custom_attributes.");
    }
    out.custom_attributes = Object.fromEntries(
      Object.entries(body.custom_attributes as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
  }
  if (body.object_name_prefix !== undefined && body.object_name_prefix !== null) {
    if (typeof body.object_name_prefix !== "string") throw invalid("Invalid value for object_name_prefix.");
    out.object_name_prefix = body.object_name_prefix;
  }
  if (typeof topic !== "string") throw required();
  return out;
}
