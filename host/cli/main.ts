#!/usr/bin/env node
// The imx-memsim command line: one commander program, one file per command, errors via runCli.

import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { packageRootDir } from "../boards.js";
import { registerBatteryCommand } from "./battery-command.js";
import { registerBenchCommand } from "./bench-command.js";
import { registerBoardsCommand } from "./boards-command.js";
import { closedPipeQuietExit } from "./closed-pipe.js";
import { registerDecodeCommand } from "./decode-command.js";
import { registerDemoCommand } from "./demo-command.js";
import { CLI_NAME, runCli } from "./errors.js";
import { registerFlashCommand } from "./flash-command.js";
import { registerRunCommand } from "./run-command.js";
import { registerReplayCommand } from "./replay-command.js";
import { registerSimCommand } from "./sim-command.js";
import { singleValuedFlagsEnforce } from "./single-valued.js";
import { registerTestCommand } from "./test-command.js";
import { registerUiCommand } from "./ui-command.js";
import { registerInspectCommand } from "./inspect-command.js";
import { registerVerifyCommand } from "./verify-command.js";
import { registerMonitorCommand } from "./monitor-command.js";
import { registerCompareCommand } from "./compare-command.js";
import { registerSizeCommand } from "./size-command.js";

export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRootDir(), "package.json"), "utf8")) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}

export interface ProgramOutput {
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

// Builds the program. Commander errors throw (exitOverride) so runCli picks the exit code.
export function programBuild(output: ProgramOutput = {}): Command {
  const writeOut = output.writeOut ?? ((text: string) => process.stdout.write(text));
  const writeErr = output.writeErr ?? ((text: string) => process.stderr.write(text));
  const program = new Command(CLI_NAME)
    .description("Simulate the iMatrix client's tiered memory manager on a board's RAM budget.")
    .version(packageVersion(), "-V, --version", "print the version")
    .option("--verbose", "print the stack of unexpected errors")
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr,
      outputError: (text, write) => write(`${CLI_NAME}: ${text.replace(/^error: /, "")}`),
    });
  registerBoardsCommand(program);
  registerFlashCommand(program);
  registerDemoCommand(program);
  registerRunCommand(program);
  registerSimCommand(program);
  registerTestCommand(program);
  registerBatteryCommand(program);
  registerReplayCommand(program);
  registerBenchCommand(program);
  registerDecodeCommand(program);
  registerUiCommand(program);
  registerInspectCommand(program);
  registerVerifyCommand(program);
  registerMonitorCommand(program);
  registerCompareCommand(program);
  registerSizeCommand(program);
  singleValuedFlagsEnforce(program);
  return program;
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  closedPipeQuietExit();
  await runCli(() => programBuild().parseAsync(process.argv));
}
