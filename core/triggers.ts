import { areaPrefix } from "./naming.ts";

/** What the Eventarc trigger matches, identical in infra and in the local Eventarc. */
export const AUDIT_LOG_EVENT_TYPE = "google.cloud.audit.log.v1.written";
export const STORAGE_SERVICE_NAME = "storage.googleapis.com";
export const OBJECT_CREATE_METHOD = "storage.objects.create";

/** The audit-log resource name of an object: `projects/_/buckets/B/objects/O` (the object name is not encoded). */
export function objectResourceName(bucket: string, object: string): string {
  return `projects/_/buckets/${bucket}/objects/${object}`;
}

/**
 * The path pattern on `resourceName` for a client's inputs. `**` (any number of segments) rather than `*`
 * (one segment), so inputs in sub-folders trigger too; the seed template's `inputs/*` missed those.
 */
export function inputsPathPattern(bucket: string, product: string, client: string): string {
  return `/${objectResourceName(bucket, areaPrefix(product, client, "inputs"))}**`;
}

const compiled = new Map<string, RegExp>();

/**
 * Eventarc's path-pattern match: `*` matches any characters within one segment, `**` any characters across
 * segments; everything else is literal. A resource name is compared with a leading `/`.
 */
export function matchesPathPattern(pattern: string, resourceName: string): boolean {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern
      .split(/(\*\*|\*)/)
      .map((part) =>
        part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("");
    re = new RegExp(`^${body}$`, "s");
    compiled.set(pattern, re);
  }
  const name = resourceName.startsWith("/") ? resourceName : `/${resourceName}`;
  return re.test(name);
}
