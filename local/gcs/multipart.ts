import { badRequest } from "./errors.ts";

/** Most bytes of the metadata part (and part headers) held in memory. */
const MAX_HEAD_BYTES = 8 * 1024 * 1024;

export interface MultipartUpload {
  /** The first part's body: the object resource as JSON. */
  metadata: Buffer;
  /** The second part's Content-Type, used when the metadata names none. */
  mediaContentType?: string;
}

/**
 * The boundary of a `multipart/related; boundary=...` Content-Type, or undefined. The boundary may be
 * bare, double-quoted, or single-quoted (Python's email package, which the Cloud SDK uses, writes
 * `boundary='===...=='`); GCS accepts all three.
 */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/related\b/i.test(contentType.trim())) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|'([^']+)'|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2] ?? m?.[3];
}

/**
 * Reads a JSON API multipart upload (`uploadType=multipart`): a JSON metadata part, then the media part,
 * which is handed to `onMedia` as views of the incoming chunks, never buffered whole. Only a tail shorter
 * than the closing delimiter is held back at a time, to find where the media ends. Lines may end in CRLF
 * (RFC 2046) or in LF alone (the Cloud SDK's Python writer); the first boundary line says which, and the
 * line break before each later boundary belongs to that boundary, as RFC 2046 has it.
 */
export async function readMultipartUpload(
  source: AsyncIterable<Buffer>,
  boundary: string,
  onMedia: (chunk: Buffer) => Promise<void> | undefined,
): Promise<MultipartUpload> {
  const it = source[Symbol.asyncIterator]();
  const dashBoundary = Buffer.from(`--${boundary}`);
  let head: Buffer = Buffer.alloc(0);

  const more = async (): Promise<boolean> => {
    const next = await it.next();
    if (next.done) return false;
    head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
    if (head.length > MAX_HEAD_BYTES) throw badRequest("Metadata part is too large.");
    return true;
  };
  const until = async (marker: Buffer, from: number): Promise<number> => {
    for (;;) {
      const i = head.indexOf(marker, from);
      if (i >= 0) return i;
      if (!(await more())) throw badRequest("Malformed multipart body.");
    }
  };

  // First part: headers, then the metadata up to the next delimiter.
  const first = await until(dashBoundary, 0);
  const firstLineEnd = await until(Buffer.from("\n"), first + dashBoundary.length);
  const eol = head[firstLineEnd - 1] === 0x0d ? "\r\n" : "\n";
  const delimiter = Buffer.from(`${eol}--${boundary}`);
  const blankLine = Buffer.from(eol + eol);
  // The first part's headers start on the line after the boundary; a part without headers starts
  // with the blank line itself.
  const metaHeadersEnd = await until(blankLine, firstLineEnd + 1 - eol.length);
  const metaEnd = await until(delimiter, metaHeadersEnd + blankLine.length);
  const metadata = Buffer.from(head.subarray(metaHeadersEnd + blankLine.length, metaEnd));
  // Second part: its headers, then media to the closing delimiter.
  const mediaHeadersStart = metaEnd + delimiter.length;
  const mediaHeadersEnd = await until(blankLine, mediaHeadersStart);
  const mediaHeaders = head.subarray(mediaHeadersStart, mediaHeadersEnd).toString("latin1");
  if (mediaHeaders.startsWith("--")) throw badRequest("Multipart body has no media part.");
  const mediaContentType = /(?:^|\n)content-type:\s*([^\r\n]+)/i.exec(mediaHeaders)?.[1]?.trim();
  if (/(?:^|\n)content-transfer-encoding:\s*base64/i.test(mediaHeaders)) {
    throw badRequest("Content-Transfer-Encoding base64 is not supported by this emulator.");
  }

  let carry: Buffer = head.subarray(mediaHeadersEnd + blankLine.length);
  head = Buffer.alloc(0);
  const d = delimiter.length;
  let found = false;
  // `carry` is media not yet handed on. Only a tail shorter than the delimiter is ever held back, and
  // only that tail (plus as many bytes of the next chunk) is copied to look for a straddling delimiter.
  for (;;) {
    const i = carry.indexOf(delimiter);
    if (i >= 0) {
      if (i > 0) await onMedia(carry.subarray(0, i));
      found = true;
      break;
    }
    const keep = Math.min(carry.length, d - 1);
    if (carry.length > keep) await onMedia(carry.subarray(0, carry.length - keep));
    const tail = carry.subarray(carry.length - keep);
    const next = await it.next();
    if (next.done) break;
    const chunk = next.value;
    if (tail.length === 0) {
      carry = chunk;
      continue;
    }
    if (chunk.length < d - 1) {
      carry = Buffer.concat([tail, chunk]);
      continue;
    }
    const window = Buffer.concat([tail, chunk.subarray(0, d - 1)]);
    const w = window.indexOf(delimiter);
    if (w >= 0 && w < tail.length) {
      if (w > 0) await onMedia(tail.subarray(0, w));
      found = true;
      break;
    }
    await onMedia(Buffer.from(tail));
    carry = chunk;
  }
  if (!found) throw badRequest("Malformed multipart body: missing closing boundary.");
  // Drain the closing "--" and any epilogue.
  for (;;) {
    const next = await it.next();
    if (next.done) break;
  }
  return mediaContentType === undefined ? { metadata } : { metadata, mediaContentType };
}
