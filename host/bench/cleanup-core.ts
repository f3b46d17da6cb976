// The 100-sector iteration the cleanup measurements are built on, shared by cleanup-measure.ts and
// the `bench` suite: write TSD records that fill SECTORS_PER_ITERATION sectors, flush them to disk
// (flushAllToDisk + processMemory until progress 101), upload them in bulk reads each acknowledged,
// and time from just before the last ACK until isCleanupComplete() — for immediate that is the ACK
// itself, for batched the processMemory ticks it takes on a simulated clock, for lazy the awaited
// settle(). Every iteration must end with no `.imx` file left. Also the plain-unlink baseline, the
// floor for the same guarantee (an ACK record appended and fsynced, then the unlinks, with plain fs calls), the
// write+fsync+rename baseline of the same bytes, and steady spilling without upload.

import fs from "node:fs";
import path from "node:path";
import { type Board, type CleanupPolicy, withOverrides } from "../boards.js";
import { Device } from "../core/device.js";
import { HISTORY_DIR, IMX_SUFFIX, recordsPerSector } from "../format/imx.js";
import { ACK_RECORD_BYTES } from "../format/positions.js";
import { listFilesRecursive } from "../hal/atomic.js";
import type { Hal, HalStats } from "../hal/hal.js";
import { MemoryHal } from "../hal/memory.js";
import { Clock, type Summary, summary, tempDirMake } from "./common.js";
import { flushDrain } from "../core/flush.js";

export const SECTORS_PER_ITERATION = 100;
const TICKS_MAX = 100_000;
const SOURCE = 1;
const SENSOR = 1;
const SAMPLE_RATE_MS = 1000;

export type HalKind = "fs" | "memory";

/** TSD records that fill `sectors` sectors exactly (an 8-byte time, then 4-byte values). */
export function recordsPerIteration(board: Board, sectors = SECTORS_PER_ITERATION): number {
  return sectors * recordsPerSector("tsd", board.memory.sectorBytes);
}

function imxSizes(hal: Hal): number[] {
  if (!hal.isDir(HISTORY_DIR)) return [];
  return listFilesRecursive(hal, HISTORY_DIR, IMX_SUFFIX).map((file) => hal.fileSize(file));
}

export interface IterationResult {
  cleanupMs: number;
  /** The last ACK call alone (it makes the new ACK position durable, and deletes under immediate). */
  lastAckMs: number;
  /** flushAllToDisk until progress 101: moving the iteration's sectors to `.imx` files. */
  spillMs: number;
  /** The whole iteration: write, spill, read, ACK, cleanup. */
  totalMs: number;
  files: number;
  sectorsSpilled: number;
  fileBytes: number[];
  /** Each processMemory call while spilling, and while cleaning up (batched only). */
  spillTickMs: number[];
  cleanupTickMs: number[];
}

function timedTick(clock: Clock, device: Device, into: number[]): void {
  const t = performance.now();
  clock.tick(device);
  into.push(performance.now() - t);
}

/** One iteration: write, flush to disk, upload, and time the cleanup after the last ACK. */
export async function iteration(
  device: Device,
  clock: Clock,
  policy: CleanupPolicy,
  firstSeq: number,
  sectors = SECTORS_PER_ITERATION,
): Promise<IterationResult> {
  const records = recordsPerIteration(device.board, sectors);
  const began = performance.now();
  for (let i = 0; i < records; i++) {
    const seq = firstSeq + i;
    device.writeTsd(SOURCE, SENSOR, seq % 1000, seq * SAMPLE_RATE_MS);
  }
  const before = device.stats();
  const spillTickMs: number[] = [];
  const spillStarted = performance.now();
  device.flushAllToDisk();
  if (flushDrain(device, () => timedTick(clock, device, spillTickMs), TICKS_MAX) < 0) {
    throw new Error("flush did not reach 101");
  }
  const spillMs = performance.now() - spillStarted;
  const after = device.stats();
  const files = after.filesCreated - before.filesCreated;
  const sectorsSpilled = after.sectorsSpilled - before.sectorsSpilled;
  const fileBytes = imxSizes(device.hal);
  if (fileBytes.length !== files) throw new Error(`expected ${files} .imx files, found ${fileBytes.length}`);

  let started = 0;
  let lastAckMs = 0;
  let acked = 0;
  while (acked < records) {
    const batch = device.readBulk(SOURCE, SENSOR, device.bulkCapacity);
    if (batch.length === 0) throw new Error(`stream ran dry after ${acked} of ${records} records`);
    const last = acked + batch.length >= records;
    if (last) started = performance.now();
    device.ack(SOURCE, SENSOR, batch.length);
    if (last) lastAckMs = performance.now() - started;
    acked += batch.length;
  }
  const cleanupTickMs: number[] = [];
  for (let ticks = 0; !device.isCleanupComplete(); ticks++) {
    if (ticks >= TICKS_MAX) throw new Error(`${policy}: cleanup did not complete`);
    if (policy === "lazy") await device.settle();
    else timedTick(clock, device, cleanupTickMs);
  }
  const ended = performance.now();
  const left = imxSizes(device.hal).length;
  if (left !== 0) throw new Error(`${policy}: ${left} .imx files left after cleanup`);
  return {
    cleanupMs: ended - started,
    lastAckMs,
    spillMs,
    totalMs: ended - began,
    files,
    sectorsSpilled,
    fileBytes,
    spillTickMs,
    cleanupTickMs,
  };
}

