// Cleanup at scale: deleting CLEANUP_MANY_FILES acknowledged `.imx` files under one cleanup policy,
// on the real filesystem under os.tmpdir(), against plain unlinks of the same files in the same run,
// and how well getCleanupProgress().etaMs foretold it.
//
// Per policy, on fc1-imx6 with a file table of 16384 slots and files of 4 sectors (recovery-core's
// smallFilesBoard): a device writes one TSD stream until the tier state machine has spilled the
// files (syncs skipped while it does, see SetupSyncHal), then a warm-up of CLEANUP_MANY_WARMUP_FILES
// files is read, acknowledged and cleaned up, so the device has timed deletions as a device that has
// been running has; then every record of the other files is read and acknowledged in one ACK call
// (syncs on: the ACK record is fsynced as always). The cleanup's wall time is, for immediate, that
// ACK call less its own ACK record (the deletions happen inside it); for batched, the processMemory
// calls until isCleanupComplete(); for lazy, those and the waits for the deletions in flight. The main loop is simulated as a device runs it: processMemory once per tick
// interval; the device clock advances by the interval, or by the tick's real time when that is
// longer; and where a device would sleep out the interval the bench goes on at once, except that
// under lazy it first waits (up to the interval, in real time) for the deletions in flight, as they
// would finish during the device's sleep. That device time until complete is what the estimate
// taken right after the ACK is judged against: etaError = estimate ÷ actual.
//
// The baseline is plain unlinks of files of the same names and sizes in the same directories, written
// the same way just before: fs.unlinkSync one after another, and for lazy (asynchronous deletions)
// fs.promises.unlink, deletesInFlightMax at a time, each group awaited as a tick's would be; lazy
// also reports its ratio to the synchronous unlinks.
//
// The files are unlinked before the filesystem writes them back (they were written moments before,
// without fsync), and so are the baseline's: both sides pay the unlink itself, not a block-freeing
// writeback that the storage beneath may add per file (with online discard on the project's ext4
// machine, about 2 ms per written-back file), so the ratio shows the core's own cost per file.

import fs from "node:fs";
import path from "node:path";
import type { Board, CleanupPolicy } from "../boards.js";
import { type BulkRecords, Device } from "../core/device.js";
import { flushDrain } from "../core/flush.js";
import {
  HISTORY_BUCKETS,
  HISTORY_DIR,
  IMX_HEADER_BYTES,
  IMX_SUFFIX,
  TMP_SUFFIX,
  recordsPerSector,
} from "../format/imx.js";
import { HalWrapper } from "../hal/hal-wrapper.js";
import type { Hal } from "../hal/hal.js";
import { NodeFsHal } from "../hal/node-fs.js";
import { tempDirMake } from "./common.js";
import { imxFiles, smallFilesBoard } from "./recovery-core.js";

export const CLEANUP_MANY_FILES = 10_000;
/** Files cleaned up first, so the device has timed deletions (a device that has been running has). */
export const CLEANUP_MANY_WARMUP_FILES = 128;
const SOURCE = 1;
const SENSOR = 1;
const SAMPLE_RATE_MS = 1000;
const TICKS_MAX = 10_000_000;

/**
 * A Hal that skips syncFile and syncDir while `syncing` is false (the set-up), keeps the
 * asynchronous removals it passes on until they settle (so the main loop can wait for them as a
 * device's sleep would), and passes everything else through.
 */
