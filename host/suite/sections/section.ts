// What a section is, and the drivers several sections share: fill RAM to a usage level, predict
// from the spec whether a spill is allowed, and count files from the real directory.

import type { Board } from "../../boards.js";
import { IMX_HEADER_BYTES, recordsPerSector } from "../../format/imx.js";
import { CoreError } from "../../core/errors.js";
import type { Device } from "../../core/device.js";
import type { CheckContext } from "../checks.js";
import type { SuiteEnv } from "../env.js";
import type { Ledger } from "../ledger.js";

export interface PerformanceMetric {
  name: string;
  value: number;
  unit: string;
}

export interface SectionRun {
  ctx: CheckContext;
  env: SuiteEnv;
  /** A line shown with --verbose. */
  note: (text: string) => void;
  /** A measured number, reported and never asserted. */
  metric: (name: string, value: number, unit: string) => void;
}

export interface Section {
  id: number;
  title: string;
  /** Skipped (not passed) on boards without a disk tier. */
  needsDisk: boolean;
  run(run: SectionRun): Promise<void>;
}

/** RAM sectors in use at which usage (rounded down, as the core computes it) reaches `percent`. */
export function sectorsAtPercent(board: Board, percent: number): number {
  return Math.ceil((board.memory.sectorCount * percent) / 100);
}

/**
 * Direct mode's batch (SPEC.md 4.2): the sectors above the threshold a tick waits for before it
 * writes them to one file — under 1% of RAM less 2, at least 1, at most a file's worth.
 */
export function directBatchSectors(board: Board): number {
  const percent = Math.floor(board.memory.sectorCount / 100);
  return Math.min(board.disk?.sectorsPerFileMax ?? 1, percent > 2 ? percent - 2 : 1);
}

/**
 * RAM sectors in use at which the next tick moves data to disk: the spill threshold, or in direct
 * mode the threshold plus the batch (SPEC.md 4.2).
 */
export function sectorsToMove(board: Board): number {
  const threshold = sectorsAtPercent(board, board.tier.spillThresholdPercent);
  return board.tier.mode === "direct" ? threshold + directBatchSectors(board) : threshold;
}

/**
 * The most records of `streams` EVT streams, written round robin with ticks as they go, that a
 * board holds without discarding any: RAM up to its spill threshold less each stream's
 * still-filling sector, plus the disk below its quota threshold (SPEC.md section 4) in the files a
 * spill writes — each from one stream, so with several streams sharing RAM a file holds at most
 * that stream's share less its newest sector. Past it evict-oldest gives up the oldest file.
 */
export function evtRecordsHeldMax(board: Board, streams: number): number {
  const perSector = recordsPerSector("evt", board.memory.sectorBytes);
  const thresholdSectors = sectorsAtPercent(board, board.tier.spillThresholdPercent);
  const ramSectors = Math.max(0, thresholdSectors - streams);
  const disk = board.disk;
  if (disk === null) return perSector * ramSectors;
  const fileSectors = Math.max(
    1,
    Math.min(disk.sectorsPerFileMax, board.tier.spillSectorsPerTickMax, Math.floor(thresholdSectors / streams) - 1),
  );
  const limit = Math.floor((disk.quotaBytes * disk.thresholdPercent) / 100);
  const files = Math.min(
    disk.filesMax,
    Math.floor(limit / (IMX_HEADER_BYTES + fileSectors * board.memory.sectorBytes)),
  );
  return perSector * (ramSectors + files * fileSectors);
}

/** RAM usage in percent, rounded down (SPEC.md section 4). */
export function usagePercent(device: Device): number {
  return Math.floor((device.countRamSectorsWithData() * 100) / device.board.memory.sectorCount);
}

/**
 * Writes `value(i)` records to `ledger` until `sectorsTarget` RAM sectors are in use (or
 * `writesMax` writes). Returns the records written. Never ticks, so nothing spills meanwhile.
 */
export function fillTo(
  device: Device,
  ledger: Ledger,
  sectorsTarget: number,
  value: (i: number) => number,
  writesMax = 10_000_000,
): number {
  let writes = 0;
  while (device.countRamSectorsWithData() < sectorsTarget && writes < writesMax) {
    ledger.write(value(ledger.written));
    writes++;
  }
  return writes;
}

export interface SpillExpectation {
  allowed: boolean;
  /** Why, in the spec's terms. */
  reason: string;
}

/**
 * Whether the next spill of a single stream holding `ramSectors` RAM sectors is allowed, from
 * SPEC.md section 4: refused when disk bytes + the usage offset reach quota × diskThreshold%, or
 * when the file it would write (header + up to min(sectorsPerFileMax, spillSectorsPerTickMax,
 * ramSectors − 1) sector images; the newest sector stays) would pass it, or the file table is full.
 */
export function spillExpectation(device: Device, diskUsagePercent: number, ramSectors: number): SpillExpectation {
  const disk = device.board.disk;
  if (disk === null) return { allowed: false, reason: "no disk tier" };
  const stats = device.stats();
  const limit = Math.floor((disk.quotaBytes * disk.thresholdPercent) / 100);
  const offset = Math.floor((disk.quotaBytes * diskUsagePercent) / 100);
  const used = stats.diskBytesUsed + offset;
  // Direct mode writes the sectors above the threshold (SPEC.md 4.2); a spill all but the newest.
  const movable =
    device.board.tier.mode === "direct"
      ? device.countRamSectorsWithData() - sectorsAtPercent(device.board, device.board.tier.spillThresholdPercent)
      : ramSectors - 1;
  const sectors = Math.max(0, Math.min(disk.sectorsPerFileMax, device.board.tier.spillSectorsPerTickMax, movable));
  const fileBytes = IMX_HEADER_BYTES + sectors * device.board.memory.sectorBytes;
  if (used >= limit)
    return { allowed: false, reason: `refused: ${used} B used ≥ ${limit} B (${disk.thresholdPercent}% of quota)` };
  if (used + fileBytes > limit) {
    return {
      allowed: false,
      reason: `refused: a ${fileBytes} B file would take ${used} B past ${limit} B (${disk.thresholdPercent}% of quota)`,
    };
  }
  if (stats.filesLive >= disk.filesMax) return { allowed: false, reason: "refused: file table full" };
  return {
    allowed: true,
    reason: `allowed: ${used} B + a ${fileBytes} B file ≤ ${limit} B (${disk.thresholdPercent}% of quota)`,
  };
}

/** Ticks until the state machine is idle again (at least once); returns the ticks, -1 if never. */
export function tickUntilIdle(env: SuiteEnv, device: Device, ticksMax = 1000): number {
  env.tick(device);
  const more = env.tickUntil(device, () => device.tierState === "idle", ticksMax);
  return more < 0 ? -1 : more + 1;
}

/** The error code name a call fails with, or "OK" if it does not fail. */
export function errorName(run: () => unknown): string {
  try {
    run();
    return "OK";
  } catch (error) {
    if (error instanceof CoreError) return error.codeName;
    throw error;
  }
}
