import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { Command } from "commander";
import { Document } from "yaml";
import { parseConfigText } from "../core/config/load.ts";
import { type ClientConfig, clientConfigSchema } from "../core/config/schema.ts";
import { ConfigError, describeValue } from "../core/errors.ts";

/** Options of `batchline clients add`, as commander hands them over. */
export interface AddClientOptions {
  cron?: string;
  timeZone?: string;
  mode?: string;
  uploader?: string[];
  subscriber?: string[];
  machineType?: string;
  provisioningModel?: string;
  parallelism?: string;
  priority?: string;
  maxConcurrentJobs?: string;
  processor?: string;
  displayName?: string;
  pullSubscription?: boolean;
  configDir: string;
  force?: boolean;
}

/** A flag the user got wrong; the command prints it and exits 2. */
export class ClientFlagError extends Error {}

/** Which flag sets which config field, so a schema problem is reported against what the user typed. */
const FLAG_OF_FIELD: [RegExp, string][] = [
  [/^id$/, "NAME"],
  [/^displayName$/, "--display-name"],
  [/^schedule\.cron$/, "--cron"],
  [/^schedule\.timeZone$/, "--time-zone"],
  [/^schedule\.mode$/, "--mode"],
  [/^uploaders(\.|$)/, "--uploader"],
  [/^subscribers(\.|$)/, "--subscriber"],
  [/^job\.machineType$/, "--machine-type"],
  [/^job\.provisioningModel$/, "--provisioning-model"],
  [/^job\.parallelism$/, "--parallelism"],
  [/^job\.priority$/, "--priority"],
  [/^maxConcurrentJobs$/, "--max-concurrent-jobs"],
  [/^job\.processor$/, "--processor"],
];

function flagOf(field: string): string {
  return FLAG_OF_FIELD.find(([re]) => re.test(field))?.[1] ?? "a flag";
}

/** The config document the flags describe: only what was given, plus the schedule's defaults made explicit. */
export function clientDocument(name: string, opts: AddClientOptions): Record<string, unknown> {
  if (!opts.cron && (opts.timeZone !== undefined || opts.mode !== undefined)) {
    throw new ClientFlagError(`${opts.timeZone !== undefined ? "--time-zone" : "--mode"} needs --cron`);
  }
  const doc: Record<string, unknown> = { id: name };
  if (opts.displayName !== undefined) doc.displayName = opts.displayName;
  if (opts.cron !== undefined) {
    doc.schedule = { cron: opts.cron, timeZone: opts.timeZone ?? "Etc/UTC", mode: opts.mode ?? "sweep" };
  }
  const job: Record<string, unknown> = {};
  if (opts.machineType !== undefined) job.machineType = opts.machineType;
  if (opts.provisioningModel !== undefined) job.provisioningModel = opts.provisioningModel.toUpperCase();
  if (opts.parallelism !== undefined) job.parallelism = wholeNumber("--parallelism", opts.parallelism);
  if (opts.priority !== undefined) job.priority = wholeNumber("--priority", opts.priority);
  if (opts.processor !== undefined) job.processor = opts.processor;
  if (Object.keys(job).length > 0) doc.job = job;
  if (opts.uploader?.length) doc.uploaders = [...new Set(opts.uploader)];
  if (opts.subscriber?.length) doc.subscribers = [...new Set(opts.subscriber)];
  if (opts.pullSubscription) doc.pullSubscription = true;
  if (opts.maxConcurrentJobs !== undefined) {
    doc.maxConcurrentJobs = wholeNumber("--max-concurrent-jobs", opts.maxConcurrentJobs);
  }
  return doc;
}

function wholeNumber(flag: string, raw: string): number {
  if (!/^\d+$/.test(raw))
    throw new ClientFlagError(`invalid ${flag} ${describeValue(raw)}: must be a whole number`);
  return Number(raw);
}