class SetupSyncHal extends HalWrapper {
  syncing = false;
  /** Time spent in appends and syncs (the ACK record), ms. */
  recordMs = 0;
  readonly removals = new Set<Promise<void>>();
  constructor(inner: Hal) {
    super(inner, inner.kind);
  }
  override appendFile(path: string, data: Uint8Array): void {
    const started = performance.now();
    super.appendFile(path, data);
    this.recordMs += performance.now() - started;
  }
  override removeAsync(path: string): Promise<void> {
    const removal = super.removeAsync(path);
    this.removals.add(removal);
    const forget = (): void => {
      this.removals.delete(removal);
    };
    removal.then(forget, forget);
    return removal;
  }
  /** Resolves once every removal started so far has settled, or after `timeoutMs`. */
  async removalsSettled(timeoutMs: number): Promise<void> {
    if (this.removals.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    const all = Promise.allSettled([...this.removals]).then(() => undefined);
    await Promise.race([all, timeout]);
    clearTimeout(timer);
  }
  override syncFile(path: string): void {
    const started = performance.now();
    if (this.syncing) super.syncFile(path);
    this.recordMs += performance.now() - started;
  }
  override syncDir(dir: string): void {
    if (this.syncing) super.syncDir(dir);
  }
}

export interface CleanupManyRun {
  policy: CleanupPolicy;
  board: string;
  files: number;
  /**
   * The cleanup's wall time, ms: immediate, the ACK call less its ACK record (the deletions happen
   * inside it); batched, the processMemory calls until complete; lazy, those and the waits for the
   * deletions in flight after each.
   */
  cleanupMs: number;
  /** The ACK call of every file's records alone (one ACK record, fsynced; immediate: every deletion too), ms. */
  ackMs: number;
  /** The ACK record's append and fsync inside that call, ms (left out of immediate's cleanupMs). */
  ackRecordMs: number;
  /**
   * The baseline the ratio is taken against, ms: plain unlinks of the same files (same names and
   * sizes, written the same way) — fs.unlinkSync one after another, or for lazy, whose deletions
   * are asynchronous, fs.promises.unlink deletesInFlightMax at a time.
   */
  baselineMs: number;
  baselineLabel: string;
  /** Plain fs.unlinkSync of the same files, for every policy (lazy's other ratio), ms. */
  baselineSyncMs: number;
  /** processMemory ticks until complete (0 for immediate). */
  ticks: number;
  /** Device time until complete: the ticks at the interval, or longer where a tick's work took longer, ms. */
  deviceMs: number;
  /** getCleanupProgress().etaMs right after the ACK (null: unknown; immediate: 0, nothing left). */
  etaStartMs: number | null;
  /** etaStartMs ÷ deviceMs (null where there is nothing to judge: immediate, or an unknown estimate). */
  etaError: number | null;
  /** Lazy: the processMemory calls alone (the main loop's share; the unlinks run off it), ms. */
  mainLoopMs: number;
  /** The most lazy deletions seen in flight after a tick (0 for the other policies). */
  inFlightMaxSeen: number;
  tickIntervalMs: number;
  filesDeletedPerTickMax: number;
  deletesInFlightMax: number;
}

/** fc1-imx6 with room for the files (smallFilesBoard) under `policy`. */
export function cleanupManyBoard(base: Board, policy: CleanupPolicy): Board {
  const board = smallFilesBoard(base);
  return { ...board, tier: { ...board.tier, cleanupPolicy: policy } };
}

function bulkRecords(capacity: number): BulkRecords {
  return {
    seq: new Float64Array(capacity),
    utcMs: new Float64Array(capacity),
    value: new Float64Array(capacity),
    disk: new Uint8Array(capacity),
  };
}

/** Reads `records` records of the stream in bulk (marking them pending); throws if it runs dry. */
function readRecords(device: Device, into: BulkRecords, records: number): void {
  for (let read = 0; read < records;) {
    const n = device.readBulkInto(SOURCE, SENSOR, records - read, into);
    if (n === 0) throw new Error(`cleanup-many: the stream ran dry after ${read} of ${records} records`);
    read += n;
  }
}

/** Lets the main loop run until cleanup is complete, with a baseline chunk after each tick. */
async function loopUntilComplete(
  device: Device,
  hal: SetupSyncHal,
  clock: { nowMs: number },
  policy: CleanupPolicy,
  afterTick: (filesDeleted: number) => Promise<void>,
): Promise<{ ticks: number; deviceMs: number; coreMs: number; mainLoopMs: number; inFlightMaxSeen: number }> {
  const intervalMs = device.board.tier.tickIntervalMs;
  // The first tick comes one interval after the ACK at the latest.
  let deviceMs = intervalMs;
  let coreMs = 0;
  let ticks = 0;
  let inFlightMaxSeen = 0;
  let mainLoopMs = 0;
  while (!device.isCleanupComplete()) {
    if (ticks >= TICKS_MAX) throw new Error(`cleanup-many ${policy}: cleanup did not complete`);
    clock.nowMs += Math.max(1, intervalMs);
    const deletedBefore = device.stats().filesDeleted;
    const started = performance.now();
    device.processMemory(clock.nowMs);
    let elapsedMs = performance.now() - started;
    mainLoopMs += elapsedMs;
    ticks++;
    if (policy === "lazy") {
      // Lazy deletions start only in a tick: right after one is when most are in flight.
      inFlightMaxSeen = Math.max(inFlightMaxSeen, device.stats().filesDeleting);
      // The device sleeps out the interval; its lazy deletions in flight finish meanwhile (the
      // bridge's confirmations run before this wait ends: they were attached first).
      const waitStarted = performance.now();
      await hal.removalsSettled(intervalMs);
      elapsedMs += performance.now() - waitStarted;
    }
    coreMs += elapsedMs;
    const complete = device.isCleanupComplete();
    deviceMs += complete ? elapsedMs : Math.max(intervalMs, elapsedMs);
    await afterTick(device.stats().filesDeleted - deletedBefore);
  }
  return { ticks, deviceMs, coreMs, mainLoopMs, inFlightMaxSeen };
}

/**
 * Baseline files: as many files as the core wrote, of the same size, in as many bucket directories
 * under `root`, written the same way (no fsync) at the same moments as the core's (after each tick
 * of the set-up, as many as that tick spilled), so both sides have aged alike when they are
 * unlinked; unlinked oldest first, chunk by chunk between the cleanup's ticks, so both sides of the
 * ratio also see the same moments of the machine.
 */
class BaselineFiles {
  private readonly paths: string[] = [];
  private next = 0;
  ms = 0;
  constructor(
    private readonly root: string,
    private readonly bytes: number,
  ) {
    for (let bucket = 0; bucket < HISTORY_BUCKETS; bucket++) fs.mkdirSync(this.bucket(bucket), { recursive: true });
  }
  private bucket(bucket: number): string {
    return path.join(this.root, HISTORY_DIR, String(bucket));
  }
  /** Writes `count` more files. */
  add(count: number): void {
    for (let i = 0; i < count; i++) {
      const k = this.paths.length;
      const full = path.join(this.bucket(k % HISTORY_BUCKETS), `1_1_${String(k).padStart(20, "0")}${IMX_SUFFIX}`);
      // As the HAL writes a file: a temporary name, then renamed into place.
      fs.writeFileSync(`${full}${TMP_SUFFIX}`, new Uint8Array(this.bytes), { flag: "wx" });
      fs.renameSync(`${full}${TMP_SUFFIX}`, full);
      this.paths.push(full);
    }
  }
  get left(): number {
    return this.paths.length - this.next;
  }
  private take(count: number): string[] {
    const chunk = this.paths.slice(this.next, this.next + count);
    this.next += chunk.length;
    return chunk;
  }
  /** Unlinks the next `count` files untimed (the warm-up's share). */
  skip(count: number): void {
    for (const full of this.take(count)) fs.unlinkSync(full);
  }
  /** Plain fs.unlinkSync of the next `count` files, one after another. */
  unlinkSync(count: number): void {
    const chunk = this.take(count);
    const started = performance.now();
    for (const full of chunk) fs.unlinkSync(full);
    this.ms += performance.now() - started;
  }
  /** Plain fs.promises.unlink of the next `count` files, all at once, awaited as a tick's would be. */
  async unlinkAsync(count: number): Promise<void> {
    const chunk = this.take(count);
    const started = performance.now();
    await Promise.all(chunk.map((full) => fs.promises.unlink(full)));
    this.ms += performance.now() - started;
  }
}

/** One policy's cleanup of `files` acknowledged files (plus the warm-up), and its baseline. */
export async function measureCleanupMany(
  base: Board,
  policy: CleanupPolicy,
  files = CLEANUP_MANY_FILES,
  warmupFiles = CLEANUP_MANY_WARMUP_FILES,
): Promise<CleanupManyRun> {
  const board = cleanupManyBoard(base, policy);
  const disk = board.disk;
  if (!disk) throw new Error(`${board.name} has no disk tier`);
  if (files + warmupFiles > disk.filesMax) throw new Error(`cleanup-many: ${board.name} holds ${disk.filesMax} files`);
  const dir = tempDirMake(`cleanup-many-${policy}`);
  try {
    const hal = new SetupSyncHal(new NodeFsHal(dir));
    const device = Device.create({ board, hal });
    device.configureStream(SOURCE, SENSOR, { type: "tsd", sampleRateMs: SAMPLE_RATE_MS });
    const clock = { nowMs: Date.UTC(2025, 0, 1) };
    const tickMs = Math.max(1, board.tier.tickIntervalMs);
    const tick = (): void => {
      device.processMemory((clock.nowMs += tickMs));
    };

    // Spill the files: every file of full sectors holds the same records. The baseline's files are
    // written alongside, as many after each tick as it spilled.
    const sectorsPerFile = disk.sectorsPerFileMax;
    const recordsPerFile = sectorsPerFile * recordsPerSector("tsd", board.memory.sectorBytes);
    const fileBytes = IMX_HEADER_BYTES + sectorsPerFile * board.memory.sectorBytes;
    const lazy = policy === "lazy";
    const baselineSync = new BaselineFiles(path.join(dir, "baseline-sync"), fileBytes);
    const baselineAsync = lazy ? new BaselineFiles(path.join(dir, "baseline-async"), fileBytes) : null;
    const target = files + warmupFiles;
    let written = 0;
    let created = 0;
    const baselineAdd = (): void => {
      const now = device.stats().filesCreated;
      baselineSync.add(now - created);
      baselineAsync?.add(now - created);
      created = now;
    };
    const recordsPerTick = board.tier.filesWrittenPerTickMax * recordsPerFile;
    for (let t = 0; t < TICKS_MAX && written < target * recordsPerFile; t++) {
      const n = Math.min(recordsPerTick, target * recordsPerFile - written);
      for (let i = 0; i < n; i++, written++) device.writeTsd(SOURCE, SENSOR, written % 1000, written * SAMPLE_RATE_MS);
      tick();
      baselineAdd();
    }
    device.flushAllToDisk();
    if (flushDrain(device, tick, TICKS_MAX) < 0) throw new Error("cleanup-many: the flush did not complete");
    baselineAdd();
    const onDisk = imxFiles(dir);
    if (onDisk.length !== target) throw new Error(`cleanup-many: ${onDisk.length} files written, ${target} wanted`);
    const sizes = new Set(onDisk.map((file) => fs.statSync(path.join(dir, file)).size));
    if (sizes.size !== 1 || !sizes.has(fileBytes)) throw new Error(`cleanup-many: files of ${[...sizes].join(", ")} B`);

    // The warm-up: the oldest files, read, acknowledged and cleaned up, with syncs as always.
    hal.syncing = true;
    const into = bulkRecords(device.bulkCapacity);
    readRecords(device, into, warmupFiles * recordsPerFile);
    device.ack(SOURCE, SENSOR, warmupFiles * recordsPerFile);
    await loopUntilComplete(device, hal, clock, policy, async () => {});
    baselineSync.skip(warmupFiles);
    baselineAsync?.skip(warmupFiles);

    // The measured cleanup: every other file, acknowledged in one call.
    const measured = imxFiles(dir).length;
    if (measured !== files) throw new Error(`cleanup-many: ${measured} files left, ${files} wanted`);
    const inFlightMax = board.tier.deletesInFlightMax;
    const records = written - warmupFiles * recordsPerFile;
    readRecords(device, into, records);
    const immediate = policy === "immediate";
    // Immediate deletes inside the ACK: half the baseline just before it, half just after.
    if (immediate) baselineSync.unlinkSync(Math.floor(files / 2));
    const recordBefore = hal.recordMs;
    const ackStarted = performance.now();
    device.ack(SOURCE, SENSOR, records);
    const ackEnded = performance.now();
    // The ACK's own record (appended and fsynced before anything is erased) is not the cleanup.
    const ackRecordMs = hal.recordMs - recordBefore;
    if (immediate) baselineSync.unlinkSync(baselineSync.left);
    const etaStartMs = device.getCleanupProgress().etaMs;
    const loop = await loopUntilComplete(device, hal, clock, policy, async (filesDeleted) => {
      baselineSync.unlinkSync(filesDeleted);
      if (baselineAsync) await baselineAsync.unlinkAsync(filesDeleted);
    });
    baselineSync.unlinkSync(baselineSync.left);
    if (baselineAsync) await baselineAsync.unlinkAsync(baselineAsync.left);
    const left = imxFiles(dir).length;
    if (left !== 0) throw new Error(`cleanup-many ${policy}: ${left} .imx files left after cleanup`);
    const deviceMs = immediate ? ackEnded - ackStarted : loop.deviceMs;
    return {
      policy,
      board: board.name,
      files,
      cleanupMs: immediate ? ackEnded - ackStarted - ackRecordMs : loop.coreMs,
      ackMs: ackEnded - ackStarted,
      ackRecordMs,
      baselineMs: baselineAsync ? baselineAsync.ms : baselineSync.ms,
      baselineLabel: baselineAsync
        ? `${files} plain fs.promises.unlink, as many at a time as each tick completed`
        : `${files} plain fs.unlinkSync`,
      baselineSyncMs: baselineSync.ms,
      ticks: loop.ticks,
      deviceMs,
      etaStartMs,
      etaError: immediate || etaStartMs === null || deviceMs <= 0 ? null : etaStartMs / deviceMs,
      mainLoopMs: immediate ? ackEnded - ackStarted : loop.mainLoopMs,
      inFlightMaxSeen: loop.inFlightMaxSeen,
      tickIntervalMs: board.tier.tickIntervalMs,
      filesDeletedPerTickMax: board.tier.filesDeletedPerTickMax,
      deletesInFlightMax: inFlightMax,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
