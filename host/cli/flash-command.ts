// `imx-memsim flash`: writes a board's flashed config image to a file, reads it back and checks it.

import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { DEFAULT_BOARD_NAME, loadBoard, tickBytesWrittenMax, type Board } from "../boards.js";
import { decodeConfigImage, encodeConfigImage, type DecodedConfig } from "../config-image.js";
import { bytesHuman } from "./boards-command.js";
import { UsageError } from "../base/user-error.js";

export interface FlashResult {
  board: Board;
  file: string;
  image: Uint8Array;
  // The image as decoded from the file after writing it.
  config: DecodedConfig;
}

export function flashBoard(nameOrPath: string, file: string): FlashResult {
  const board = loadBoard(nameOrPath);
  const image = encodeConfigImage(board);
  try {
    writeFileSync(file, image);
  } catch (error) {
    throw new UsageError(`cannot write ${file}: ${(error as Error).message}`);
  }
  const readBack = new Uint8Array(readFileSync(file));
  if (Buffer.compare(readBack, image) !== 0) {
    throw new Error(`flash: ${file} reads back ${readBack.length} bytes that differ from the ${image.length} written`);
  }
  return { board, file, image, config: decodeConfigImage(readBack) };
}

function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

export function flashReport(result: FlashResult): string {
  const { config, file, image } = result;
  const { memory, disk, tier } = config;
  const lines = [
    `wrote ${file}: ${image.length}-byte config image for board ${config.name} ` +
      `(layout ${config.layoutVersion}, crc32 0x${config.crc32.toString(16).padStart(8, "0")})`,
    `  memory     ${memory.ramBytes} bytes RAM, ${memory.sectorCount} sectors × ${memory.sectorBytes} bytes, ` +
      `${memory.streamsMax} streams max, ${memory.bulkRecordsMax} bulk records max`,
    disk === null
      ? "  disk tier  none"
      : `  disk tier  ${bytesHuman(disk.quotaBytes)} quota, spills refused above ${disk.thresholdPercent}%, ` +
        `${disk.filesMax} files max × ${disk.sectorsPerFileMax} sectors per file max`,
    `  tier       spill at ${tier.spillThresholdPercent}% down to ${tier.spillTargetPercent}%, ` +
      `tick ${tier.tickIntervalMs} ms, per tick at most ${counted(tier.spillSectorsPerTickMax, "sector")} spilled, ` +
      `${counted(tier.filesWrittenPerTickMax, "file")} (${counted(tickBytesWrittenMax(config), "byte")}) written and ` +
      `${counted(tier.filesDeletedPerTickMax, "file")} deleted`,
    `  cleanup    ${tier.cleanupPolicy}, delete retries back off from ${tier.deleteRetryBaseMs} ms`,
  ];
  return `${lines.join("\n")}\n`;
}

export function registerFlashCommand(program: Command): void {
  program
    .command("flash")
    .description("write a board's flashed config image to a file")
    .option("--board <name-or-path>", "board name in boards/, or a path to a board JSON file", DEFAULT_BOARD_NAME)
    .requiredOption("-o, --output <file>", "where to write the image")
    .action((options: { board: string; output: string }) => {
      process.stdout.write(flashReport(flashBoard(options.board, options.output)));
    });
}
