import { Command } from "commander";
import { registerCommands } from "./commands.ts";

const program = new Command("batchline")
  .description("Event-driven per-client batch lanes on Google Cloud, and a local cloud to run them on")
  .showHelpAfterError();
registerCommands(program);
await program.parseAsync(process.argv);
