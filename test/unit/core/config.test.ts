import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  loadClientConfig,
  loadConfig,
  maxInputFailuresFor,
  parseConfigText,
  resolveJobSettings,
} from "../../../core/config/load.ts";
import { clientConfigSchema, platformConfigSchema } from "../../../core/config/schema.ts";
import { ConfigError } from "../../../core/errors.ts";
import { tempDir } from "../../support/temp.ts";
import { thrownBy } from "../../support/thrown.ts";

const PLATFORM = `
project: my-project-1
region: europe-west2
product: shop
bucket: my-project-1-batch
workerImage: europe-west2-docker.pkg.dev/my-project-1/batchline/worker:abc
jobDefaults:
  machineType: e2-standard-2
  provisioningModel: SPOT
  cpuMilli: 1000
  memoryMib: 2048
  maxRetryCount: 3
  maxRunDuration: 3600s
  parallelism: 4
  processor: uppercase
  env: { LOG_LEVEL: info, SHARED: platform }
`;

function configDir(clients: Record<string, string>, platform = PLATFORM): string {
  const dir = tempDir("batchline-config-");
  mkdirSync(join(dir, "clients"));
  writeFileSync(join(dir, "platform.yaml"), platform);
  for (const [name, text] of Object.entries(clients)) writeFileSync(join(dir, "clients", name), text);
  return dir;
}

describe("shipped config", () => {
  it("loads config/platform.yaml and the demo client", () => {
    const { platform, clients } = loadConfig("config");
    expect(platform.product).toBe("demo");
    expect([...clients.keys()]).toContain("demo");
    expect(clients.get("demo")?.schedule?.timeZone).toBe("Europe/London");
  });
});

describe("platform config", () => {
  it("applies defaults for the limits it does not set", () => {
    const platform = parseConfigText("platform.yaml", PLATFORM, platformConfigSchema);
    expect(platform.maxInputFailures).toBe(3);
    expect(platform.maxInputsPerRun).toBe(10_000);
  });

  it("names the file, the field and the value when a field is wrong", () => {
    const err = thrownBy(ConfigError, () =>
      parseConfigText(
        "platform.yaml",
        PLATFORM.replace("cpuMilli: 1000", "cpuMilli: -5"),
        platformConfigSchema,
      ),
    );
    expect(err.message).toMatch(/^platform\.yaml: field "jobDefaults\.cpuMilli": .* \(got -5\)$/);
    expect(err.problems).toEqual([expect.objectContaining({ field: "jobDefaults.cpuMilli", value: -5 })]);
  });

  it("says a missing field is required", () => {
    const err = thrownBy(ConfigError, () =>
      parseConfigText("platform.yaml", PLATFORM.replace(/^bucket:.*$/m, ""), platformConfigSchema),
    );
    expect(err.message).toBe('platform.yaml: field "bucket": is required');
  });

  it("rejects unknown keys so typos do not pass silently", () => {
    const err = thrownBy(ConfigError, () =>
      parseConfigText("platform.yaml", `${PLATFORM}\nregoin: us-east1\n`, platformConfigSchema),
    );
    expect(err.message).toContain('field "regoin": is not a known setting');
  });

  it("reports YAML syntax errors with a line number", () => {
    const err = thrownBy(ConfigError, () =>
      parseConfigText("platform.yaml", "project: [unclosed\n", platformConfigSchema),
    );
    expect(err.message).toMatch(/^platform\.yaml: document: invalid YAML at line \d+/);
  });

  it("rejects an empty file", () => {
    expect(() => parseConfigText("platform.yaml", "", platformConfigSchema)).toThrow(
      "platform.yaml: document: is empty",
    );
  });

  it.each([
    ["provisioningModel: SPOT", "provisioningModel: CHEAP", "jobDefaults.provisioningModel"],
    ["maxRunDuration: 3600s", "maxRunDuration: 1h", "jobDefaults.maxRunDuration"],
    ["maxRetryCount: 3", "maxRetryCount: 11", "jobDefaults.maxRetryCount"],
    ["region: europe-west2", "region: Europe", "region"],
    ["bucket: my-project-1-batch", "bucket: My_Bucket", "bucket"],
    ["product: shop", "product: Shop", "product"],
  ])("rejects %s -> %s at %s", (from, to, field) => {
    const err = thrownBy(ConfigError, () =>
      parseConfigText("p.yaml", PLATFORM.replace(from, to), platformConfigSchema),
    );
    expect(err.problems.map((p) => p.field)).toEqual([field]);
  });
});

