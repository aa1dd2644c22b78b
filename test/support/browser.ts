import { existsSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";

/** Where the browser tests leave their screenshots (gitignored). */
export const ARTIFACTS = resolve("test-artifacts/console");

/** The places Debian's and other distributions' Chromium packages install it. */
const CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/**
 * The operating system's Chromium (CHROMIUM_PATH, or where the packages put it). playwright-core never
 * downloads a browser, and the registries here carry none: without one the browser tests cannot run, and say
 * how to get it instead of failing obscurely.
 */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? CANDIDATES.find((p) => existsSync(p));
  if (!path || !existsSync(path)) {
    throw new Error(
      "no Chromium found: install it (`apt-get install -y chromium`; .ci/run does) or set CHROMIUM_PATH to its executable",
    );
  }
  return path;
}

/** Headless Chromium from the OS packages. */
export function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // As root (CI containers) Chromium refuses to start with its sandbox on.
    chromiumSandbox: false,
    args: ["--disable-gpu", "--disable-dev-shm-usage"],
  });
}
