import type { Command } from "commander";
import { registerClientsCommands } from "./clients.ts";
import { registerConfigCommands } from "./config.ts";
import { registerDemoCommand } from "./demo.ts";
import { registerLocalCommands } from "./local.ts";
import { registerLocalCloudCommands } from "./local-cloud.ts";
import { registerRunsCommand } from "./runs.ts";
import { registerTailCommand } from "./tail.ts";
import { registerWorkflowsCommands } from "./workflows.ts";

/** Every command group; later parts add theirs here. */
export function registerCommands(program: Command): void {
  registerConfigCommands(program);
  registerClientsCommands(program);
  registerDemoCommand(program);
  registerLocalCloudCommands(program);
  registerLocalCommands(program);
  registerRunsCommand(program);
  registerTailCommand(program);
  registerWorkflowsCommands(program);
}
