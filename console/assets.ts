import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), "web");

export interface ConsoleAssets {
  /** The one HTML page every console address serves; the script renders the page the address names. */
  page: string;
  /** `/assets/...` → its bytes and content type. */
  files: Map<string, { body: Buffer; type: string }>;
}

let built: Promise<ConsoleAssets> | undefined;

/**
 * The page, its stylesheet and its script, bundled once per process from console/web/ with esbuild (tens of
 * milliseconds) and served from memory: no CDN and nothing fetched from elsewhere.
 */
export function consoleAssets(): Promise<ConsoleAssets> {
  built ??= (async () => {
    const result = await build({
      entryPoints: [resolve(WEB, "app.ts")],
      bundle: true,
      write: false,
      format: "iife",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "none",
      logLevel: "warning",
    });
    const script = result.outputFiles[0];
    if (!script) throw new Error("esbuild produced no console script");
    return {
      page: readFileSync(resolve(WEB, "index.html"), "utf8"),
      files: new Map([
        ["/assets/app.js", { body: Buffer.from(script.contents), type: "text/javascript; charset=utf-8" }],
        [
          "/assets/style.css",
          { body: readFileSync(resolve(WEB, "style.css")), type: "text/css; charset=utf-8" },
        ],
        ["/favicon.ico", { body: Buffer.alloc(0), type: "image/x-icon" }],
      ]),
    };
  })();
  built.catch(() => {
    built = undefined;
  });
  return built;
}
