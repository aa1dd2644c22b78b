import { rangeNotSatisfiable } from "./errors.ts";

/** Inclusive byte range of an object to send. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Interprets a `Range` header against an object of `size` bytes, per RFC 9110 as GCS applies it:
 * `bytes=a-b`, `bytes=a-` and `bytes=-n`; an end past the object is clamped; a start at or past the end
 * of the object (or a zero-length suffix) is 416. A header that is not a single byte range is ignored,
 * so the whole object is sent (returns undefined).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return undefined;
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) throw rangeNotSatisfiable(size);
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== "" && Number(b) < start) return undefined;
  if (start >= size) throw rangeNotSatisfiable(size);
  return { start, end };
}
