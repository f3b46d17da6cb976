// ensureCleanupComplete: the seed's between-iterations step, made bounded and observable. It asks
// for a flush, then runs processMemory on a simulated clock until the flush reports 101 and
// cleanup is complete (waiting for lazy deletions to settle), or a tick bound is reached.

import type { Device } from "./device.js";
import { FLUSH_PROGRESS_COMPLETE } from "./flush.js";

export interface EnsureCleanupOptions {
  /** Simulated time of the first tick; advanced by the board's tick interval (at least 1 ms). */
  nowMs: number;
  /** The most processMemory calls it may make. */
  ticksMax?: number;
}

export interface EnsureCleanupResult {
  complete: boolean;
  ticks: number;
  /** Simulated time after the last tick. */
  nowMs: number;
  elapsedMs: number;
  filesLeft: number;
  ramSectorsLeft: number;
}

export const ENSURE_CLEANUP_TICKS_MAX = 10_000;

export async function ensureCleanupComplete(
  device: Device,
  options: EnsureCleanupOptions,
): Promise<EnsureCleanupResult> {
  const started = performance.now();
  const stepMs = Math.max(1, device.board.tier.tickIntervalMs);
  const ticksMax = options.ticksMax ?? ENSURE_CLEANUP_TICKS_MAX;
  let nowMs = options.nowMs;
  let ticks = 0;
  if (device.hasDiskTier) device.flushAllToDisk();
  const done = (): boolean =>
    (!device.hasDiskTier || device.getFlushProgress() === FLUSH_PROGRESS_COMPLETE) && device.isCleanupComplete();
  while (ticks < ticksMax) {
    if (done()) {
      await device.settle();
      if (done()) break;
    }
    nowMs += stepMs;
    device.processMemory(nowMs);
    ticks++;
    if (!device.isCleanupComplete()) await device.settle();
  }
  return {
    complete: done(),
    ticks,
    nowMs,
    elapsedMs: performance.now() - started,
    filesLeft: device.countDiskFiles(),
    ramSectorsLeft: device.countRamSectorsWithData(),
  };
}
