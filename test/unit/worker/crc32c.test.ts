import { CRC32C } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { crc32c, FastCrc32c, fastCrc32cGenerator } from "../../../core/crc32c.ts";

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
});
