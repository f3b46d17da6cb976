// The loop that moves devices through simulated time, on the main thread (one device) or on a
// worker (its share of a fleet): each device in turn runs ticks for a slice of real time, then the
// loop yields to the event loop so signals, messages and the status refresh get their turn.
// At --speed N a device's clock may not pass lifeStart + N × real time elapsed; at --speed max
// it runs as fast as it can.

import { setImmediate as yieldNow, setTimeout as sleep } from "node:timers/promises";
import type { DeviceStatus } from "./device-report.js";
import type { DeviceRun } from "./device-run.js";

export type Speed = number | "max";

/** Real time one device runs before the loop moves on (and, per round, before it yields). */
const SLICE_MS = 20;
const PACED_SLEEP_MS_MAX = 50;

export interface DriveOptions {
  speed: Speed;
  /** Polled between slices. */
  stopRequested: () => boolean;
  /** Called about every `statusEveryMs` of real time, and once at the end. */
  onStatus: (statuses: DeviceStatus[], realMs: number) => void;
  statusEveryMs: number;
}

/** Runs until every device is finished or a stop is requested; does not stop the devices. */
export async function drive(runs: readonly DeviceRun[], options: DriveOptions): Promise<void> {
  const started = performance.now();
  let lastStatusMs = -Infinity;
  const sliceMs = Math.max(1, SLICE_MS / Math.max(1, runs.length / 8));
  // Ends when every device is finished (each advance moves a clock forward) or a stop is requested.
  while (!options.stopRequested()) {
    const elapsedMs = performance.now() - started;
    let active = 0;
    let behind = false;
    for (const run of runs) {
      if (run.finished) continue;
      active++;
      const target = options.speed === "max" ? Infinity : run.lifeStartMs + elapsedMs * options.speed;
      run.advance(target, sliceMs);
      if (run.nowMs + run.tickMs <= target) behind = true;
      if (options.stopRequested()) break;
    }
    const now = performance.now();
    if (now - lastStatusMs >= options.statusEveryMs) {
      lastStatusMs = now;
      options.onStatus(
        runs.map((run) => run.status()),
        now - started,
      );
    }
    if (active === 0) break;
    if (options.speed === "max" || behind) {
      await yieldNow();
    } else {
      const first = runs.find((run) => !run.finished);
      const waitMs = first === undefined ? 1 : Math.min(PACED_SLEEP_MS_MAX, Math.max(1, first.tickMs / options.speed));
      await sleep(waitMs);
    }
  }
  options.onStatus(
    runs.map((run) => run.status()),
    performance.now() - started,
  );
}
