/**
 * CRC32C (Castagnoli) for the storage client's integrity checks, computed slicing-by-8 (eight 256-entry
 * tables, 8 input bytes per step). The client's built-in one walks a byte iterator and costs about as
 * much CPU as the whole record loop on a large input; this one is several times faster and gives the same
 * values (checked against known vectors and the client's own in the unit tests).
 */
const POLY = 0x82f63b78;

const TABLES = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/** Extends a CRC32C (start from 0) over `data`. */
export function crc32c(data: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = 0;
  const n = data.length;
  const end = n - (n & 7);
  // Typed-array reads in range are numbers; `as number` only satisfies noUncheckedIndexedAccess.
  while (i < end) {
    const lo =
      c ^
      ((data[i] as number) |
        ((data[i + 1] as number) << 8) |
        ((data[i + 2] as number) << 16) |
        ((data[i + 3] as number) << 24));
    c =
      (t[1792 + (lo & 0xff)] as number) ^
      (t[1536 + ((lo >>> 8) & 0xff)] as number) ^
      (t[1280 + ((lo >>> 16) & 0xff)] as number) ^
      (t[1024 + (lo >>> 24)] as number) ^
      (t[768 + (data[i + 4] as number)] as number) ^
      (t[512 + (data[i + 5] as number)] as number) ^
      (t[256 + (data[i + 6] as number)] as number) ^
      (t[data[i + 7] as number] as number);
    i += 8;
  }
  while (i < n) {
    c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    i += 1;
  }
  return ~c >>> 0;
}

/** The storage client's CRC32C validator interface, backed by `crc32c`. */
export class FastCrc32c {
  #crc = 0;

  update(data: Buffer): void {
    this.#crc = crc32c(data, this.#crc);
  }

  /** Base64 of the big-endian 4 bytes, as GCS reports `crc32c`. */
  toString(): string {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.#crc);
    return b.toString("base64");
  }

  validate(expected: string): boolean {
    return expected === this.toString();
  }
}

/** For `new Storage({ crc32cGenerator })`. */
export const fastCrc32cGenerator = (): FastCrc32c => new FastCrc32c();
