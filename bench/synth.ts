/**
 * `npm run bench:synth`: how long `cdktf synth` (the app's own synthesize(), no terraform binary) takes for
 * a product with 1,000 client stacks, as a ratio against 10 client stacks measured in the same run. Client
 * configs are generated (bench/fixtures/many-clients.ts) over the infra test fixture's platform.yaml. Each
 * size is synthesized `--rounds` times into a fresh directory; the median counts. Also checks that the
 * platform stack's JSON is byte-identical at both sizes (the registry keeps clients out of it).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { synthesize } from "../infra/app.ts";
import { settingsFromEnv } from "../infra/settings.ts";
import { writeManyClients } from "./fixtures/many-clients.ts";
import { writeResultsSection } from "./results-file.ts";

const PLATFORM_DIR = "test/fixtures/infra/config";
const WORKFLOW = "test/fixtures/infra/batch.workflows.yaml";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "1000" },
    baseline: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    "no-write": { type: "boolean", default: false },
  },
});
const sizes = [Number(values.baseline), Number(values.clients)];
const rounds = Number(values.rounds);
// One local-state directory for every size: the backend's path is part of each stack's JSON.
const stateDir = mkdtempSync(join(tmpdir(), "batchline-bench-synth-state-"));

interface Measured {
  clients: number;
  ms: number[];
  medianMs: number;
  platformJson: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function measure(clients: number): Measured {
  const root = mkdtempSync(join(tmpdir(), `batchline-bench-synth-${clients}-`));
  try {
    const configDir = join(root, "config");
    writeManyClients(PLATFORM_DIR, configDir, clients);
    const ms: number[] = [];
    let platformJson = "";
    for (let r = 0; r < rounds; r++) {
      const outdir = join(root, `out-${r}`);
      const settings = settingsFromEnv({
        BATCHLINE_CONFIG_DIR: configDir,
        BATCHLINE_WORKFLOW_FILE: WORKFLOW,
        CDKTF_OUTDIR: outdir,
        BATCHLINE_LOCAL_STATE_DIR: stateDir,
      });
      const start = performance.now();
      const result = synthesize(settings);
      ms.push(performance.now() - start);
      if (result.stacks.length !== clients + 1) {
        throw new Error(`expected ${clients + 1} stacks, synthesized ${result.stacks.length}`);
      }
      platformJson = readFileSync(join(outdir, "stacks", "platform", "cdk.tf.json"), "utf8");
      rmSync(outdir, { recursive: true, force: true });
    }
    console.log(`${clients} client stacks: ${ms.map((m) => (m / 1000).toFixed(2)).join(", ")} s`);
    return { clients, ms, medianMs: median(ms), platformJson };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const [baseline, large] = sizes.map(measure) as [Measured, Measured];
rmSync(stateDir, { recursive: true, force: true });
const ratio = large.medianMs / baseline.medianMs;
const perStack = (m: Measured) => (m.medianMs / m.clients).toFixed(1);
const identical = large.platformJson === baseline.platformJson;
if (!values["no-write"]) {
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"} ` +
      `(shared with other processes), Node ${process.version}, with \`npm run bench:synth\` ` +
      `(\`--clients ${large.clients} --baseline ${baseline.clients} --rounds ${rounds}\`). Wall time of the app's ` +
      "synthesize() (config load, every stack, JSON written), median of the rounds; client configs generated " +
      "by bench/fixtures/many-clients.ts over test/fixtures/infra/config/platform.yaml.",
    "",
    "| client stacks | median synth | per client stack | rounds (s) |",
    "| ---: | ---: | ---: | --- |",
    ...[baseline, large].map(
      (m) =>
        `| ${m.clients} | ${(m.medianMs / 1000).toFixed(2)} s | ${perStack(m)} ms | ${m.ms.map((x) => (x / 1000).toFixed(2)).join(", ")} |`,
    ),
    "",
    `Ratio ${large.clients} / ${baseline.clients} client stacks: **${ratio.toFixed(1)}×** ` +
      `(${(large.clients / baseline.clients).toFixed(0)}× the stacks). Platform stack JSON byte-identical at both ` +
      `sizes: ${identical ? "yes" : "NO"}.`,
  ].join("\n");
  writeResultsSection("Synth of many client stacks (bench/synth.ts)", body);
}
console.log(`platform stack identical at ${baseline.clients} and ${large.clients} clients: ${identical}`);
console.log(`ratio synth ${large.clients} / ${baseline.clients} client stacks: ${ratio.toFixed(2)}`);
if (!identical) process.exitCode = 1;
