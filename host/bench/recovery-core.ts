// Boot recovery on the real filesystem, shared by recovery-measure.ts and the `bench` suite: a
// device writes one TSD stream and lets the tier state machine spill it into about N files (a
// graceful stop flushes the rest), on a NodeFsHal under os.tmpdir(); then Device.create on that
// directory is timed (warm page cache). Every boot must adopt all N files. The baseline in the same
// run lists history/ and reads every file with plain fs.readFileSync.

import fs from "node:fs";
import path from "node:path";
import { type Board, loadBoard } from "../boards.js";
import { Device } from "../core/device.js";
import { HISTORY_DIR, IMX_SUFFIX } from "../format/imx.js";
import { listFilesRecursive } from "../hal/atomic.js";
import { NodeFsHal } from "../hal/node-fs.js";
import { median, roundTo, tempDirMake } from "./common.js";
import { flushDrain } from "../core/flush.js";

const SOURCE = 1;
const SENSOR = 1;
const SAMPLE_RATE_MS = 1000;
const TICKS_MAX = 10_000_000;

export function stockBoard(): Board {
  return loadBoard("fc1-imx6");
}

/** `base` (fc1-imx6 by default) with a file table of 16384 slots and files of at most 4 sectors. */
export function smallFilesBoard(base: Board = stockBoard()): Board {
  if (!base.disk) throw new Error(`${base.name} has no disk tier`);
  return {
    ...base,
    name: `${base.name}-16k`,
    disk: { ...base.disk, filesMax: 16384, sectorsPerFileMax: 4 },
    tier: { ...base.tier, filesWrittenPerTickMax: 64 },
  };
}

export function imxFiles(dir: string): string[] {
  const hal = new NodeFsHal(dir);
  return hal.isDir(HISTORY_DIR) ? listFilesRecursive(hal, HISTORY_DIR, IMX_SUFFIX) : [];
}

export type Progress = (line: string) => void;

/** Writes records until the spills (and the final flush) make about `files` files, then stops gracefully. */
export function populate(
  board: Board,
  dir: string,
  files: number,
  progress: Progress = () => {},
): { records: number; createMs: number } {
  const started = performance.now();
  // The bench boots devices over this storage one after another in one process, none closed:
  // no storage lock (it is not what is measured).
  const device = Device.create({ board, storageDir: dir, lock: false });
  device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
  const tickMs = Math.max(1, board.tier.tickIntervalMs);
  let nowMs = Date.UTC(2025, 0, 1);
  let records = 0;
  const recordsPerTick = 64;
  const sectorsPerFile = board.disk?.sectorsPerFileMax ?? 1;
  const filesExpected = (): number =>
    device.stats().filesCreated +
    Math.ceil(device.counts(SOURCE, SENSOR).ramSectors / Math.min(sectorsPerFile, board.tier.spillSectorsPerTickMax));
  for (let tick = 0; tick < TICKS_MAX && filesExpected() < files; tick++) {
    for (let i = 0; i < recordsPerTick; i++) device.writeTsd(SOURCE, SENSOR, records++, nowMs);
    device.processMemory((nowMs += tickMs));
    if (tick % 2000 === 0) progress(`  ${board.name}: ${device.stats().filesCreated}/${files} files`);
  }
  device.flushAllToDisk();
  flushDrain(device, () => device.processMemory((nowMs += tickMs)), TICKS_MAX);
  return { records, createMs: performance.now() - started };
}

export interface RecoveryResult {
  board: string;
  files: number;
  bytesOnDisk: number;
  records: number;
  createMs: number;
  bootMedianMs: number;
  bootMinMs: number;
  bootMaxMs: number;
  recoveryMedianMs: number;
  filesKept: number;
  recordsRecovered: number;
  bootSamplesMs: number[];
  /** Listing history/ and reading every file with fs.readFileSync, same repetitions. */
  baselineSamplesMs: number[];
}

/** Plain reads of the same files: readdir of history/ (recursive) and readFileSync of each `.imx`. */
function plainReadAll(dir: string): number {
  const history = path.join(dir, HISTORY_DIR);
  let bytes = 0;
  for (const entry of fs.readdirSync(history, { recursive: true, encoding: "utf8" })) {
    if (entry.endsWith(IMX_SUFFIX)) bytes += fs.readFileSync(path.join(history, entry)).length;
  }
  return bytes;
}

export function measureRecovery(
  board: Board,
  files: number,
  repeats: number,
  progress: Progress = () => {},
): RecoveryResult {
  const dir = tempDirMake("recovery");
  try {
    progress(`${board.name}, ${files} files: writing`);
    const { records, createMs } = populate(board, dir, files, progress);
    const onDisk = imxFiles(dir);
    const bytesOnDisk = onDisk.reduce((sum, p) => sum + fs.statSync(path.join(dir, p)).size, 0);
    const bootMs: number[] = [];
    const recoveryMs: number[] = [];
    const baselineMs: number[] = [];
    let filesKept = 0;
    let recordsRecovered = 0;
    // One untimed pass of each side first: the baseline's files enter the page cache, and the
    // boot's per-file path (read, check, hand to the core) is compiled before it is timed.
    plainReadAll(dir);
    Device.create({ board, storageDir: dir, lock: false });
    for (let r = 0; r < repeats; r++) {
      const started = performance.now();
      const device = Device.create({ board, storageDir: dir, lock: false });
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
      const t = performance.now();
      if (plainReadAll(dir) !== bytesOnDisk) throw new Error("plain read saw a different byte count");
      baselineMs.push(performance.now() - t);
    }
    progress(`  boot median ${roundTo(median(bootMs), 2)} ms`);
    return {
      board: board.name,
      files: onDisk.length,
      bytesOnDisk,
      records,
      createMs: roundTo(createMs, 2),
      bootMedianMs: roundTo(median(bootMs), 2),
      bootMinMs: roundTo(Math.min(...bootMs), 2),
      bootMaxMs: roundTo(Math.max(...bootMs), 2),
      recoveryMedianMs: roundTo(median(recoveryMs), 2),
      filesKept,
      recordsRecovered,
      bootSamplesMs: bootMs,
      baselineSamplesMs: baselineMs,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Compiles the core and warms up the boot path once on an empty directory. */
export function recoveryWarmup(board: Board = stockBoard()): void {
  const dir = tempDirMake("recovery-warmup");
  Device.create({ board, storageDir: dir, lock: false });
  fs.rmSync(dir, { recursive: true, force: true });
}
