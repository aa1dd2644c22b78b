import type { Command } from "commander";
import { areaPrefix } from "../core/naming.ts";
import { type Manifest, manifestSchema, type Summary, summarySchema } from "../core/runs.ts";
import { clientOrExit, cloudClients, configOrExit } from "./shared.ts";

interface RunRow {
  runId: string;
  trigger: string;
  plannedAt: string;
  inputs: number;
  status: string;
  detail: string;
}

/** `batchline runs --client C`: the client's runs, newest first, with their status. */
export function registerRunsCommand(program: Command): void {
  program
    .command("runs")
    .description("list a client's runs and their status (local cloud when its env vars are set, else GCP)")
    .requiredOption("--client <id>", "client id")
    .option("--config <dir>", "config directory", "config")
    .option("--limit <n>", "show at most this many runs", "20")
    .option("--json", "print JSON instead of a table")
    .action(async (opts: { client: string; config: string; limit: string; json?: boolean }) => {
      const config = configOrExit(opts.config);
      const client = clientOrExit(config, opts.client);
      const { storage } = cloudClients(config);
      const bucket = storage.bucket(config.platform.bucket);
      const prefix = areaPrefix(config.platform.product, client.id, "runs");
      const [files] = await bucket.getFiles({ prefix, matchGlob: "**/manifest.json" });
      const rows: RunRow[] = [];
      for (const file of files) {
        const [raw] = await file.download();
        const manifest: Manifest = manifestSchema.parse(JSON.parse(raw.toString("utf8")));
        const summaryFile = bucket.file(`${prefix}${manifest.runId}/summary.json`);
        const [exists] = await summaryFile.exists();
        let status = "RUNNING";
        let detail = `${manifest.taskCount} task(s)`;
        if (exists) {
          const [summaryRaw] = await summaryFile.download();
          const summary: Summary = summarySchema.parse(JSON.parse(summaryRaw.toString("utf8")));
          const failed = summary.inputs.filter((i) => i.status === "FAILED").length;
          status = (summary.message as { status?: string }).status ?? "UNKNOWN";
          detail = `${summary.inputs.length - failed} ok, ${failed} failed, job ${summary.jobState ?? "none"}`;
        }
        rows.push({
          runId: manifest.runId,
          trigger: manifest.trigger.type,
          plannedAt: manifest.plannedAt,
          inputs: manifest.inputCount,
          status,
          detail,
        });
      }
      rows.sort((a, b) => b.plannedAt.localeCompare(a.plannedAt));
      const shown = rows.slice(0, Number(opts.limit));
      if (opts.json) {
        console.log(JSON.stringify(shown, null, 2));
        return;
      }
      if (shown.length === 0) {
        console.log(`no runs for client ${client.id} under gs://${config.platform.bucket}/${prefix}`);
        return;
      }
      const header = ["RUN", "TRIGGER", "PLANNED", "INPUTS", "STATUS", "DETAIL"];
      const table = [
        header,
        ...shown.map((r) => [r.runId, r.trigger, r.plannedAt, String(r.inputs), r.status, r.detail]),
      ];
      const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
      for (const row of table)
        console.log(
          row
            .map((cell, i) => cell.padEnd(widths[i] ?? 0))
            .join("  ")
            .trimEnd(),
        );
    });
}
