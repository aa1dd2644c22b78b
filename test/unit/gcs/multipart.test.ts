import { randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import { multipartBoundary, readMultipartUpload } from "../../../local/gcs/multipart.ts";

const BOUNDARY = "a1b2c3d4-boundary";

/** A body as the Node client's teeny-request builds it (no CRLF after the closing delimiter). */
function body(metadata: string, media: Buffer, mediaType = "application/octet-stream"): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/json\r\n\r\n${metadata}\r\n`),
    Buffer.from(`--${BOUNDARY}\r\nContent-Type: ${mediaType}\r\n\r\n`),
    media,
    Buffer.from(`\r\n--${BOUNDARY}--`),
  ]);
}

async function* chunked(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function parse(buf: Buffer, chunkSize: number) {
  const parts: Buffer[] = [];
  const result = await readMultipartUpload(chunked(buf, chunkSize), BOUNDARY, (chunk) => {
    parts.push(Buffer.from(chunk));
    return undefined;
  });
  return { ...result, media: Buffer.concat(parts) };
}

describe("readMultipartUpload", () => {
  test.each([1, 2, 3, 7, 16, 21, 22, 23, 64, 1000, 65536])(
    "finds the media exactly when the body arrives in %i-byte chunks",
    async (chunkSize) => {
      // Media that itself contains CRLF, dashes and most of the delimiter, to tempt a sloppy parser.
      const media = Buffer.concat([
        randomBytes(3000),
        Buffer.from(`\r\n--${BOUNDARY.slice(0, 10)}\r\n--`),
        randomBytes(500),
      ]);

      const r = await parse(body('{"name":"x"}', media, "text/plain"), chunkSize);

      expect(r.metadata.toString()).toBe('{"name":"x"}');
      expect(r.mediaContentType).toBe("text/plain");
      expect(r.media.equals(media)).toBe(true);
    },
  );

  test.each([1, 5, 40, 4096])(
    "reads the Cloud SDK's LF-only body (no CR anywhere) in %i-byte chunks",
    async (chunkSize) => {
      // As Python's email package writes it for `gcloud storage cp`: LF line ends, MIME-Version headers,
      // and the LF before each boundary belongs to the boundary (so a file ending in LF keeps it).
      const media = Buffer.from("hello\n\n--almost\nthere\n");
      const sdkBody = Buffer.concat([
        Buffer.from(`--${BOUNDARY}\nContent-Type: application/json\nMIME-Version: 1.0\n\n{"name":"a.txt"}\n`),
        Buffer.from(`--${BOUNDARY}\nContent-Type: text/plain\nMIME-Version: 1.0\n`),
        Buffer.from("Content-Transfer-Encoding: binary\n\n"),
        media,
        Buffer.from(`\n--${BOUNDARY}--\n`),
      ]);

      const r = await parse(sdkBody, chunkSize);

      expect(r.metadata.toString()).toBe('{"name":"a.txt"}');
      expect(r.mediaContentType).toBe("text/plain");
      expect(r.media.toString()).toBe(media.toString());
    },
  );

  test("an empty media part gives no bytes", async () => {
    const r = await parse(body("{}", Buffer.alloc(0)), 5);

    expect(r.media.length).toBe(0);
  });

  test("a body without its closing delimiter is refused", async () => {
    const broken = body("{}", Buffer.from("data")).subarray(0, -10);

    await expect(parse(broken, 8)).rejects.toMatchObject({ status: 400 });
  });

  test("a body with only the metadata part is refused", async () => {
    const onlyMetadata = Buffer.from(
      `--${BOUNDARY}\r\nContent-Type: application/json\r\n\r\n{}\r\n--${BOUNDARY}--\r\n\r\n`,
    );

    await expect(parse(onlyMetadata, 8)).rejects.toMatchObject({ status: 400 });
  });
});

describe("multipartBoundary", () => {
  test("reads a plain and a quoted boundary", () => {
    expect(multipartBoundary("multipart/related; boundary=abc-123")).toBe("abc-123");
    expect(multipartBoundary('multipart/related; boundary="quoted value"')).toBe("quoted value");
    expect(multipartBoundary("multipart/related; boundary='===============541=='")).toBe(
      "===============541==",
    );
  });

  test("is undefined for other content types", () => {
    expect(multipartBoundary("application/json")).toBeUndefined();
    expect(multipartBoundary(undefined)).toBeUndefined();
  });
});
