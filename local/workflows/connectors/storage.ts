import { raise } from "../errors.ts";
import { argString, wrongType } from "../stdlib/args.ts";
import { newMap, type Value, type ValueMap } from "../values.ts";
import type { ConnectorHandler, ConnectorRegistry } from "./registry.ts";

// Cloud Storage connector methods, spoken to a GCS JSON-API endpoint (our emulator, or any server with
// the same API). Argument names are the connector's (docs, "Connectors > Cloud Storage JSON API"):
// objects.get {bucket, object, alt, generation, …}, objects.list {bucket, prefix, delimiter, maxResults,
// pageToken, versions, …}, objects.insert {bucket, name, uploadType: media, body}, objects.delete {bucket, object, …}.

/** `localhost:4443`, `http://127.0.0.1:4443/` -> `http://127.0.0.1:4443` */
export function normalizeEndpoint(endpoint: string): string {
  const withScheme = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  return withScheme.replace(/\/+$/, "");
}

function pick(args: ValueMap, names: readonly string[]): ValueMap {
  const q = newMap();
  for (const n of names) if (args[n] !== undefined && args[n] !== null) q[n] = args[n] as Value;
  return q;
}

const GET_QUERY = [
  "alt",
  "generation",
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
  "projection",
  "userProject",
];
const LIST_QUERY = [
  "delimiter",
  "endOffset",
  "includeTrailingDelimiter",
  "maxResults",
  "pageToken",
  "prefix",
  "projection",
  "startOffset",
  "userProject",
  "versions",
  "matchGlob",
];
const INSERT_QUERY = [
  "contentEncoding",
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
  "kmsKeyName",
  "predefinedAcl",
  "projection",
  "userProject",
];
const DELETE_QUERY = [
  "generation",
  "ifGenerationMatch",
  "ifGenerationNotMatch",
  "ifMetagenerationMatch",
  "ifMetagenerationNotMatch",
  "userProject",
];

export function storageConnectors(endpoint: string): Record<string, ConnectorHandler> {
  const base = normalizeEndpoint(endpoint);
  const objectUrl = (args: ValueMap, fn: string) =>
    `${base}/storage/v1/b/${encodeURIComponent(argString(fn, "bucket", args.bucket))}/o/${encodeURIComponent(
      argString(fn, "object", args.object),
    )}`;
  return {
    "googleapis.storage.v1.objects.get": {
      idempotent: true,
      params: ["bucket", "object", ...GET_QUERY],
      required: ["bucket", "object"],
      call: async (args, ctx) =>
        (await ctx.request("GET", objectUrl(args, ctx.name), { query: pick(args, GET_QUERY) })).body,
    },
    "googleapis.storage.v1.objects.list": {
      idempotent: true,
      params: ["bucket", ...LIST_QUERY],
      required: ["bucket"],
      call: async (args, ctx) => {
        const bucket = argString(ctx.name, "bucket", args.bucket);
        const url = `${base}/storage/v1/b/${encodeURIComponent(bucket)}/o`;
        return (await ctx.request("GET", url, { query: pick(args, LIST_QUERY) })).body;
      },
    },
    "googleapis.storage.v1.objects.insert": {
      idempotent: false,
      params: ["bucket", "name", "uploadType", "body", ...INSERT_QUERY],
      required: ["bucket", "name", "body"],
      call: async (args, ctx) => {
        const bucket = argString(ctx.name, "bucket", args.bucket);
        const name = argString(ctx.name, "name", args.name);
        const uploadType =
          args.uploadType === undefined ? "media" : argString(ctx.name, "uploadType", args.uploadType);
        if (uploadType !== "media") {
          raise(
            "ValueError",
            `${ctx.name}: only uploadType "media" is supported locally, got ${JSON.stringify(uploadType)}`,
          );
        }
        const body = args.body;
        if (body === undefined || body === null)
          return wrongType(ctx.name, "body", "the object content", body ?? null);
        const query = pick(args, INSERT_QUERY);
        query.uploadType = "media";
        query.name = name;
        const url = `${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`;
        return (await ctx.request("POST", url, { query, body })).body;
      },
    },
    "googleapis.storage.v1.objects.delete": {
      idempotent: false,
      params: ["bucket", "object", ...DELETE_QUERY],
      required: ["bucket", "object"],
      call: async (args, ctx) => {
        const res = await ctx.request("DELETE", objectUrl(args, ctx.name), {
          query: pick(args, DELETE_QUERY),
        });
        return res.body === "" ? null : res.body;
      },
    },
  };
}

export function registerStorageConnectors(registry: ConnectorRegistry, endpoint: string): ConnectorRegistry {
  for (const [name, handler] of Object.entries(storageConnectors(endpoint))) registry.register(name, handler);
  return registry;
}
