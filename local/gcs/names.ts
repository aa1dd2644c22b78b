import { invalid, required } from "./errors.ts";

/** GCS's limit: an object name is 1-1024 bytes of UTF-8. */
export const MAX_OBJECT_NAME_BYTES = 1024;

/**
 * Throws the 400 GCS answers for a name it refuses: empty, longer than 1024 bytes of UTF-8, containing
 * CR or LF, or exactly "." or "..". Everything else (spaces, '#', '?', '%', any other Unicode) is allowed.
 */
export function validateObjectName(name: string | undefined): asserts name is string {
  if (name === undefined || name === "") throw required();
  if (!name.isWellFormed()) throw invalid("Object name is not valid UTF-8.");
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > MAX_OBJECT_NAME_BYTES) {
    throw invalid(
      `The maximum object length is ${MAX_OBJECT_NAME_BYTES} characters, but got a name with ${bytes} characters: ''${name.slice(0, 64)}...''`,
    );
  }
  if (name.includes("\r") || name.includes("\n")) {
    throw invalid(
      `Disallowed unicode characters present in object name '${JSON.stringify(name).slice(1, -1)}'`,
    );
  }
  if (name === "." || name === "..")
    throw invalid(`Object name '${name}' is not allowed: object names cannot be "." or "..".`);
}

const BUCKET_CHARS = /^[a-z0-9][a-z0-9._-]*[a-z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Bucket naming rules: 3-63 characters (up to 222 when dotted, each dot-separated part at most 63),
 * lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit,
 * not an IP address, not starting with "goog" and not containing "google".
 */
export function isValidBucketName(name: string): boolean {
  if (!BUCKET_CHARS.test(name)) return false;
  const max = name.includes(".") ? 222 : 63;
  if (name.length < 3 || name.length > max) return false;
  if (name.split(".").some((part) => part.length === 0 || part.length > 63)) return false;
  if (IPV4.test(name)) return false;
  if (name.startsWith("goog") || name.includes("google")) return false;
  return true;
}

export function validateBucketName(name: string | undefined): asserts name is string {
  if (name === undefined || name === "") throw required();
  if (!isValidBucketName(name)) throw invalid(`Invalid bucket name: '${name}'`);
}
