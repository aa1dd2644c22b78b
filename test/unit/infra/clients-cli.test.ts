import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadClientConfig, loadConfig } from "../../../core/config/load.ts";
import { REPO_ROOT } from "../../../infra/settings.ts";
import { tempDir } from "../../support/temp.ts";
import { FIXTURE_CONFIG, synthWith } from "./support/synth.ts";

/** Runs the real command, as a user would: `node bin/batchline.js clients add …`. */
function batchline(args: string[]) {
  return spawnSync(process.execPath, [join(REPO_ROOT, "bin", "batchline.js"), "clients", "add", ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
}

function configDir(): string {
  return tempDir("batchline-clients-");
}

describe("batchline clients add", () => {
  it("writes a client file that core's loader reads back as the flags said", () => {
    const dir = configDir();
    const result = batchline([
      "globex",
      "--cron",
      "*/15 * * * *",
      "--time-zone",
      "America/New_York",
      "--mode",
      "always",
      "--uploader",
      "group:globex-data@example.com",
      "--uploader",
      "serviceAccount:up@globex-prod.iam.gserviceaccount.com",
      "--subscriber",
      "user:ops@globex.example",
      "--machine-type",
      "n2-standard-4",
      "--provisioning-model",
      "standard",
      "--parallelism",
      "16",
      "--processor",
      "uppercase",
      "--pull-subscription",
      "--config-dir",
      dir,
    ]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const file = join(dir, "clients", "globex.yaml");
    expect(result.stdout).toContain("wrote ");
    expect(result.stdout).toContain("globex.yaml");
    const client = loadClientConfig(file);
    expect(client).toEqual({
      id: "globex",
      schedule: { cron: "*/15 * * * *", timeZone: "America/New_York", mode: "always" },
      job: {
        machineType: "n2-standard-4",
        provisioningModel: "STANDARD",
        parallelism: 16,
        processor: "uppercase",
      },
      uploaders: ["group:globex-data@example.com", "serviceAccount:up@globex-prod.iam.gserviceaccount.com"],
      subscribers: ["user:ops@globex.example"],
      pullSubscription: true,
      debounceSeconds: 0,
      maxConcurrentJobs: 1,
    });
    expect(readFileSync(file, "utf8")).toMatch(/^# Client globex, written by `batchline clients add`/);
  });

  it("writes a minimal file when given only a name, and the stack for it synthesizes", () => {
    const dir = configDir();
    copyFileSync(join(FIXTURE_CONFIG, "platform.yaml"), join(dir, "platform.yaml"));
    const result = batchline(["initech", "--config-dir", dir]);
    expect(result.status).toBe(0);
    const text = readFileSync(join(dir, "clients", "initech.yaml"), "utf8");
    expect(text.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual(["id: initech"]);
    expect([...loadConfig(dir).clients.keys()]).toEqual(["initech"]);
    const synth = synthWith({ BATCHLINE_CONFIG_DIR: dir });
    expect(synth.stacks).toEqual(["platform", "client-initech"]);
  });

  it("refuses to overwrite without --force, and overwrites with it", () => {
    const dir = configDir();
    expect(batchline(["acme", "--config-dir", dir]).status).toBe(0);
    const file = join(dir, "clients", "acme.yaml");
    writeFileSync(file, "id: acme\ndisplayName: hand-edited\n");

    const refused = batchline(["acme", "--parallelism", "3", "--config-dir", dir]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe(`${file} already exists; pass --force to overwrite it\n`);
    expect(readFileSync(file, "utf8")).toBe("id: acme\ndisplayName: hand-edited\n");

    const forced = batchline([
      "acme",
      "--parallelism",
      "3",
      "--priority",
      "40",
      "--max-concurrent-jobs",
      "2",
      "--config-dir",
      dir,
      "--force",
    ]);
    expect(forced.status).toBe(0);
    const written = loadClientConfig(file);
    expect(written.job).toMatchObject({ parallelism: 3, priority: 40 });
    expect(written.maxConcurrentJobs).toBe(2);
  });

  it.each([
    [["acme", "--parallelism", "0"], 'invalid --parallelism: field "job.parallelism" ', "(got 0)"],
    [["acme", "--parallelism", "many"], 'invalid --parallelism "many": must be a whole number', ""],
    [["acme", "--priority", "100"], 'invalid --priority: field "job.priority" ', "(got 100)"],
    [
      ["acme", "--max-concurrent-jobs", "0"],
      'invalid --max-concurrent-jobs: field "maxConcurrentJobs" ',
      "(got 0)",
    ],
    [
      ["acme", "--uploader", "alice@example.com"],
      'invalid --uploader: field "uploaders.0" must be an IAM member',
      '(got "alice@example.com")',
    ],
    [
      ["acme", "--subscriber", "ops"],
      'invalid --subscriber: field "subscribers.0" must be an IAM member',
      '(got "ops")',
    ],
    [
      ["acme", "--cron", "61 * * * *"],
      'invalid --cron: field "schedule.cron" is not a valid cron expression',
      '(got "61 * * * *")',
    ],
    [
      ["acme", "--cron", "* * * *"],
      'invalid --cron: field "schedule.cron" must be a five-field unix-cron expression',
      '(got "* * * *")',
    ],
    [
      ["acme", "--cron", "4 5 * * *", "--time-zone", "Mars/Olympus"],
      'invalid --time-zone: field "schedule.timeZone" is not an IANA time zone',
      '(got "Mars/Olympus")',
    ],
    [
      ["acme", "--cron", "4 5 * * *", "--mode", "often"],
      'invalid --mode: field "schedule.mode" ',
      '(got "often")',
    ],
    [
      ["acme", "--provisioning-model", "cheap"],
      'invalid --provisioning-model: field "job.provisioningModel" ',
      '(got "CHEAP")',
    ],
    [
      ["acme", "--machine-type", "E2_BIG"],
      'invalid --machine-type: field "job.machineType" must be a machine type',
      '(got "E2_BIG")',
    ],
    [["Acme_Corp"], 'invalid NAME: field "id" must be 1-24 characters', '(got "Acme_Corp")'],
    [["acme", "--time-zone", "Europe/Paris"], "--time-zone needs --cron", ""],
  ])("fails with exit 2 naming the flag, field and value: %j", (args, message, value) => {
    const dir = configDir();
    const result = batchline([...args, "--config-dir", dir]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain(value);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, "clients"))).toBe(false);
  });

  it("exits 2 on a flag it does not know", () => {
    const result = batchline(["acme", "--bogus", "--config-dir", configDir()]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown option '--bogus'");
  });
});
