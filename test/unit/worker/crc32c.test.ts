import { CRC32C } from "@google-cloud/storage";
import { describe, expect, it, vi } from "vitest";
import {
  crc32c,
  crc32cImplementation,
  crc32cPortable,
  FastCrc32c,
  fastCrc32cGenerator,
} from "../../../core/crc32c.ts";

describe("crc32c", () => {
  it("matches the standard check values (RFC 3720 B.4 and the '123456789' check)", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it("gives the storage client's value for any data, however it is chunked", () => {
    const data = Buffer.from(Array.from({ length: 10_007 }, (_, i) => (i * 7919 + 13) & 0xff));
    const reference = new CRC32C();
    reference.update(data);
    for (const size of [1, 3, 8, 9, 63, 64, 65, 97, 4096, 10_007]) {
      const fast = new FastCrc32c();
      for (let o = 0; o < data.length; o += size) fast.update(data.subarray(o, o + size));
      expect(fast.toString(), `chunks of ${size}`).toBe(reference.toString());
    }
  });

  it("gives the same value at every alignment of the data in memory", () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff));
    const expected = crc32c(data);
    for (let shift = 0; shift < 8; shift++) {
      const moved = Buffer.alloc(data.length + 8);
      data.copy(moved, shift);
      expect(crc32c(moved.subarray(shift, shift + data.length)), `offset ${shift}`).toBe(expected);
    }
  });

  it("validates against GCS's base64 form", () => {
    const v = fastCrc32cGenerator();
    v.update(Buffer.from("data"));
    expect(v.toString()).toBe("rth90Q==");
    expect(v.validate("rth90Q==")).toBe(true);
    expect(v.validate("AAAAAA==")).toBe(false);
  });

  it("loads the native form on this machine (the benchmarks' figures assume it)", () => {
    expect(crc32cImplementation).toBe("native");
  });

  it("gives the same values in its native and JavaScript forms, chained or not", () => {
    let seed = 12345;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (const size of [0, 1, 15, 16, 63, 511, 512, 513, 4095, 65_536, 1_000_003]) {
      const data = Buffer.from(Array.from({ length: size }, next));
      const whole = crc32cPortable(data);
      expect(crc32c(data), `${size} bytes`).toBe(whole);
      const cut = size >>> 1;
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), `${size} bytes in two`).toBe(whole);
      expect(crc32cPortable(data.subarray(cut), crc32cPortable(data.subarray(0, cut)))).toBe(whole);
    }
  });

  it("falls back to the JavaScript form when BATCHLINE_CRC32C=js", async () => {
    vi.resetModules();
    vi.stubEnv("BATCHLINE_CRC32C", "js");
    try {
      const fresh = await import("../../../core/crc32c.ts");
      expect(fresh.crc32cImplementation).toBe("js");
      const data = Buffer.alloc(4096, 0x5a);
      expect(fresh.crc32c(data)).toBe(crc32cPortable(data));
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
