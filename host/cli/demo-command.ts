// `imx-memsim demo`: a placeholder that takes the demo's options; the demo itself is not built yet.

import type { Command } from "commander";
import { DEFAULT_BOARD_NAME } from "../boards.js";
import { EXIT_FAILURE } from "./errors.js";

export interface DemoOptions {
  board: string;
  storage?: string;
  policy?: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run the memory manager on a board with a simulated upload link (not built yet)")
    .option("--board <name-or-path>", "board name in boards/, or a path to a board JSON file", DEFAULT_BOARD_NAME)
    .option("--storage <dir>", "directory for the disk tier's .imx files")
    .option("--policy <policy>", "cleanup policy: immediate, batched or lazy (default: the board's)")
    .action((_options: DemoOptions) => {
      process.stderr.write("demo: not built yet\n");
      process.exitCode = EXIT_FAILURE;
    });
}
