// The loop that moves devices through simulated time, on the main thread (one device) or on a
// worker (its share of a fleet): each device in turn runs ticks for a slice of real time, then the
// loop yields to the event loop so signals, messages and the status refresh get their turn.
// At --speed N a device's clock may not pass lifeStart + N × real time elapsed; at --speed max
// it runs as fast as it can. A pace (the dashboard's controls) may pause the clocks and change the
// speed while the run goes on: simulated time then accrues per slice at the speed of the moment.

import { setImmediate as yieldNow, setTimeout as sleep } from "node:timers/promises";
import type { DeviceStatus } from "./device-report.js";
import type { DeviceRun } from "./device-run.js";

export type Speed = number | "max";

/** Real time one device runs before the loop moves on (and, per round, before it yields). */
const SLICE_MS = 20;
const PACED_SLEEP_MS_MAX = 50;

/** Read before every round: while `paused`, no clock moves; `speed` replaces DriveOptions.speed. */
export interface DrivePace {
  paused: boolean;
  speed: Speed;
}

export interface DriveOptions {
  speed: Speed;
  pace?: DrivePace;
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
  // Simulated time allowed since the start: real time × speed, accrued round by round.
  let allowedMs = 0;
  let roundMs = started;
  // Ends when every device is finished (each advance moves a clock forward) or a stop is requested.
  while (!options.stopRequested()) {
    const roundNow = performance.now();
    const speed = options.pace?.speed ?? options.speed;
    const paused = options.pace?.paused === true;
    if (!paused && speed !== "max") allowedMs += (roundNow - roundMs) * speed;
    roundMs = roundNow;
    if (paused) {
      await sleep(PACED_SLEEP_MS_MAX);
      continue;
    }
    let active = 0;
    let behind = false;
    for (const run of runs) {
      if (run.finished) continue;
      active++;
      const target = speed === "max" ? Infinity : run.lifeStartMs + allowedMs;
      run.advance(target, sliceMs);
      if (run.nowMs + run.tickMs <= target) behind = true;
      if (options.stopRequested()) break;
    }
    // After a stretch at max speed, a paced speed goes on from where the clocks are.
    if (speed === "max") for (const run of runs) allowedMs = Math.max(allowedMs, run.nowMs - run.lifeStartMs);
    const now = performance.now();
    if (now - lastStatusMs >= options.statusEveryMs) {
      lastStatusMs = now;
      options.onStatus(
        runs.map((run) => run.status()),
        now - started,
      );
    }
    if (active === 0) break;
    if (speed === "max" || behind) {
      await yieldNow();
    } else {
      const first = runs.find((run) => !run.finished);
      const waitMs = first === undefined ? 1 : Math.min(PACED_SLEEP_MS_MAX, Math.max(1, first.tickMs / speed));
      await sleep(waitMs);
    }
  }
  options.onStatus(
    runs.map((run) => run.status()),
    performance.now() - started,
  );
}
