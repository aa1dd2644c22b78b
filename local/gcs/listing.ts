import type { ObjectRecord } from "./backend/types.ts";
import { invalid } from "./errors.ts";
import { compareNames, lowerBound } from "./order.ts";

/** What listing needs from a bucket's index. */
export interface NameIndex {
  /** Every name with at least one generation, live or noncurrent, in code point order. */
  readonly names: readonly string[];
  /** Generations of a name, oldest first; the live one (if any) is last. */
  versions(name: string): readonly ObjectRecord[];
  live(name: string): ObjectRecord | undefined;
}

export interface ListQuery {
  prefix: string;
  delimiter?: string;
  startOffset?: string;
  endOffset?: string;
  glob?: RegExp;
  includeTrailingDelimiter: boolean;
  versions: boolean;
  maxResults: number;
  pageToken?: string;
}

export interface ListPage {
  items: ObjectRecord[];
  prefixes: string[];
  nextPageToken?: string;
}

/** Where the next page starts: after this name (and generation, when listing versions), or after a prefix. */
interface Cursor {
  name?: string;
  generation?: number;
  prefix?: string;
}

type Entry = { kind: "item"; record: ObjectRecord } | { kind: "prefix"; prefix: string };

/**
 * One page of objects.list. `maxResults` counts items and prefixes together, as GCS does; a page token
 * encodes where the page ended, so pages stay consistent while names are added or removed.
 */
export function listPage(index: NameIndex, q: ListQuery): ListPage {
  const cursor = q.pageToken ? decodeToken(q.pageToken) : undefined;
  const entries = scan(index, q, cursor);
  const items: ObjectRecord[] = [];
  const prefixes: string[] = [];
  let last: Entry | undefined;
  let count = 0;
  for (const entry of entries) {
    if (count === q.maxResults) {
      return { items, prefixes, nextPageToken: encodeToken(cursorAfter(last as Entry)) };
    }
    if (entry.kind === "item") items.push(entry.record);
    else prefixes.push(entry.prefix);
    last = entry;
    count++;
  }
  return { items, prefixes };
}

function cursorAfter(entry: Entry): Cursor {
  if (entry.kind === "prefix") return { prefix: entry.prefix };
  return { name: entry.record.name, generation: entry.record.generation };
}

function* scan(index: NameIndex, q: ListQuery, cursor: Cursor | undefined): Generator<Entry> {
  const names = index.names;
  let from = q.prefix;
  if (q.startOffset !== undefined && compareNames(q.startOffset, from) > 0) from = q.startOffset;
  const resumeAt = cursor?.prefix ?? cursor?.name;
  if (resumeAt !== undefined && compareNames(resumeAt, from) > 0) from = resumeAt;
  let i = lowerBound(names, from);
  const skipPrefix = cursor?.prefix;
  let lastPrefix: string | undefined;

  while (i < names.length) {
    const name = names[i] as string;
    if (!name.startsWith(q.prefix)) {
      if (compareNames(name, q.prefix) > 0) return;
      i++;
      continue;
    }
    if (q.endOffset !== undefined && q.endOffset !== "" && compareNames(name, q.endOffset) >= 0) return;
    if (skipPrefix !== undefined && name.startsWith(skipPrefix)) {
      i = skipPast(names, skipPrefix, i);
      continue;
    }

    if (q.delimiter) {
      const rest = name.slice(q.prefix.length);
      const k = rest.indexOf(q.delimiter);
      if (k >= 0) {
        const prefix = q.prefix + rest.slice(0, k + q.delimiter.length);
        if (prefix !== lastPrefix && prefixHasMatch(index, q, prefix, i)) {
          lastPrefix = prefix;
          if (q.includeTrailingDelimiter && name === prefix && (q.glob === undefined || q.glob.test(name))) {
            for (const record of recordsOf(index, q, name, cursor)) yield { kind: "item", record };
          }
          yield { kind: "prefix", prefix };
        }
        i = skipPast(names, prefix, i);
        continue;
      }
    }
    if (q.glob === undefined || q.glob.test(name)) {
      for (const record of recordsOf(index, q, name, cursor)) yield { kind: "item", record };
    }
    i++;
  }
}

/** The generations of `name` a page should show, minus those a previous page already did. */
function recordsOf(index: NameIndex, q: ListQuery, name: string, cursor: Cursor | undefined): ObjectRecord[] {
  if (!q.versions) {
    const live = index.live(name);
    if (!live) return [];
    if (cursor?.name === name) return [];
    return [live];
  }
  const all = index.versions(name);
  if (cursor?.name !== name) return [...all];
  const after = cursor.generation ?? Number.POSITIVE_INFINITY;
  return all.filter((r) => r.generation > after);
}

/** True when some object under `prefix` would be listed (it passes the glob and the offsets). */
function prefixHasMatch(index: NameIndex, q: ListQuery, prefix: string, start: number): boolean {
  const names = index.names;
  for (let j = start; j < names.length; j++) {
    const name = names[j] as string;
    if (!name.startsWith(prefix)) return false;
    if (q.endOffset !== undefined && q.endOffset !== "" && compareNames(name, q.endOffset) >= 0) return false;
    if (q.glob !== undefined && !q.glob.test(name)) continue;
    if (q.versions ? index.versions(name).length > 0 : index.live(name) !== undefined) return true;
  }
  return false;
}

/** Index of the first name at or after `from` that does not start with `prefix`. */
function skipPast(names: readonly string[], prefix: string, from: number): number {
  let i = Math.max(from, lowerBound(names, `${prefix}\u{10FFFF}`));
  while (i < names.length && (names[i] as string).startsWith(prefix)) i++;
  return i;
}

/**
 * The page token that resumes a listing after `marker`, as the XML API's `marker` / `start-after` mean
 * it: after that name, or, when it is a rolled-up prefix (ends with the delimiter), after everything
 * under it. With `generation` (listing versions), after that generation of the name.
 */
export function tokenAfter(marker: string, delimiter: string | undefined, generation?: number): string {
  if (delimiter && marker.endsWith(delimiter)) return encodeToken({ prefix: marker });
  return encodeToken(generation === undefined ? { name: marker } : { name: marker, generation });
}

function encodeToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), "utf8").toString("base64url");
}

function decodeToken(token: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (value && typeof value === "object") {
      const c = value as Record<string, unknown>;
      const out: Cursor = {};
      if (typeof c.name === "string") out.name = c.name;
      if (typeof c.generation === "number") out.generation = c.generation;
      if (typeof c.prefix === "string") out.prefix = c.prefix;
      if (out.name !== undefined || out.prefix !== undefined) return out;
    }
  } catch {
    // fall through to the error GCS gives for a token it did not issue
  }
  throw invalid(`Invalid page token: ${token}`);
}
