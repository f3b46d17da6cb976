// The durability benchmark: what the disk tier costs per operation, counted by the HAL itself, so
// the figures are the same on every machine and a test can hold them to budgets (bench/budgets.json).
//
// For every board with a disk tier, on a MemoryHal, with every stream the board allows configured:
// one warm-up iteration, then DURABILITY_ITERATIONS measured 100-sector iterations (fewer where RAM is smaller, see
// durabilitySectors): write, flush to one file, read it all in bulk and acknowledge it with one
// group commit (ackMany, one upload cycle as the uploader sends it), clean up until the file is
// deleted. From the HAL's counters (Hal.stats()) it reports the syncs (syncFile + syncDir)
// and HAL calls of the iteration, and the metadata bytes (every write that is not an `.imx` file)
// written by the ACK calls that erased disk records, per such ACK. Then steady spilling (records
// written at a fixed rate, no upload, until the disk tier refuses a spill) gives the write
// amplification: every byte written to the disk tier, headers and metadata included, over the
// bytes of the RAM sectors moved there. Last, on a device under the immediate policy, one
// whole-file ACK (SPEC.md 6.5: an ACK that erases the oldest file exactly to its end, made durable
// by the file's deletion alone): its syncs, HAL calls and metadata bytes.

import { type Board, listBoards } from "../boards.js";
import { Device } from "../core/device.js";
import { flushDrain } from "../core/flush.js";
import { IMX_HEADER_BYTES, IMX_SUFFIX, TMP_SUFFIX } from "../format/imx.js";
import type { HalStats } from "../hal/hal.js";
import { HalWrapper } from "../hal/hal-wrapper.js";
import { MemoryHal } from "../hal/memory.js";
import { SECTORS_PER_ITERATION, recordsPerIteration } from "./cleanup-core.js";
import { Clock, roundTo } from "./common.js";

const SOURCE = 1;
const SENSOR = 1;
const SAMPLE_RATE_MS = 1000;
const TICKS_MAX = 100_000;
/** Records written by the steady-spilling part: several times any board's RAM, the same in --quick. */
export const DURABILITY_STEADY_RECORDS = 60_000;
const STEADY_RECORDS_PER_TICK = 10;
/** Measured iterations after the warm-up; figures are per iteration. */
export const DURABILITY_ITERATIONS = 20;

/** A Hal that splits the bytes written into data (`.imx` files and their temporaries) and metadata. */
export class ByteSplitHal extends HalWrapper {
  dataBytes = 0;
  metadataBytes = 0;
  constructor(inner = new MemoryHal()) {
    super(inner, inner.kind);
  }
  override writeFile(path: string, data: Uint8Array): void {
    super.writeFile(path, data);
    this.count(path, data.byteLength);
  }
  override appendFile(path: string, data: Uint8Array): void {
    super.appendFile(path, data);
    this.count(path, data.byteLength);
  }
  private count(path: string, bytes: number): void {
    const name = path.endsWith(TMP_SUFFIX) ? path.slice(0, -TMP_SUFFIX.length) : path;
    if (name.endsWith(IMX_SUFFIX)) this.dataBytes += bytes;
    else this.metadataBytes += bytes;
  }
}

export interface DurabilityRun {
  board: string;
  sectorsPerIteration: number;
  /** syncFile + syncDir calls of one 100-sector iteration. */
  syncsPerIteration: number;
  /** Every HAL call of the iteration. */
  halCallsPerIteration: number;
  /** Metadata bytes written by the ACKs that erased disk records, per such ACK. */
  metadataBytesPerAck: number;
  /** ACK calls of the iteration that erased disk records. */
  acksTouchingDisk: number;
  /**
   * ACK-log compactions per iteration (each is a checkpoint's temp file synced, renamed and its
   * directory synced: 2 syncs, 4 HAL calls), the part of syncsPerIteration above the iteration's 4.
   */
  compactionsPerIteration: number;
  /** Syncs of one whole-file ACK (the deletion's directory sync). */
  wholeFileAckSyncs: number;
  /** HAL calls of one whole-file ACK (the removal and the directory sync). */
  wholeFileAckHalCalls: number;
  /** Metadata bytes of one whole-file ACK (none: no record). */
  wholeFileAckMetadataBytes: number;
  /** `.imx` files the iteration wrote. */
  filesPerIteration: number;
  bytesWrittenPerIteration: number;
  /** Steady spilling: all bytes written ÷ bytes of the RAM sectors spilled. */
  writeAmplification: number;
  /** Whether a full file is at least ten `.imx` headers, so the 1.10 target is reachable by format. */
  amplificationJudged: boolean;
  steadySectorsSpilled: number;
  steadyBytesWritten: number;
  /** The measured iteration, ms (informative: the counters are what is judged). */
  iterationMs: number;
}

