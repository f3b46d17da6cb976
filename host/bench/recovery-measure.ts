// Boot recovery time on the real filesystem, as a function of how many `.imx` files a previous run
// left. For each file count N: a device writes one TSD stream and lets the tier state machine spill
// it into N files (a graceful stop flushes the rest and persists the positions file), on a
// NodeFsHal under os.tmpdir(); then Device.create on that directory is timed REPEATS times (warm
// page cache: recovery lists history/, reads the positions file, reads and checks every file, and
// changes nothing when everything is valid). Every boot must adopt all N files.
//
// Boards: "fc1-imx6" as shipped (8192 file slots, files of up to 256 sectors as its per-tick spill
// budget allows), and "fc1-imx6-16k": fc1-imx6 with 16384 file slots and files of at most 4
// sectors (224 bytes), so 10,000 files fit in its file table and the RAM budget.
//
// Prints one JSON object to stdout (progress goes to stderr):
//   { machine, node, filesystem: tmpdir, repeats,
//     results: [{ board, files, bytesOnDisk, records, createMs (writing the files),
//                 bootMedianMs, bootMinMs, bootMaxMs, recoveryMedianMs, filesKept, recordsRecovered }] }
// Run: npx tsc -p tsconfig.json && node dist/host/bench/recovery-measure.js [--files 1000,10000] [--repeats 5]

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Board, loadBoard } from "../boards.js";
import { Device } from "../core/device.js";
import { listFilesRecursive } from "../hal/atomic.js";
import { NodeFsHal } from "../hal/node-fs.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "1000,10000" },
    repeats: { type: "string", default: "5" },
  },
});
const FILE_COUNTS = (values.files ?? "1000,10000").split(",").map(Number);
const REPEATS = Math.max(1, Number(values.repeats));
const SOURCE = 1;
const SENSOR = 1;
const SAMPLE_RATE_MS = 1000;
const TICKS_MAX = 10_000_000;

function stockBoard(): Board {
  return loadBoard("fc1-imx6");
}

/** fc1-imx6 with a file table of 16384 slots and files of at most 4 sectors. */
function smallFilesBoard(): Board {
  const base = loadBoard("fc1-imx6");
  if (!base.disk) throw new Error("fc1-imx6 has no disk tier");
  return {
    ...base,
    name: "fc1-imx6-16k",
    disk: { ...base.disk, filesMax: 16384, sectorsPerFileMax: 4 },
    tier: { ...base.tier, filesWrittenPerTickMax: 64 },
  };
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

function imxFiles(dir: string): string[] {
  const hal = new NodeFsHal(dir);
  return hal.isDir("history") ? listFilesRecursive(hal, "history", ".imx") : [];
}

/** Writes records until the spills (and the final flush) make about `files` files, then stops gracefully. */
function populate(board: Board, dir: string, files: number): { records: number; createMs: number } {
  const started = performance.now();
  const device = Device.create({ board, storageDir: dir });
  device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
  const tickMs = Math.max(1, board.tier.tickIntervalMs);
  let nowMs = Date.UTC(2025, 0, 1);
  let records = 0;
  const recordsPerTick = 64;
  const sectorsPerFile = board.disk?.sectorsPerFileMax ?? 1;
  // Stop writing when the files made so far plus the ones the final flush will make reach `files`.
  const filesExpected = (): number =>
    device.stats().filesCreated +
    Math.ceil(device.counts(SOURCE, SENSOR).ramSectors / Math.min(sectorsPerFile, board.tier.spillSectorsPerTickMax));
  for (let tick = 0; tick < TICKS_MAX && filesExpected() < files; tick++) {
    for (let i = 0; i < recordsPerTick; i++) device.writeTsd(SOURCE, SENSOR, records++, nowMs);
    device.processMemory((nowMs += tickMs));
    if (tick % 2000 === 0) process.stderr.write(`  ${board.name}: ${device.stats().filesCreated}/${files} files\n`);
  }
  // Stop gracefully: what is left in RAM goes into further files (counted too).
  device.flushAllToDisk();
  for (let t = 0; t < TICKS_MAX && device.getFlushProgress() !== 101; t++) device.processMemory((nowMs += tickMs));
  return { records, createMs: performance.now() - started };
}

function measure(board: Board, files: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-recovery-"));
  try {
    process.stderr.write(`${board.name}, ${files} files: writing\n`);
    const { records, createMs } = populate(board, dir, files);
    const onDisk = imxFiles(dir);
    const bytesOnDisk = onDisk.reduce((sum, p) => sum + fs.statSync(path.join(dir, p)).size, 0);
    const bootMs: number[] = [];
    const recoveryMs: number[] = [];
    let filesKept = 0;
    let recordsRecovered = 0;
    for (let r = 0; r < REPEATS; r++) {
      const started = performance.now();
      const device = Device.create({ board, storageDir: dir });
      bootMs.push(performance.now() - started);
      const report = device.recovery;
      if (!report || report.filesKept !== onDisk.length || report.filesQuarantined !== 0) {
        throw new Error(
          `recovery kept ${report?.filesKept} of ${onDisk.length} files, quarantined ${report?.filesQuarantined}`,
        );
      }
      recoveryMs.push(report.durationMs);
      filesKept = report.filesKept;
      recordsRecovered = report.recordsRecovered;
    }
    process.stderr.write(`  boot median ${round(median(bootMs))} ms\n`);
    return {
      board: board.name,
      files: onDisk.length,
      bytesOnDisk,
      records,
      createMs: round(createMs),
      bootMedianMs: round(median(bootMs)),
      bootMinMs: round(Math.min(...bootMs)),
      bootMaxMs: round(Math.max(...bootMs)),
      recoveryMedianMs: round(median(recoveryMs)),
      filesKept,
      recordsRecovered,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Compile the core and warm up the boot path once on an empty directory.
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-recovery-"));
  Device.create({ board: stockBoard(), storageDir: dir });
  fs.rmSync(dir, { recursive: true, force: true });
}

const results = [];
for (const files of FILE_COUNTS) {
  const board = files <= (stockBoard().disk?.filesMax ?? 0) / 2 ? stockBoard() : smallFilesBoard();
  if (board.name === "fc1-imx6") results.push(measure(board, files));
  results.push(measure(smallFilesBoard(), files));
}
process.stdout.write(
  `${JSON.stringify(
    {
      machine: `${os.cpus()[0]?.model ?? "unknown"} × ${os.cpus().length}`,
      node: process.version,
      filesystem: os.tmpdir(),
      repeats: REPEATS,
      results,
    },
    null,
    2,
  )}\n`,
);
