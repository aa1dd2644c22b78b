import { raise } from "../errors.ts";
import { argMap, argString } from "../stdlib/args.ts";
import type { ConnectorHandler, ConnectorRegistry } from "./registry.ts";
import { normalizeEndpoint } from "./storage.ts";

// Pub/Sub connector, spoken to the REST API of Google's Pub/Sub emulator (PUBSUB_EMULATOR_HOST).
// publish takes {topic: "projects/P/topics/T", body: {messages: [{data: <base64>, attributes: {…}}]}} and
// returns {messageIds: [...]}, as the connector does (docs, "Connectors > Pub/Sub API").

const TOPIC = /^projects\/[^/]+\/topics\/[^/]+$/;

export function pubsubConnectors(emulatorHost: string): Record<string, ConnectorHandler> {
  const base = normalizeEndpoint(emulatorHost);
  return {
    "googleapis.pubsub.v1.projects.topics.publish": {
      idempotent: false,
      params: ["topic", "body"],
      required: ["topic", "body"],
      call: async (args, ctx) => {
        const topic = argString(ctx.name, "topic", args.topic);
        if (!TOPIC.test(topic))
          raise(
            "ValueError",
            `${ctx.name}: topic must be projects/PROJECT/topics/TOPIC, got ${JSON.stringify(topic)}`,
          );
        const body = argMap(ctx.name, "body", args.body);
        return (await ctx.request("POST", `${base}/v1/${topic}:publish`, { body })).body;
      },
    },
  };
}

export function registerPubsubConnectors(
  registry: ConnectorRegistry,
  emulatorHost: string,
): ConnectorRegistry {
  for (const [name, handler] of Object.entries(pubsubConnectors(emulatorHost)))
    registry.register(name, handler);
  return registry;
}