describe("client config", () => {
  const parse = (text: string) => parseConfigText("clients/acme.yaml", text, clientConfigSchema);

  it("fills defaults for a minimal client", () => {
    const client = parse("id: acme\n");
    expect(client).toEqual({
      id: "acme",
      job: {},
      uploaders: [],
      subscribers: [],
      pullSubscription: false,
      debounceSeconds: 0,
      maxConcurrentJobs: 1,
    });
  });

  it("accepts a schedule and defaults its time zone and mode", () => {
    const client = parse('id: acme\nschedule:\n  cron: "*/15 * * * *"\n');
    expect(client.schedule).toEqual({ cron: "*/15 * * * *", timeZone: "Etc/UTC", mode: "sweep" });
  });

  it("rejects a cron with a seconds field, naming the field and value", () => {
    const err = thrownBy(ConfigError, () => parse('id: acme\nschedule:\n  cron: "0 */15 * * * *"\n'));
    expect(err.message).toContain('field "schedule.cron": must be a five-field unix-cron expression');
    expect(err.message).toContain('(got "0 */15 * * * *")');
  });

  it("rejects a cron that does not parse", () => {
    const err = thrownBy(ConfigError, () => parse('id: acme\nschedule:\n  cron: "61 * * * *"\n'));
    expect(err.problems[0]?.field).toBe("schedule.cron");
    expect(err.problems[0]?.message).toMatch(/is not a valid cron expression/);
  });

  it("rejects an unknown time zone", () => {
    const err = thrownBy(ConfigError, () =>
      parse('id: acme\nschedule:\n  cron: "0 5 * * *"\n  timeZone: Mars/Olympus\n'),
    );
    expect(err.message).toContain('field "schedule.timeZone": is not an IANA time zone');
    expect(err.message).toContain('"Mars/Olympus"');
  });

  it("rejects env names Batch reserves", () => {
    const err = thrownBy(ConfigError, () => parse("id: acme\njob:\n  env:\n    BATCH_TASK_INDEX: '3'\n"));
    expect(err.message).toBe(
      'clients/acme.yaml: field "job.env.BATCH_TASK_INDEX": names starting with BATCH_ are reserved by Google Batch (got "BATCH_TASK_INDEX")',
    );
  });

  it("rejects a secret ref that is not a Secret Manager version", () => {
    const err = thrownBy(ConfigError, () => parse("id: acme\njob:\n  secrets:\n    API_KEY: my-secret\n"));
    expect(err.problems[0]).toMatchObject({ field: "job.secrets.API_KEY", value: "my-secret" });
  });

  it("accepts IAM members and rejects bare emails", () => {
    expect(
      parse("id: acme\nuploaders: ['serviceAccount:up@p.iam.gserviceaccount.com']\n").uploaders,
    ).toHaveLength(1);
    const err = thrownBy(ConfigError, () => parse("id: acme\nsubscribers: ['someone@example.com']\n"));
    expect(err.problems[0]).toMatchObject({ field: "subscribers.0", value: "someone@example.com" });
  });

  it.each(["Acme", "1acme", "acme-", "a_b", "abcdefghijklmnopqrstuvwxy"])(
    "rejects the client id %j",
    (id) => {
      const err = thrownBy(ConfigError, () => parse(`id: "${id}"\n`));
      expect(err.problems[0]).toMatchObject({ field: "id", value: id });
    },
  );

  it("requires the id to match the file name", () => {
    const dir = configDir({ "acme.yaml": "id: other\n" });
    const err = thrownBy(ConfigError, () => loadClientConfig(join(dir, "clients", "acme.yaml")));
    expect(err.message).toBe(
      `${join(dir, "clients", "acme.yaml")}: field "id": must equal the file name "acme" (got "other")`,
    );
  });

  it("names a missing file", () => {
    const err = thrownBy(ConfigError, () => loadClientConfig("/nonexistent/clients/x.yaml"));
    expect(err.message).toMatch(/^\/nonexistent\/clients\/x\.yaml: document: cannot be read/);
  });
});

describe("loadConfig", () => {
  it("reads every client, sorted by id", () => {
    const dir = configDir({ "zeta.yaml": "id: zeta\n", "alpha.yml": "id: alpha\n", "notes.txt": "ignored" });
    expect([...loadConfig(dir).clients.keys()]).toEqual(["alpha", "zeta"]);
  });

  it("rejects two files for one client id", () => {
    const dir = configDir({ "acme.yaml": "id: acme\n", "acme.yml": "id: acme\n" });
    expect(() => loadConfig(dir)).toThrow(/field "id": is used by another client file \(got "acme"\)/);
  });

  it("fails naming the clients directory when it is missing", () => {
    const dir = tempDir("batchline-config-");
    writeFileSync(join(dir, "platform.yaml"), PLATFORM);
    expect(() => loadConfig(dir)).toThrow(`${join(dir, "clients")}: document: cannot be listed`);
  });
});

describe("resolveJobSettings", () => {
  it("lays client overrides over platform defaults and merges env", () => {
    const dir = configDir({
      "acme.yaml":
        "id: acme\nmaxInputFailures: 5\njob:\n  parallelism: 9\n  provisioningModel: STANDARD\n  env: { SHARED: client, EXTRA: x }\n",
    });
    const { platform, clients } = loadConfig(dir);
    const acme = clients.get("acme");
    if (!acme) throw new Error("acme missing");
    const job = resolveJobSettings(platform, acme);
    expect(job).toMatchObject({
      parallelism: 9,
      provisioningModel: "STANDARD",
      cpuMilli: 1000,
      processor: "uppercase",
    });
    expect(job.env).toEqual({ LOG_LEVEL: "info", SHARED: "client", EXTRA: "x" });
    expect(maxInputFailuresFor(platform, acme)).toBe(5);
  });
});
