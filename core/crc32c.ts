/**
 * CRC32C (Castagnoli), the checksum Cloud Storage reports as `crc32c`. One implementation for the GCS
 * emulator (every upload and download), the worker and the benchmarks, in two forms with the same values:
 * - `@node-rs/crc32`, a prebuilt native module using the CPU's CRC32 instruction (about 7 GB/s here), used
 *   whenever it loads;
 * - slicing-by-16 in JavaScript (sixteen 256-entry tables, 16 input bytes a step, read as four aligned 32-bit
 *   words; about 2 GB/s here), used when it does not (a platform without a prebuilt binary, or a bundle
 *   shipped without its node_modules) and for buffers too short to repay a native call.
 * Both are more than ten times faster than the storage client's built-in one (tests check known vectors,
 * the client's own values, and the two forms against each other).
 */
import { createRequire } from "node:module";
import { endianness } from "node:os";

const POLY = 0x82f63b78;

const TABLES = buildTables(16);

/** Word reads put the first byte in the low bits only on little-endian machines; others go byte by byte. */
const WORDS = endianness() === "LE";

function buildTables(count: number): Int32Array {
  const t = new Int32Array(count * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < count; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

type NativeCrc32c = (input: Uint8Array, initialState?: number) => number;

/** The native CRC32C, or undefined when it cannot be loaded here (`BATCHLINE_CRC32C=js` also refuses it). */
function loadNative(): NativeCrc32c | undefined {
  if (process.env.BATCHLINE_CRC32C === "js") return undefined;
  try {
    // Loaded at run time, not imported: bundles (the worker's) keep it external, and a missing or
    // unloadable binary must fall back to the JavaScript form rather than fail the import.
    const mod = createRequire(import.meta.url)("@node-rs/crc32") as { crc32c?: unknown };
    if (typeof mod.crc32c !== "function") return undefined;
    const fn = mod.crc32c as NativeCrc32c;
    // The check value from the CRC catalogue: refuse a binary that does not compute CRC32C.
    return fn(Buffer.from("123456789")) >>> 0 === 0xe3069283 ? fn : undefined;
  } catch {
    return undefined;
  }
}

const NATIVE = loadNative();

/** Below this many bytes the JavaScript form beats the cost of a native call. */
const NATIVE_MIN = 512;

/** Which form `crc32c` uses for large buffers in this process. */
export const crc32cImplementation: "native" | "js" = NATIVE ? "native" : "js";

/** CRC32C of `data`, or of `data` after bytes whose CRC32C is `crc`. */
export function crc32c(data: Uint8Array, crc = 0): number {
  if (NATIVE !== undefined && data.length >= NATIVE_MIN) return NATIVE(data, crc) >>> 0;
  return crc32cPortable(data, crc);
}

/** The JavaScript form of `crc32c`, whatever this process loaded. */
export function crc32cPortable(data: Uint8Array, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = 0;
  const n = data.length;
  // Typed-array reads in range are numbers; `as number` only satisfies noUncheckedIndexedAccess.
  if (WORDS && n >= 64) {
    // Bytes up to a 4-byte boundary, then 16 bytes (four aligned words) a step.
    while ((data.byteOffset + i) & 3) {
      c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
      i += 1;
    }
    const steps = (n - i) >>> 4;
    const w = new Int32Array(data.buffer, data.byteOffset + i, steps * 4);
    for (let k = 0; k < w.length; k += 4) {
      const a = c ^ (w[k] as number);
      const b = w[k + 1] as number;
      const d = w[k + 2] as number;
      const e = w[k + 3] as number;
      c =
        (t[3840 + (a & 0xff)] as number) ^
        (t[3584 + ((a >>> 8) & 0xff)] as number) ^
        (t[3328 + ((a >>> 16) & 0xff)] as number) ^
        (t[3072 + (a >>> 24)] as number) ^
        (t[2816 + (b & 0xff)] as number) ^
        (t[2560 + ((b >>> 8) & 0xff)] as number) ^
        (t[2304 + ((b >>> 16) & 0xff)] as number) ^
        (t[2048 + (b >>> 24)] as number) ^
        (t[1792 + (d & 0xff)] as number) ^
        (t[1536 + ((d >>> 8) & 0xff)] as number) ^
        (t[1280 + ((d >>> 16) & 0xff)] as number) ^
        (t[1024 + (d >>> 24)] as number) ^
        (t[768 + (e & 0xff)] as number) ^
        (t[512 + ((e >>> 8) & 0xff)] as number) ^
        (t[256 + ((e >>> 16) & 0xff)] as number) ^
        (t[e >>> 24] as number);
    }
    i += steps * 16;
  }
  while (i < n) {
    c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    i += 1;
  }
  return ~c >>> 0;
}

/** Extends a running CRC32C (start with 0) over `buf`. */
export function crc32cUpdate(crc: number, buf: Uint8Array): number {
  return crc32c(buf, crc);
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

/** The storage client's CRC32C validator interface, backed by `crc32c`. */
export class FastCrc32c {
  #crc = 0;

  update(data: Buffer): void {
    this.#crc = crc32c(data, this.#crc);
  }

  /** Base64 of the big-endian 4 bytes, as GCS reports `crc32c`. */
  toString(): string {
    return crc32cToBase64(this.#crc);
  }

  validate(expected: string): boolean {
    return expected === this.toString();
  }
}

/** For `new Storage({ crc32cGenerator })`. */
export const fastCrc32cGenerator = (): FastCrc32c => new FastCrc32c();
