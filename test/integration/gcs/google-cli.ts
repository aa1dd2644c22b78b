import { spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The Google Cloud SDK's commands these tests drive, when they are installed. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, feeding `input` on stdin (or nothing). */
export function runCommand(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: Buffer | string,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

/** Runs a command and fails with its output when it exits non-zero. */
export async function mustRun(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: Buffer | string,
): Promise<CliResult> {
  const r = await runCommand(command, args, env, input);
  if (r.code !== 0) {
    throw new Error(
      `${command.split("/").pop()} ${args.join(" ")} exited ${r.code}\n${r.stderr.slice(-2000)}${r.stdout.slice(-500)}`,
    );
  }
  return r;
}

export interface CliConfig {
  /** Environment for `gcloud` (storage and, when given, Pub/Sub pointed at the emulators). */
  gcloud: NodeJS.ProcessEnv;
  /** Environment for `gsutil` in JSON mode (HTTPS to the emulator's TLS port). */
  gsutilJson?: NodeJS.ProcessEnv;
  /** Environment for `gsutil` in XML mode (through the emulator's CONNECT tunnel). */
  gsutilXml?: NodeJS.ProcessEnv;
}

/**
 * One Cloud SDK configuration (a fresh CLOUDSDK_CONFIG) pointed at the emulators, with the settings
 * docs/gcs-emulator.md gives. Files are written directly: each `gcloud config set` would cost a
 * Python start-up.
 */
export function googleCliConfig(options: {
  dir: string;
  project: string;
  storageUrl: string;
  pubsubHost?: string;
  tls?: { caFile: string; httpsPort: number; httpPort: number };
  /** Extra `[storage]` properties, e.g. parallel composite upload settings. */
  storage?: Record<string, string>;
}): CliConfig {
  const sdk = join(options.dir, "gcloud");
  mkdirSync(join(sdk, "configurations"), { recursive: true });
  writeFileSync(join(sdk, "active_config"), "default");
  const lines = [
    "[core]",
    `project = ${options.project}`,
    "disable_usage_reporting = True",
    "[auth]",
    "disable_credentials = True",
    "[component_manager]",
    "disable_update_check = True",
    "[api_endpoint_overrides]",
    `storage = ${options.storageUrl}/`,
  ];
  if (options.pubsubHost) lines.push(`pubsub = http://${options.pubsubHost}/`);
  if (options.storage) {
    lines.push("[storage]");
    for (const [k, v] of Object.entries(options.storage)) lines.push(`${k} = ${v}`);
  }
  writeFileSync(join(sdk, "configurations", "config_default"), `${lines.join("\n")}\n`);

  // The machine may set CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE (it wins over the config file, and gcloud's
  // gsutil wrapper passes it to gsutil as ca_certificates_file), so it is set here, not in the file.
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    CLOUDSDK_CONFIG: sdk,
    CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
    BOTO_CONFIG: "/dev/null",
  };
  delete base.BOTO_PATH;
  delete base.STORAGE_EMULATOR_HOST;
  const config: CliConfig = { gcloud: { ...base } };
  const tls = options.tls;
  if (tls) {
    const common = [
      "[Boto]",
      "https_validate_certificates = True",
      `ca_certificates_file = ${tls.caFile}`,
      "num_retries = 1",
      "max_retry_delay = 1",
    ];
    const jsonCfg = join(options.dir, "boto-json.cfg");
    writeFileSync(
      jsonCfg,
      [
        "[Credentials]",
        "gs_json_host = 127.0.0.1",
        `gs_json_port = ${tls.httpsPort}`,
        ...common,
        "[GSUtil]",
        "prefer_api = json",
        `default_project_id = ${options.project}`,
        "",
      ].join("\n"),
    );
    const xmlCfg = join(options.dir, "boto-xml.cfg");
    writeFileSync(
      xmlCfg,
      [
        "[Credentials]",
        "gs_host = localhost",
        // The few commands gsutil always runs on the JSON API want these even in XML mode.
        "gs_json_host = 127.0.0.1",
        `gs_json_port = ${tls.httpsPort}`,
        ...common,
        "proxy = 127.0.0.1",
        `proxy_port = ${tls.httpPort}`,
        "[GSUtil]",
        "prefer_api = xml",
        `default_project_id = ${options.project}`,
        "",
      ].join("\n"),
    );
    const ca = { CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE: tls.caFile };
    config.gsutilJson = { ...base, ...ca, BOTO_CONFIG: jsonCfg };
    config.gsutilXml = { ...base, ...ca, BOTO_CONFIG: xmlCfg };
  }
  return config;
}
