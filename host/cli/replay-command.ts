// `imx-memsim replay FILE.json`: replays an iMatrix cloud export through a device (host/replay/)
// with an uplink outage, and checks that what came out is exactly what went in, with no file left.

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import type { Command } from "commander";
import {
  type Board,
  type CleanupPolicy,
  DEFAULT_BOARD_NAME,
  cleanupPolicyChoices,
  isCleanupPolicy,
  loadBoard,
} from "../boards.js";
import { DISK_FULL_OPTION_HELP, diskFullOptionApply, diskFullOptionCheck } from "./disk-full-option.js";
import { exportParse, type ParsedExport, ReplayInputError } from "../replay/export.js";
import { OUTAGE_DEFAULT, outageParse } from "../replay/outage.js";
import { type ReplayResult, replayRun } from "../replay/replay.js";
import { outputPathCheck } from "../base/output-path.js";
import { UsageError } from "../base/user-error.js";
import { EXIT_FAILURE } from "./errors.js";
import { scratchStoragePrepare } from "./scratch-storage.js";

export interface ReplayCommandOptions {
  board?: string;
  policy?: string;
  diskFull?: string;
  outage?: string;
  storage?: string;
  keep?: boolean;
  strict?: boolean;
  json?: string;
}

function exponential(value: number): string {
  return value === 0 ? "0" : value.toExponential(1);
}

export function replayReport(file: string, parsed: ParsedExport, result: ReplayResult): string {
  const lines: string[] = [];
  const skipped = parsed.pointsInFile - parsed.pointsValid;
  lines.push(
    `replay: ${basename(file)}: ${parsed.form} export, ${parsed.sensors.length} sensor${parsed.sensors.length === 1 ? "" : "s"}, ` +
      `${parsed.pointsInFile} points, upload source ${parsed.source} (${parsed.sourceFrom})`,
  );
  lines.push(`  board ${result.board}, policy ${result.policy}, outage ${result.outage}`);
  const reasons = Object.entries(parsed.skippedByReason).map(([reason, n]) => `${n} ${reason}`);
  lines.push(`  skipped ${skipped} point${skipped === 1 ? "" : "s"}${reasons.length ? `: ${reasons.join("; ")}` : ""}`);
  for (const s of parsed.skipped.slice(0, 5)) lines.push(`    ${s.place}: ${s.reason}`);
  lines.push(
    `  kept in file order: ${parsed.duplicateTimes} duplicate time${parsed.duplicateTimes === 1 ? "" : "s"} (${parsed.exactDuplicates} with the same value too), ` +
      `${parsed.outOfOrder} time${parsed.outOfOrder === 1 ? "" : "s"} earlier than the point before` +
      (parsed.nonFiniteTokens > 0 ? `; ${parsed.nonFiniteTokens} NaN/Infinity tokens read` : ""),
  );
  for (const note of parsed.notes) lines.push(`  note: ${note}`);
  lines.push("");
  lines.push("sensor      name                      in file   written  delivered  largest float32 rounding");
  for (const s of result.sensors) {
    lines.push(
      `${String(s.sensorId).padEnd(12)}${s.name.slice(0, 24).padEnd(24)}${String(s.pointsInFile).padStart(9)}${String(s.written).padStart(10)}${String(s.delivered).padStart(11)}  ${exponential(s.float32ErrorMax)}`,
    );
  }
  lines.push("");
  lines.push(
    `records   written ${result.written}, delivered ${result.delivered} exactly and in order, ${result.mismatches} mismatches, ` +
      `${result.missing} never came back, ${result.recordsDiscarded} discarded${result.writeErrors ? `, ${result.writeErrors} writes refused` : ""}`,
  );
  for (const m of result.firstMismatches) lines.push(`  ${m}`);
  if (result.recordsDiscarded > 0) {
    lines.push(
      `  ${result.diskTier ? "the disk tier filled during the outage (quota, free space or file table)" : `RAM filled during the outage and board ${result.board} has no disk tier`}: ` +
        "the oldest data was discarded (counted); shorten the outage (--outage) or use a bigger board",
    );
  }
  lines.push(
    `RAM       peak ${result.peakRamPercent.toFixed(1)}% of the board's sectors, ${result.ramSectorsLeft} sectors with data at the end`,
  );
  lines.push(
    `disk      ${result.filesCreated} .imx files created, ${result.filesDeleted} deleted, ${result.filesLeft} left; cleanup ${result.cleanupComplete ? "complete" : "incomplete"}`,
  );
  lines.push(`time      ${(result.durationMs / 1000).toFixed(2)} s, ${result.uploads} bulk uploads`);
  lines.push(`result    ${result.passed ? "PASS" : "FAIL"}`);
  return lines.join("\n") + "\n";
}

