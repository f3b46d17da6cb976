// `imx-memsim ui --trace FILE [--board B] [--port N]`: the dashboard of `run --ui` over a finished
// `run --trace` file (its series, its state strip; no SAT map: a trace does not hold the RAM).
// Serves until SIGINT/SIGTERM.

import type { Command } from "commander";
import { DEFAULT_BOARD_NAME, loadBoard } from "../boards.js";
import { integerFlag } from "../base/parse.js";
import { DashboardServer } from "../ui/server.js";
import { TraceSource } from "../ui/trace-source.js";

export interface UiCommandOptions {
  trace: string;
  board: string;
  port: string;
}

const PORT_MAX = 65535;

/** Starts the server; the caller closes it. Bad input throws UsageError (exit 2). */
export async function uiServe(options: UiCommandOptions, note: (text: string) => void): Promise<DashboardServer> {
  const port = integerFlag(options.port, "--port", 0, PORT_MAX);
  const board = loadBoard(options.board);
  const source = new TraceSource(options.trace, board);
  const server = await DashboardServer.start(port, source, { live: false });
  server.end();
  note(`dashboard: ${server.url}\n`);
  return server;
}

export function registerUiCommand(program: Command): void {
  program
    .command("ui")
    .description("open a finished run --trace file in the dashboard of run --ui (serves until interrupted)")
    .requiredOption("--trace <file>", "the NDJSON file of run --trace")
    .option("--board <name-or-path>", "the board the trace ran on (for its limits)", DEFAULT_BOARD_NAME)
    .option("--port <n>", "port on 127.0.0.1 (0: any free port)", "0")
    .action(async (options: UiCommandOptions) => {
      const server = await uiServe(options, (text) => process.stderr.write(text));
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await server.close();
    });
}
