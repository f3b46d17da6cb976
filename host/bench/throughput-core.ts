// Append and bulk read+ACK throughput of the wasm core through its raw exports, with the plain
// TypeScript FIFO (common.ts) measured in the same run as the baseline. Used by throughput.ts and
// by the `bench` suite.

import type { Board } from "../boards.js";
import type { CoreExports } from "../core/core-exports.generated.js";
import { Device } from "../core/device.js";
import { recordsPerSector } from "../format/imx.js";
import { Clock, TypedFifo, tempDirMake } from "./common.js";
import fs from "node:fs";
import { flushDrain } from "../core/flush.js";

export type RecordKind = "tsd" | "evt";

const T0 = 1_700_000_000_000;
const TICKS_MAX = 1_000_000;

/** Records of one kind that fill about 3/4 of the board's sectors (room left for the core's own tables). */
export function recordsPerRound(board: Board, kind: RecordKind): number {
  const perSector = recordsPerSector(kind, board.memory.sectorBytes);
  return Math.max(1, Math.floor(board.memory.sectorCount * 0.75) * Math.max(1, perSector));
}

export interface RateSamples {
  /** records/s per repetition, warm-up excluded */
  core: number[];
  baseline: number[];
  records: number;
}

export interface ThroughputSamples {
  append: RateSamples;
  readAck: RateSamples;
}

// Each hot loop is its own small function, so V8 optimizes it as a whole (not by on-stack
// replacement inside a large function, which made the baseline's speed vary 4x between runs).
function coreAppendTsd(core: CoreExports, index: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (core.streamWriteTsd(index, i, T0 + i * 1000) !== 0) throw new Error("append failed");
  }
}

function coreAppendEvt(core: CoreExports, index: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (core.streamWriteEvt(index, i, T0 + i * 1000) !== 0) throw new Error("append failed");
  }
}

function coreDrain(core: CoreExports, index: number, records: number, bulk: number): void {
  let left = records;
  while (left > 0) {
    const n = core.streamReadBulk(index, bulk);
    if (n <= 0 || core.streamAck(index, n) !== 0) throw new Error("read/ack failed");
    left -= n;
  }
}

function fifoAppend(fifo: TypedFifo, from: number, to: number): void {
  for (let i = from; i < to; i++) fifo.append(i, T0 + i * 1000);
}

function fifoDrain(
  fifo: TypedFifo,
  records: number,
  outValues: Uint32Array,
  outTimes: Float64Array,
  bulk: number,
): void {
  let left = records;
  while (left > 0) {
    const n = fifo.read(outValues, outTimes, bulk);
    fifo.ack(n);
    left -= n;
  }
}

/**
 * Appends then drains (bulk read + ACK) one RAM-resident stream, core and baseline alternately;
 * each repetition runs `cycles` fill/drain cycles on one device and sums their times.
 */
export function measureRamThroughput(
  board: Board,
  kind: RecordKind,
  repeats: number,
  warmup = 0,
  cycles = 1,
): ThroughputSamples {
  const records = recordsPerRound(board, kind);
  const append: RateSamples = { core: [], baseline: [], records: records * cycles };
  const readAck: RateSamples = { core: [], baseline: [], records: records * cycles };
  for (let round = 0; round < warmup + repeats; round++) {
    const device = Device.create({ board });
    const index = device.configureStream(0, 1, { type: kind, sampleRateMs: kind === "tsd" ? 1000 : 0 });
    const core = device.exports;
    const bulk = device.bulkCapacity;
    const fifo = new TypedFifo(records);
    const outValues = new Uint32Array(bulk);
    const outTimes = new Float64Array(bulk);
    let appendCoreMs = 0;
    let readAckCoreMs = 0;
    let appendBaselineMs = 0;
    let readAckBaselineMs = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const base = cycle * records;
      let t = performance.now();
      if (kind === "tsd") coreAppendTsd(core, index, base, base + records);
      else coreAppendEvt(core, index, base, base + records);
      appendCoreMs += performance.now() - t;
      t = performance.now();
      coreDrain(core, index, records, bulk);
      readAckCoreMs += performance.now() - t;

      t = performance.now();
      fifoAppend(fifo, base, base + records);
      appendBaselineMs += performance.now() - t;
      t = performance.now();
      fifoDrain(fifo, records, outValues, outTimes, bulk);
      readAckBaselineMs += performance.now() - t;
    }
    if (round >= warmup) {
      const total = records * cycles;
      append.core.push(total / (appendCoreMs / 1000));
      append.baseline.push(total / (appendBaselineMs / 1000));
      readAck.core.push(total / (readAckCoreMs / 1000));
      readAck.baseline.push(total / (readAckBaselineMs / 1000));
    }
  }
  return { append, readAck };
}

/**
 * Bulk read + ACK of TSD records that were flushed to `.imx` files on the real filesystem first
 * (so every read comes from disk), against the TypeScript FIFO draining as many records.
 */
export function measureDiskReadAck(board: Board, repeats: number, warmup = 0): RateSamples {
  const records = recordsPerRound(board, "tsd");
  const result: RateSamples = { core: [], baseline: [], records };
  for (let round = 0; round < warmup + repeats; round++) {
    const dir = tempDirMake("readack");
    try {
      const device = Device.create({ board, storageDir: dir });
      const index = device.configureStream(1, 1, { type: "tsd", sampleRateMs: 1000 });
      const core = device.exports;
      const clock = new Clock(Math.max(1, board.tier.tickIntervalMs));
      for (let i = 0; i < records; i++) {
        if (core.streamWriteTsd(index, i, T0 + i * 1000) !== 0) throw new Error("append failed");
      }
      device.flushAllToDisk();
      if (flushDrain(device, () => clock.tick(device), TICKS_MAX) < 0) throw new Error("flush did not reach 101");
      const bulk = device.bulkCapacity;
      let t = performance.now();
      let left = records;
      while (left > 0) {
        const n = core.streamReadBulk(index, bulk);
        if (n <= 0 || core.streamAck(index, n) !== 0) throw new Error("disk read/ack failed");
        left -= n;
      }
      const coreRate = records / ((performance.now() - t) / 1000);
      const fifo = new TypedFifo(records);
      for (let i = 0; i < records; i++) fifo.append(i, T0 + i * 1000);
      const outValues = new Uint32Array(bulk);
      const outTimes = new Float64Array(bulk);
      t = performance.now();
      left = records;
      while (left > 0) {
        const n = fifo.read(outValues, outTimes, bulk);
        fifo.ack(n);
        left -= n;
      }
      const baselineRate = records / ((performance.now() - t) / 1000);
      if (round >= warmup) {
        result.core.push(coreRate);
        result.baseline.push(baselineRate);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return result;
}
