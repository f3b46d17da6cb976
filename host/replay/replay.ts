// Replaying a cloud export through a device: every point is written as an EVT float32 record of its
// sensor's stream, in file order, while a simulated main loop ticks processMemory and — whenever the
// outage pattern says the uplink is up — uploads: reads each stream in bulk, compares every record
// with the point it came from, and acknowledges it. After the last point everything left is
// uploaded and ensureCleanupComplete runs. The replay passes when what came out is exactly what went
// in — every point once, same order, same time, value equal to Math.fround(value) — and no `.imx`
// file and no RAM sector with data is left.

import type { Board, CleanupPolicy } from "../boards.js";
import { Device, type UploadRecord } from "../core/device.js";
import { ensureCleanupComplete } from "../core/ensure-cleanup.js";
import { CoreError } from "../core/errors.js";
import type { Hal } from "../hal/hal.js";
import { NodeFsHal } from "../hal/node-fs.js";
import type { ExportPoint, ParsedExport } from "./export.js";
import { OutageClock, type OutagePattern } from "./outage.js";

/** Points written between two ticks of the simulated main loop. */
export const REPLAY_POINTS_PER_TICK = 8;
const MISMATCHES_LISTED_MAX = 10;
const DRAIN_TICKS_MAX = 1_000_000;

export interface ReplayOptions {
  board: Board;
  policy: CleanupPolicy;
  outage: OutagePattern;
  storageDir: string;
  /** Wraps the disk tier's HAL (tests). */
  halWrap?: (hal: Hal) => Hal;
}

export interface ReplaySensorResult {
  sensorId: number;
  name: string;
  pointsInFile: number;
  written: number;
  delivered: number;
  /** Largest |Math.fround(value) − value| of the sensor's points. */
  float32ErrorMax: number;
}

export interface ReplayResult {
  passed: boolean;
  board: string;
  diskTier: boolean;
  policy: CleanupPolicy;
  outage: string;
  source: number;
  sensors: ReplaySensorResult[];
  written: number;
  delivered: number;
  mismatches: number;
  /** Points written that never came back (sequence gaps: discarded). */
  missing: number;
  writeErrors: number;
  firstMismatches: string[];
  recordsDiscarded: number;
  filesCreated: number;
  filesDeleted: number;
  filesLeft: number;
  ramSectorsLeft: number;
  cleanupComplete: boolean;
  peakRamPercent: number;
  uploads: number;
  durationMs: number;
}

interface StreamState {
  sensorId: number;
  expected: ExportPoint[];
  startSeq: number;
  next: number;
  delivered: number;
}

