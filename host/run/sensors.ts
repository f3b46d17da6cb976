// The device's sensors over simulated time: when each stream's next record is due and what it is.
//
// - TSD: samples at runStart + k × sampleRate, so a resumed run keeps the same grid.
// - EVT drawn from the seed: exponential gaps with the stream's mean, from the simulator's PRNG
//   seeded by (seed, stream, life), so each life of a run draws its own deterministic sequence.
// - EVT replayed: the export's points in time order (ties in file order), moved by whole days so
//   the first lands on or after the run's start at its own time of day, and repeated every whole
//   number of days the export spans (at least one) when `loop` is set.
// Values are a pure function of (seed, stream, time): see ValueSpec in workload.ts.

import { readFileSync } from "node:fs";
import type { DataType } from "../core/device.js";
import { exportParse, type ExportPoint } from "../replay/export.js";
import { Prng } from "../base/prng.js";
import { DAY_MS } from "./duration.js";
import { hash32, hashUnit } from "./hash.js";
import type { StreamSpec, ValueSpec } from "./workload.js";

const U32_RANGE = 0x1_0000_0000;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

export interface ReplayTimeline {
  points: ExportPoint[];
  shiftMs: number;
  /** Infinity without looping. */
  periodMs: number;
}

/** Loads a replayed stream's points (file order, stable-sorted by time) and places them on the run's timeline. */
export function replayTimeline(spec: StreamSpec, runStartMs: number): ReplayTimeline {
  const replay = spec.replay;
  if (replay === undefined) throw new Error(`stream ${spec.name} is not replayed`);
  const parsed = exportParse(readFileSync(replay.file, "utf8"), replay.file);
  const sensor = parsed.sensors.find((s) => s.sensorId === replay.sensor);
  if (sensor === undefined || sensor.points.length === 0)
    throw new Error(`${replay.file}: no points for sensor ${replay.sensor}`);
  const points = sensor.points
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.time - b.p.time || a.i - b.i)
    .map((x) => x.p);
  const first = points[0]?.time ?? 0;
  const last = points[points.length - 1]?.time ?? first;
  const shiftMs = Math.ceil((runStartMs - first) / DAY_MS) * DAY_MS;
  const periodMs = replay.loop ? Math.max(1, Math.ceil((last - first + 1) / DAY_MS)) * DAY_MS : Infinity;
  return { points, shiftMs, periodMs };
}

/** The 32-bit value of `spec` at `utcMs`, in range for its data type. */
export function sensorValue(
  value: ValueSpec,
  dataType: DataType,
  seed: number,
  spec: StreamSpec,
  runStartMs: number,
  utcMs: number,
): number {
  let v: number;
  switch (value.kind) {
    case "constant":
      v = value.value;
      break;
    case "random": {
      const u = hashUnit(seed, spec.source, spec.sensor, utcMs);
      v =
        dataType === "float32"
          ? value.min + u * (value.max - value.min)
          : Math.floor(value.min + u * (Math.floor(value.max) - Math.ceil(value.min) + 1));
      break;
    }
    case "sine": {
      const phase = (((utcMs - runStartMs) % value.periodMs) + value.periodMs) % value.periodMs;
      const noise = value.noise === 0 ? 0 : value.noise * (2 * hashUnit(seed, spec.source, spec.sensor, utcMs) - 1);
      v = value.mean + value.amplitude * Math.sin((2 * Math.PI * phase) / value.periodMs) + noise;
      break;
    }
  }
  if (dataType === "float32") return v;
  const rounded = Math.round(v);
  if (dataType === "int32") return Math.min(INT32_MAX, Math.max(INT32_MIN, rounded));
  return Math.min(U32_RANGE - 1, Math.max(0, rounded));
}

export interface SensorStream {
  spec: StreamSpec;
  /** Next record's time (simulated UTC ms); Infinity when the stream has nothing more. */
  nextDueMs: number;
  written: number;
  writeFailures: number;
  firstUtcMs: number | null;
  lastUtcMs: number | null;
}

interface StreamCursor {
  stream: SensorStream;
  k: number;
  prng: Prng | null;
  timeline: ReplayTimeline | null;
  loop: number;
}

export type SensorWrite = (stream: SensorStream, value: number, utcMs: number) => boolean;

export class SensorBank {
  readonly streams: SensorStream[];
  private readonly cursors: StreamCursor[];
  /** The earliest nextDueMs of all streams. */
  nextDueMs = Infinity;

