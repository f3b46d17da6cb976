// `imx-memsim inspect FILE --board B [--json OUT]`: a RAM dump (`run --ram-dump`) read as a core
// dump (host/inspect/inspect.ts): the config, the SAT, the streams, the file table, the state
// machine, and the invariants. Exit 0 when they hold, 1 with the violations, 2 for bad input.

import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { loadBoard } from "../boards.js";
import { outputPathsCheck } from "../base/output-path.js";
import { UsageError } from "../base/user-error.js";
import { inspectText, ramInspect } from "../inspect/inspect.js";
import { EXIT_FAILURE } from "./errors.js";

export interface InspectCommandOptions {
  board: string;
  json?: string;
}

export function registerInspectCommand(program: Command): void {
  program
    .command("inspect")
    .description("read a RAM dump (run --ram-dump) as a core dump and check its invariants (exit 1 on a violation)")
    .argument("<file>", "the RAM dump")
    .requiredOption("--board <name-or-path>", "the board the dump was taken on")
    .option("--json <file>", "write the report as JSON")
    .action((file: string, options: InspectCommandOptions) => {
      const board = loadBoard(options.board);
      if (options.json !== undefined) outputPathsCheck([{ flag: "--json", path: options.json }]);
      let dump: Uint8Array;
      try {
        dump = new Uint8Array(readFileSync(file));
      } catch (error) {
        throw new UsageError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      }
      if (dump.length !== board.memory.ramBytes)
        throw new UsageError(
          `${file} has ${dump.length} bytes, not a RAM dump of ${board.name} (${board.memory.ramBytes} bytes)`,
        );
      const report = ramInspect(dump, board);
      process.stdout.write(inspectText(report));
      if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
      if (report.violations.length > 0) process.exitCode = EXIT_FAILURE;
    });
}