export async function replayRun(parsed: ParsedExport, options: ReplayOptions): Promise<ReplayResult> {
  const started = performance.now();
  const { board } = options;
  const hal: Hal = options.halWrap
    ? options.halWrap(new NodeFsHal(options.storageDir))
    : new NodeFsHal(options.storageDir);
  const firstTime = parsed.sensors.find((s) => s.points.length > 0)?.points[0]?.time ?? 0;
  let nowMs = firstTime;
  const device = Device.create({ board, hal, policy: options.policy, nowMs });
  const source = parsed.source;
  const streams = new Map<number, StreamState>();
  const stepMs = Math.max(1, board.tier.tickIntervalMs);
  const firstMismatches: string[] = [];
  let mismatches = 0;
  let missing = 0;
  let writeErrors = 0;
  let uploads = 0;
  let peakSectors = 0;

  const mismatch = (text: string): void => {
    mismatches++;
    if (firstMismatches.length < MISMATCHES_LISTED_MAX) firstMismatches.push(text);
  };

  const check = (state: StreamState, records: readonly UploadRecord[]): void => {
    for (const record of records) {
      let index = record.seq - state.startSeq;
      if (index !== state.next) {
        if (index > state.next && index < state.expected.length) {
          missing += index - state.next;
          if (firstMismatches.length < MISMATCHES_LISTED_MAX) {
            firstMismatches.push(
              `sensor ${state.sensorId}: points ${state.next}…${index - 1} never came back (discarded)`,
            );
          }
        } else {
          mismatch(`sensor ${state.sensorId}: record seq ${record.seq} is not the next point (${state.next})`);
          continue;
        }
      }
      const point = state.expected[index];
      if (point === undefined) {
        mismatch(`sensor ${state.sensorId}: record seq ${record.seq} was never written`);
        continue;
      }
      if (record.utcMs !== point.time || !Object.is(record.value, Math.fround(point.value))) {
        mismatch(
          `sensor ${state.sensorId} point ${index}: wrote ${point.value} (float32 ${Math.fround(point.value)}) at ${point.time}, ` +
            `read ${record.value} at ${record.utcMs} from ${record.tier}`,
        );
      } else {
        state.delivered++;
      }
      index++;
      state.next = index;
    }
  };

  const upload = (): void => {
    for (const state of streams.values()) {
      const records = device.readBulk(source, state.sensorId, device.bulkCapacity);
      if (records.length === 0) continue;
      check(state, records);
      device.ack(source, state.sensorId, records.length);
      uploads++;
    }
  };

  const tick = (up: boolean): void => {
    nowMs += stepMs;
    device.processMemory(nowMs);
    if (up) upload();
    peakSectors = Math.max(peakSectors, device.countRamSectorsWithData());
  };

  const outage = new OutageClock(options.outage);
  let written = 0;
  for (const sensor of parsed.sensors) {
    if (sensor.points.length === 0) continue;
    device.configureStream(source, sensor.sensorId, { type: "evt", dataType: "float32" });
    const state: StreamState = {
      sensorId: sensor.sensorId,
      expected: [],
      startSeq: device.counts(source, sensor.sensorId).nextSeq,
      next: 0,
      delivered: 0,
    };
    streams.set(sensor.sensorId, state);
    for (const point of sensor.points) {
      const up = outage.step();
      try {
        device.writeEvt(source, sensor.sensorId, point.value, point.time);
        state.expected.push(point);
      } catch (error) {
        if (!(error instanceof CoreError)) throw error;
        writeErrors++;
        if (firstMismatches.length < MISMATCHES_LISTED_MAX)
          firstMismatches.push(
            `sensor ${sensor.sensorId}: write of ${point.value} at ${point.time} refused: ${error.message}`,
          );
      }
      written++;
      if (written % REPLAY_POINTS_PER_TICK === 0) tick(up);
    }
  }
  // The uplink is back: upload everything left.
  for (let ticks = 0; ticks < DRAIN_TICKS_MAX; ticks++) {
    let live = 0;
    for (const state of streams.values()) live += device.counts(source, state.sensorId).total;
    if (live === 0) break;
    tick(true);
  }
  const cleanup = await ensureCleanupComplete(device, { nowMs });
  const stats = device.stats();
  const sensors: ReplaySensorResult[] = parsed.sensors.map((sensor) => {
    const state = streams.get(sensor.sensorId);
    let float32ErrorMax = 0;
    for (const p of sensor.points)
      float32ErrorMax = Math.max(float32ErrorMax, Math.abs(Math.fround(p.value) - p.value));
    return {
      sensorId: sensor.sensorId,
      name: sensor.name,
      pointsInFile: sensor.pointsInFile,
      written: state?.expected.length ?? 0,
      delivered: state?.delivered ?? 0,
      float32ErrorMax,
    };
  });
  const delivered = sensors.reduce((sum, s) => sum + s.delivered, 0);
  const writtenOk = sensors.reduce((sum, s) => sum + s.written, 0);
  return {
    passed:
      writtenOk > 0 &&
      writeErrors === 0 &&
      delivered === writtenOk &&
      mismatches === 0 &&
      missing === 0 &&
      stats.recordsDiscarded === 0 &&
      cleanup.complete &&
      cleanup.filesLeft === 0 &&
      cleanup.ramSectorsLeft === 0,
    board: board.name,
    diskTier: board.disk !== null,
    policy: options.policy,
    outage: options.outage.text,
    source,
    sensors,
    written: writtenOk,
    delivered,
    mismatches,
    missing,
    writeErrors,
    firstMismatches,
    recordsDiscarded: stats.recordsDiscarded,
    filesCreated: stats.filesCreated,
    filesDeleted: stats.filesDeleted,
    filesLeft: cleanup.filesLeft,
    ramSectorsLeft: cleanup.ramSectorsLeft,
    cleanupComplete: cleanup.complete,
    peakRamPercent: (peakSectors * 100) / board.memory.sectorCount,
    uploads,
    durationMs: performance.now() - started,
  };
}