export interface PolicyRun {
  policy: CleanupPolicy;
  hal: HalKind;
  cleanup: Summary;
  cleanupSamplesMs: number[];
  lastAckMedianMs: number;
  spillSamplesMs: number[];
  /**
   * Baselines interleaved with the iterations (one repetition after each, same files and sizes), so
   * both sides of a ratio see the same moment of the machine: plain unlinks, and write+fsync+rename.
   */
  unlinkSamplesMs: number[];
  /**
   * The floor for the same guarantee, interleaved the same way: what cleanup must do at least with
   * plain fs calls — one ACK-log-sized record appended and fsynced (the ACK made durable), then
   * the unlinks of the same files.
   */
  floorSamplesMs: number[];
  writeSamplesMs: number[];
  /** write + fsync + rename + directory fsync of the same files, interleaved the same way. */
  writeFloorSamplesMs: number[];
  iterationSamplesMs: number[];
  spillTickMs: number[];
  cleanupTickMs: number[];
  files: number;
  sectorsSpilled: number;
  fileBytes: number[];
  records: number;
  halStats: HalStats;
}

export interface PolicyRunOptions {
  iterations: number;
  warmup: number;
  hal?: HalKind;
  sectors?: number;
}

/** `iterations` iterations (after `warmup`) of one policy on one device. */
export async function measurePolicy(
  board: Board,
  policy: CleanupPolicy,
  options: PolicyRunOptions,
): Promise<PolicyRun> {
  const halKind = options.hal ?? "fs";
  const sectors = options.sectors ?? SECTORS_PER_ITERATION;
  const dir = halKind === "fs" ? tempDirMake(policy) : undefined;
  try {
    const policyBoard = withOverrides(board, { cleanupPolicy: policy });
    const device =
      dir === undefined
        ? Device.create({ board: policyBoard, hal: new MemoryHal() })
        : Device.create({ board: policyBoard, storageDir: dir });
    device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = new Clock(Math.max(1, board.tier.tickIntervalMs));
    const run: PolicyRun = {
      policy,
      hal: halKind,
      cleanup: { medianMs: 0, p99Ms: 0, maxMs: 0 },
      cleanupSamplesMs: [],
      lastAckMedianMs: 0,
      spillSamplesMs: [],
      unlinkSamplesMs: [],
      floorSamplesMs: [],
      writeSamplesMs: [],
      writeFloorSamplesMs: [],
      iterationSamplesMs: [],
      spillTickMs: [],
      cleanupTickMs: [],
      files: 0,
      sectorsSpilled: 0,
      fileBytes: [],
      records: 0,
      halStats: device.hal.stats(),
    };
    const lastAckSamplesMs: number[] = [];
    const filesPerIteration = new Set<number>();
    const records = recordsPerIteration(board, sectors);
    let halBefore = device.hal.stats();
    baselineUnlinkSamples([1], 1, 1);
    baselineFloorSamples([1], 1, 1);
    baselineWriteSamples([1], 1, 1);
    baselineWriteSamples([1], 1, 1, true);
    for (let i = 0; i < options.warmup + options.iterations; i++) {
      if (i === options.warmup) halBefore = device.hal.stats();
      const result = await iteration(device, clock, policy, i * records, sectors);
      const unlinkMs = baselineUnlinkSamples(result.fileBytes, 1, 0);
      const floorMs = baselineFloorSamples(result.fileBytes, 1, 0);
      const writeMs = baselineWriteSamples(result.fileBytes, 1, 0);
      const writeFloorMs = baselineWriteSamples(result.fileBytes, 1, 0, true);
      if (i < options.warmup) continue;
      run.unlinkSamplesMs.push(...unlinkMs);
      run.floorSamplesMs.push(...floorMs);
      run.writeSamplesMs.push(...writeMs);
      run.writeFloorSamplesMs.push(...writeFloorMs);
      run.cleanupSamplesMs.push(result.cleanupMs);
      lastAckSamplesMs.push(result.lastAckMs);
      run.spillSamplesMs.push(result.spillMs);
      run.iterationSamplesMs.push(result.totalMs);
      run.spillTickMs.push(...result.spillTickMs);
      run.cleanupTickMs.push(...result.cleanupTickMs);
      filesPerIteration.add(result.files);
      run.files += result.files;
      run.sectorsSpilled += result.sectorsSpilled;
      run.records += records;
      run.fileBytes = result.fileBytes;
    }
    if (filesPerIteration.size !== 1)
      throw new Error(`${policy}: files per iteration varied: ${[...filesPerIteration].join(", ")}`);
    run.files = [...filesPerIteration][0] ?? 0;
    run.sectorsSpilled /= options.iterations;
    run.records /= options.iterations;
    run.cleanup = summary(run.cleanupSamplesMs);
    run.lastAckMedianMs = summary(lastAckSamplesMs).medianMs;
    run.halStats = statsDelta(device.hal.stats(), halBefore, options.iterations);
    return run;
  } finally {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** HAL counters per iteration: (after - before) / iterations. */
function statsDelta(after: HalStats, before: HalStats, iterations: number): HalStats {
  const calls = { ...after.calls };
  for (const op of Object.keys(calls) as Array<keyof typeof calls>) {
    calls[op] = (after.calls[op] - before.calls[op]) / iterations;
  }
  return {
    calls,
    bytesWritten: (after.bytesWritten - before.bytesWritten) / iterations,
    bytesRead: (after.bytesRead - before.bytesRead) / iterations,
    filesCreated: (after.filesCreated - before.filesCreated) / iterations,
    filesRemoved: (after.filesRemoved - before.filesRemoved) / iterations,
    syncs: (after.syncs - before.syncs) / iterations,
  };
}

function writeFiles(bucket: string, prefix: string, fileBytes: readonly number[]): string[] {
  return fileBytes.map((bytes, k) => {
    const file = path.join(bucket, `${prefix}_${k}.imx`);
    const fd = fs.openSync(file, "w");
    fs.writeSync(fd, new Uint8Array(bytes));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    return file;
  });
}

/** Plain fs.unlinkSync of files of the given sizes (written and fsynced first); ms per repetition. */
export function baselineUnlinkSamples(fileBytes: readonly number[], repeats: number, warmup: number): number[] {
  const dir = tempDirMake("baseline");
  try {
    const bucket = path.join(dir, HISTORY_DIR, "0");
    fs.mkdirSync(bucket, { recursive: true });
    const samplesMs: number[] = [];
    for (let i = 0; i < warmup + repeats; i++) {
      const files = writeFiles(bucket, `baseline_${i}`, fileBytes);
      const started = performance.now();
      for (const file of files) fs.unlinkSync(file);
      if (i >= warmup) samplesMs.push(performance.now() - started);
    }
    return samplesMs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor for cleanup's guarantee with plain fs calls: one ACK_RECORD_BYTES record appended to a
 * log file and fsynced (what makes an ACK durable), then fs.unlinkSync of files of the given sizes
 * (written and fsynced first, as for the unlink baseline); ms per repetition.
 */
export function baselineFloorSamples(fileBytes: readonly number[], repeats: number, warmup: number): number[] {
  const dir = tempDirMake("baseline-floor");
  try {
    const bucket = path.join(dir, HISTORY_DIR, "0");
    fs.mkdirSync(bucket, { recursive: true });
    const log = path.join(dir, HISTORY_DIR, "acks.log");
    const logFd = fs.openSync(log, "a");
    const record = new Uint8Array(ACK_RECORD_BYTES);
    const samplesMs: number[] = [];
    try {
      for (let i = 0; i < warmup + repeats; i++) {
        const files = writeFiles(bucket, `floor_${i}`, fileBytes);
        const started = performance.now();
        fs.writeSync(logFd, record);
        fs.fsyncSync(logFd);
        for (const file of files) fs.unlinkSync(file);
        if (i >= warmup) samplesMs.push(performance.now() - started);
      }
    } finally {
      fs.closeSync(logFd);
    }
    return samplesMs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writing the same bytes to as many files with write + fsync + rename; ms per repetition. With
 * `dirSync`, each rename is followed by an fsync of the directory: the I/O floor of a safe flush
 * (a renamed file whose directory entry is not durable may vanish with a power cut).
 */
export function baselineWriteSamples(
  fileBytes: readonly number[],
  repeats: number,
  warmup: number,
  dirSync = false,
): number[] {
  const dir = tempDirMake("baseline-write");
  try {
    const bucket = path.join(dir, HISTORY_DIR, "0");
    fs.mkdirSync(bucket, { recursive: true });
    const samplesMs: number[] = [];
    for (let i = 0; i < warmup + repeats; i++) {
      const started = performance.now();
      fileBytes.forEach((bytes, k) => {
        const file = path.join(bucket, `w_${i}_${k}.imx`);
        const fd = fs.openSync(`${file}.tmp`, "w");
        fs.writeSync(fd, new Uint8Array(bytes));
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(`${file}.tmp`, file);
        if (dirSync) {
          const dirFd = fs.openSync(bucket, "r");
          fs.fsyncSync(dirFd);
          fs.closeSync(dirFd);
        }
      });
      if (i >= warmup) samplesMs.push(performance.now() - started);
      for (let k = 0; k < fileBytes.length; k++) fs.unlinkSync(path.join(bucket, `w_${i}_${k}.imx`));
    }
    return samplesMs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface SteadySpill {
  recordsWritten: number;
  recordsPerTick: number;
  tickMs: number;
  recordsSpilled: number;
  recordsDiscarded: number;
  sectorsSpilled: number;
  filesCreated: number;
  bytesWritten: number;
  filesPer1000Records: number;
  sectorsPerFile: number;
  /** Duration of each processMemory call. */
  tickSamplesMs: number[];
}

/** Steady spilling: `records` records at `recordsPerTick` per tick, no flush, no upload. */
export function steadySpill(board: Board, records: number, recordsPerTick: number, hal: HalKind = "fs"): SteadySpill {
  const dir = hal === "fs" ? tempDirMake("steady") : undefined;
  try {
    const device =
      dir === undefined ? Device.create({ board, hal: new MemoryHal() }) : Device.create({ board, storageDir: dir });
    device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = new Clock(board.tier.tickIntervalMs || 100);
    const tickSamplesMs: number[] = [];
    for (let seq = 0; seq < records; seq++) {
      device.writeTsd(SOURCE, SENSOR, seq % 1000, seq * SAMPLE_RATE_MS);
      if ((seq + 1) % recordsPerTick === 0) timedTick(clock, device, tickSamplesMs);
    }
    const stats = device.stats();
    const recordsSpilled = stats.sectorsSpilled * recordsPerSector("tsd", board.memory.sectorBytes);
    const filesOnDisk = imxSizes(device.hal).length;
    if (filesOnDisk !== stats.filesCreated)
      throw new Error(`steady: ${filesOnDisk} files on disk, ${stats.filesCreated} created`);
    return {
      recordsWritten: records,
      recordsPerTick,
      tickMs: clock.stepMs,
      recordsSpilled,
      recordsDiscarded: stats.recordsDiscarded,
      sectorsSpilled: stats.sectorsSpilled,
      filesCreated: stats.filesCreated,
      bytesWritten: stats.bytesWritten,
      filesPer1000Records:
        recordsSpilled > 0 ? Math.round(((stats.filesCreated * 1000) / recordsSpilled) * 1000) / 1000 : 0,
      sectorsPerFile: stats.filesCreated > 0 ? Math.round((stats.sectorsSpilled / stats.filesCreated) * 100) / 100 : 0,
      tickSamplesMs,
    };
  } finally {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}
