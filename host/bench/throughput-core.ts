// Append and bulk read+ACK throughput of the wasm core through its raw exports, with the plain
// TypeScript FIFO (common.ts) measured in the same run as the baseline. Used by throughput.ts and
// by the `bench` suite.

import type { Board } from "../boards.js";
import type { CoreExports } from "../core/core-exports.generated.js";
import { Device } from "../core/device.js";
import { recordsPerSector } from "../format/imx.js";
import { Clock, TypedFifo, tempDirMake } from "./common.js";
import fs from "node:fs";
import path from "node:path";
import { flushDrain } from "../core/flush.js";
import { HISTORY_DIR, IMX_SUFFIX } from "../format/imx.js";
import { listFilesRecursive } from "../hal/atomic.js";
import { NodeFsHal } from "../hal/node-fs.js";

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
// The core appends a round in batched writes (writeTsdMany/writeEvtMany: one core call per bulk
// buffer of records) from the same typed arrays the FIFO appends from.
function coreAppendTsd(device: Device, values: Uint32Array, from: number): void {
  device.writeTsdMany(0, 1, values, T0 + from * 1000);
}

function coreAppendEvt(device: Device, values: Uint32Array, times: Float64Array): void {
  device.writeEvtMany(0, 1, values, times);
}

function coreDrain(core: CoreExports, index: number, records: number, bulk: number): void {
  let left = records;
  while (left > 0) {
    const n = core.streamReadBulk(index, bulk);
    if (n <= 0 || core.streamAck(index, n) !== 0) throw new Error("read/ack failed");
    left -= n;
  }
}

function fifoAppend(fifo: TypedFifo, values: Uint32Array, times: Float64Array): void {
  const count = values.length;
  for (let i = 0; i < count; i++) fifo.append(values[i] ?? 0, times[i] ?? 0);
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
    const values = new Uint32Array(records);
    const times = new Float64Array(records);
    for (let cycle = 0; cycle < cycles; cycle++) {
      const base = cycle * records;
      for (let i = 0; i < records; i++) {
        values[i] = (base + i) % 0x1_0000_0000;
        times[i] = T0 + (base + i) * 1000;
      }
      let t = performance.now();
      if (kind === "tsd") coreAppendTsd(device, values, base);
      else coreAppendEvt(device, values, times);
      appendCoreMs += performance.now() - t;
      t = performance.now();
      coreDrain(core, index, records, bulk);
      readAckCoreMs += performance.now() - t;

      t = performance.now();
      fifoAppend(fifo, values, times);
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

export interface DiskReadSamples {
  /** Bulk reads alone (then reverted): the read path. */
  read: RateSamples;
  /** Bulk reads each followed by its ACK, made durable (an ACK-log append + fsync each). */
  readAck: RateSamples;
  /** ACKs per repetition of readAck. */
  acks: number;
}

/**
 * Bulk reads, and then bulk reads + ACK, of TSD records that were flushed to `.imx` files on the
 * real filesystem first (so every read comes from disk), against plain reads (readFileSync) of the
 * same files, made just before in the same round (all find the files in the page cache the flush
 * left them in).
 */
export function measureDiskReadAck(board: Board, repeats: number, warmup = 0): DiskReadSamples {
  const records = recordsPerRound(board, "tsd");
  const result: RateSamples = { core: [], baseline: [], records };
  const read: RateSamples = { core: [], baseline: [], records };
  let acks = 0;
  for (let round = 0; round < warmup + repeats; round++) {
    const dir = tempDirMake("readack");
    try {
      const device = Device.create({ board, storageDir: dir });
      const index = device.configureStream(1, 1, { type: "tsd", sampleRateMs: 1000 });
      const core = device.exports;
      const clock = new Clock(Math.max(1, board.tier.tickIntervalMs));
      const values = Uint32Array.from({ length: records }, (_, i) => i);
      device.writeTsdMany(1, 1, values, T0);
      device.flushAllToDisk();
      if (flushDrain(device, () => clock.tick(device), TICKS_MAX) < 0) throw new Error("flush did not reach 101");
      const files = listFilesRecursive(new NodeFsHal(dir), HISTORY_DIR, IMX_SUFFIX).map((file) => path.join(dir, file));
      let t = performance.now();
      let bytes = 0;
      for (const file of files) bytes += fs.readFileSync(file).byteLength;
      const baselineRate = records / ((performance.now() - t) / 1000);
      if (bytes === 0) throw new Error("the flush wrote no file");
      const bulk = device.bulkCapacity;
      t = performance.now();
      let left = records;
      while (left > 0) {
        const n = core.streamReadBulk(index, bulk);
        if (n <= 0) throw new Error("disk read failed");
        left -= n;
      }
      const readRate = records / ((performance.now() - t) / 1000);
      if (core.streamRevert(index) < 0) throw new Error("revert failed");
      t = performance.now();
      left = records;
      acks = 0;
      while (left > 0) {
        const n = core.streamReadBulk(index, bulk);
        if (n <= 0 || core.streamAck(index, n) !== 0) throw new Error("disk read/ack failed");
        left -= n;
        acks++;
      }
      const coreRate = records / ((performance.now() - t) / 1000);
      if (round >= warmup) {
        result.core.push(coreRate);
        result.baseline.push(baselineRate);
        read.core.push(readRate);
        read.baseline.push(baselineRate);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return { read, readAck: result, acks };
}
