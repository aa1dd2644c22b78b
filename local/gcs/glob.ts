import { invalid } from "./errors.ts";

/**
 * Compiles a `matchGlob` pattern the way GCS documents it:
 * `*` any run of characters without '/', `**` any run including '/', `/**\/` also zero directories,
 * `?` one character other than '/', `[abc]` `[a-z]` `[!abc]` a character class, `{a,b}` alternatives,
 * `\` escapes the next character. The whole name must match.
 */
export function compileGlob(pattern: string): RegExp {
  const parser = new GlobParser(pattern);
  const body = parser.parseSequence(false);
  return new RegExp(`^${body}$`, "su");
}

class GlobParser {
  #p: string;
  #i = 0;
  constructor(pattern: string) {
    this.#p = pattern;
  }

  parseSequence(inBraces: boolean): string {
    let out = "";
    const p = this.#p;
    while (this.#i < p.length) {
      const c = p[this.#i] as string;
      if (inBraces && (c === "," || c === "}")) return out;
      if (c === "\\") {
        const next = p[this.#i + 1];
        if (next === undefined) throw invalid(`Invalid matchGlob '${p}': trailing escape`);
        out += escapeRegExp(next);
        this.#i += 2;
      } else if (c === "*") {
        if (p[this.#i + 1] === "*") {
          const atSegmentStart = this.#i === 0 || p[this.#i - 1] === "/";
          this.#i += 2;
          if (atSegmentStart && p[this.#i] === "/") {
            // `**/` matches zero or more whole directories.
            this.#i += 1;
            out += "(?:.*/)?";
          } else {
            out += ".*";
          }
        } else {
          this.#i += 1;
          out += "[^/]*";
        }
      } else if (c === "?") {
        this.#i += 1;
        out += "[^/]";
      } else if (c === "[") {
        out += this.#parseClass();
      } else if (c === "{") {
        this.#i += 1;
        const alternatives: string[] = [];
        for (;;) {
          alternatives.push(this.parseSequence(true));
          const d = p[this.#i];
          if (d === ",") {
            this.#i += 1;
            continue;
          }
          if (d === "}") {
            this.#i += 1;
            break;
          }
          throw invalid(`Invalid matchGlob '${p}': unclosed '{'`);
        }
        out += `(?:${alternatives.join("|")})`;
      } else {
        out += escapeRegExp(c);
        this.#i += 1;
      }
    }
    if (inBraces) throw invalid(`Invalid matchGlob '${p}': unclosed '{'`);
    return out;
  }

  #parseClass(): string {
    const p = this.#p;
    let j = this.#i + 1;
    let negate = false;
    if (p[j] === "!" || p[j] === "^") {
      negate = true;
      j++;
    }
    let cls = "";
    let first = true;
    while (j < p.length && (p[j] !== "]" || first)) {
      const c = p[j] as string;
      if (c === "\\" && j + 1 < p.length) {
        cls += escapeClassChar(p[j + 1] as string);
        j += 2;
      } else if (c === "-" && !first && j + 1 < p.length && p[j + 1] !== "]") {
        cls += "-";
        j++;
      } else {
        cls += escapeClassChar(c);
        j++;
      }
      first = false;
    }
    if (j >= p.length) throw invalid(`Invalid matchGlob '${p}': unclosed '['`);
    this.#i = j + 1;
    return negate ? `[^/${cls}]` : `[${cls}]`;
  }
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function escapeClassChar(c: string): string {
  return c.replace(/[\\\]^-]/g, "\\$&");
}
