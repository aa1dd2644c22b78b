/**
 * CRC32C (Castagnoli), the checksum GCS reports as `crc32c`: base64 of the 4 bytes, big-endian.
 * Slicing-by-8: eight 256-entry tables in one array, so each step folds 8 input bytes.
 */
const POLY = 0x82f63b78;

const TABLE = buildTable();

function buildTable(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/** Extends a running CRC32C (start with 0) over `buf`. */
export function crc32cUpdate(crc: number, buf: Uint8Array): number {
  const t = TABLE;
  let c = ~crc >>> 0;
  let i = 0;
  const len = buf.length;
  const end8 = len - (len & 7);
  while (i < end8) {
    const lo =
      (c ^
        (buf[i] as number) ^
        ((buf[i + 1] as number) << 8) ^
        ((buf[i + 2] as number) << 16) ^
        ((buf[i + 3] as number) << 24)) >>>
      0;
    c =
      (t[1792 + (lo & 0xff)] as number) ^
      (t[1536 + ((lo >>> 8) & 0xff)] as number) ^
      (t[1280 + ((lo >>> 16) & 0xff)] as number) ^
      (t[1024 + (lo >>> 24)] as number) ^
      (t[768 + (buf[i + 4] as number)] as number) ^
      (t[512 + (buf[i + 5] as number)] as number) ^
      (t[256 + (buf[i + 6] as number)] as number) ^
      (t[buf[i + 7] as number] as number);
    i += 8;
  }
  while (i < len) {
    c = (t[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/** CRC32C of `buf` in one go. */
export function crc32c(buf: Uint8Array): number {
  return crc32cUpdate(0, buf);
}

/** GCS's rendering: base64 of the big-endian 4 bytes. */
export function crc32cToBase64(crc: number): string {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(crc >>> 0, 0);
  return b.toString("base64");
}

/** Parses GCS's rendering back to a number; undefined when it is not 4 bytes of base64. */
export function crc32cFromBase64(value: string): number | undefined {
  const b = Buffer.from(value, "base64");
  if (b.length !== 4 || b.toString("base64") !== value) return undefined;
  return b.readUInt32BE(0);
}
