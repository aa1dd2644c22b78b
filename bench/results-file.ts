import { existsSync, readFileSync, writeFileSync } from "node:fs";

const FILE = "bench/RESULTS.md";
const HEADER =
  "# Benchmark results\n\nEach section belongs to one benchmark; figures are from the machine named in the section.\n";

/** Replaces (or appends) the `## <title>` section of bench/RESULTS.md, leaving every other section alone. */
export function writeResultsSection(title: string, body: string): void {
  const text = existsSync(FILE) ? readFileSync(FILE, "utf8") : HEADER;
  const heading = `## ${title}`;
  const start = text.indexOf(`${heading}\n`);
  const section = `${heading}\n\n${body.trim()}\n`;
  if (start < 0) {
    writeFileSync(FILE, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const next = text.indexOf("\n## ", start + heading.length);
  const rest = next < 0 ? "" : text.slice(next + 1);
  writeFileSync(FILE, `${text.slice(0, start)}${section}${rest ? `\n${rest}` : ""}`);
}
