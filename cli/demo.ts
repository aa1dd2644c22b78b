import type { Command } from "commander";

/** `batchline demo` (what `npm start` runs): the whole pipeline on the local cloud, end to end. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "run the whole pipeline locally: upload the examples, run the job, print the client's message",
    )
    .action(() => {
      // The pipeline (worker, functions, workflow, local Batch, Eventarc, Scheduler) is not built yet.
      console.error(
        "batchline demo: not yet available — the end-to-end pipeline has not landed yet.\n" +
          "What runs today: `batchline local gcs` (the Cloud Storage emulator) and `batchline config`.",
      );
      process.exitCode = 1;
    });
}
