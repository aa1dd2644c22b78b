/**
 * GCS orders object names by their UTF-8 bytes, which is Unicode code point order. JavaScript's `<`
 * compares UTF-16 code units, which disagrees only when a surrogate (U+D800-DFFF, i.e. a character above
 * U+FFFF) meets a unit in U+E000-FFFF; this comparator fixes that case up and is `<` everywhere else.
 */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const len = Math.min(a.length, b.length);
  for (let i = 0; i < len; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  // Surrogates stand for code points above U+FFFF, so they sort after U+E000-FFFF.
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/** Index of the first element of sorted `names` that is >= `key` (or > `key` when `after`). */
export function lowerBound(names: readonly string[], key: string, after = false): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareNames(names[mid] as string, key);
    if (c < 0 || (after && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
