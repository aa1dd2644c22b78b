import type { Command } from "commander";
import { maxInputFailuresFor } from "../core/config/load.ts";
import type { ClientConfig } from "../core/config/schema.ts";
import { areaPrefix, isFolderPlaceholder } from "../core/naming.ts";
import { claimNameFor, parseClaim } from "../functions/shared/claims.ts";
import { listObjects } from "../functions/shared/gcs.ts";
import { type OperatorCloud, operatorCloud } from "./operate/cloud.ts";
import { INPUT_STATES, type InputRow, type InputState, inputState } from "./operate/input-state.ts";
import { EXIT, guarded, operatorCommand, printTable, UsageError } from "./operate/usage.ts";
import { clientOrExit, configOrExit } from "./shared.ts";

/** Every input of a client with its state: one listing of inputs/ and one of claims/ (claims carry their state). */
export async function readInputs(cloud: OperatorCloud, client: ClientConfig, now: Date): Promise<InputRow[]> {
  const { platform } = cloud.config;
  const inputsPrefix = areaPrefix(platform.product, client.id, "inputs");
  const [inputs, claims] = await Promise.all([
    listObjects(cloud.bucket, inputsPrefix),
    listObjects(cloud.bucket, areaPrefix(platform.product, client.id, "claims")),
  ]);
  const byName = new Map(claims.map((c) => [c.name, parseClaim(c.generation, c.metadata)]));
  const rules = {
    product: platform.product,
    client: client.id,
    now,
    maxInputFailures: maxInputFailuresFor(platform, client),
    maxInputBytes: platform.maxInputBytes,
    maxInputsPerRun: platform.maxInputsPerRun,
  };
  return inputs
    .filter((o) => !isFolderPlaceholder(o.name))
    .map((o) => {
      const input = { name: o.name, generation: o.generation, size: o.size };
      return inputState(
        input,
        inputsPrefix,
        byName.get(claimNameFor(platform.product, client.id, o.name)),
        rules,
      );
    });
}

export function parseState(text: string | undefined): InputState | undefined {
  if (text === undefined) return undefined;
  if (!(INPUT_STATES as readonly string[]).includes(text)) {
    throw new UsageError(
      `invalid --state ${JSON.stringify(text)}: expected one of ${INPUT_STATES.join(", ")}`,
    );
  }
  return text as InputState;
}

interface InputsOptions {
  client: string;
  config: string;
  state?: string;
  json?: boolean;
}

/** `batchline inputs --client C [--state S]`: every input of the client and what the next run does with it. */
export function registerInputsCommand(program: Command): void {
  operatorCommand(
    program
      .command("inputs")
      .description("list a client's inputs with their state: pending, running, done, failed, poison, invalid")
      .requiredOption("--client <id>", "client id")
      .option("--config <dir>", "config directory", "config")
      .option("--state <state>", `only inputs in this state (${INPUT_STATES.join("|")})`)
      .option("--json", "print JSON instead of a table"),
  ).action(
    guarded(async (opts: InputsOptions) => {
      const state = parseState(opts.state);
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const cloud = operatorCloud(config);
      try {
        const rows = (await readInputs(cloud, client, new Date())).filter((r) => !state || r.state === state);
        if (opts.json) {
          console.log(JSON.stringify(rows, null, 2));
          return EXIT.OK;
        }
        if (rows.length === 0) {
          console.log(`no ${state ? `${state} ` : ""}inputs for client ${client.id} on ${cloud.target}`);
          return EXIT.OK;
        }
        printTable(
          ["INPUT", "STATE", "GENERATION", "FAILURES", "RUN", "REASON"],
          rows.map((r) => [r.path, r.state, r.generation, String(r.failures), r.runId ?? "-", r.reason]),
        );
        return EXIT.OK;
      } finally {
        await cloud.close();
      }
    }),
  );
}
