// Shared helpers of the measurement scripts and the `bench` suite: quantiles, temporary
// directories, the `.imx` files under a storage root, a simulated tick clock, and the plain
// TypeScript FIFO over typed arrays that the core's append and read+ACK are compared with.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Device } from "../core/device.js";
import { HISTORY_DIR, IMX_SUFFIX } from "../format/imx.js";

export interface Summary {
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank quantile of sorted samples. */
export function quantile(sorted: readonly number[], q: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** Rounds to `digits` decimals (figures in JSON stay readable). */
export function roundTo(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Median, p99 and max of millisecond samples, rounded to microseconds. */
export function summary(samplesMs: readonly number[]): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    medianMs: roundTo(quantile(sorted, 0.5)),
    p99Ms: roundTo(quantile(sorted, 0.99)),
    maxMs: roundTo(sorted[sorted.length - 1] ?? 0),
  };
}

export function tempDirMake(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imx-bench-${label}-`));
}

/** Absolute paths of the `.imx` files under `dir`/history. */
export function imxFilesUnder(dir: string): string[] {
  const history = path.join(dir, HISTORY_DIR);
  if (!fs.existsSync(history)) return [];
  return fs
    .readdirSync(history, { recursive: true, encoding: "utf8" })
    .filter((entry) => entry.endsWith(IMX_SUFFIX))
    .map((entry) => path.join(history, entry));
}

/** A simulated clock that advances by one tick interval per processMemory call. */
export class Clock {
  nowMs = 1000;
  constructor(readonly stepMs: number) {}
  tick(device: Device): void {
    this.nowMs += this.stepMs;
    device.processMemory(this.nowMs);
  }
}

export function machineDescribe(): { model: string; cores: number } {
  const cpus = os.cpus();
  return { model: cpus[0]?.model ?? "unknown", cores: cpus.length };
}

/** The baseline: the same FIFO shape (fixed capacity, append at the tail, bulk copy out, erase at the head). */
export class TypedFifo {
  private readonly values: Uint32Array;
  private readonly times: Float64Array;
  private head = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    this.values = new Uint32Array(capacity);
    this.times = new Float64Array(capacity);
  }
  append(value: number, utcMs: number): boolean {
    if (this.size === this.capacity) return false;
    const at = (this.head + this.size) % this.capacity;
    this.values[at] = value;
    this.times[at] = utcMs;
    this.size++;
    return true;
  }
  read(outValues: Uint32Array, outTimes: Float64Array, max: number): number {
    const n = Math.min(max, this.size);
    for (let i = 0; i < n; i++) {
      const at = (this.head + i) % this.capacity;
      outValues[i] = this.values[at] ?? 0;
      outTimes[i] = this.times[at] ?? 0;
    }
    return n;
  }
  ack(count: number): void {
    this.head = (this.head + count) % this.capacity;
    this.size -= count;
  }
}
