/**
 * Writing an output record by editing its input line instead of serializing the whole record again.
 *
 * Most processors change a few fields of the record they are given and return it (docs/processors.md); most
 * of the bytes (a long `text`, say) are then either unchanged or changed in one field. JSON.stringify of the
 * whole record re-escapes every string of it, which is the largest CPU cost of the record loop. Here the
 * input line is scanned once for where each top-level member's value lies, and the output line is the input
 * line with only the changed values replaced. The output is valid JSON with the same meaning as
 * JSON.stringify's: members in input order with their input spelling (whitespace, number and escape forms
 * as the input wrote them), changed values as JSON.stringify writes them.
 *
 * Whatever this cannot decide cheaply and surely (duplicate or escaped keys, keys added, removed or
 * reordered, a changed prototype or a toJSON, a value JSON cannot write) it declines, and the caller
 * serializes the record as before.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Where the top-level members of a JSON object line are (reused from line to line). */
export class MemberScan {
  /** Members found; -1 when the line is not an object or a key contains an escape. */
  count = -1;
  /** The object's first and one-past-last byte (`{` and after `}`), so surrounding whitespace is dropped. */
  start = 0;
  end = 0;
  /** Member k: `spans[4k]`, `spans[4k + 1]` its key (inside the quotes), `spans[4k + 2]`, `[4k + 3]` its value. */
  readonly spans: number[] = [];
}

/** Scans `line`, which must be valid JSON (JSON.parse accepted it), into `scan`. */
export function scanMembers(line: Uint8Array, scan: MemberScan): void {
  scan.count = -1;
  const end = line.length;
  let i = skipSpace(line, 0, end);
  if (line[i] !== 0x7b) return; // {
  scan.start = i;
  const spans = scan.spans;
  i = skipSpace(line, i + 1, end);
  let count = 0;
  if (line[i] !== 0x7d) {
    for (;;) {
      // A key: a string; one with an escape could spell a name several ways, so decline it.
      const keyStart = i + 1;
      let j = keyStart;
      for (;;) {
        const c = line[j];
        if (c === QUOTE) break;
        if (c === BACKSLASH || j >= end) return; // (the end only if the line was not JSON after all)
        j += 1;
      }
      i = skipSpace(line, j + 1, end); // at ':'
      i = skipSpace(line, i + 1, end);
      const valueStart = i;
      i = skipValue(line, i, end);
      const at = count * 4;
      spans[at] = keyStart;
      spans[at + 1] = j;
      spans[at + 2] = valueStart;
      spans[at + 3] = i;
      count += 1;
      i = skipSpace(line, i, end);
      if (line[i] !== 0x2c) break; // not ',': the closing '}'
      i = skipSpace(line, i + 1, end);
    }
  }
  scan.end = i + 1;
  scan.count = count;
}

/** The index of the first byte at or after `i` that is not JSON whitespace (space, tab, LF, CR). */
export function skipSpace(line: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i += 1;
  }
  return i;
}

/** The end of the value starting at `i` (valid JSON). */
function skipValue(line: Uint8Array, i: number, end: number): number {
  const c = line[i];
  if (c === QUOTE) return stringEnd(line, i) + 1;
  if (c === 0x7b || c === 0x5b) {
    // { or [: find the matching close, stepping over strings (which may hold brackets).
    let depth = 0;
    for (let j = i; j < end; j++) {
      const d = line[j];
      if (d === QUOTE) j = stringEnd(line, j);
      else if (d === 0x7b || d === 0x5b) depth += 1;
      else if (d === 0x7d || d === 0x5d) {
        depth -= 1;
        if (depth === 0) return j + 1;
      }
    }
    return end;
  }
  // A number, true, false or null: up to the next delimiter.
  let j = i + 1;
  while (j < end) {
    const d = line[j];
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x09 || d === 0x0a || d === 0x0d) break;
    j += 1;
  }
  return j;
}

/** The index of the quote that closes the string whose opening quote is at `open`. */
function stringEnd(line: Uint8Array, open: number): number {
  let j = open + 1;
  for (;;) {
    // Short strings are quicker to walk than to search natively; long ones are searched (memchr).
    let q = -1;
    const stop = Math.min(j + 24, line.length);
    for (let k = j; k < stop; k++) {
      if (line[k] === QUOTE) {
        q = k;
        break;
      }
    }
    if (q === -1) {
      if (stop === line.length) return line.length;
      q = indexOfQuote(line, stop);
      if (q === -1) return line.length;
    }
    // Escaped if preceded by an odd number of backslashes.
    let b = q - 1;
    while (line[b] === BACKSLASH) b -= 1;
    if ((q - 1 - b) % 2 === 0) return q;
    j = q + 1;
  }
}

function indexOfQuote(line: Uint8Array, from: number): number {
  return Buffer.prototype.indexOf.call(line, QUOTE, from);
}

/** Whether the key's bytes `line[start, end)` (no escapes) spell `key`. */
export function keyIs(line: Uint8Array, start: number, end: number, key: string): boolean {
  const n = end - start;
  if (key.length !== n) {
    // Non-ASCII keys have more bytes than UTF-16 units; compare those the slow way.
    return key.length < n && Buffer.from(line.buffer, line.byteOffset + start, n).toString("utf8") === key;
  }
  for (let k = 0; k < n; k++) {
    const c = key.charCodeAt(k);
    if (c !== line[start + k]) {
      return c >= 0x80 && Buffer.from(line.buffer, line.byteOffset + start, n).toString("utf8") === key;
    }
  }
  return true;
}

