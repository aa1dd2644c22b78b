import type { Command } from "commander";

/**
 * Exit codes of the operator commands (run, runs, status, logs, inputs, retry):
 * 0 done (a run SUCCEEDED, or had nothing to do); 1 the run or action failed (a run FAILED or was cancelled,
 * an input could not be retried, a cloud call failed); 2 the command was given something wrong (a bad flag
 * value, an unknown client, run or input), said in one line.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** Something the user typed is wrong: the command prints the message and exits 2. */
export class UsageError extends Error {}

/**
 * Operator command settings: commander's own mistakes (unknown flag, missing value) exit 2 with one line, and
 * a UsageError thrown by the action does too. Anything else reaches cli/main.ts (one line, exit 1).
 */
export function operatorCommand(command: Command): Command {
  return command.showHelpAfterError(false).exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.USAGE);
  });
}

/** Wraps an action: a UsageError becomes its message and exit 2; the action's number is the exit code. */
export function guarded<A extends unknown[]>(
  action: (...args: A) => Promise<number>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      process.exitCode = await action(...args);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      console.error(err.message);
      process.exitCode = EXIT.USAGE;
    }
  };
}

/** A whole number of at least `min` given to `flag`, or a UsageError naming it. */
export function wholeNumber(flag: string, text: string, min = 0): number {
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new UsageError(
      `invalid ${flag} ${JSON.stringify(text)}: expected a whole number of at least ${min}`,
    );
  }
  return Number(text);
}

/** Prints rows as aligned columns. */
export function printTable(header: string[], rows: string[][]): void {
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
  for (const row of table) {
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
  }
}
