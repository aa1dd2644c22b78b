import { describe, expect, it } from "vitest";
import { parseTaskId, taskLogFilter } from "../../../cli/operate/log-filter.ts";
import { lineEntry, type TaskLogEntries, taskIdLabel } from "../../../local/logging/entries.ts";
import { entryMatches, type FilterableEntry, parseLogFilter } from "../../../local/logging/filter.ts";
import { listEntries } from "../../../local/logging/server.ts";

const UID = "bl-shop-one-mn-0123456789-5f0c1a2b-aaaa-bbbb-cccc-0123456789ab";

function entry(index: number, attempt: number, over: Partial<FilterableEntry> = {}): FilterableEntry {
  return {
    logName: "projects/p/logs/batch_task_logs",
    timestamp: "2026-01-01T00:00:10.000Z",
    severity: "INFO",
    insertId: `i-${index}-${attempt}`,
    labels: { job_uid: UID, task_id: taskIdLabel(UID, index, attempt) },
    textPayload: "hello",
    ...over,
  };
}

const matches = (filter: string, e: FilterableEntry) => entryMatches(parseLogFilter(filter), e);

describe("the task log filter logs sends", () => {
  it("selects one job's lines, and with --task one task's lines of every attempt", () => {
    const all = taskLogFilter({ project: "p", jobUid: UID });
    expect(all).toBe(`logName="projects/p/logs/batch_task_logs" AND labels.job_uid="${UID}"`);
    const one = taskLogFilter({ project: "p", jobUid: UID, task: 1, since: "2026-01-01T00:00:00Z" });
    expect(matches(one, entry(1, 0))).toBe(true);
    expect(matches(one, entry(1, 2))).toBe(true);
    expect(matches(one, entry(11, 0))).toBe(false);
    expect(matches(one, entry(0, 0))).toBe(false);
    expect(matches(one, entry(1, 0, { timestamp: "2025-12-31T23:59:59Z" }))).toBe(false);
    expect(matches(all, entry(3, 0, { labels: { job_uid: "other", task_id: "x" } }))).toBe(false);
  });

  it("reads the task and attempt back from Batch's task_id label", () => {
    expect(parseTaskId(taskIdLabel(UID, 12, 3))).toEqual({ index: 12, attempt: 3 });
    expect(parseTaskId("something else")).toBeNull();
  });
});

describe("the local Cloud Logging filter language", () => {
  it("binds NOT tightest, then OR, then AND, and reads juxtaposition as AND", () => {
    const e = entry(0, 0, { severity: "ERROR" });
    expect(matches('severity=INFO OR severity=ERROR labels.job_uid="nope"', e)).toBe(false);
    expect(matches('severity=INFO OR severity=ERROR AND labels.job_uid!="nope"', e)).toBe(true);
    expect(matches("NOT severity=ERROR", e)).toBe(false);
    expect(matches("-severity=ERROR", e)).toBe(false);
    expect(matches("(severity=DEBUG OR severity>=WARNING) textPayload:HELL", e)).toBe(true);
  });

  it("compares severities by level, timestamps as times, and tests presence and patterns", () => {
    const e = entry(0, 0, { severity: "WARNING", jsonPayload: { message: "done", n: 3 } });
    expect(matches("severity>=WARNING", e)).toBe(true);
    expect(matches("severity>ERROR", e)).toBe(false);
    expect(matches('timestamp>="2026-01-01T00:00:09+00:00"', e)).toBe(true);
    expect(matches('timestamp<"2026-01-01T00:00:10Z"', e)).toBe(false);
    expect(matches("jsonPayload.message:*", e)).toBe(true);
    expect(matches("jsonPayload.missing:*", e)).toBe(false);
    expect(matches("jsonPayload.n>2", e)).toBe(true);
    expect(matches('labels.task_id=~"-group0-0/0/0$"', e)).toBe(true);
    expect(matches('labels.task_id!~"group0"', e)).toBe(false);
  });

  it("refuses what it does not serve with INVALID_ARGUMENT instead of misreading it", () => {
    const refused = (filter: string) => {
      try {
        parseLogFilter(filter);
      } catch (err) {
        return { status: (err as { status?: string }).status, message: (err as Error).message };
      }
      return null;
    };
    expect(refused('"just text"')).toMatchObject({
      status: "INVALID_ARGUMENT",
      message: /global restriction/,
    });
    expect(refused('log_id("batch_task_logs")')).toMatchObject({ message: /function log_id\(\)/ });
    expect(refused("severity=")).toMatchObject({ message: /syntax error at line 1, column 10/ });
    expect(refused("(severity=INFO")).toMatchObject({ message: /syntax error/ });
    expect(refused("labels.x=1 AND AND labels.y=2")).toMatchObject({ message: /syntax error.*token 'AND'/ });
    expect(refused('nosuchfield="x"')).toMatchObject({ message: /unknown field "nosuchfield"/ });
    expect(refused('labels.x=~"("')).toMatchObject({ message: /invalid regular expression/ });
    expect(refused("")).toBeNull();
  });
});

describe("a task's output line as a log entry", () => {
  const base = {
    logName: "projects/p/logs/batch_task_logs",
    labels: { job_uid: "u" },
    insertId: "1",
    seenAt: "2026-01-01T00:00:05.000Z",
  };

  it("takes a JSON line's severity, time and labels as the entry's, the rest as jsonPayload", () => {
    const e = lineEntry(
      JSON.stringify({
        severity: "WARNING",
        time: "2026-01-01T00:00:01.500Z",
        message: "slow input",
        "logging.googleapis.com/labels": { component: "worker", job_uid: "spoofed" },
        bytes: 10,
      }),
      base,
    );
    expect(e).toMatchObject({
      severity: "WARNING",
      timestamp: "2026-01-01T00:00:01.500Z",
      labels: { component: "worker", job_uid: "u" },
      jsonPayload: { message: "slow input", bytes: 10 },
    });
    expect(e.textPayload).toBeUndefined();
  });

  it("keeps any other line as text, stamped when it was first read", () => {
    expect(lineEntry("Killed", base)).toMatchObject({
      textPayload: "Killed",
      severity: "DEFAULT",
      timestamp: "2026-01-01T00:00:05.000Z",
    });
    expect(lineEntry("{not json", base).textPayload).toBe("{not json");
  });
});

describe("entries.list paging", () => {
  const entries = Array.from({ length: 5 }, (_, i) =>
    entry(i, 0, { insertId: `id-${i}`, timestamp: `2026-01-01T00:00:0${i % 3}.000Z` }),
  );
  const source = { entries: async () => entries } as unknown as TaskLogEntries;
  const request = { resourceNames: ["projects/p"], filter: "", orderBy: "asc" as const, pageSize: 2 };

  it("orders by timestamp then insertId, and resumes after the last entry of a page", async () => {
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await listEntries(source, { ...request, ...(pageToken ? { pageToken } : {}) });
      seen.push(...page.entries.map((e) => e.insertId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(["id-0", "id-3", "id-1", "id-4", "id-2"]);
    const desc = await listEntries(source, { ...request, orderBy: "desc", pageSize: 10 });
    expect(desc.entries.map((e) => e.insertId)).toEqual(["id-2", "id-4", "id-1", "id-3", "id-0"]);
  });

  it("refuses a page token of another query", async () => {
    const first = await listEntries(source, request);
    await expect(
      listEntries(source, { ...request, filter: "severity>=INFO", pageToken: first.nextPageToken }),
    ).rejects.toMatchObject({ status: "INVALID_ARGUMENT" });
  });
});
