import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { loadFunctionConfig, parseConfigJson } from "../../../functions/shared/config.ts";
import { CONFIG_DIR, testConfig } from "../../fixtures/functions/config.ts";
import { tempDir } from "../../support/temp.ts";

function asJson(): string {
  const { platform, clients } = testConfig();
  return JSON.stringify({ platform, clients: Object.fromEntries(clients) });
}

describe("function config", () => {
  it("reads BATCHLINE_CONFIG first (what infra gives the deployed functions)", () => {
    const config = loadFunctionConfig(
      { BATCHLINE_CONFIG: asJson(), BATCHLINE_CONFIG_DIR: "/nonexistent" },
      import.meta.url,
    );
    expect(config.platform.product).toBe("shop");
    expect([...config.clients.keys()]).toEqual(["acme", "nightly"]);
    expect(config.clients.get("nightly")?.schedule?.mode).toBe("always");
  });

  it("reads BATCHLINE_CONFIG_DIR next", () => {
    const config = loadFunctionConfig({ BATCHLINE_CONFIG_DIR: CONFIG_DIR }, import.meta.url);
    expect(config.platform.bucket).toBe("batchline-test-bucket");
  });

  it("finds the nearest config/ above the bundle otherwise", () => {
    const root = tempDir("bl-fn-");
    mkdirSync(join(root, "config", "clients"), { recursive: true });
    mkdirSync(join(root, "dist", "plan"), { recursive: true });
    const { platform } = testConfig();
    writeFileSync(join(root, "config", "platform.yaml"), JSON.stringify(platform));
    writeFileSync(join(root, "config", "clients", "zed.yaml"), "id: zed\n");
    const config = loadFunctionConfig({}, pathToFileURL(join(root, "dist", "plan", "index.js")).href);
    expect([...config.clients.keys()]).toEqual(["zed"]);
  });

  it("names the field that is wrong in BATCHLINE_CONFIG", () => {
    const { platform } = testConfig();
    const json = JSON.stringify({ platform: { ...platform, bucket: "Bad Bucket" }, clients: {} });
    expect(() => parseConfigJson(json)).toThrow(
      /BATCHLINE_CONFIG\.platform: field "bucket": must be a bucket name/,
    );
    const wrongId = JSON.stringify({ platform, clients: { acme: { id: "other" } } });
    expect(() => parseConfigJson(wrongId)).toThrow(
      'BATCHLINE_CONFIG.clients.acme: field "id": must equal its key "acme"',
    );
    expect(() => parseConfigJson("{")).toThrow(/BATCHLINE_CONFIG: document: is not JSON/);
  });
});
