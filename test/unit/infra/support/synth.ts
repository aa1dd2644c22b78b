import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { synthesize } from "../../../../infra/app.ts";
import type { Retention } from "../../../../infra/constructs/platform-bucket.ts";
import { settingsFromEnv } from "../../../../infra/settings.ts";
import { tempDir } from "../../../support/temp.ts";
import type { StackJson } from "./provider-schema.ts";

export const FIXTURES = fileURLToPath(new URL("../../../fixtures/infra", import.meta.url));
export const FIXTURE_CONFIG = join(FIXTURES, "config");
export const FIXTURE_WORKFLOW = join(FIXTURES, "batch.workflows.yaml");

export interface Synthesized {
  outdir: string;
  stacks: string[];
  stack(name: string): StackJson;
}

/**
 * Synthesizes the app the way `npm run infra:synth` does (settings from environment variables, config
 * through core's loader), into a fresh temp dir, and reads back the JSON each stack wrote.
 */
export function synthWith(env: Record<string, string> = {}, retention?: Retention): Synthesized {
  const outdir = tempDir("batchline-synth-");
  const settings = settingsFromEnv({
    BATCHLINE_CONFIG_DIR: FIXTURE_CONFIG,
    BATCHLINE_WORKFLOW_FILE: FIXTURE_WORKFLOW,
    CDKTF_OUTDIR: outdir,
    BATCHLINE_LOCAL_STATE_DIR: join(outdir, "state"),
    ...env,
  });
  const result = synthesize(settings, retention);
  return {
    outdir,
    stacks: result.stacks,
    stack: (name) =>
      JSON.parse(readFileSync(join(outdir, "stacks", name, "cdk.tf.json"), "utf8")) as StackJson,
  };
}

/** A copy of the fixture config dir, with files replaced or added (`clients/x.yaml` → text). */
export function configDirWith(files: Record<string, string>): string {
  const dir = tempDir("batchline-infra-config-");
  cpSync(FIXTURE_CONFIG, dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

export type Body = Record<string, unknown>;

/** The instances of one resource type in a stack, by Terraform name. */
export function resourcesOf(stack: StackJson, type: string): [string, Body][] {
  return Object.entries(stack.resource?.[type] ?? {});
}

/** Every resource in a stack as [type, name, body]. */
export function allResources(stack: StackJson): [string, string, Body][] {
  return Object.entries(stack.resource ?? {}).flatMap(([type, instances]) =>
    Object.entries(instances).map(([name, body]): [string, string, Body] => [type, name, body]),
  );
}

/**
 * Resolves `${google_service_account.NAME.email|member}` to the literal email or member it will be, from the
 * account's `account_id` and `project` in the same stack; literals pass through unchanged.
 */
export function resolveAccount(stack: StackJson, value: unknown): string {
  if (typeof value !== "string") throw new Error(`not a string: ${JSON.stringify(value)}`);
  const m = /^\$\{google_service_account\.([^.]+)\.(email|member)\}$/.exec(value);
  if (!m?.[1]) return value;
  const account = stack.resource?.google_service_account?.[m[1]];
  if (!account) throw new Error(`no google_service_account ${m[1]}`);
  const email = `${String(account.account_id)}@${String(account.project)}.iam.gserviceaccount.com`;
  return m[2] === "email" ? email : `serviceAccount:${email}`;
}

/** The one instance of a resource type whose attribute has a value; fails when there is not exactly one. */
export function findOne(stack: StackJson, type: string, attribute: string, value: unknown): Body {
  const found = resourcesOf(stack, type).filter(([, body]) => body[attribute] === value);
  if (found.length !== 1) {
    throw new Error(`expected one ${type} with ${attribute}=${JSON.stringify(value)}, found ${found.length}`);
  }
  return found[0]?.[1] as Body;
}

/**
 * What Terraform hands the provider for a string written without expressions: `$${` and `%%{` undone
 * (infra/terraform-literal.ts writes them).
 */
export function asTerraformPassesIt(text: string): string {
  return text.replace(/\$\$\{/g, () => "${").replace(/%%\{/g, () => "%{");
}
