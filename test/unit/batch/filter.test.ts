import { describe, expect, it } from "vitest";
import { BatchApiError } from "../../../local/batch/errors.ts";
import { matches, parseFilter } from "../../../local/batch/filter.ts";

const job: Record<string, string> = {
  name: "projects/p/locations/l/jobs/bl-demo-acme-ev-1",
  "status.state": "FAILED",
  "labels.batchline-client": "acme",
  create_time: "2026-05-01T10:00:00.000Z",
};
const lookup = (field: string) =>
  field in job ? job[field] : field.startsWith("labels.") ? undefined : null;
const test = (filter: string) => matches(parseFilter(filter), lookup);

describe("list filters", () => {
  it("compares fields for equality and inequality", () => {
    expect(test('status.state="FAILED"')).toBe(true);
    expect(test("status.state=SUCCEEDED")).toBe(false);
    expect(test("status.state!=SUCCEEDED")).toBe(true);
  });

  it("joins comparisons with AND, OR, NOT and parentheses", () => {
    expect(test("status.state=FAILED AND labels.batchline-client=acme")).toBe(true);
    expect(test("status.state=FAILED labels.batchline-client=other")).toBe(false);
    expect(test("status.state=SUCCEEDED OR labels.batchline-client=acme")).toBe(true);
    expect(test("NOT (status.state=FAILED OR status.state=SUCCEEDED)")).toBe(false);
  });

  it("supports wildcards, has (:) and time comparisons", () => {
    expect(test('name="projects/p/locations/l/jobs/bl-demo-*"')).toBe(true);
    expect(test("labels.batchline-client:*")).toBe(true);
    expect(test("labels.missing:*")).toBe(false);
    expect(test('create_time>"2026-04-30T00:00:00Z"')).toBe(true);
    expect(test('create_time<"2026-04-30T00:00:00Z"')).toBe(false);
  });

  it("refuses unknown fields and malformed filters as INVALID_ARGUMENT", () => {
    expect(() => test("colour=red")).toThrow(BatchApiError);
    expect(() => test("colour=red")).toThrow('unknown field "colour"');
    expect(() => parseFilter("status.state=")).toThrow('Invalid filter "status.state="');
    expect(() => parseFilter("(status.state=FAILED")).toThrow('missing ")"');
  });

  it("matches everything when empty", () => {
    expect(test("")).toBe(true);
  });
});
