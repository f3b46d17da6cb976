// Draining a flush: after flushAllToDisk() the device's main loop has to keep ticking until the
// flush reports 101 (FLUSH_PROGRESS_COMPLETE: RAM holds no stream data, safe to power off). Every
// such loop in the host and the tests goes through flushDrain, which bounds it by a tick count;
// shutdownFlush is the graceful stop built on it (bounded by simulated and real time, as on the
// device, whose shutdown waits 60 s at most).
//
// A flush that cannot finish because the disk tier has no room (the core refused spills at its
// limit, or the filesystem answered ENOSPC) is a full disk, not a missed deadline: its outcome is
// "disk-full", and what is still in RAM is reported (`ramRecordsLeft`), since it is lost at power off.

import * as abi from "./abi.generated.js";
import type { Device } from "./device.js";

/** getFlushProgress() once the flush is complete: RAM holds no stream data and it is safe to power off. */
export const FLUSH_PROGRESS_COMPLETE = abi.FLUSH_PROGRESS_COMPLETE;

/** The part of a device that flushDrain watches. */
/** What flushDrain needs of a device: its flush progress. */
export interface FlushProgressSource {
  /** 0-100 while flushing; 101 (FLUSH_PROGRESS_COMPLETE) when RAM holds no stream data. */
  getFlushProgress(): number;
}

/**
 * Calls `tick` (one processMemory on the caller's clock) until `device`'s flush progress is 101,
 * at most `ticksMax` times. Returns the ticks it took (0 when the flush was already complete), or
 * -1 when it was still not complete after `ticksMax` ticks. It does not ask for a flush: call
 * flushAllToDisk() first.
 */
export function flushDrain(device: FlushProgressSource, tick: () => void, ticksMax: number): number {
  for (let ticks = 0; ; ticks++) {
    if (device.getFlushProgress() === FLUSH_PROGRESS_COMPLETE) return ticks;
    if (ticks >= ticksMax) return -1;
    tick();
  }
}

/** The time a graceful stop (shutdownFlush, device.close) may take by default, ms. */
export const SHUTDOWN_DEADLINE_MS_DEFAULT = 60_000;

/** What shutdownFlush takes. */
export interface ShutdownFlushOptions {
  /** Simulated time of the first tick. */
  nowMs: number;
  /** Simulated time between ticks (the board's main-loop interval; at least 1 ms). */
  stepMs?: number;
  /** The flush must end within this much simulated main-loop time and this much real time. */
  deadlineMs?: number;
}

/** What shutdownFlush returns. */
export interface ShutdownFlushResult {
  /**
   * "flushed": progress 101, safe to power off. "disk-full": not complete at the deadline, and the
   * disk tier refused spills or the filesystem answered ENOSPC during the flush. "deadline": not
   * complete, for another reason. "no-disk-tier": nothing to flush to.
   */
  outcome: "flushed" | "disk-full" | "deadline" | "no-disk-tier";
  complete: boolean;
  flushProgress: number;
  ticks: number;
  /** Simulated time after the last tick. */
  nowMs: number;
  realMs: number;
  /** RAM sectors still holding data (lost at power off unless the flush completed). */
  ramSectorsLeft: number;
  /** Records those sectors hold, over every configured stream (lost at power off unless the flush completed). */
  ramRecordsLeft: number;
  /** During the flush: spills the disk tier refused (its limit reached), and HAL calls refused with ENOSPC. */
  spillsRefused: number;
  noSpaceErrors: number;
}

/** Records in RAM over every configured stream of `device`. */
export function ramRecordsCount(device: Device): number {
  let records = 0;
  for (const { source, sensor } of device.streamList()) records += device.counts(source, sensor).ram;
  return records;
}

/** Ticks that run between checks of the real-time deadline and waits for lazy deletions. */
const TICKS_PER_CHECK = 16;

/**
 * flushAllToDisk(), then processMemory() on the simulated clock until getFlushProgress() is 101 or
 * the deadline passes (whichever of simulated and real time runs out first).
 */
export async function shutdownFlush(device: Device, options: ShutdownFlushOptions): Promise<ShutdownFlushResult> {
  const started = performance.now();
  const stepMs = Math.max(1, options.stepMs ?? device.board.tier.tickIntervalMs);
  const deadlineMs = options.deadlineMs ?? SHUTDOWN_DEADLINE_MS_DEFAULT;
  let nowMs = options.nowMs;
  let ticks = 0;
  const before = device.stats();
  const result = (ended: "flushed" | "deadline" | "no-disk-tier"): ShutdownFlushResult => {
    const after = device.stats();
    const spillsRefused = after.spillsRefused - before.spillsRefused;
    const noSpaceErrors = after.halNoSpaceErrors - before.halNoSpaceErrors;
    const outcome = ended === "deadline" && (spillsRefused > 0 || noSpaceErrors > 0) ? "disk-full" : ended;
    return {
      outcome,
      complete: outcome === "flushed",
      flushProgress: device.hasDiskTier ? device.getFlushProgress() : 0,
      ticks,
      nowMs,
      realMs: performance.now() - started,
      ramSectorsLeft: device.countRamSectorsWithData(),
      ramRecordsLeft: ramRecordsCount(device),
      spillsRefused,
      noSpaceErrors,
    };
  };
  if (!device.hasDiskTier) return result("no-disk-tier");
  device.flushAllToDisk();
  // The simulated deadline: a tick runs only while the clock is still before it.
  const ticksMax = Math.max(0, Math.ceil(deadlineMs / stepMs));
  const tick = (): void => {
    nowMs += stepMs;
    device.processMemory(nowMs);
    ticks++;
  };
  for (;;) {
    const ticksBefore = ticks;
    const drained = flushDrain(device, tick, Math.min(TICKS_PER_CHECK - (ticks % TICKS_PER_CHECK), ticksMax - ticks));
    if (ticks > ticksBefore && ticks % TICKS_PER_CHECK === 0) {
      if (performance.now() - started >= deadlineMs) return result("deadline");
      await device.settle();
    }
    if (drained >= 0) break;
    if (ticks >= ticksMax) return result("deadline");
  }
  await device.settle();
  return result("flushed");
}
