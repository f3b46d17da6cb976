// Cleanup latency, measured: the seed's "100-sector iteration" on the default board (fc1-imx6),
// with the `.imx` tier on the real filesystem under os.tmpdir().
//
// Per cleanup policy, ITERATIONS times on one device: write 600 TSD records into one stream
// (100 full sectors of 6 records), flush them to disk (flushAllToDisk + processMemory until progress
// 101), then upload them in bulk reads of up to bulkRecordsMax records, each acknowledged, and time
// from just before the last ACK until isCleanupComplete() — for immediate that is the ACK itself,
// for batched the processMemory ticks it takes on a simulated clock advancing by the tick interval,
// for lazy the awaited settle(). Every iteration must end with no `.imx` file in the directory.
// A baseline in the same run unlinks as many files of the same sizes with plain fs.unlinkSync.
// Then, steady spilling: 100,000 records written at RECORDS_PER_TICK per 100 ms tick with no flush
// and no upload, counting the files the spills create.
//
// Prints one JSON object to stdout (progress goes to stderr):
//   { machine, node, board, iterations, sectorsPerIteration,
//     results: { <policy>: { medianMs, p99Ms, maxMs, files, lastAckMedianMs } },
//       files = .imx files per iteration; lastAckMedianMs = the last ACK call alone, which also
//       rewrites the ACK positions file (SPEC.md §6.3) before anything is erased
//     baselineUnlinkMedianMs, filesPer1000Records, sectorsPerFile, steady: {...} }
// Run: npx tsc -p tsconfig.json && node dist/host/bench/cleanup-measure.js

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type Board,
  CLEANUP_POLICIES,
  type CleanupPolicy,
  DEFAULT_BOARD_NAME,
  loadBoard,
  withOverrides,
} from "../boards.js";
import { IMX_HEADER_BYTES } from "../core/abi.generated.js";
import { Device } from "../core/device.js";

const ITERATIONS = 50;
const WARMUP_ITERATIONS = 3;
const SECTORS_PER_ITERATION = 100;
const STEADY_RECORDS = 100_000;
const RECORDS_PER_TICK = 10;
const TICKS_MAX = 100_000;
const SOURCE = 1;
const SENSOR = 1;
const SAMPLE_RATE_MS = 1000;