  constructor(
    specs: readonly StreamSpec[],
    private readonly seed: number,
    private readonly runStartMs: number,
    life: number,
    lifeStartMs: number,
  ) {
    this.streams = [];
    this.cursors = specs.map((spec) => {
      const stream: SensorStream = {
        spec,
        nextDueMs: Infinity,
        written: 0,
        writeFailures: 0,
        firstUtcMs: null,
        lastUtcMs: null,
      };
      this.streams.push(stream);
      const cursor: StreamCursor = { stream, k: 0, prng: null, timeline: null, loop: 0 };
      if (spec.type === "tsd") {
        const rate = spec.sampleRateMs ?? 1;
        cursor.k = Math.max(0, Math.ceil((lifeStartMs - runStartMs) / rate));
        stream.nextDueMs = runStartMs + cursor.k * rate;
      } else if (spec.replay !== undefined) {
        const timeline = replayTimeline(spec, runStartMs);
        cursor.timeline = timeline;
        this.replaySeek(cursor, lifeStartMs);
      } else {
        cursor.prng = new Prng(hash32(seed, spec.source, spec.sensor, life));
        stream.nextDueMs = lifeStartMs + this.gap(cursor);
      }
      return cursor;
    });
    this.nextDueRecompute();
  }

  private gap(cursor: StreamCursor): number {
    const prng = cursor.prng;
    const mean = cursor.stream.spec.eventMeanMs ?? 1;
    if (prng === null) return mean;
    // An exponential gap from a uniform draw in (0, 1); at least 1 ms so times strictly grow.
    const u = (prng.next() + 0.5) / U32_RANGE;
    return Math.max(1, Math.round(-Math.log(u) * mean));
  }

  private replayTime(timeline: ReplayTimeline, index: number, loop: number): number {
    const point = timeline.points[index];
    if (point === undefined) return Infinity;
    return point.time + timeline.shiftMs + (loop === 0 ? 0 : loop * timeline.periodMs);
  }

  private replaySeek(cursor: StreamCursor, fromMs: number): void {
    const timeline = cursor.timeline;
    if (timeline === null) return;
    const firstMs = this.replayTime(timeline, 0, 0);
    let loop = Number.isFinite(timeline.periodMs) ? Math.max(0, Math.floor((fromMs - firstMs) / timeline.periodMs)) : 0;
    // Binary search in this loop for the first point at or after fromMs; else the next loop's first.
    let lo = 0;
    let hi = timeline.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.replayTime(timeline, mid, loop) < fromMs) lo = mid + 1;
      else hi = mid;
    }
    if (lo === timeline.points.length && Number.isFinite(timeline.periodMs)) {
      loop++;
      lo = 0;
    }
    cursor.k = lo;
    cursor.loop = loop;
    cursor.stream.nextDueMs = this.replayTime(timeline, lo, loop);
  }

  private advance(cursor: StreamCursor): void {
    const stream = cursor.stream;
    const spec = stream.spec;
    if (spec.type === "tsd") {
      cursor.k++;
      stream.nextDueMs = this.runStartMs + cursor.k * (spec.sampleRateMs ?? 1);
    } else if (cursor.timeline !== null) {
      cursor.k++;
      if (cursor.k >= cursor.timeline.points.length) {
        if (!Number.isFinite(cursor.timeline.periodMs)) {
          stream.nextDueMs = Infinity;
          return;
        }
        cursor.k = 0;
        cursor.loop++;
      }
      stream.nextDueMs = this.replayTime(cursor.timeline, cursor.k, cursor.loop);
    } else {
      stream.nextDueMs += this.gap(cursor);
    }
  }

  private valueOf(cursor: StreamCursor, utcMs: number): number {
    const spec = cursor.stream.spec;
    if (cursor.timeline !== null) return cursor.timeline.points[cursor.k]?.value ?? 0;
    return sensorValue(
      spec.value ?? { kind: "constant", value: 0 },
      spec.dataType,
      this.seed,
      spec,
      this.runStartMs,
      utcMs,
    );
  }

  private nextDueRecompute(): void {
    let next = Infinity;
    for (const stream of this.streams) if (stream.nextDueMs < next) next = stream.nextDueMs;
    this.nextDueMs = next;
  }

  /** Writes every record due at or before `nowMs`, oldest first per stream. */
  writeDue(nowMs: number, write: SensorWrite): void {
    if (nowMs < this.nextDueMs) return;
    for (const cursor of this.cursors) {
      const stream = cursor.stream;
      // Each pass moves nextDueMs forward (by at least 1 ms, or to Infinity), so the loop ends.
      while (stream.nextDueMs <= nowMs) {
        const utcMs = stream.nextDueMs;
        if (write(stream, this.valueOf(cursor, utcMs), utcMs)) {
          stream.written++;
          stream.firstUtcMs ??= utcMs;
          stream.lastUtcMs = utcMs;
        } else {
          stream.writeFailures++;
        }
        this.advance(cursor);
      }
    }
    this.nextDueRecompute();
  }
}
