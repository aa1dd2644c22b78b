import { createHash, type Hash } from "node:crypto";
import { crc32cToBase64, crc32cUpdate } from "./crc32c.ts";

/** The checksums GCS keeps for an object, both base64. */
export interface Checksums {
  md5Hash: string;
  crc32c: string;
}

/** Running MD5 and CRC32C over the bytes of an upload, fed chunk by chunk without copying. */
export class ObjectHasher {
  #md5: Hash = createHash("md5");
  #crc = 0;
  #bytes = 0;

  update(chunk: Buffer): void {
    this.#md5.update(chunk);
    this.#crc = crc32cUpdate(this.#crc, chunk);
    this.#bytes += chunk.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The checksums so far; the hasher can keep going afterwards. */
  digest(): Checksums {
    return { md5Hash: this.#md5.copy().digest("base64"), crc32c: crc32cToBase64(this.#crc) };
  }
}

/**
 * Parses an `X-Goog-Hash` header (`crc32c=...,md5=...`, possibly repeated) into the values it names.
 * Unknown algorithms are ignored, as GCS does.
 */
export function parseGoogHash(header: string | string[] | undefined): { md5?: string; crc32c?: string } {
  const out: { md5?: string; crc32c?: string } = {};
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const part of value.split(",")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      const key = part.slice(0, eq).trim().toLowerCase();
      const v = part.slice(eq + 1).trim();
      if (key === "md5") out.md5 = v;
      else if (key === "crc32c") out.crc32c = v;
    }
  }
  return out;
}
