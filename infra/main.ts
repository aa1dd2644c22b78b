// `npm run infra:synth`, and the `app` the cdktf CLI runs (cdktf.json): writes every stack's Terraform JSON.
import { relative } from "node:path";
import { BatchlineError } from "../core/errors.ts";
import { synthesize } from "./app.ts";
import { settingsFromEnv } from "./settings.ts";

try {
  const result = synthesize(settingsFromEnv());
  const where = relative(process.cwd(), result.outdir) || ".";
  console.log(`synthesized ${result.stacks.join(", ")} to ${where}/stacks/`);
} catch (err) {
  if (!(err instanceof BatchlineError)) throw err;
  // Config and settings errors already name the file, field and value: print them, not a stack trace.
  console.error(`infra synth: ${err.message}`);
  process.exitCode = 2;
}
