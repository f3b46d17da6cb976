// `imx-memsim boards`: the boards in boards/ as a table, or as JSON with --json.

import type { Command } from "commander";
import { listBoards, type Board } from "../boards.js";

const BYTE_UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"] as const;

// Bytes in the largest binary unit that divides them exactly, e.g. "512 MiB", "520 KiB", "96 bytes".
export function bytesHuman(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && value % 1024 === 0 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value} ${BYTE_UNITS[unit]}`;
}

interface Column {
  header: string;
  alignRight: boolean;
  cell: (board: Board) => string;
}

const COLUMNS: readonly Column[] = [
  { header: "board", alignRight: false, cell: (board) => board.name },
  { header: "title", alignRight: false, cell: (board) => board.title },
  { header: "device RAM", alignRight: true, cell: (board) => bytesHuman(board.device.ramBytes) },
  { header: "memory RAM bytes", alignRight: true, cell: (board) => String(board.memory.ramBytes) },
  { header: "sector bytes", alignRight: true, cell: (board) => String(board.memory.sectorBytes) },
  { header: "sectors", alignRight: true, cell: (board) => String(board.memory.sectorCount) },
  { header: "streams max", alignRight: true, cell: (board) => String(board.memory.streamsMax) },
  {
    header: "disk tier",
    alignRight: false,
    cell: (board) => (board.disk === null ? "none" : `${bytesHuman(board.disk.quotaBytes)} quota`),
  },
  { header: "policy", alignRight: false, cell: (board) => board.tier.cleanupPolicy },
];

export function boardsTable(boards: readonly Board[]): string {
  const rows = [
    COLUMNS.map((column) => column.header),
    ...boards.map((board) => COLUMNS.map((column) => column.cell(board))),
  ];
  const widths = COLUMNS.map((_, index) => Math.max(...rows.map((row) => (row[index] ?? "").length)));
  const lines = rows.map((row) =>
    COLUMNS.map((column, index) => {
      const text = row[index] ?? "";
      const width = widths[index] ?? 0;
      return column.alignRight ? text.padStart(width) : text.padEnd(width);
    })
      .join("  ")
      .trimEnd(),
  );
  return `${lines.join("\n")}\n`;
}

export function boardsJson(boards: readonly Board[]): string {
  return `${JSON.stringify(boards, null, 2)}\n`;
}

export function registerBoardsCommand(program: Command): void {
  program
    .command("boards")
    .description("list the boards in boards/")
    .option("--json", "print the boards as JSON")
    .action((options: { json?: boolean }) => {
      const boards = listBoards();
      process.stdout.write(options.json === true ? boardsJson(boards) : boardsTable(boards));
    });
}
