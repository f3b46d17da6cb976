// Graceful stop for long-running commands, as on the device: on SIGTERM or SIGINT, ask the memory
// manager to flush everything to disk (flushAllToDisk) and keep its main loop ticking until the
// flush reports 101 ("safe to power off") or a deadline passes (60 s by default, as on the
// device), then exit. A second signal exits at once (128 + signal number) without waiting.
//
//   const stop = stopSignalsListen();              // before the main loop
//   while (!stop.requested) { ... }                // the loop polls; it must yield to the event loop
//   const flush = await shutdownFlush(device, { nowMs, deadlineMs: SHUTDOWN_DEADLINE_MS_DEFAULT });
//   stop.release();

import { constants } from "node:os";
import * as abi from "../core/abi.generated.js";
import type { Device } from "../core/device.js";

export const SHUTDOWN_DEADLINE_MS_DEFAULT = 60_000;
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

export interface StopSignals {
  /** True once a stop signal arrived. */
  readonly requested: boolean;
  /** The first signal, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Resolves with the first signal. */
  readonly received: Promise<NodeJS.Signals>;
  /** Asks for a stop without a signal (e.g. a worker told to stop). */
  request(reason: NodeJS.Signals): void;
  /** Removes the handlers. */
  release(): void;
}

export interface StopSignalsOptions {
  signals?: readonly NodeJS.Signals[];
  /** Called on the first signal (e.g. to print "stopping: flushing to disk"). */
  onFirst?: (signal: NodeJS.Signals) => void;
  /** Called on a second signal; by default prints a line and exits with 128 + the signal's number. */
  onSecond?: (signal: NodeJS.Signals) => void;
}

export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 15);
}

/** Installs SIGTERM/SIGINT handlers that turn the first signal into a stop request. */
export function stopSignalsListen(options: StopSignalsOptions = {}): StopSignals {
  const signals = options.signals ?? STOP_SIGNALS;
  let first: NodeJS.Signals | null = null;
  let resolveReceived: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => {
    resolveReceived = resolve;
  });
  const onSecond =
    options.onSecond ??
    ((signal: NodeJS.Signals) => {
      process.stderr.write(`imx-memsim: second ${signal}: exiting now, without waiting for the flush\n`);
      process.exit(signalExitCode(signal));
    });
  const handler = (signal: NodeJS.Signals): void => {
    if (first !== null) {
      onSecond(signal);
      return;
    }
    first = signal;
    options.onFirst?.(signal);
    resolveReceived(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  return {
    get requested() {
      return first !== null;
    },
    get signal() {
      return first;
    },
    received,
    request(reason: NodeJS.Signals) {
      if (first === null) handler(reason);
    },
    release() {
      for (const signal of signals) process.off(signal, handler);
    },
  };
}

export interface ShutdownFlushOptions {
  /** Simulated time of the first tick. */
  nowMs: number;
  /** Simulated time between ticks (the board's main-loop interval; at least 1 ms). */
  stepMs?: number;
  /** The flush must end within this much simulated main-loop time and this much real time. */
  deadlineMs?: number;
}

export interface ShutdownFlushResult {
  /** "flushed": progress 101, safe to power off. "deadline": it was not. "no-disk-tier": nothing to flush to. */
  outcome: "flushed" | "deadline" | "no-disk-tier";
  complete: boolean;
  flushProgress: number;
  ticks: number;
  /** Simulated time after the last tick. */
  nowMs: number;
  realMs: number;
  /** RAM sectors still holding data (lost at power off unless the flush completed). */
  ramSectorsLeft: number;
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
  const result = (outcome: ShutdownFlushResult["outcome"]): ShutdownFlushResult => ({
    outcome,
    complete: outcome === "flushed",
    flushProgress: device.hasDiskTier ? device.getFlushProgress() : 0,
    ticks,
    nowMs,
    realMs: performance.now() - started,
    ramSectorsLeft: device.countRamSectorsWithData(),
  });
  if (!device.hasDiskTier) return result("no-disk-tier");
  device.flushAllToDisk();
  const simDeadlineMs = nowMs + deadlineMs;
  // Bounded by the simulated deadline: every pass advances nowMs by stepMs ≥ 1.
  while (device.getFlushProgress() !== abi.FLUSH_PROGRESS_COMPLETE) {
    if (nowMs >= simDeadlineMs) return result("deadline");
    nowMs += stepMs;
    device.processMemory(nowMs);
    ticks++;
    if (ticks % TICKS_PER_CHECK === 0) {
      if (performance.now() - started >= deadlineMs) return result("deadline");
      await device.settle();
    }
  }
  await device.settle();
  return result("flushed");
}
