import type { Command } from "commander";
import { registerConfigCommands } from "./config.ts";

/** Every command group; later parts add theirs here. */
export function registerCommands(program: Command): void {
  registerConfigCommands(program);
}