/**
 * One output line as `line[from, to)` with some values replaced, in input order: value `k` replaces
 * `line[starts[k], ends[k])`. A replacement is either a string to be written as a JSON string
 * (`texts[k]` false) or JSON text to be written as it is (`texts[k]` true).
 */
export interface LineEdits {
  from: number;
  to: number;
  count: number;
  readonly starts: number[];
  readonly ends: number[];
  readonly values: string[];
  readonly texts: boolean[];
}

export function newLineEdits(): LineEdits {
  return { from: 0, to: 0, count: 0, starts: [], ends: [], values: [], texts: [] };
}

/**
 * JSON.stringify's text for a short array of short plain strings, numbers, booleans and nulls (tags, ids),
 * without its fixed cost per call; undefined for anything else.
 */
function smallArrayJson(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length > 16) return undefined;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  let text = "[";
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (i > 0) text += ",";
    if (typeof v === "string") {
      if (v.length > 64) return undefined;
      for (let k = 0; k < v.length; k++) {
        const c = v.charCodeAt(k);
        // Escaped by JSON (controls, quote, backslash) or possibly a lone surrogate: leave it to JSON.stringify.
        if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return undefined;
      }
      text += `"${v}"`;
    } else if (typeof v === "number") {
      text += Number.isFinite(v) ? `${v}` : "null";
    } else if (typeof v === "boolean") {
      text += v ? "true" : "false";
    } else if (v === null) {
      text += "null";
    } else {
      return undefined;
    }
  }
  return `${text}]`;
}

/** Records JSON.parse makes have it. */
const OBJECT_PROTO = Object.prototype;

/** The line `edits` describes, as a string (for sinks that keep strings, and lines too long for a batch). */
export function editedLineText(line: Buffer, edits: LineEdits): string {
  let text = "";
  let pos = edits.from;
  for (let k = 0; k < edits.count; k++) {
    text += line.toString("utf8", pos, edits.starts[k]);
    const value = edits.values[k] as string;
    text += edits.texts[k] ? value : JSON.stringify(value);
    pos = edits.ends[k] as number;
  }
  return text + line.toString("utf8", pos, edits.to);
}

/**
 * Plans the output line for `result`, the record JSON.parse made from `line` and the processor changed in
 * place. `before` are the record's own values (Object.values) before the processor ran. Returns false when
 * the record must be serialized whole (see the module comment); `edits` is then meaningless.
 *
 * A value is kept as the input spelled it when the member is still there with the same value: the same
 * primitive, or the same object when that object is empty. Any other value, including an object the
 * processor may have changed inside, is written again with JSON.stringify.
 */
export function planEdits(
  line: Uint8Array,
  scan: MemberScan,
  before: readonly unknown[],
  result: object,
  edits: LineEdits,
): boolean {
  try {
    return plan(line, scan, before, result, edits);
  } catch {
    // A getter the processor defined threw: JSON.stringify of the whole record meets it too and says why.
    return false;
  }
}

function plan(
  line: Uint8Array,
  scan: MemberScan,
  before: readonly unknown[],
  result: object,
  edits: LineEdits,
): boolean {
  const { count, spans } = scan;
  if (count < 0) return false;
  if (Object.getPrototypeOf(result) !== OBJECT_PROTO) return false;
  if (typeof (result as { toJSON?: unknown }).toJSON === "function") return false;
  const keys = Object.keys(result);
  // Duplicate keys in the input (JSON.parse keeps the last), or keys added or removed.
  if (keys.length !== count || before.length !== count) return false;
  edits.count = 0;
  edits.from = scan.start;
  edits.to = scan.end;
  for (let k = 0; k < count; k++) {
    const key = keys[k] as string;
    const at = k * 4;
    // Also catches reordering: JSON.parse puts integer-like keys first, whatever the input's order.
    if (!keyIs(line, spans[at] as number, spans[at + 1] as number, key)) return false;
    const value = (result as Record<string, unknown>)[key];
    const old = before[k];
    if (value === old) {
      if (typeof value !== "object" || value === null) continue; // an unchanged primitive
      // An empty array that the input wrote as `[]` is still that.
      const start = spans[at + 2] as number;
      if (Array.isArray(value) && value.length === 0 && spans[at + 3] === start + 2 && line[start] === 0x5b) {
        continue;
      }
    }
    let text: string;
    let isText = true;
    if (typeof value === "string") {
      text = value;
      isText = false;
    } else {
      let json: string | undefined;
      try {
        json = smallArrayJson(value) ?? JSON.stringify(value);
      } catch {
        return false; // the whole record's JSON.stringify says why, with the path to the value
      }
      // undefined, a function or a symbol: JSON.stringify leaves the member out.
      if (json === undefined) return false;
      text = json;
    }
    const e = edits.count;
    edits.starts[e] = spans[at + 2] as number;
    edits.ends[e] = spans[at + 3] as number;
    edits.values[e] = text;
    edits.texts[e] = isText;
    edits.count = e + 1;
  }
  return true;
}