export async function replayCommandRun(
  file: string,
  options: ReplayCommandOptions,
  out: (text: string) => void,
): Promise<{ parsed: ParsedExport; result: ReplayResult }> {
  if (options.policy !== undefined && !isCleanupPolicy(options.policy)) {
    throw new UsageError(`--policy must be ${cleanupPolicyChoices()} (got "${options.policy}")`);
  }
  diskFullOptionCheck(options.diskFull);
  const board = diskFullOptionApply(loadBoard(options.board ?? DEFAULT_BOARD_NAME), options.diskFull);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ReplayInputError(
      `${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  const parsed = exportParse(text, file, { strict: options.strict === true, emptyAccepted: true });
  if (parsed.pointsInFile === 0) return replayNothing(file, parsed, options, board, out);
  const streams = parsed.sensors.filter((s) => s.points.length > 0).length;
  if (streams > board.memory.streamsMax) {
    throw new UsageError(
      `${file} has ${streams} sensors with data; board ${board.name} holds ${board.memory.streamsMax} streams`,
    );
  }
  const outage = outageParse(options.outage ?? OUTAGE_DEFAULT, parsed.pointsValid);
  if (options.json !== undefined) outputPathCheck({ flag: "--json", path: options.json });
  const policy: CleanupPolicy =
    options.policy !== undefined && isCleanupPolicy(options.policy) ? options.policy : board.tier.cleanupPolicy;
  const storage = scratchStoragePrepare(options.storage, "replay");
  let result: ReplayResult;
  try {
    result = await replayRun(parsed, { board, policy, outage, storageDir: storage.dir });
  } finally {
    if (storage.temporary && !options.keep) rmSync(storage.dir, { recursive: true, force: true });
  }
  out(replayReport(file, parsed, result));
  if (options.json !== undefined) {
    const { sensors, ...summary } = parsed;
    const json = {
      command: "replay",
      file,
      export: {
        ...summary,
        sensors: sensors.map((s) => ({
          sensorId: s.sensorId,
          name: s.name,
          place: s.place,
          pointsInFile: s.pointsInFile,
          pointsValid: s.points.length,
        })),
      },
      ...result,
    };
    writeFileSync(options.json, JSON.stringify(json, null, 2) + "\n");
    out(`wrote ${options.json}\n`);
  }
  return { parsed, result };
}

/**
 * An export that holds no point (an empty time window: `data: []`, `statistics.data_points: 0`):
 * after the same flag checks, a pass that says there was nothing to replay; no device is booted.
 */
function replayNothing(
  file: string,
  parsed: ParsedExport,
  options: ReplayCommandOptions,
  board: Board,
  out: (text: string) => void,
): { parsed: ParsedExport; result: ReplayResult } {
  const outage = outageParse(options.outage ?? OUTAGE_DEFAULT, 1);
  if (options.json !== undefined) outputPathCheck({ flag: "--json", path: options.json });
  if (options.storage !== undefined) scratchStoragePrepare(options.storage, "replay");
  const policy: CleanupPolicy =
    options.policy !== undefined && isCleanupPolicy(options.policy) ? options.policy : board.tier.cleanupPolicy;
  const result: ReplayResult = {
    passed: true,
    board: board.name,
    diskTier: board.disk !== null,
    policy,
    outage: outage.text,
    source: parsed.source,
    sensors: [],
    written: 0,
    delivered: 0,
    mismatches: 0,
    missing: 0,
    writeErrors: 0,
    firstMismatches: [],
    recordsDiscarded: 0,
    filesCreated: 0,
    filesDeleted: 0,
    filesLeft: 0,
    ramSectorsLeft: 0,
    cleanupComplete: true,
    peakRamPercent: 0,
    uploads: 0,
    durationMs: 0,
  };
  out(
    `replay: ${basename(file)}: ${parsed.form} export, ${parsed.sensors.length} sensor${parsed.sensors.length === 1 ? "" : "s"}, 0 points, upload source ${parsed.source} (${parsed.sourceFrom})\n` +
      parsed.notes.map((note) => `  note: ${note}\n`).join("") +
      `nothing to replay: the export is an empty window (no data point in it)\nresult    PASS\n`,
  );
  if (options.json !== undefined) {
    const { sensors, ...summary } = parsed;
    const json = {
      command: "replay",
      file,
      nothingToReplay: true,
      export: {
        ...summary,
        sensors: sensors.map((s) => ({
          sensorId: s.sensorId,
          name: s.name,
          place: s.place,
          pointsInFile: 0,
          pointsValid: 0,
        })),
      },
      ...result,
    };
    writeFileSync(options.json, JSON.stringify(json, null, 2) + "\n");
    out(`wrote ${options.json}\n`);
  }
  return { parsed, result };
}

export function registerReplayCommand(program: Command): void {
  program
    .command("replay")
    .description("replay an iMatrix cloud export through a device with an uplink outage; verify every point comes back")
    .argument("<file>", "the export (.json), multi-sensor or single-sensor form")
    .option("--board <name-or-path>", "board name in boards/, or a path to a board JSON file", DEFAULT_BOARD_NAME)
    .option("--policy <policy>", `cleanup policy: ${cleanupPolicyChoices()} (default: the board's)`)
    .option("--disk-full <policy>", DISK_FULL_OPTION_HELP)
    .option(
      "--outage <pattern>",
      'when the uplink is down: "none" or segments like down:50%,up:50% or up:1000,down:3000 (repeating)',
      OUTAGE_DEFAULT,
    )
    .option(
      "--storage <dir>",
      "an empty directory for the disk tier (default: a fresh temp directory, removed afterwards)",
    )
    .option("--keep", "keep the temp storage directory")
    .option("--strict", "refuse the file if any point would be skipped (null, string, NaN, bad time)")
    .option("--json <file>", "write the whole result as JSON")
    .addHelpText(
      "after",
      `
Every point becomes an EVT float32 record of its sensor's stream, written in file order (sensor by
sensor) under upload source metadata.serial (0 if absent), with processMemory ticking every 8
points; while the uplink is up each tick uploads a bulk read per stream and acknowledges it. Points
with a null, string, NaN or infinite value or an invalid time are skipped and listed; duplicate and
out-of-order times are kept and counted; formatted_time is ignored. It passes when every point comes
back once, in order, with its time and Math.fround(value), and 0 .imx files and 0 RAM sectors with
data are left. An export with no point at all (an empty window, data_points: 0) passes and says
"nothing to replay"; one whose every point is skipped is refused. Exit status: 0 pass, 1 fail, 2 bad input (not an export, bad flag).`,
    )
    .action(async (file: string, options: ReplayCommandOptions) => {
      const { result } = await replayCommandRun(file, options, (text) => process.stdout.write(text));
      if (!result.passed) process.exitCode = EXIT_FAILURE;
    });
}
