// How the command line reports failures: one `imx-memsim: <message>` line on stderr and an exit code.
//
// Bad input (any UserError: a usage error, an unusable board file, a refused config image, …) exits 2; anything
// unexpected exits 1 and shows its stack only with --verbose or DEBUG set. Commands run through
// runCli so they all behave the same.

import { CommanderError } from "commander";
import { UserError } from "../base/user-error.js";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const CLI_NAME = "imx-memsim";

/** True for bad input the user can fix (every UserError: usage, board, config image, workload, …). */
export function isUserError(error: unknown): boolean {
  return error instanceof UserError;
}

export function errorExitCode(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === EXIT_OK ? EXIT_OK : EXIT_USAGE;
  return isUserError(error) ? EXIT_USAGE : EXIT_FAILURE;
}

export interface CliRunOptions {
  verbose?: boolean;
  stderrWrite?: (text: string) => void;
}

function verboseWanted(): boolean {
  return process.argv.includes("--verbose") || (process.env["DEBUG"] ?? "") !== "";
}

// Prints the error the CLI way and returns its exit code.
export function errorReport(error: unknown, options: CliRunOptions = {}): number {
  const write = options.stderrWrite ?? ((text: string) => process.stderr.write(text));
  const verbose = options.verbose ?? verboseWanted();
  const code = errorExitCode(error);
  // Commander has already printed its own message (through the program's outputError).
  if (error instanceof CommanderError) return code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === EXIT_USAGE) {
    write(`${CLI_NAME}: ${message}\n`);
  } else if (verbose && error instanceof Error && error.stack !== undefined) {
    write(`${CLI_NAME}: ${error.stack}\n`);
  } else {
    write(`${CLI_NAME}: ${message}\n${CLI_NAME}: (run with --verbose or DEBUG=1 for the stack)\n`);
  }
  return code;
}

// Runs a command body, reports any error, sets process.exitCode (never process.exit, so output
// still flushes) and returns the exit code.
export async function runCli(body: () => unknown, options: CliRunOptions = {}): Promise<number> {
  try {
    await body();
    const exitCode = Number(process.exitCode ?? EXIT_OK);
    return exitCode;
  } catch (error) {
    const exitCode = errorReport(error, options);
    process.exitCode = exitCode;
    return exitCode;
  }
}
