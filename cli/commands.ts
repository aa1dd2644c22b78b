import type { Command } from "commander";
import { registerClientsCommands } from "./clients.ts";
import { registerConfigCommands } from "./config.ts";
import { registerConsoleCommand } from "./console.ts";
import { registerDemoCommand } from "./demo.ts";
import { registerInputsCommand } from "./inputs.ts";
import { registerLocalCommands } from "./local.ts";
import { registerLocalCloudCommands } from "./local-cloud.ts";
import { registerLogsCommand } from "./logs.ts";
import { registerRetryCommand } from "./retry.ts";
import { registerRunCommand } from "./run.ts";
import { registerRunsCommand } from "./runs.ts";
import { registerStatusCommand } from "./status.ts";
import { registerTailCommand } from "./tail.ts";
import { registerWorkflowsCommands } from "./workflows.ts";

/** Every command group; later parts add theirs here. */
export function registerCommands(program: Command): void {
  registerConfigCommands(program);
  registerClientsCommands(program);
  registerDemoCommand(program);
  registerLocalCloudCommands(program);
  registerLocalCommands(program);
  registerRunCommand(program);
  registerRunsCommand(program);
  registerStatusCommand(program);
  registerLogsCommand(program);
  registerInputsCommand(program);
  registerRetryCommand(program);
  registerTailCommand(program);
  registerConsoleCommand(program);
  registerWorkflowsCommands(program);
}
