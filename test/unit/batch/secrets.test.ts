import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { localSecretResolver, SecretUnavailableError, secretEnvName } from "../../../local/batch/secrets.ts";
import { tempDir } from "../../support/temp.ts";

describe("local secret resolver", () => {
  const dir = tempDir("batchline-secrets-");
  mkdirSync(join(dir, "api-token"));
  writeFileSync(join(dir, "api-token", "3"), "version-three\n");
  writeFileSync(join(dir, "db-password"), "plain-file");

  it("reads <dir>/<secret>/<version>, dropping one trailing newline", async () => {
    const r = localSecretResolver({ dir, env: {} });
    expect(await r.resolve("projects/p/secrets/api-token/versions/3")).toBe("version-three");
  });

  it("reads <dir>/<secret> for latest", async () => {
    const r = localSecretResolver({ dir, env: {} });
    expect(await r.resolve("projects/p/secrets/db-password/versions/latest")).toBe("plain-file");
  });

  it("falls back to BATCHLINE_SECRET_<NAME>", async () => {
    expect(secretEnvName("db-password.v2")).toBe("BATCHLINE_SECRET_DB_PASSWORD_V2");
    const r = localSecretResolver({ dir, env: { BATCHLINE_SECRET_ONLY_ENV: "from-env" } });
    expect(await r.resolve("projects/p/secrets/only-env/versions/latest")).toBe("from-env");
  });

  it("says where it looked when the secret is missing", async () => {
    const r = localSecretResolver({ dir, env: {} });
    const err = await r.resolve("projects/p/secrets/absent/versions/1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretUnavailableError);
    expect((err as Error).message).toBe(
      `secret projects/p/secrets/absent/versions/1 is not available locally: put it in ${join(dir, "absent", "1")} or the environment variable BATCHLINE_SECRET_ABSENT`,
    );
  });
});
