import { badRequest } from "./errors.ts";

/** What a request path addresses. Object names are decoded; they may contain '/'. */
export type Route =
  | { kind: "health" }
  | { kind: "buckets" }
  | { kind: "bucket"; bucket: string }
  | { kind: "storageLayout"; bucket: string }
  | { kind: "objects"; bucket: string }
  | { kind: "object"; bucket: string; object: string }
  | { kind: "rewrite" | "copy"; bucket: string; object: string; destBucket: string; destObject: string }
  | { kind: "move"; bucket: string; object: string; destObject: string }
  | { kind: "compose"; bucket: string; object: string }
  | { kind: "notifications"; bucket: string }
  | { kind: "notification"; bucket: string; id: string }
  | { kind: "serviceAccount"; project: string }
  | { kind: "upload"; bucket: string }
  | { kind: "download"; bucket: string; object: string }
  | { kind: "xml"; bucket: string; object: string }
  | { kind: "xmlBucket"; bucket: string }
  | { kind: "xmlService" }
  | { kind: "unknown" };

/**
 * Maps a request path to a route. The JSON API is served under `/storage/v1` and also at the root
 * (the Node client uses `STORAGE_EMULATOR_HOST` itself as the JSON API base); uploads are under
 * `/upload/storage/v1` (and `/resumable/upload/storage/v1`), media downloads also under `/download/storage/v1`, and `/<bucket>/<object>`
 * is the XML API (with `/` and `/<bucket>`). Bucket names are 3+ characters, so `/b/...` is never one.
 */
export function parseRoute(rawPath: string): Route {
  const segments = rawPath.split("/").slice(1).map(decodeSegment);
  if (segments.length === 1 && segments[0] === "_health") return { kind: "health" };
  // `/resumable/upload/storage/v1/...` is the path the Cloud SDK (gcloud storage) opens resumable
  // uploads on; GCS serves it as it serves `/upload/storage/v1/...`.
  const upload = segments[0] === "resumable" ? 1 : 0;
  if (segments[upload] === "upload" && segments[upload + 1] === "storage" && segments[upload + 2] === "v1") {
    const s = segments.slice(upload + 3);
    if (s.length === 3 && s[0] === "b" && s[2] === "o" && s[1]) return { kind: "upload", bucket: s[1] };
    return { kind: "unknown" };
  }
  if (segments[0] === "download" && segments[1] === "storage" && segments[2] === "v1") {
    const s = segments.slice(3);
    if (s.length >= 4 && s[0] === "b" && s[2] === "o" && s[1]) {
      const object = s.slice(3).join("/");
      if (object !== "") return { kind: "download", bucket: s[1], object };
    }
    return { kind: "unknown" };
  }
  const json = segments[0] === "storage" && segments[1] === "v1" ? segments.slice(2) : segments;
  if (json[0] === "b") return jsonRoute(json);
  if (json[0] === "projects" && json.length === 3 && json[2] === "serviceAccount" && json[1]) {
    return { kind: "serviceAccount", project: json[1] };
  }
  if (json !== segments) return { kind: "unknown" };
  // The XML API: `/` (the project's buckets), `/<bucket>` and `/<bucket>/<object>`.
  if (segments.length === 1 && segments[0] === "") return { kind: "xmlService" };
  if (!segments[0] || RESERVED_FIRST_SEGMENTS.has(segments[0])) return { kind: "unknown" };
  if (segments.length === 1 || (segments.length === 2 && segments[1] === "")) {
    return { kind: "xmlBucket", bucket: segments[0] };
  }
  const object = segments.slice(1).join("/");
  if (object !== "") return { kind: "xml", bucket: segments[0], object };
  return { kind: "unknown" };
}

/** First path segments that belong to the JSON API, never to an XML API bucket. */
const RESERVED_FIRST_SEGMENTS = new Set([
  "storage",
  "upload",
  "download",
  "resumable",
  "b",
  "projects",
  "_health",
]);

function jsonRoute(s: string[]): Route {
  if (s.length === 1 || (s.length === 2 && s[1] === "")) return { kind: "buckets" };
  const bucket = s[1] as string;
  if (bucket === "") return { kind: "unknown" };
  if (s.length === 2) return { kind: "bucket", bucket };
  if (s.length === 3 && s[2] === "storageLayout") return { kind: "storageLayout", bucket };
  if (s[2] === "notificationConfigs") {
    if (s.length === 3) return { kind: "notifications", bucket };
    if (s.length === 4 && s[3]) return { kind: "notification", bucket, id: s[3] };
    return { kind: "unknown" };
  }
  if (s[2] !== "o") return { kind: "unknown" };
  if (s.length === 3 || (s.length === 4 && s[3] === "")) return { kind: "objects", bucket };
  const rest = s.slice(3);
  // `<src>/rewriteTo/b/<bucket>/o/<dest>` and `<src>/copyTo/...`; the Node client encodes '/' in names,
  // so with it the source is one segment, but raw slashes are accepted too.
  for (let i = 1; i + 3 < rest.length; i++) {
    const verb = rest[i];
    if (
      (verb === "rewriteTo" || verb === "copyTo") &&
      rest[i + 1] === "b" &&
      rest[i + 3] === "o" &&
      rest[i + 2]
    ) {
      const destObject = rest.slice(i + 4).join("/");
      if (destObject === "") continue;
      return {
        kind: verb === "rewriteTo" ? "rewrite" : "copy",
        bucket,
        object: rest.slice(0, i).join("/"),
        destBucket: rest[i + 2] as string,
        destObject,
      };
    }
  }
  for (let i = 1; i + 2 < rest.length; i++) {
    if (rest[i] === "moveTo" && rest[i + 1] === "o") {
      const destObject = rest.slice(i + 2).join("/");
      if (destObject !== "") return { kind: "move", bucket, object: rest.slice(0, i).join("/"), destObject };
    }
  }
  if (rest.length >= 2 && rest[rest.length - 1] === "compose") {
    return { kind: "compose", bucket, object: rest.slice(0, -1).join("/") };
  }
  return { kind: "object", bucket, object: rest.join("/") };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`Invalid percent-encoding in path segment '${segment}'.`);
  }
}