interface Summary {
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank quantile of sorted samples. */
function quantile(sorted: number[], q: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

function summary(samplesMs: number[]): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const round = (ms: number): number => Math.round(ms * 1000) / 1000;
  return {
    medianMs: round(quantile(sorted, 0.5)),
    p99Ms: round(quantile(sorted, 0.99)),
    maxMs: round(sorted[sorted.length - 1] ?? 0),
  };
}

function imxFilesUnder(dir: string): string[] {
  const history = path.join(dir, "history");
  if (!fs.existsSync(history)) return [];
  return fs
    .readdirSync(history, { recursive: true, encoding: "utf8" })
    .filter((entry) => entry.endsWith(".imx"))
    .map((entry) => path.join(history, entry));
}

function tempDirMake(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imx-bench-${label}-`));
}

class Clock {
  nowMs = 1000;
  constructor(readonly stepMs: number) {}
  tick(device: Device): void {
    this.nowMs += this.stepMs;
    device.processMemory(this.nowMs);
  }
}

/** TSD records that fill SECTORS_PER_ITERATION sectors exactly (an 8-byte time, then 4-byte values). */
function recordsPerIteration(board: Board): number {
  return (SECTORS_PER_ITERATION * (board.memory.sectorBytes - 8)) / 4;
}

interface IterationResult {
  cleanupMs: number;
  /** The last ACK call alone (it makes the new ACK position durable, and deletes under immediate). */
  lastAckMs: number;
  files: number;
  fileBytes: number[];
}

/** One 100-sector iteration: write, flush to disk, upload, and time the cleanup after the last ACK. */
async function iteration(
  device: Device,
  clock: Clock,
  policy: CleanupPolicy,
  dir: string,
  firstSeq: number,
): Promise<IterationResult> {
  const records = recordsPerIteration(device.board);
  for (let i = 0; i < records; i++) {
    const seq = firstSeq + i;
    device.writeTsd(SOURCE, SENSOR, seq % 1000, seq * SAMPLE_RATE_MS);
  }
  const filesBefore = device.stats().filesCreated;
  device.flushAllToDisk();
  for (let ticks = 0; device.getFlushProgress() !== 101; ticks++) {
    if (ticks >= TICKS_MAX) throw new Error("flush did not reach 101");
    clock.tick(device);
  }
  const files = device.stats().filesCreated - filesBefore;
  const fileBytes = imxFilesUnder(dir).map((file) => fs.statSync(file).size);
  if (fileBytes.length !== files) throw new Error(`expected ${files} .imx files on disk, found ${fileBytes.length}`);

  // Upload: bulk reads, each acknowledged; the timer starts just before the last ACK.
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
  for (let ticks = 0; !device.isCleanupComplete(); ticks++) {
    if (ticks >= TICKS_MAX) throw new Error(`${policy}: cleanup did not complete`);
    if (policy === "lazy") await device.settle();
    else clock.tick(device);
  }
  const cleanupMs = performance.now() - started;
  const left = imxFilesUnder(dir).length;
  if (left !== 0) throw new Error(`${policy}: ${left} .imx files left after cleanup`);
  return { cleanupMs, lastAckMs, files, fileBytes };
}

interface PolicyResult {
  summary: Summary;
  lastAckMedianMs: number;
  files: number;
  fileBytes: number[];
}

async function measurePolicy(board: Board, policy: CleanupPolicy): Promise<PolicyResult> {
  const dir = tempDirMake(policy);
  try {
    const device = Device.create({ board: withOverrides(board, { cleanupPolicy: policy }), storageDir: dir });
    device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = new Clock(Math.max(1, board.tier.tickIntervalMs));
    const samplesMs: number[] = [];
    const lastAckSamplesMs: number[] = [];
    const filesPerIteration = new Set<number>();
    let fileBytes: number[] = [];
    let seq = 0;
    for (let i = 0; i < WARMUP_ITERATIONS + ITERATIONS; i++) {
      const result = await iteration(device, clock, policy, dir, seq);
      seq += recordsPerIteration(board);
      if (i < WARMUP_ITERATIONS) continue;
      samplesMs.push(result.cleanupMs);
      lastAckSamplesMs.push(result.lastAckMs);
      filesPerIteration.add(result.files);
      fileBytes = result.fileBytes;
    }
    if (filesPerIteration.size !== 1)
      throw new Error(`${policy}: files per iteration varied: ${[...filesPerIteration].join(", ")}`);
    process.stderr.write(`${policy}: ${ITERATIONS} iterations done\n`);
    return {
      summary: summary(samplesMs),
      lastAckMedianMs: summary(lastAckSamplesMs).medianMs,
      files: [...filesPerIteration][0] ?? 0,
      fileBytes,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Plain fs.unlinkSync of files of the given sizes, written and fsynced first; median per repetition. */
function baselineUnlink(fileBytes: number[]): number {
  const dir = tempDirMake("baseline");
  try {
    const bucket = path.join(dir, "history", "0");
    fs.mkdirSync(bucket, { recursive: true });
    const samplesMs: number[] = [];
    for (let i = 0; i < WARMUP_ITERATIONS + ITERATIONS; i++) {
      const files = fileBytes.map((bytes, k) => {
        const file = path.join(bucket, `baseline_${i}_${k}.imx`);
        const fd = fs.openSync(file, "w");
        fs.writeSync(fd, new Uint8Array(bytes));
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        return file;
      });
      const started = performance.now();
      for (const file of files) fs.unlinkSync(file);
      if (i >= WARMUP_ITERATIONS) samplesMs.push(performance.now() - started);
    }
    return summary(samplesMs).medianMs;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Steady spilling: STEADY_RECORDS records at RECORDS_PER_TICK per tick, no flush, no upload. */
function steadySpill(board: Board): Record<string, number> {
  const dir = tempDirMake("steady");
  try {
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = new Clock(board.tier.tickIntervalMs || 100);
    for (let seq = 0; seq < STEADY_RECORDS; seq++) {
      device.writeTsd(SOURCE, SENSOR, seq % 1000, seq * SAMPLE_RATE_MS);
      if ((seq + 1) % RECORDS_PER_TICK === 0) clock.tick(device);
    }
    const stats = device.stats();
    const recordsPerSector = (board.memory.sectorBytes - 8) / 4;
    const recordsSpilled = stats.sectorsSpilled * recordsPerSector;
    const filesOnDisk = imxFilesUnder(dir).length;
    if (filesOnDisk !== stats.filesCreated)
      throw new Error(`steady: ${filesOnDisk} files on disk, ${stats.filesCreated} created`);
    return {
      recordsWritten: STEADY_RECORDS,
      recordsPerTick: RECORDS_PER_TICK,
      tickMs: clock.stepMs,
      recordsSpilled,
      recordsDiscarded: stats.recordsDiscarded,
      sectorsSpilled: stats.sectorsSpilled,
      filesCreated: stats.filesCreated,
      bytesWritten: stats.bytesWritten,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const board = loadBoard(DEFAULT_BOARD_NAME);
  const results: Record<string, Summary & { files: number; lastAckMedianMs: number }> = {};
  let fileBytes: number[] = [];
  for (const policy of CLEANUP_POLICIES) {
    const measured = await measurePolicy(board, policy);
    results[policy] = { ...measured.summary, files: measured.files, lastAckMedianMs: measured.lastAckMedianMs };
    fileBytes = measured.fileBytes;
  }
  const baselineUnlinkMedianMs = baselineUnlink(fileBytes);
  const steady = steadySpill(board);
  const filesPer1000Records = steady["recordsSpilled"]
    ? ((steady["filesCreated"] ?? 0) * 1000) / (steady["recordsSpilled"] ?? 1)
    : 0;
  const sectorsPerFile = steady["filesCreated"] ? (steady["sectorsSpilled"] ?? 0) / (steady["filesCreated"] ?? 1) : 0;
  const output = {
    machine: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    board: board.name,
    iterations: ITERATIONS,
    warmupIterations: WARMUP_ITERATIONS,
    sectorsPerIteration: SECTORS_PER_ITERATION,
    iterationFileBytes: fileBytes,
    fileHeaderBytes: IMX_HEADER_BYTES,
    results,
    baselineUnlinkMedianMs,
    filesPer1000Records: Math.round(filesPer1000Records * 1000) / 1000,
    sectorsPerFile: Math.round(sectorsPerFile * 100) / 100,
    steady,
  };
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`cleanup-measure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
