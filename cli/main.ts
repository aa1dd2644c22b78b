import { Command } from "commander";
import { registerCommands } from "./commands.ts";
import { describeFailure } from "./failure.ts";

const program = new Command("batchline")
  .description("Event-driven per-client batch lanes on Google Cloud, and a local cloud to run them on")
  .showHelpAfterError();
registerCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  // No user sees a stack trace: one line that says what failed (BATCHLINE_DEBUG=1 adds the stack).
  console.error(`batchline: ${describeFailure(err)}`);
  if (process.env.BATCHLINE_DEBUG && err instanceof Error && err.stack) console.error(err.stack);
  process.exit(1);
}