/** Renders the document as the YAML file the command writes. */
export function clientYaml(doc: Record<string, unknown>): string {
  const yaml = new Document(doc);
  yaml.commentBefore =
    ` Client ${String(doc.id)}, written by \`batchline clients add\`. Validated by core/config/schema.ts;` +
    "\n edit freely. Deploy (onboard) with `cdktf deploy client-" +
    `${String(doc.id)}\` once the platform stack exists (docs/deploy.md).`;
  return yaml.toString({ lineWidth: 0 });
}

/** Validates with core's client schema, reporting each problem against the flag that set the field. */
export function validateClient(file: string, text: string): ClientConfig {
  try {
    return parseConfigText(file, text, clientConfigSchema);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const lines = err.problems.map((p) => {
      const value = p.value === undefined ? "" : ` (got ${describeValue(p.value)})`;
      return `invalid ${flagOf(p.field)}: field "${p.field}" ${p.message}${value}`;
    });
    throw new ClientFlagError(lines.join("\n"));
  }
}

/** Writes `<configDir>/clients/<name>.yaml`; returns the path written. */
export function addClient(name: string, opts: AddClientOptions): string {
  const doc = clientDocument(name, opts);
  const text = clientYaml(doc);
  const file = join(opts.configDir, "clients", `${name}.yaml`);
  // Validate before touching the file system: the id also becomes the file name.
  validateClient(file, text);
  if (existsSync(file) && !opts.force) {
    throw new ClientFlagError(`${file} already exists; pass --force to overwrite it`);
  }
  mkdirSync(join(opts.configDir, "clients"), { recursive: true });
  writeFileSync(file, text, { flag: opts.force ? "w" : "wx" });
  return file;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerClientsCommands(program: Command): void {
  const clients = program
    .command("clients")
    .description("manage client configs (config/clients/<name>.yaml)");
  clients
    .command("add")
    .description("write config/clients/<name>.yaml for a new client, validated by the config schema")
    .argument("<name>", "client id: 1-24 of a-z 0-9 -, starting with a letter")
    .option("--cron <expr>", 'five-field unix cron for scheduled runs, e.g. "4 5 * * *"')
    .option("--time-zone <tz>", "IANA time zone the cron is read in (default Etc/UTC)")
    .option("--mode <mode>", "sweep (only when inputs are pending) or always (default sweep)")
    .option("--uploader <member>", "IAM member that uploads for the client (repeatable)", collect)
    .option(
      "--subscriber <member>",
      "IAM member that may read the client's results topic (repeatable)",
      collect,
    )
    .option("--machine-type <type>", "Compute Engine machine type for the client's jobs")
    .option("--provisioning-model <model>", "SPOT or STANDARD")
    .option("--parallelism <n>", "tasks run at once")
    .option("--priority <n>", "the Batch jobs' priority, 0 (default) to 99")
    .option("--max-concurrent-jobs <n>", "most Batch jobs of this client at once (default 1)")
    .option("--processor <name>", "worker processor for each input")
    .option("--display-name <text>", "human name for docs and messages")
    .option("--pull-subscription", "create a pull subscription on the client's results topic")
    .option("--config-dir <dir>", "config directory", "config")
    .option("--force", "overwrite an existing client file")
    // Flag mistakes commander catches itself (unknown flag, missing value) exit 2 like the rest.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action((name: string, opts: AddClientOptions) => {
      try {
        const file = addClient(name, opts);
        console.log(`wrote ${relative(process.cwd(), file) || file}`);
        console.log(`next: cdktf deploy client-${name}   (see docs/deploy.md, "Onboard a client")`);
        // The local cloud writes every client's registry object, trigger, topic and schedule at start.
        if (process.env.STORAGE_EMULATOR_HOST) {
          console.log("local cloud: restart `batchline local up` to onboard the client there");
        }
      } catch (err) {
        if (!(err instanceof ClientFlagError)) throw err;
        console.error(err.message);
        process.exitCode = 2;
      }
    });
}
