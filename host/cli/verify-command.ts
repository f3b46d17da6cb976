// `imx-memsim verify --storage DIR [--repair] [--json F] [--board B]`: checks a storage directory
// the way boot recovery would read it (host/verify/verify.ts) and prints one line per finding.
// Exit 0: clean (after the repair, with --repair); 1: problems found (or left after --repair);
// 2: bad input, nothing changed.

import { writeFileSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import type { Command } from "commander";
import { outputPathCheck } from "../base/output-path.js";
import { UsageError } from "../base/user-error.js";
import { verifyReportText } from "../verify/report.js";
import { storageVerify, type VerifyReport } from "../verify/verify.js";

export interface VerifyCommandOptions {
  storage?: string;
  repair?: boolean;
  json?: string;
  board?: string;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep));
}

/** Runs the command; returns the report. Throws UsageError or StorageError (exit 2) for bad input. */
export function verifyCommand(options: VerifyCommandOptions, out: (text: string) => void): VerifyReport {
  const storage = options.storage;
  if (storage === undefined) throw new UsageError("verify needs --storage <dir>");
  if (options.json !== undefined) {
    outputPathCheck({ flag: "--json", path: options.json });
    if (inside(storage, options.json)) {
      throw new UsageError(`--json ${options.json}: is inside the storage ${storage}; write it elsewhere`);
    }
  }
  const report = storageVerify(storage, { repair: options.repair === true, board: options.board ?? null });
  out(verifyReportText(report));
  if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command("verify")
    .description("check a storage directory as boot recovery would read it (an fsck); --repair does what boot would")
    .option("--storage <dir>", "the storage directory to check")
    .option(
      "--repair",
      "quarantine, move and remove what boot recovery would, under the storage's lock; says what it did",
    )
    .option("--json <file>", "write the report as JSON")
    .option("--board <name-or-path>", "the board, for a storage without a readable imx-memsim.json")
    .addHelpText(
      "after",
      "\nExit status: 0 clean (after --repair: clean now), 1 problems found (after --repair: problems left), " +
        "2 bad input (nothing changed).\nRead-only by default: it works while a run is using the storage.\n",
    )
    .action((options: VerifyCommandOptions) => {
      const report = verifyCommand(options, (text) => process.stdout.write(text));
      if (report.exitCode !== 0) process.exitCode = report.exitCode;
    });
}
