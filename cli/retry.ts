import type { Command } from "commander";
import { areaPrefix, parseGsUri } from "../core/naming.ts";
import { readClaim, writeClaim } from "../functions/shared/claims.ts";
import { markPending } from "../functions/shared/pending-index.ts";
import { readInputs } from "./inputs.ts";
import { operatorCloud } from "./operate/cloud.ts";
import type { InputRow } from "./operate/input-state.ts";
import { EXIT, guarded, operatorCommand, UsageError, wholeNumber } from "./operate/usage.ts";
import { followRun, startManualRun } from "./run.ts";
import { clientOrExit, configOrExit } from "./shared.ts";

/**
 * The object name an operator means: a path under the client's inputs/, the full object name, or a gs:// URI
 * of the platform bucket.
 */
export function inputObjectName(text: string, bucket: string, inputsPrefix: string): string {
  let name = text;
  if (text.startsWith("gs://")) {
    const uri = parseGsUri(text);
    if (uri.bucket !== bucket) throw new UsageError(`${text} is not in the platform bucket gs://${bucket}`);
    name = uri.name;
  }
  return name.startsWith(inputsPrefix) ? name : `${inputsPrefix}${name.replace(/^\/+/, "")}`;
}

/** What retry did with one input. */
export interface RetryOutcome {
  input: string;
  /** cleared: its failures are reset and the next run takes it; pending: nothing to clear; refused: see reason. */
  result: "cleared" | "pending" | "refused";
  reason: string;
}

/**
 * Makes a failed or poison input pending again with no failures counted, by compare-and-swap on its claim
 * (as plan and notify write claims): the claim goes to `failed` with `failures: 0` for the same generation,
 * which the next plan claims (the input is marked in the client's pending index, so the next upload run takes it
 * too). A claim that changed since it was read is left alone and reported.
 */
export async function clearFailures(
  bucket: import("@google-cloud/storage").Bucket,
  row: InputRow,
  now: Date,
): Promise<RetryOutcome> {
  const base = { input: row.path };
  if (row.state === "pending")
    return { ...base, result: "pending", reason: "already pending: nothing to clear" };
  if (row.state === "running")
    return { ...base, result: "refused", reason: `a live run holds it (${row.reason})` };
  if (row.state === "done") {
    return {
      ...base,
      result: "refused",
      reason: `processed by run ${row.runId}; upload it again to process it again`,
    };
  }
  if (row.state === "invalid")
    return { ...base, result: "refused", reason: `its claim is not readable: ${row.reason}` };
  const claim = await readClaim(bucket, row.claim);
  if (claim === null) {
    // Poison without a claim: the next plan refuses it (too big, an unsafe name); no count to clear.
    return { ...base, result: "refused", reason: row.reason || "it has no claim to clear" };
  }
  if (!claim.valid || claim.claim.inputGeneration !== row.generation) {
    return {
      ...base,
      result: "refused",
      reason: "its claim changed while retrying; look again with `batchline inputs`",
    };
  }
  const c = claim.claim;
  if (c.state !== "failed" && c.state !== "poison") {
    return { ...base, result: "refused", reason: `its claim is now ${c.state}` };
  }
  const written = await writeClaim(
    bucket,
    row.claim,
    row.object,
    {
      ...c,
      state: "failed",
      failures: "0",
      reason: `failures cleared by an operator at ${now.toISOString()} (was ${c.state}, ${c.failures} failure(s): ${c.reason})`,
    },
    claim.generation,
  );
  if (written === null) {
    return {
      ...base,
      result: "refused",
      reason: "its claim changed while retrying; look again with `batchline inputs`",
    };
  }
  // Into the client's pending index: the input may be below the sweep watermark, which sweeps do not look under.
  const [product = "", client = ""] = row.object.split("/");
  await markPending(bucket, product, client, row.object, "failures cleared by an operator");
  return { ...base, result: "cleared", reason: `was ${c.state} after ${c.failures} failure(s)` };
}

interface RetryOptions {
  client: string;
  config: string;
  allFailed?: boolean;
  run?: boolean;
  wait?: boolean;
  poll: string;
  json?: boolean;
}

/** `batchline retry --client C (INPUT… | --all-failed) [--run [--wait]]` */
export function registerRetryCommand(program: Command): void {
  operatorCommand(
    program
      .command("retry")
      .description(
        "clear the failures of failed or poison inputs so the next run takes them again; --run starts that run now",
      )
      .argument("[inputs...]", "inputs: paths under the client's inputs/, object names or gs:// URIs")
      .requiredOption("--client <id>", "client id")
      .option("--config <dir>", "config directory", "config")
      .option("--all-failed", "every failed or poison input of the client")
      .option("--run", "then start a manual run, as `batchline run` does")
      .option("--wait", "with --run, follow the run to its message (exit 0 SUCCEEDED, 1 FAILED)")
      .option("--poll <seconds>", "seconds between looks at the execution with --wait", "2")
      .option("--json", "print JSON"),
  ).action(
    guarded(async (names: string[], opts: RetryOptions) => {
      if (names.length > 0 && opts.allFailed) throw new UsageError("give inputs or --all-failed, not both");
      if (names.length === 0 && !opts.allFailed)
        throw new UsageError("name the inputs to retry, or pass --all-failed");
      if (opts.wait && !opts.run) throw new UsageError("--wait needs --run");
      const pollMs = wholeNumber("--poll", opts.poll, 1) * 1000;
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const { platform } = config;
      const inputsPrefix = areaPrefix(platform.product, client.id, "inputs");
      const cloud = operatorCloud(config);
      try {
        const now = new Date();
        const rows = await readInputs(cloud, client, now);
        const byObject = new Map(rows.map((r) => [r.object, r]));
        let chosen: InputRow[];
        if (opts.allFailed) {
          chosen = rows.filter((r) => r.state === "failed" || r.state === "poison");
        } else {
          const wanted = names.map((n) => ({ n, object: inputObjectName(n, platform.bucket, inputsPrefix) }));
          const unknown = wanted.filter((w) => !byObject.has(w.object));
          if (unknown.length > 0) {
            throw new UsageError(
              `not an input of client ${client.id}: ${unknown.map((u) => `${u.n} (no gs://${platform.bucket}/${u.object})`).join(", ")}`,
            );
          }
          chosen = [...new Set(wanted.map((w) => w.object))].map((o) => byObject.get(o) as InputRow);
        }
        const outcomes: RetryOutcome[] = [];
        for (const row of chosen) outcomes.push(await clearFailures(cloud.bucket, row, now));
        if (opts.json) console.log(JSON.stringify(outcomes, null, 2));
        else if (outcomes.length === 0) console.log(`no failed or poison inputs for client ${client.id}`);
        else for (const o of outcomes) console.log(`${o.input}: ${o.result} (${o.reason})`);
        const refused = outcomes.some((o) => o.result === "refused");
        if (!opts.run) return refused ? EXIT.FAILED : EXIT.OK;
        const started = await startManualRun(cloud, client.id);
        const say = opts.json ? console.error : console.log;
        say(`execution ${started.execution}`);
        say(`run ${started.runId}`);
        const code = opts.wait
          ? await followRun(cloud, client.id, started, { pollMs, json: Boolean(opts.json) })
          : EXIT.OK;
        return refused ? EXIT.FAILED : code;
      } finally {
        await cloud.close();
      }
    }),
  );
}
