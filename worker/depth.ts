/**
 * How deep a record may nest, and the checks that keep deeper ones from reaching code that recurses.
 *
 * JSON.parse (V8's parser is iterative) reads a line nested 100,000 deep without trouble, but JSON.stringify
 * and any processor that walks a record recursively run out of stack a few thousand levels down
 * ("Maximum call stack size exceeded"), at a depth that depends on the stack already in use. So the worker
 * holds every record to one documented limit (docs/processors.md): a line nested deeper than
 * MAX_RECORD_DEPTH is a bad record with TOO_DEEP_REASON, on both record paths, before any processor sees it.
 * The limit is far below where JSON.stringify overflows (about 4,500 levels on Node 20's default stack), so
 * every record within it can be written.
 */

/** Records may nest at most this many arrays and objects deep: `[]` is 1 level, `{"a":[1]}` is 2. */
export const MAX_RECORD_DEPTH = 1000;

/**
 * The bad-record reason for a line nested deeper than MAX_RECORD_DEPTH (and, after "processor output cannot
 * be written as JSON: ", for output a processor made so deep that JSON.stringify ran out of stack).
 */
export const TOO_DEEP_REASON = `nested deeper than ${MAX_RECORD_DEPTH} levels`;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether the JSON text `line` (JSON.parse accepted it) nests arrays and objects deeper than `max`.
 *
 * Nearly every line is decided without reading it: nesting deeper than `max` takes more than `max` opening
 * and as many closing brackets, so a line shorter than 2 × (max + 1) bytes cannot, and neither can one with
 * at most `max` opening brackets, which native searches count. Only lines with more brackets than that are
 * walked, once, byte by byte.
 */
export function nestsDeeperThan(line: Uint8Array, max: number): boolean {
  if (line.length < 2 * (max + 1)) return false;
  if (countUpTo(line, OPEN_BRACE, max + 1) + countUpTo(line, OPEN_BRACKET, max + 1) <= max) return false;
  return depthOf(line, max) > max;
}

/** How many times `byte` occurs in `line`, counting no further than `limit`. */
function countUpTo(line: Uint8Array, byte: number, limit: number): number {
  let count = 0;
  let at = Buffer.prototype.indexOf.call(line, byte, 0) as number;
  while (at >= 0 && count < limit) {
    count += 1;
    at = Buffer.prototype.indexOf.call(line, byte, at + 1) as number;
  }
  return count;
}

/** The nesting depth of valid JSON text, walking it once; stops as soon as it passes `max`. */
function depthOf(line: Uint8Array, max: number): number {
  let depth = 0;
  let deepest = 0;
  const end = line.length;
  for (let i = 0; i < end; i++) {
    const c = line[i];
    if (c === QUOTE) {
      // Step over the string: an escaped character is skipped whole, so `\"` does not end it.
      for (i += 1; i < end; i++) {
        const s = line[i];
        if (s === BACKSLASH) i += 1;
        else if (s === QUOTE) break;
      }
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return deepest;
}

/**
 * Whether a value a processor returned nests arrays and objects deeper than `max`, as JSON.stringify would
 * walk it (own enumerable properties). Iterative, so it cannot itself run out of stack; for the rare record
 * JSON.stringify failed on, never on the hot path. A property getter that throws counts as a leaf.
 */
export function valueNestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  // The deepest level each object was reached at: one reached again only deeper is walked again (JSON.stringify
  // writes a shared object at every place it occurs), so the walk ends even on a cycle.
  const reached = new Map<object, number>();
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== "object" || v === null) continue;
    const level = depth + 1;
    if (level > max) return true;
    if ((reached.get(v) ?? 0) >= level) continue;
    reached.set(v, level);
    let children: unknown[];
    try {
      children = Object.values(v);
    } catch {
      continue;
    }
    for (const child of children) stack.push([child, level]);
  }
  return false;
}
