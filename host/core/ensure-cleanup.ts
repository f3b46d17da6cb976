// ensureCleanupComplete: the seed's between-iterations step, made bounded and observable. It asks
// for a flush, then runs processMemory on a simulated clock until the flush reports 101 and
// cleanup is complete (waiting for lazy deletions to settle), or a tick bound is reached.

import type { Device } from "./device.js";
import { FLUSH_PROGRESS_COMPLETE } from "./flush.js";

/** What ensureCleanupComplete takes. */
export interface EnsureCleanupOptions {
  /** Simulated time of the first tick; advanced by the board's tick interval (at least 1 ms). */
  nowMs: number;
  /** The most processMemory calls it may make. */
  ticksMax?: number;
}

/** What ensureCleanupComplete resolves to. */
export interface EnsureCleanupResult {
  /** Cleanup is complete: no file awaits deletion, none in flight. */
  complete: boolean;
  /** processMemory calls made. */
  ticks: number;
  /** Simulated time after the last tick. */
  nowMs: number;
  /** Real time it took, ms. */
  elapsedMs: number;
  /** `.imx` files still on the disk tier. */
  filesLeft: number;
  /** RAM sectors still holding data. */
  ramSectorsLeft: number;
}

/** The most processMemory calls ensureCleanupComplete makes by default. */
export const ENSURE_CLEANUP_TICKS_MAX = 10_000;

/**
 * The step between two iterations of a test loop: asks for a flush (with a disk tier), then ticks
 * processMemory on a simulated clock from `options.nowMs` (the board's tick interval apart) until
 * the flush is complete and cleanup is complete, waiting for lazy deletions, or `ticksMax` ticks
 * have run (`complete` false). Throws CoreError if a tick fails. Blocks for each tick's work and
 * awaits the deletions in between.
 *
 * @example
 * const result = await ensureCleanupComplete(device, { nowMs: Date.now() });
 * if (!result.complete) console.warn(`${result.filesLeft} files left after ${result.ticks} ticks`);
 */
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