function halCalls(stats: HalStats): number {
  return Object.values(stats.calls).reduce((a, b) => a + b, 0);
}

/**
 * Sectors of one iteration: 100, or fewer on a board whose RAM or file size cannot take them
 * without spilling early (tiny), so the iteration still spills to one file.
 */
export function durabilitySectors(board: Board): number {
  const ramSectors = Math.floor((board.memory.sectorCount * board.tier.spillThresholdPercent) / 100) - 1;
  return Math.min(SECTORS_PER_ITERATION, board.disk?.sectorsPerFileMax ?? 0, ramSectors);
}

/** Every stream the board allows is configured (the measured one is stream 0): metadata that grows with streams shows. */
function streamsConfigure(device: Device): void {
  device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
  for (let i = 1; i < device.board.memory.streamsMax; i++) {
    device.configureStream(SOURCE + 1, i, { type: "evt", dataType: "uint32" });
  }
}

async function iterationOnce(
  device: Device,
  hal: ByteSplitHal,
  clock: Clock,
  firstSeq: number,
): Promise<{ metadataBytes: number; acksTouchingDisk: number; files: number }> {
  const records = recordsPerIteration(device.board, durabilitySectors(device.board));
  for (let i = 0; i < records; i++) {
    const seq = firstSeq + i;
    device.writeTsd(SOURCE, SENSOR, seq % 1000, seq * SAMPLE_RATE_MS);
  }
  const filesBefore = device.stats().filesCreated;
  device.flushAllToDisk();
  if (flushDrain(device, () => clock.tick(device), TICKS_MAX) < 0) throw new Error("flush did not reach 101");
  const files = device.stats().filesCreated - filesBefore;
  // One upload cycle: bulk reads until the iteration's records are all in flight, then the cloud's
  // answer, one group commit (ackMany, as the uploader sends it). Every record of the iteration is
  // on disk after the flush, so the ACK erases disk records.
  let read = 0;
  while (read < records) {
    const batch = device.readBulk(SOURCE, SENSOR, device.bulkCapacity);
    if (batch.length === 0) throw new Error(`stream ran dry after ${read} of ${records} records`);
    read += batch.length;
  }
  const before = hal.metadataBytes;
  device.ackMany([{ source: SOURCE, sensor: SENSOR, count: read }]);
  const metadataBytes = hal.metadataBytes - before;
  const acksTouchingDisk = 1;
  for (let ticks = 0; !device.isCleanupComplete(); ticks++) {
    if (ticks >= TICKS_MAX) throw new Error("cleanup did not complete");
    if (device.board.tier.cleanupPolicy === "lazy") await device.settle();
    else clock.tick(device);
  }
  return { metadataBytes, acksTouchingDisk, files };
}

/**
 * One whole-file ACK, on a device of `board` under the immediate policy (the one the rule applies
 * to): an iteration's records flushed to one file, a first ACK of one record (the first record
 * after a flush tops the reservation up, so it is appended), then the ACK of the rest of the file,
 * exactly to its end, sent as the uploader sends it (ackMany). Returns that ACK's cost.
 */
async function wholeFileAck(board: Board): Promise<{ syncs: number; halCalls: number; metadataBytes: number }> {
  const hal = new ByteSplitHal();
  const device = Device.create({ board, hal, policy: "immediate" });
  streamsConfigure(device);
  const clock = new Clock(Math.max(1, board.tier.tickIntervalMs));
  await iterationOnce(device, hal, clock, 0); // warm-up: directories and the first reservation
  const records = recordsPerIteration(board, durabilitySectors(board));
  for (let i = 0; i < records; i++) {
    const seq = records + i;
    device.writeTsd(SOURCE, SENSOR, seq % 1000, seq * SAMPLE_RATE_MS);
  }
  const filesBefore = device.stats().filesCreated;
  device.flushAllToDisk();
  if (flushDrain(device, () => clock.tick(device), TICKS_MAX) < 0) throw new Error("flush did not reach 101");
  if (device.stats().filesCreated - filesBefore !== 1) throw new Error("the records did not go to one file");
  device.readBulk(SOURCE, SENSOR, 1);
  device.ackMany([{ source: SOURCE, sensor: SENSOR, count: 1 }]);
  let read = 0;
  while (read < records - 1) {
    const batch = device.readBulk(SOURCE, SENSOR, Math.min(device.bulkCapacity, records - 1 - read));
    if (batch.length === 0) throw new Error(`stream ran dry after ${read} of ${records - 1} records`);
    read += batch.length;
  }
  const before = hal.stats();
  const metadataBefore = hal.metadataBytes;
  const deletedBefore = device.stats().filesDeleted;
  device.ackMany([{ source: SOURCE, sensor: SENSOR, count: read }]);
  const after = hal.stats();
  if (device.stats().filesDeleted === deletedBefore) throw new Error("the whole-file ACK deleted no file");
  return {
    syncs: after.syncs - before.syncs,
    halCalls: halCalls(after) - halCalls(before),
    metadataBytes: hal.metadataBytes - metadataBefore,
  };
}

