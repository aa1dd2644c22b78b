import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.ts";
import { ObjectNameError } from "../../../core/errors.ts";
import {
  parseRegistryDocument,
  REGISTRY_SCHEMA_VERSION,
  registryDocument,
  registryObjectName,
  registryPrefix,
} from "../../../core/registry.ts";

const E2E_CONFIG = join(fileURLToPath(new URL(".", import.meta.url)), "../../fixtures/e2e/config");

describe("registry names and documents", () => {
  it("puts each client's object under registry/<product>/, outside every client's prefix", () => {
    expect(registryPrefix("shop")).toBe("registry/shop/");
    expect(registryObjectName("shop", "acme")).toBe("registry/shop/acme.json");
    expect(() => registryObjectName("shop", "a/../b")).toThrow(ObjectNameError);
  });

  it("round-trips every fixture client's resolved config, byte-stable", () => {
    const config = loadConfig(E2E_CONFIG);
    expect(config.clients.size).toBeGreaterThan(3);
    for (const client of config.clients.values()) {
      const text = registryDocument(config.platform.product, client);
      expect(JSON.parse(text)).toMatchObject({
        schemaVersion: REGISTRY_SCHEMA_VERSION,
        product: config.platform.product,
      });
      const back = parseRegistryDocument("registry object", text, config.platform.product, client.id);
      expect(back).toEqual(client);
      expect(registryDocument(config.platform.product, back)).toBe(text);
    }
  });

  it("refuses a document of another product", () => {
    const config = loadConfig(E2E_CONFIG);
    const [client] = [...config.clients.values()];
    if (client === undefined) throw new Error("no fixture client");
    const text = registryDocument("other", client);
    expect(() => parseRegistryDocument("x.json", text, config.platform.product, client.id)).toThrow(
      `x.json: field "product": must be "${config.platform.product}" (got "other")`,
    );
    expect(() => parseRegistryDocument("x.json", '{"schemaVersion":1,"extra":1}', "p", "c")).toThrow(
      'x.json: field "extra": is not a known key',
    );
  });
});
