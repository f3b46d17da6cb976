// `imx-memsim size --outage S [--board B] [--workload F | sensor flags] [--write-board F] [--json F]`:
// the longest outage the board survives without losing anything, and the smallest RAM budget and
// disk quota that survive the given outage, found by bisection over real runs (host/size/). Each
// run is a line on stderr; the answer, its resolution and the number of runs on stdout. Bad input
// exits 2 before any run and writes nothing; exit 1 when no variant within the limits survives.

import { writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import { cleanupPolicyChoices, DEFAULT_BOARD_NAME, isCleanupPolicy } from "../boards.js";
import { CONFIG_BOARD_NAME_BYTES } from "../core/abi.generated.js";
import { durationFlag } from "../base/parse.js";
import { outputPathsCheck } from "../base/output-path.js";
import { UsageError } from "../base/user-error.js";
import { compareRunOne } from "../compare/compare-run.js";
import { compareInput } from "../compare/compare.js";
import { durationFormat } from "../run/duration.js";
import { outageSpecParse } from "../run/outage-schedule.js";
import { OUTAGE_MAX_MS_DEFAULT, sizeSearch } from "../size/size.js";
import { sizeText } from "../size/size-report.js";
import { EXIT_FAILURE } from "./errors.js";
import { type RunLikeOptions, runLikeOptionsAdd, runLikeSettings } from "./run-like-options.js";

export interface SizeCommandOptions extends RunLikeOptions {
  board: string;
  policy?: string;
  duration?: string;
  outageMax?: string;
  writeBoard?: string;
  json?: string;
}

export interface SizeIo {
  out(text: string): void;
  err(text: string): void;
}

const NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The board name a file written with --write-board must have: its base name without .json. */
function variantNameOf(path: string | undefined, boardName: string): string {
  if (path === undefined) {
    const name = `${boardName}-sized`;
    return name.length <= CONFIG_BOARD_NAME_BYTES ? name : boardName.slice(0, CONFIG_BOARD_NAME_BYTES);
  }
  const file = basename(path);
  const name = file.replace(/\.json$/, "");
  if (!file.endsWith(".json") || !NAME_PATTERN.test(name) || name.length > CONFIG_BOARD_NAME_BYTES)
    throw new UsageError(
      `--write-board ${path}: a board file is named <name>.json, the name lowercase letters and digits in words joined by hyphens, at most ${CONFIG_BOARD_NAME_BYTES} characters`,
    );
  return name;
}

export async function sizeCommand(options: SizeCommandOptions, io: SizeIo): Promise<number> {
  const outages = options.outage ?? [];
  if (outages.length !== 1)
    throw new UsageError(
      `--outage must be given once: the outage to size for, e.g. "6h at 1d" or "6h every 1d" (got ${outages.length})`,
    );
  const spec = outageSpecParse(outages[0] ?? "");
  if (spec === null) throw new UsageError('--outage "none" has nothing to size for: give an outage, e.g. "6h at 1d"');
  if (options.policy !== undefined && !isCleanupPolicy(options.policy))
    throw new UsageError(`--policy must be ${cleanupPolicyChoices()} (got "${options.policy}")`);
  const durationMs = options.duration === undefined ? null : durationFlag(options.duration, "--duration");
  const outageMaxMs =
    options.outageMax === undefined ? OUTAGE_MAX_MS_DEFAULT : durationFlag(options.outageMax, "--outage-max", 60_000);
  const settings = runLikeSettings(options.board, options, options.duration ?? "1d");
  if (options.policy !== undefined && isCleanupPolicy(options.policy)) settings.policy = options.policy;
  const variantName = variantNameOf(options.writeBoard, settings.board.name);
  const writeBoard = options.writeBoard === undefined ? null : resolve(options.writeBoard);
  const json = options.json === undefined ? null : resolve(options.json);
  if (json !== null && json === writeBoard)
    throw new UsageError(`--json and --write-board name the same file (${options.json})`);
  outputPathsCheck([
    ...(writeBoard === null ? [] : [{ flag: "--write-board", path: writeBoard }]),
    ...(json === null ? [] : [{ flag: "--json", path: json }]),
  ]);
  const input = compareInput(settings);
  const quiet = options.quiet === true;
  if (input.streamsNote !== null && !quiet) io.err(`size: ${input.streamsNote}\n`);
  const report = await sizeSearch({
    input,
    outage: spec,
    durationMs,
    outageMaxMs,
    variantName,
    run: async (run) => (await compareRunOne(run)).row,
    onRun: quiet ? undefined : (text) => io.err(`${text}\n`),
  });
  io.out(sizeText(report));
  if (report.variant !== null && writeBoard !== null) {
    writeFileSync(writeBoard, `${JSON.stringify(report.variant, null, 2)}\n`);
    io.out(
      `written    ${options.writeBoard} (board ${report.variant.name}; run it with --board ${options.writeBoard})\n`,
    );
  }
  if (json !== null) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  if (!quiet) io.err(`size: ${report.runs} runs in ${durationFormat(report.realMs)}\n`);
  return report.variant === null ? EXIT_FAILURE : 0;
}

export function registerSizeCommand(program: Command): void {
  const command = program
    .command("size")
    .description(
      "size a board for an outage by bisection over real runs: the longest outage it survives without loss, and the smallest RAM budget and disk quota that survive the given one",
    )
    .option("--board <name-or-path>", "the board to size", DEFAULT_BOARD_NAME)
    .option("--policy <policy>", `cleanup policy: ${cleanupPolicyChoices()} (default: the board's)`);
  runLikeOptionsAdd(
    command,
    'the outage to survive, once: "6h at 1d" (one outage) or "6h every 1d" (repeating; its period is kept)',
  )
    .option("--duration <time>", "simulated time of each run (default: the outage and an hour, or three periods)")
    .option(
      "--outage-max <time>",
      `the longest single outage searched (default ${durationFormat(OUTAGE_MAX_MS_DEFAULT)})`,
    )
    .option("--write-board <file>", "write the sized board variant as a board file (<name>.json; --board takes it)")
    .option("--json <file>", "write the answer as JSON (schemas/size.v1.schema.json)")
    .action(async (options: SizeCommandOptions) => {
      const code = await sizeCommand(options, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
      });
      if (code !== 0) process.exitCode = code;
    });
}