function steadyAmplification(board: Board): { amplification: number; sectors: number; bytes: number } {
  const hal = new ByteSplitHal();
  const device = Device.create({ board, hal });
  streamsConfigure(device);
  const clock = new Clock(Math.max(1, board.tier.tickIntervalMs));
  const before = hal.stats().bytesWritten;
  // Steady spilling ends where the disk tier fills (tiny's 2 KiB quota): what follows is discarding.
  for (let seq = 0; seq < DURABILITY_STEADY_RECORDS && device.stats().spillsRefused === 0; seq++) {
    device.writeTsd(SOURCE, SENSOR, seq % 1000, seq * SAMPLE_RATE_MS);
    if ((seq + 1) % STEADY_RECORDS_PER_TICK === 0) clock.tick(device);
  }
  const sectors = device.stats().sectorsSpilled;
  const bytes = hal.stats().bytesWritten - before;
  const moved = sectors * board.memory.sectorBytes;
  return { amplification: moved > 0 ? roundTo(bytes / moved, 4) : 0, sectors, bytes };
}

/** The durability figures of one board (which must have a disk tier). */
export async function measureDurability(board: Board): Promise<DurabilityRun> {
  if (!board.disk) throw new Error(`${board.name} has no disk tier`);
  const hal = new ByteSplitHal();
  const device = Device.create({ board, hal });
  streamsConfigure(device);
  const clock = new Clock(Math.max(1, board.tier.tickIntervalMs));
  const records = recordsPerIteration(board, durabilitySectors(board));
  await iterationOnce(device, hal, clock, 0); // warm-up: directories and the first reservation
  const before = hal.stats();
  const bytesBefore = before.bytesWritten;
  const compactionsBefore = device.stats().ackLogCompactions;
  const started = performance.now();
  // Several iterations, so a compaction of the ACK log counts as its share per iteration.
  const measured = { metadataBytes: 0, acksTouchingDisk: 0, files: 0 };
  for (let i = 1; i <= DURABILITY_ITERATIONS; i++) {
    const one = await iterationOnce(device, hal, clock, i * records);
    measured.metadataBytes += one.metadataBytes;
    measured.acksTouchingDisk += one.acksTouchingDisk;
    measured.files += one.files;
  }
  const iterationMs = (performance.now() - started) / DURABILITY_ITERATIONS;
  const after = hal.stats();
  const compactions = device.stats().ackLogCompactions - compactionsBefore;
  const steady = steadyAmplification(board);
  const whole = await wholeFileAck(board);
  return {
    board: board.name,
    sectorsPerIteration: durabilitySectors(board),
    syncsPerIteration: roundTo((after.syncs - before.syncs) / DURABILITY_ITERATIONS, 2),
    halCallsPerIteration: roundTo((halCalls(after) - halCalls(before)) / DURABILITY_ITERATIONS, 2),
    metadataBytesPerAck:
      measured.acksTouchingDisk > 0 ? roundTo(measured.metadataBytes / measured.acksTouchingDisk, 2) : 0,
    acksTouchingDisk: roundTo(measured.acksTouchingDisk / DURABILITY_ITERATIONS, 2),
    compactionsPerIteration: roundTo(compactions / DURABILITY_ITERATIONS, 2),
    wholeFileAckSyncs: whole.syncs,
    wholeFileAckHalCalls: whole.halCalls,
    wholeFileAckMetadataBytes: whole.metadataBytes,
    filesPerIteration: roundTo(measured.files / DURABILITY_ITERATIONS, 2),
    bytesWrittenPerIteration: roundTo((after.bytesWritten - bytesBefore) / DURABILITY_ITERATIONS, 2),
    writeAmplification: steady.amplification,
    amplificationJudged: board.disk.sectorsPerFileMax * board.memory.sectorBytes >= 10 * IMX_HEADER_BYTES,
    steadySectorsSpilled: steady.sectors,
    steadyBytesWritten: steady.bytes,
    iterationMs,
  };
}

/** Every board with a disk tier, in name order. */
export function durabilityBoards(): Board[] {
  return listBoards()
    .filter((board) => Boolean(board.disk))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The counters the budgets hold (bench/budgets.json): the worst board's figure of each. */
export const DURABILITY_BUDGETED = [
  "syncsPerIteration",
  "halCallsPerIteration",
  "metadataBytesPerAck",
  "writeAmplification",
  "wholeFileAckSyncs",
  "wholeFileAckHalCalls",
  "wholeFileAckMetadataBytes",
] as const;
export type DurabilityBudgeted = (typeof DURABILITY_BUDGETED)[number];
