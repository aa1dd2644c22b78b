import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** The Dockerfile's instructions, with continuation lines joined and comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [op = "", ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

/** Instructions grouped by stage (from each FROM to the next). */
function stages(text: string) {
  const out: { from: string; name: string | undefined; body: { op: string; args: string }[] }[] = [];
  for (const ins of instructions(text)) {
    if (ins.op === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      out.push({ from: m?.[1] ?? ins.args, name: m?.[2], body: [] });
    } else {
      out.at(-1)?.body.push(ins);
    }
  }
  return out;
}

const dockerfile = readFileSync("worker/Dockerfile", "utf8");
const all = stages(dockerfile);
const runtime = all.at(-1);

describe("worker/Dockerfile", () => {
  it("has a named build stage and a separate runtime stage", () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all[0]?.name).toBe("build");
    expect(runtime?.name).not.toBe("build");
  });

  it("pins every base image to a Node 20 tag, never latest or an untagged image", () => {
    for (const stage of all) {
      expect(stage.from, stage.from).toMatch(/^[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?$/);
      expect(stage.from).not.toMatch(/:latest\b/);
      expect(stage.from).toMatch(/node(js)?:?20|nodejs20/);
    }
  });

  it("bundles with worker/build.ts in the build stage, as CI does locally", () => {
    const runs = all[0]?.body.filter((i) => i.op === "RUN").map((i) => i.args) ?? [];
    expect(runs.some((r) => r.includes("worker/build.ts"))).toBe(true);
    expect(existsSync("worker/build.ts")).toBe(true);
  });

  it("copies into the build stage only paths that exist", () => {
    const copies = all[0]?.body.filter((i) => i.op === "COPY") ?? [];
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith("--"));
      for (const source of parts.slice(0, -1)) expect(existsSync(source), source).toBe(true);
    }
  });

  it("runs as a non-root user in the runtime stage", () => {
    const users = runtime?.body.filter((i) => i.op === "USER").map((i) => i.args) ?? [];
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it("ships only the build directory: no package installs and no source copies in the runtime stage", () => {
    const body = runtime?.body ?? [];
    expect(body.filter((i) => i.op === "RUN")).toEqual([]);
    const copies = body.filter((i) => i.op === "COPY" || i.op === "ADD");
    expect(copies.map((c) => c.args)).toEqual([expect.stringMatching(/^--from=build .*\/out\/ \/app\/$/)]);
    // What the build stage writes to /out: the bundle, with the native CRC32C beside it.
    const buildRun = all[0]?.body.find((i) => i.op === "RUN" && i.args.includes("worker/build.ts"));
    expect(buildRun?.args).toMatch(/--outfile \/out\/worker\.js/);
  });

  it("starts the bundled worker", () => {
    const entry = runtime?.body.filter((i) => i.op === "ENTRYPOINT").at(-1);
    expect(entry && JSON.parse(entry.args)).toEqual(["node", "/app/worker.js"]);
  });
});
