import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type GcsEmulator, startGcsEmulator } from "../../../local/gcs/index.ts";
import { tempDir } from "../../support/temp.ts";
import { quietLogger } from "./helpers.ts";

// The XML API, the Cloud SDK's upload paths and the TLS listener at the HTTP level, as GCS defines
// them (the gcloud/gsutil tests drive the same paths with the real tools when they are installed).

let emulator: GcsEmulator;
let base: string;
const PROJECT = "xml-test";
const hex = (b: Buffer) => createHash("md5").update(b).digest("hex");

async function xml(
  method: string,
  path: string,
  init: { body?: Buffer | string; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${base}${path}`, { method, body: init.body ?? null, headers: init.headers ?? {} });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

beforeAll(async () => {
  emulator = await startGcsEmulator({
    logger: quietLogger(),
    tls: { dir: join(tempDir("gcs-xml-"), "tls") },
  });
  base = emulator.url;
  const r = await xml("PUT", "/xml-bkt", { headers: { "x-goog-project-id": PROJECT } });
  expect(r.status).toBe(200);
});

afterAll(async () => {
  await emulator?.stop();
});

describe("XML API", () => {
  test("lists the project's buckets; without x-goog-project-id it is MissingSecurityHeader", async () => {
    const r = await xml("GET", "/", { headers: { "x-goog-project-id": PROJECT } });
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/<ListAllMyBucketsResult[^>]*>.*<Bucket><Name>xml-bkt<\/Name><CreationDate>/);
    const missing = await xml("GET", "/");
    expect(missing.status).toBe(400);
    expect(missing.text).toContain("<Code>MissingSecurityHeader</Code>");
  });

  test("PUT, GET, HEAD, DELETE an object, with headers as metadata and checksums verified", async () => {
    const body = Buffer.from("xml object body\n");
    const put = await xml("PUT", "/xml-bkt/dir/a%20b%2Bc%23.txt", {
      body,
      headers: {
        "content-type": "text/plain",
        "x-goog-meta-color": "blue",
        "content-md5": createHash("md5").update(body).digest("base64"),
      },
    });
    expect(put.status).toBe(200);
    expect(put.headers.get("etag")).toBe(`"${hex(body)}"`);
    const generation = put.headers.get("x-goog-generation");
    expect(generation).toMatch(/^\d+$/);

    const get = await xml("GET", "/xml-bkt/dir/a%20b%2Bc%23.txt");
    expect(get.text).toBe(body.toString());
    expect(get.headers.get("x-goog-meta-color")).toBe("blue");
    expect(get.headers.get("content-type")).toBe("text/plain");
    const head = await xml("HEAD", "/xml-bkt/dir/a%20b%2Bc%23.txt");
    expect(head.headers.get("x-goog-stored-content-length")).toBe(String(body.length));

    const stale = await xml("DELETE", "/xml-bkt/dir/a%20b%2Bc%23.txt", {
      headers: { "x-goog-if-generation-match": "1" },
    });
    expect(stale.status).toBe(412);
    expect(stale.text).toContain("<Code>PreconditionFailed</Code>");
    expect((await xml("DELETE", "/xml-bkt/dir/a%20b%2Bc%23.txt")).status).toBe(204);
    const gone = await xml("GET", "/xml-bkt/dir/a%20b%2Bc%23.txt");
    expect(gone.status).toBe(404);
    expect(gone.headers.get("content-type")).toContain("application/xml");
    expect(gone.text).toMatch(
      /^<\?xml version='1.0' encoding='UTF-8'\?><Error><Code>NoSuchKey<\/Code><Message>/,
    );
  });

  test("a wrong Content-MD5 is BadDigest and stores nothing", async () => {
    const r = await xml("PUT", "/xml-bkt/bad-digest", {
      body: "data",
      headers: { "content-md5": createHash("md5").update("other").digest("base64") },
    });
    expect(r.status).toBe(400);
    expect(r.text).toContain("<Code>BadDigest</Code>");
    expect((await xml("HEAD", "/xml-bkt/bad-digest")).status).toBe(404);
  });

  test("lists objects with prefix, delimiter and marker paging (V1) and continuation tokens (V2)", async () => {
    for (const n of ["l/a", "l/b", "l/sub/x", "l/sub/y", "l/c"]) {
      expect((await xml("PUT", `/xml-bkt/${n}`, { body: n })).status).toBe(200);
    }
    const seen: string[] = [];
    let marker = "";
    for (let pages = 0; pages < 10; pages++) {
      const r = await xml(
        "GET",
        `/xml-bkt?prefix=l/&delimiter=/&max-keys=2&marker=${encodeURIComponent(marker)}`,
      );
      for (const m of r.text.matchAll(/<Key>([^<]*)<\/Key>|<Prefix>(l\/[^<]+)<\/Prefix>/g))
        seen.push((m[1] ?? m[2]) as string);
      const next = /<NextMarker>([^<]*)<\/NextMarker>/.exec(r.text)?.[1];
      if (!r.text.includes("<IsTruncated>true</IsTruncated>")) break;
      marker = next as string;
    }
    expect(seen).toEqual(["l/a", "l/b", "l/c", "l/sub/"]);

    const v2 = await xml("GET", "/xml-bkt?list-type=2&prefix=l/&max-keys=3");
    expect(v2.text).toContain("<KeyCount>3</KeyCount>");
    const token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(v2.text)?.[1] as string;
    const rest = await xml("GET", `/xml-bkt?list-type=2&prefix=l/&continuation-token=${token}`);
    expect([...rest.text.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1])).toEqual(["l/sub/x", "l/sub/y"]);
  });

  test("copy, compose and a bucket that is not empty", async () => {
    await xml("PUT", "/xml-bkt/p1", { body: "one-" });
    await xml("PUT", "/xml-bkt/p2", { body: "two" });
    const copy = await xml("PUT", "/xml-bkt/p1-copy", { headers: { "x-goog-copy-source": "/xml-bkt/p1" } });
    expect(copy.text).toContain("<CopyObjectResult>");
    expect((await xml("GET", "/xml-bkt/p1-copy")).text).toBe("one-");
    const composed = await xml("PUT", "/xml-bkt/both?compose", {
      body: "<ComposeRequest><Component><Name>p1</Name></Component><Component><Name>p2</Name></Component></ComposeRequest>",
    });
    expect(composed.status).toBe(200);
    const both = await xml("GET", "/xml-bkt/both");
    expect(both.text).toBe("one-two");
    expect(both.headers.get("x-goog-component-count")).toBe("2");
    const notEmpty = await xml("DELETE", "/xml-bkt");
    expect(notEmpty.status).toBe(409);
    expect(notEmpty.text).toContain("<Code>BucketNotEmpty</Code>");
  });

  test("a resumable upload: x-goog-resumable start, chunks answered 308, the last one 200", async () => {
    const data = randomBytes(600 * 1024);
    const start = await xml("POST", "/xml-bkt/resumable.bin", {
      headers: { "x-goog-resumable": "start", "content-type": "application/x-test" },
    });
    expect(start.status).toBe(201);
    const location = start.headers.get("location") as string;
    expect(location).toMatch(/\/xml-bkt\/resumable\.bin\?upload_id=/);
    const first = await fetch(location, {
      method: "PUT",
      body: data.subarray(0, 256 * 1024),
      headers: { "content-range": `bytes 0-${256 * 1024 - 1}/*` },
    });
    expect(first.status).toBe(308);
    expect(first.headers.get("range")).toBe(`bytes=0-${256 * 1024 - 1}`);
    const last = await fetch(location, {
      method: "PUT",
      body: data.subarray(256 * 1024),
      headers: { "content-range": `bytes ${256 * 1024}-${data.length - 1}/${data.length}` },
    });
    expect(last.status).toBe(200);
    expect(last.headers.get("etag")).toBe(`"${hex(data)}"`);
    const got = await fetch(`${base}/xml-bkt/resumable.bin`);
    expect(got.headers.get("content-type")).toBe("application/x-test");
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
  });

  test("a multipart upload: initiate, parts, complete (S3-compatible), and its errors", async () => {
    const init = await xml("POST", "/xml-bkt/mpu.bin?uploads", {
      headers: { "content-type": "application/x-mpu" },
    });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.text)?.[1] as string;
    expect(uploadId).toBeTruthy();
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = Buffer.from("tail");
    const etags: string[] = [];
    for (const [n, part] of [
      [1, part1],
      [2, part2],
    ] as const) {
      const r = await xml("PUT", `/xml-bkt/mpu.bin?partNumber=${n}&uploadId=${uploadId}`, { body: part });
      expect(r.status).toBe(200);
      etags.push(r.headers.get("etag") as string);
    }
    expect(etags[0]).toBe(`"${hex(part1)}"`);
    const parts = await xml("GET", `/xml-bkt/mpu.bin?uploadId=${uploadId}`);
    expect(parts.text).toContain("<PartNumber>2</PartNumber>");

    const outOfOrder = await xml("POST", `/xml-bkt/mpu.bin?uploadId=${uploadId}`, {
      body: `<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>${etags[1]}</ETag></Part><Part><PartNumber>1</PartNumber><ETag>${etags[0]}</ETag></Part></CompleteMultipartUpload>`,
    });
    expect(outOfOrder.text).toContain("<Code>InvalidPartOrder</Code>");
    const done = await xml("POST", `/xml-bkt/mpu.bin?uploadId=${uploadId}`, {
      body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etags[0]}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${etags[1]}</ETag></Part></CompleteMultipartUpload>`,
    });
    expect(done.status).toBe(200);
    expect(done.text).toMatch(
      /<CompleteMultipartUploadResult[^>]*>.*<ETag>&quot;[0-9a-f]{32}-2&quot;<\/ETag>/,
    );
    const got = await fetch(`${base}/xml-bkt/mpu.bin`);
    expect(got.headers.get("content-type")).toBe("application/x-mpu");
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.concat([part1, part2]))).toBe(true);
    const again = await xml("PUT", `/xml-bkt/mpu.bin?partNumber=3&uploadId=${uploadId}`, { body: "x" });
    expect(again.status).toBe(404);
    expect(again.text).toContain("<Code>NoSuchUpload</Code>");
  });
});

describe("the Cloud SDK's JSON API paths", () => {
  test("storageLayout says the bucket has no hierarchical namespace; 404 for a missing bucket", async () => {
    const r = await fetch(`${base}/storage/v1/b/xml-bkt/storageLayout`);
    expect(await r.json()).toEqual({
      kind: "storage#storageLayout",
      bucket: "xml-bkt",
      location: "US",
      locationType: "multi-region",
      hierarchicalNamespace: { enabled: false },
    });
    expect((await fetch(`${base}/storage/v1/b/no-such-bkt/storageLayout`)).status).toBe(404);
  });

  test("a resumable upload opened on /resumable/upload/storage/v1, and an LF-only multipart upload", async () => {
    const start = await fetch(
      `${base}/resumable/upload/storage/v1/b/xml-bkt/o?uploadType=resumable&name=res.txt`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ contentType: "text/plain" }),
      },
    );
    expect(start.status).toBe(200);
    const put = await fetch(start.headers.get("location") as string, { method: "PUT", body: "resumed\n" });
    expect(((await put.json()) as { size: string }).size).toBe("8");

    const boundary = "===============1234567890==";
    const body = `--${boundary}\nContent-Type: application/json\nMIME-Version: 1.0\n\n{"name": "lf.txt"}\n--${boundary}\nContent-Type: text/plain\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\nline one\n\n--${boundary}--\n`;
    const mp = await fetch(`${base}/upload/storage/v1/b/xml-bkt/o?uploadType=multipart`, {
      method: "POST",
      headers: { "content-type": `multipart/related; boundary='${boundary}'` },
      body,
    });
    expect(mp.status).toBe(200);
    expect(await (await fetch(`${base}/xml-bkt/lf.txt`)).text()).toBe("line one\n");
  });
});

describe("the TLS listener", () => {
  test("serves the same emulator over HTTPS with a certificate its CA file verifies", async () => {
    const ca = readFileSync(emulator.caFile as string);
    expect(emulator.httpsUrl).toBe(`https://127.0.0.1:${emulator.httpsPort}`);
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${emulator.httpsUrl}/storage/v1/b/xml-bkt`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    expect(status).toBe(200);
  });

  test("CONNECT localhost:443 on the HTTP port tunnels into TLS; other hosts are refused", async () => {
    const ca = readFileSync(emulator.caFile as string);
    const tunnel = (target: string) =>
      new Promise<{ status: number; socket: import("node:net").Socket }>((resolve, reject) => {
        httpRequest({ host: "127.0.0.1", port: emulator.port, method: "CONNECT", path: target })
          .on("connect", (res, socket) => resolve({ status: res.statusCode ?? 0, socket }))
          .on("error", reject)
          .end();
      });
    const refused = await tunnel("example.com:443");
    expect(refused.status).toBe(403);
    refused.socket.destroy();
    const ok = await tunnel("localhost:443");
    expect(ok.status).toBe(200);
    const secure = tlsConnect({ socket: ok.socket, servername: "localhost", ca });
    secure.write("GET https://localhost/xml-bkt/p1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const reply = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      secure.on("data", (c: Buffer) => chunks.push(c));
      secure.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      secure.on("error", reject);
    });
    expect(reply.startsWith("HTTP/1.1 200")).toBe(true);
    expect(reply.endsWith("one-")).toBe(true);
  });
});
