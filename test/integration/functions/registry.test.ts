import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../core/config/load.ts";
import type { ClientConfig } from "../../../core/config/schema.ts";
import { ConfigError } from "../../../core/errors.ts";
import { BadRequestError } from "../../../functions/shared/errors.ts";
import {
  bucketRegistry,
  deleteRegistryObject,
  REGISTRY_TTL_MS,
  syncRegistry,
  UnknownClientError,
  writeRegistryObject,
} from "../../../functions/shared/registry.ts";
import { CONFIG_DIR } from "../../fixtures/functions/config.ts";
import { type Gcs, names, startGcs } from "../../fixtures/functions/harness.ts";

const BUCKET = "batchline-test-bucket";
const ACME_OBJECT = `gs://${BUCKET}/registry/shop/acme.json`;

let gcs: Gcs;
let acme: ClientConfig;
beforeEach(async () => {
  gcs = await startGcs(BUCKET);
  const found = loadConfig(CONFIG_DIR).clients.get("acme");
  if (found === undefined) throw new Error("fixture lost acme");
  acme = found;
});
afterEach(async () => {
  await gcs.stop();
});

/** A registry with a clock the test moves. */
function clocked(ttlMs = REGISTRY_TTL_MS) {
  const clock = { ms: 1_000_000 };
  const registry = bucketRegistry(gcs.bucket, "shop", { ttlMs, now: () => clock.ms });
  return { registry, clock };
}

describe("the client registry in the bucket", () => {
  it("reads a client's config back as its client stack wrote it", async () => {
    await writeRegistryObject(gcs.bucket, "shop", acme);
    const { registry } = clocked();
    expect(await registry.get("acme")).toEqual(acme);
    expect(await names(gcs.bucket, "registry/")).toEqual(["registry/shop/acme.json"]);
  });

  it("refuses a client with no registry object with a 400 naming the client and the object", async () => {
    const { registry } = clocked();
    const err = await registry.get("acme").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownClientError);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as UnknownClientError).message).toBe(
      `unknown client "acme": its registry object ${ACME_OBJECT} does not exist ` +
        "(the client was never deployed, or was offboarded; deploy its client stack to onboard it)",
    );
    expect((err as UnknownClientError).field).toBe("client");
    expect(await registry.find("acme")).toBeNull();
  });

  it("does not remember a missing client: one onboarded is found at its next request", async () => {
    const { registry } = clocked();
    await expect(registry.get("acme")).rejects.toBeInstanceOf(UnknownClientError);
    await writeRegistryObject(gcs.bucket, "shop", acme);
    expect((await registry.get("acme")).id).toBe("acme");
  });

  it("trusts a config it read for the TTL, then reads the object again", async () => {
    await writeRegistryObject(gcs.bucket, "shop", acme);
    const { registry, clock } = clocked();
    expect((await registry.get("acme")).maxConcurrentJobs).toBe(100);
    await writeRegistryObject(gcs.bucket, "shop", { ...acme, maxConcurrentJobs: 3 });
    clock.ms += REGISTRY_TTL_MS - 1;
    expect((await registry.get("acme")).maxConcurrentJobs).toBe(100);
    clock.ms += 1;
    expect((await registry.get("acme")).maxConcurrentJobs).toBe(3);
  });

  it("refuses an offboarded client (object deleted) once the TTL has passed", async () => {
    await writeRegistryObject(gcs.bucket, "shop", acme);
    const { registry, clock } = clocked();
    await registry.get("acme");
    await deleteRegistryObject(gcs.bucket, "shop", "acme");
    clock.ms += REGISTRY_TTL_MS - 1;
    expect((await registry.get("acme")).id).toBe("acme");
    clock.ms += 1;
    await expect(registry.get("acme")).rejects.toThrow(`its registry object ${ACME_OBJECT} does not exist`);
    expect(await registry.find("acme")).toBeNull();
  });

  it("with a TTL of 0 reads the object every time", async () => {
    await writeRegistryObject(gcs.bucket, "shop", acme);
    const { registry } = clocked(0);
    await registry.get("acme");
    await deleteRegistryObject(gcs.bucket, "shop", "acme");
    await expect(registry.get("acme")).rejects.toBeInstanceOf(UnknownClientError);
  });

  it("names the object and the field when the object is not a valid registry document", async () => {
    const file = gcs.bucket.file("registry/shop/acme.json");
    const { registry } = clocked(0);
    await file.save(
      JSON.stringify({ schemaVersion: 1, product: "shop", client: { ...acme, priority: 500 } }),
    );
    const err = await registry.get("acme").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(new RegExp(`^${ACME_OBJECT} \\(client\\): field "priority": `));
    await file.save(JSON.stringify({ schemaVersion: 2, product: "shop", client: acme }));
    await expect(registry.get("acme")).rejects.toThrow(`${ACME_OBJECT}: field "schemaVersion": must be 1`);
    await file.save(JSON.stringify({ schemaVersion: 1, product: "shop", client: { ...acme, id: "other" } }));
    await expect(registry.get("acme")).rejects.toThrow(
      `${ACME_OBJECT}: field "client.id": must equal "acme"`,
    );
    await file.save("{");
    await expect(registry.get("acme")).rejects.toThrow(`${ACME_OBJECT}: document: is not JSON`);
  });

  it("names the platform bucket, not the client, when the bucket itself is missing", async () => {
    const registry = bucketRegistry(gcs.storage.bucket("no-such-bucket"), "shop");
    await expect(registry.get("acme")).rejects.toThrow(
      "cannot read the client registry: the platform bucket gs://no-such-bucket does not exist",
    );
  });

  it("a failed read is not cached", async () => {
    const file = gcs.bucket.file("registry/shop/acme.json");
    await file.save("{");
    const { registry } = clocked();
    await expect(registry.get("acme")).rejects.toBeInstanceOf(ConfigError);
    await writeRegistryObject(gcs.bucket, "shop", acme);
    expect((await registry.get("acme")).id).toBe("acme");
  });

  it("syncRegistry writes every configured client and deletes the objects of removed ones", async () => {
    const config = loadConfig(CONFIG_DIR);
    await writeRegistryObject(gcs.bucket, "shop", { ...acme, id: "gone" });
    expect(await syncRegistry(gcs.bucket, config)).toEqual(["gone"]);
    expect(await names(gcs.bucket, "registry/")).toEqual([
      "registry/shop/acme.json",
      "registry/shop/nightly.json",
    ]);
    const { registry } = clocked(0);
    expect(await registry.get("nightly")).toEqual(config.clients.get("nightly"));
  });
});
