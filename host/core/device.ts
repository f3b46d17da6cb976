// One simulated device: a board's config image booted in a fixed WebAssembly.Memory (the device's
// RAM), the core instantiated through @assemblyscript/loader, and its disk tier on a HAL. This is
// the typed facade over the core's exports; every negative status becomes a CoreError that names
// the operation.
//
// The facade is split along its ideas: boot.ts boots the core in the board's RAM, device-hal.ts
// picks the HAL when the caller gives none, value-codec.ts turns values into stored words and back,
// stray-sweep.ts removes the files forced cleanup finds and the core does not know, recovery.ts
// adopts what a previous run left.

import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Board, CleanupPolicy } from "../boards.js";
import type { Hal } from "../hal/hal.js";
import { type LockHandle, storageLockAcquire } from "../hal/storage-lock.js";
import * as abi from "./abi.generated.js";
import { coreBoot, SnapshotError } from "./boot.js";
import type { CoreExports } from "./core-exports.generated.js";
import { deviceHalDefault } from "./device-hal.js";
import { DeviceEventHub, type DeviceEventName, type DeviceListener, type DeviceListeners } from "./device-events.js";
import { check, CoreError, DeviceClosedError, errorTableCheck } from "./errors.js";
import type { HalBridge } from "./hal-bridge.js";
import { CoreLogger, type Logger, type LogLevel, STATE_NAMES } from "./log.js";
import { type RecoveryReport, recoverStorage } from "./recovery.js";
import { diskFilesCount, straysRemove } from "./stray-sweep.js";
import {
  bitsToValue,
  DATA_TYPE_CODES,
  type DataType,
  dataTypeOf,
  RECORD_TYPE_CODES,
  type RecordType,
  recordTypeOf,
  valueToBits,
} from "./value-codec.js";
import type { CoreBuild } from "./wasm.js";

export type { DataType, RecordType } from "./value-codec.js";
export type { DeviceEventName, DeviceEvents, DeviceListener, DeviceListeners, DiscardReason } from "./device-events.js";
export { SnapshotError } from "./boot.js";
// The tier states: the table in assembly/abi.ts.
/** The tier state machine's state (SPEC.md): "idle", "check-usage", "move-to-disk", "cleanup-disk", "flush-all" or "cancelling-flush". */
export type TierState = abi.TierState;

/** How configureStream sets a stream up. */
export interface StreamConfig {
  /** "tsd" (time-series data, sampled at a fixed rate) or "evt" (events, each with its own time). */
  type: RecordType;
  /** How the 32-bit value word is read back; uint32 by default. */
  dataType?: DataType;
  /** TSD only: the sample period; records are timed first UTC + index × rate. */
  sampleRateMs?: number;
}

/** One record as readBulk (and an Outbox batch) gives it. */
export interface UploadRecord {
  /** The stream's sequence number: rises by one per record, never reused (also across restarts). */
  seq: number;
  /** The record's time, ms since the Unix epoch (TSD: first UTC + index × sample rate). */
  utcMs: number;
  /** The value, read back under the stream's data type. */
  value: number;
  /** Where it was read from: device RAM or an `.imx` file of the disk tier. */
  tier: "ram" | "disk";
}

/**
 * Caller-owned typed arrays that readBulkInto fills, record i at index i: sequence number, UTC ms,
 * value (under the stream's data type) and whether it came from a `.imx` file (1) or RAM (0).
 * A read returns at most the shortest array's length (and at most bulkCapacity) records.
 */
export interface BulkRecords {
  seq: Float64Array;
  utcMs: Float64Array;
  value: Float64Array;
  disk: Uint8Array;
}

/** What device.counts says of one stream. */
export interface StreamCounts {
  /** Records held: pending + new. */
  total: number;
  /** Read by readBulk, not yet acknowledged or reverted. */
  pending: number;
  /** Not read yet. */
  new: number;
  /** Records in device RAM. */
  ram: number;
  /** Records in `.imx` files of the disk tier. */
  disk: number;
  /** The sequence number of the next record written. */
  nextSeq: number;
  /** Every record below this sequence number is acknowledged. */
  ackedSeq: number;
  /** The next readBulk starts at this sequence number. */
  readSeq: number;
  /** RAM sectors the stream holds. */
  ramSectors: number;
  /** `.imx` files the stream has on the disk tier. */
  diskFiles: number;
  /** Records of this stream discarded in this device life (RAM full, evict-oldest, corrupt files, forced cleanup). */
  discarded: number;
}

/** What device.getCleanupProgress says of the deletion of acknowledged files. */
export interface CleanupProgress {
  /** Files awaiting deletion (queued, not started). */
  filesPending: number;
  /** Their bytes. */
  bytesPending: number;
  /** Lazy deletions started and not settled. */
  filesInFlight: number;
  /** Files deleted in this device life. */
  filesDeleted: number;
  /** Their bytes. */
  bytesDeleted: number;
  /** Deletions that failed and were queued again for retry. */
  failedAttempts: number;
  /** No file awaits deletion and none is in flight (isCleanupComplete). */
  complete: boolean;
  /**
   * Estimated time until cleanup is complete, ms, with processMemory called at least every tick
   * interval: the ticks the pending files need at the policy's per-tick bound (filesDeletedPerTickMax,
   * or for lazy the deletesInFlightMax in flight), each taking the tick interval or the measured
   * deletion time of its files if longer, plus the deletions in flight. 0 when nothing is pending;
   * null (unknown) while files are pending but no deletion of this device life has been timed yet.
   * Deletions waiting out a retry back-off are counted as due.
   */
  etaMs: number | null;
  /** Time a deletion took, ms, over the last `samples` deletions of this device life. */
  deleteLatencyMs: { p50: number; p99: number; max: number; samples: number };
}

/** What device.forceCleanupAllDiskFiles did. */
export interface ForcedCleanup {
  /** Files of the core's that could not be deleted (still queued for retry). */
  failed: number;
  /** `.imx` files found in the directory that the core did not know, removed too. */
  strays: number;
  /** Records that were on disk, now counted as discarded. */
  recordsDiscarded: number;
}

/** What Device.create takes. */
export interface DeviceOptions {
  /** The board: RAM size and layout, disk tier, tier settings (loadBoard). */
  board: Board;
  /** The disk tier's HAL, used as given; by default a NodeFsHal on `storageDir`, or a MemoryHal without one. */
  hal?: Hal;
  /** The disk tier's directory (created if missing); without it and without a `hal`, the disk tier is in memory. */
  storageDir?: string;
  /** The cleanup policy, instead of the board's tier.cleanupPolicy. */
  policy?: CleanupPolicy;
  /**
   * The log level ("off" by default, or "info" with a `logger`): "error", "warn" (recovery's
   * quarantines and moves, a stale lock taken over), "info" (flushes, forced cleanup), "debug" (every
   * state change, spill and deletion) — or a CoreLogger, which then also says where lines go.
   */
  log?: LogLevel | CoreLogger;
  /**
   * Where log lines go: each line to the method of its level. By default lines go to stderr (and
   * logging is off unless `log` sets a level).
   *
   * @example
   * Device.create({ board, storageDir, logger: console, log: "warn" });
   */
  logger?: Logger;
  /** The clock at boot, ms (Date.now() by default): where a close() flush starts before the first processMemory. */
  nowMs?: number;
  /** The core build: "release" (default) or "debug" (unoptimized, for debugging the core). */
  build?: CoreBuild;
  /** A flashed image to boot from instead of encoding the board (tests of corrupt images). */
  configImage?: Uint8Array;
  /** Listeners to add before boot, so that they also see boot recovery's events (quarantines). */
  on?: DeviceListeners;
  /**
   * Take the storage lock on `storageDir` (default true when the device opens `storageDir` itself,
   * that is without a `hal`, and the board has a disk tier): a second Device or run on the same
   * storage, in this process or another, is refused with StorageError until close() releases it.
   * `false` only when the caller already holds the lock (`imx-memsim run` does) or guarantees by
   * other means that nothing else uses the storage (a test that simulates a power cut by booting a
   * second device over an abandoned one). A device given a `hal` takes no lock: the caller owns
   * that storage.
   */
  lock?: boolean;
}

/** What Device.restore takes. */
export interface RestoreOptions {
  /** The board the snapshot was taken on. */
  board: Board;
  /** Device RAM from device.snapshot(): exactly board.memory.ramBytes bytes. */
  snapshot: Uint8Array;
  /** The disk tier's storage, unchanged since the snapshot (a NodeFsHal on it unless `hal` is given). */
  storageDir?: string;
  /** As DeviceOptions.hal. */
  hal?: Hal;
  /** As DeviceOptions.log. */
  log?: LogLevel | CoreLogger;
  /** As DeviceOptions.logger. */
  logger?: Logger;
  /** As DeviceOptions.build: the build the snapshot was taken with. */
  build?: CoreBuild;
  /** As DeviceOptions.lock. */
  lock?: boolean;
}

/** What device.close takes. */
export interface DeviceCloseOptions {
  /** The clock of the flush's first tick; by default the time of the last processMemory (or of boot). */
  nowMs?: number;
  /** The flush must end within this much main-loop time (ticks of the board's tick interval); 60 s by default. */
  deadlineMs?: number;
}

/** What device.close resolves to. */
export interface DeviceCloseResult {
  /** Whether RAM was flushed to the disk tier (progress 101); false without a disk tier or when the deadline or a full disk stopped it. */
  flushed: boolean;
  /** processMemory ticks the flush took. */
  ticks: number;
  /** RAM sectors still holding data when the device closed (lost, as at power off, unless flushed). */
  ramSectorsLeft: number;
}

/** Main-loop time a close() flush may take by default (as a graceful stop: SHUTDOWN_DEADLINE_MS_DEFAULT). */
const CLOSE_DEADLINE_MS_DEFAULT = 60_000;

const POLICIES: Record<CleanupPolicy, number> = abi.CLEANUP_POLICY_CODES;

/** The sensors (EVT streams of one upload source) that hold the position of writeEvtWithGps. */
export interface GpsConfig {
  latitudeSensor: number;
  longitudeSensor: number;
  altitudeSensor?: number;
  speedSensor?: number;
}

/** The position written with an event (altitude and speed when configured). */
export interface GpsPosition {
  latitude: number;
  longitude: number;
  altitude?: number;
  speed?: number;
}

/** Records held by writeBeforeUtc at most (host memory, bounded). */
export const UTC_HELD_MAX = 4096;

interface HeldWrite {
  info: StreamInfo;
  source: number;
  sensor: number;
  bits: number;
  systemMs: number;
}

function gpsSensors(config: GpsConfig): number[] {
  const sensors = [config.latitudeSensor, config.longitudeSensor];
  if (config.altitudeSensor !== undefined) sensors.push(config.altitudeSensor);
  if (config.speedSensor !== undefined) sensors.push(config.speedSensor);
  return sensors;
}

/** What device.stats returns: the core's counters (sectors, records, spills, files, bytes, ticks) and the HAL's. */
export type DeviceStats = ReturnType<Device["stats"]>;

interface StreamInfo {
  index: number;
  source: number;
  sensor: number;
  dataType: DataType;
  recordType: RecordType;
  sampleRateMs: number;
}

/**
 * One simulated device: the board's RAM in a fixed WebAssembly memory, the core (the tiered memory
 * manager) booted in it, and its disk tier on a HAL. Records are written to streams, spilled to
 * `.imx` files when RAM fills, read in bulk, acknowledged and cleaned up (Device.create; an Outbox
 * writes the upload loop).
 *
 * Every method is synchronous and blocks the event loop while it runs. Figures from
 * `imx-memsim bench --quick` (fc1-imx6 board, ext4, 2-core VM under load; medians):
 * - a write appends to RAM: about 40 ns per TSD record and 90 ns per EVT record in writeTsdMany /
 *   writeEvtMany (`append.*`); a single write is one core call more;
 * - readBulk + ack of RAM records: about 20 ns per record; of records in `.imx` files, about 18 µs
 *   per record (`read-ack.*`), the file reads included;
 * - processMemory: most ticks do nothing measurable (p99 11 µs); a tick that spills writes and
 *   fsyncs a file (up to about 10 ms); a flush tick about 11 ms, a cleanup tick about 2.4 ms
 *   (`tick.*`); the per-tick bounds of the board (tier.spillSectorsPerTickMax,
 *   filesWrittenPerTickMax, bytesWrittenPerTickMax, filesDeletedPerTickMax) cap each tick;
 * - an ACK that erases disk records appends one 56-byte ACK-log record and fsyncs it (about 4
 *   fsyncs per 100-sector write-spill-read-ACK-cleanup cycle, 24–30 ms in all: `iteration.*`);
 * - Device.create with boot recovery: about 18 ms on 100 files, 68 ms on 1000 (`recovery.*`);
 * - close(): the flush ticks (about the RAM written once).
 *
 * A service that cannot block its event loop that long runs the device on a worker thread with
 * {@link DeviceWorker} (same methods, returning promises; each call costs a message round trip,
 * tens of microseconds, so write in batches there).
 */
export class Device {
  /** The board the device was booted for. */
  readonly board: Board;
  /** The disk tier's HAL (a NodeFsHal on storageDir, a MemoryHal, or the one given). */
  readonly hal: Hal;
  /** The device's RAM: the wasm memory the core runs in (read it with inspect; never write it). */
  readonly memory: WebAssembly.Memory;
  /**
   * @internal The core's raw wasm exports, for the project's own tests and benchmarks. After
   * close() every use of it throws DeviceClosedError.
   */
  exports: CoreExports;
  readonly logger: CoreLogger;
  readonly ramBytes: number;
  private readonly bridge: HalBridge;
  private readonly streams = new Map<string, StreamInfo>();
  private readonly streamsByIndex: StreamInfo[] = [];
  private readonly stats64: Float64Array;
  private readonly query64: Float64Array;
  private readonly bulk32: Uint32Array;
  private readonly bulk64: Float64Array;
  private readonly bulkWords: number;
  private readonly bulkFloats: number;
  private readonly bulkCapacityRecords: number;
  // The bulk buffer as a batched write's input (assembly/abi.ts: times, then value words).
  private readonly batchTimes: Float64Array;
  private readonly batchWords: Uint32Array;
  private readonly batchFloats: Float32Array;
  /** GPS streams per upload source (setGpsConfig). */
  private readonly gpsConfigs = new Map<number, GpsConfig>();
  /** UTC − system time once UTC is known; null before (setUtcUnavailable). */
  private utcOffsetMs: number | null = 0;
  /** Writes made before UTC was known, oldest first. */
  private readonly utcHeld: HeldWrite[] = [];
  /** Streams deactivated with deactivateSensor ("source:sensor"). */
  private readonly inactive = new Set<string>();
  /** The storage lock (storageDir given, lock not false), released by close(). */
  private readonly lock: LockHandle | null;
  /** The storage directory as given, when the device holds its lock (for error messages). */
  private readonly lockedDir: string | null;
  /** The clock of the last processMemory (or of boot): where a close() flush starts. */
  private clockMs: number;
  /** The device's events (on, off): queued during core calls, delivered after them. */
  private readonly events: DeviceEventHub;
  /** Files of bridge.quarantined already announced as events. */
  private quarantinedSeen = 0;
  /** What close() returned (or is doing): a second close() gets the same. */
  private closing: Promise<DeviceCloseResult> | null = null;
  /** Set once close() has finished: the core's exports are gone. */
  private exportsClosed = false;

  private constructor(options: DeviceOptions, snapshot?: Uint8Array) {
    errorTableCheck();
    const { board } = options;
    this.board = board;
    this.ramBytes = board.memory.ramBytes;
    this.logger =
      options.log instanceof CoreLogger
        ? options.log
        : options.logger === undefined
          ? new CoreLogger(options.log ?? "off")
          : CoreLogger.of(options.logger, options.log ?? "info");
    this.clockMs = options.nowMs ?? 0;
    this.events = new DeviceEventHub(
      (index) => this.streamsByIndex[index],
      () => this.eventsCollect(),
    );
    for (const [event, listener] of Object.entries(options.on ?? {}) as Array<
      [DeviceEventName, DeviceListener<DeviceEventName>]
    >) {
      this.events.on(event, listener);
    }
    this.lock = null;
    this.lockedDir = null;
    // The device opens the directory itself (no HAL given) and keeps its disk tier there.
    if (
      options.storageDir !== undefined &&
      options.hal === undefined &&
      board.disk !== null &&
      options.lock !== false
    ) {
      this.lockedDir = options.storageDir;
      const dir = resolve(options.storageDir);
      mkdirSync(dir, { recursive: true });
      this.lock = storageLockAcquire(dir, options.storageDir, (line) => this.logger.line(line));
      if (this.lock.failure !== null)
        this.logger.line(`storage ${options.storageDir}: ${this.lock.failure}; no lock held`);
    }
    try {
      this.hal = options.hal ?? deviceHalDefault(options.storageDir);
      const core = coreBoot({
        board,
        hal: this.hal,
        logger: this.logger,
        nowMs: options.nowMs,
        build: options.build,
        configImage: options.configImage,
        snapshot,
      });
      this.memory = core.memory;
      this.exports = core.exports;
      this.bridge = core.bridge;
      this.bridge.eventTap = (event, a, b) => this.events.coreEvent(event, a, b);
      if (options.policy && snapshot === undefined) this.setCleanupPolicy(options.policy);

      const buffer = this.memory.buffer;
      this.stats64 = new Float64Array(buffer, this.exports.statsPointer(), abi.STAT_COUNT);
      this.query64 = new Float64Array(buffer, this.exports.queryPointer(), abi.QUERY_COUNT);
      const bulkRecords = this.exports.bulkCapacity();
      this.bulk32 = new Uint32Array(buffer, this.exports.bulkPointer(), (bulkRecords * abi.BULK_RECORD_BYTES) / 4);
      this.bulk64 = new Float64Array(buffer, this.exports.bulkPointer(), (bulkRecords * abi.BULK_RECORD_BYTES) / 8);
      this.bulkWords = abi.BULK_RECORD_BYTES / 4;
      this.bulkFloats = abi.BULK_RECORD_BYTES / 8;
      this.bulkCapacityRecords = bulkRecords;
      const bulkPtr = this.exports.bulkPointer();
      this.batchTimes = new Float64Array(buffer, bulkPtr, bulkRecords);
      this.batchWords = new Uint32Array(buffer, bulkPtr + bulkRecords * abi.BATCH_TIME_BYTES, bulkRecords);
      this.batchFloats = new Float32Array(buffer, bulkPtr + bulkRecords * abi.BATCH_TIME_BYTES, bulkRecords);

      // A disk tier on an existing storage directory: adopt what the previous run left.
      // A restored device continues from its RAM: there is nothing to recover.
      this.recovery =
        board.disk && snapshot === undefined
          ? recoverStorage(this.hal, this.exports, this.memory, (line) => this.logger.line(line))
          : null;
      for (let index = 0; index < this.exports.streamsConfigured(); index++) {
        check(this.exports.streamQuery(index), "query recovered stream");
        const q = this.query64;
        const info: StreamInfo = {
          index,
          source: q[abi.QUERY_SOURCE] ?? 0,
          sensor: q[abi.QUERY_SENSOR] ?? 0,
          recordType: recordTypeOf(q[abi.QUERY_RECORD_TYPE] ?? 0) ?? "evt",
          dataType: dataTypeOf(q[abi.QUERY_DATA_TYPE] ?? 0) ?? "uint32",
          sampleRateMs: q[abi.QUERY_SAMPLE_RATE_MS] ?? 0,
        };
        this.streams.set(streamKey(q[abi.QUERY_SOURCE] ?? 0, q[abi.QUERY_SENSOR] ?? 0), info);
        this.streamsByIndex[index] = info;
      }
      for (const file of this.recovery?.quarantined ?? []) this.events.push("quarantine", file);
      this.eventsDeliver();
    } catch (error) {
      this.lock?.release();
      throw error;
    }
  }

  /** What boot recovery found on the storage directory (null without a disk tier). */
  readonly recovery: RecoveryReport | null;

  /**
   * Boots a device for `options.board`; with a disk tier on a storage directory, first adopts what
   * a previous device left there (boot recovery; `device.recovery` says what it found). Throws
   * CoreError (E_CONFIG_*, E_LAYOUT_TOO_BIG, …) if the core cannot boot, RecoveryIoError if the
   * storage cannot be read. Blocks for the boot and the recovery: milliseconds on an empty storage,
   * growing with the files on it (`npm run bench` measures recovery per file count).
   *
   * @example
   * const device = Device.create({ board: loadBoard("esp32"), storageDir: "/var/lib/imx" });
   * device.configureStream(0, 1001, { type: "tsd", dataType: "float32", sampleRateMs: 60_000 });
   */
  static create(options: DeviceOptions): Device {
    return new Device(options, undefined);
  }

  /**
   * A device continuing from `snapshot` (device.snapshot() of a device of the same board) over its
   * disk tier's storage as it was when the snapshot was taken, without booting again. Throws
   * SnapshotError for a snapshot of the wrong size, of a core that never booted, of another board
   * or of another build of the core.
   */
  static restore(options: RestoreOptions): Device {
    const { snapshot, ...rest } = options;
    return new Device(rest, snapshot);
  }

  /**
   * The device's RAM: a copy of the first board.memory.ramBytes bytes of its memory, which hold
   * every value the core keeps. Throws SnapshotError while the host holds work the RAM does not
   * record (lazy deletions in flight: settle() first; a failed write's temp file or a directory sync
   * still owed).
   */
  snapshot(): Uint8Array {
    const outstanding = this.bridge.outstandingWork();
    if (outstanding !== null) throw new SnapshotError(`snapshot of ${this.board.name}: ${outstanding}`);
    return new Uint8Array(this.memory.buffer, 0, this.ramBytes).slice();
  }

  /** Whether the board has a disk tier (board.disk is not null). */
  get hasDiskTier(): boolean {
    return this.board.disk !== null;
  }

  /** Records one readBulk returns at most (the board's memory.bulkRecordsMax). */
  get bulkCapacity(): number {
    return this.exports.bulkCapacity();
  }

  /** Bytes of device RAM the core's layout uses (all of it lies below `ramBytes`). */
  get layoutBytes(): number {
    return this.exports.layoutEndOffset();
  }

  /** Switches the cleanup policy from now on (files already queued keep their place). Throws CoreError for an unknown policy. */
  setCleanupPolicy(policy: CleanupPolicy): void {
    check(this.exports.cleanupPolicySet(POLICIES[policy]), `set cleanup policy ${policy}`);
  }

  // ---- Streams ------------------------------------------------------------------------------------

  /**
   * Configures the stream (source, sensor) and returns its index. Configuring it again with the
   * same settings returns the same index (a restarted application does so after boot recovery).
   * Throws CoreError: E_INVALID_ARGUMENT for an id that is not a 32-bit unsigned integer, an unknown
   * type or data type, or a bad sample rate; E_STREAM_CONFIG_MISMATCH for other settings than the
   * stream has; E_STREAM_TABLE_FULL beyond memory.streamsMax streams.
   *
   * @example
   * device.configureStream(0, 1001, { type: "tsd", dataType: "float32", sampleRateMs: 60_000 });
   * device.configureStream(0, 2001, { type: "evt", dataType: "int32" });
   */
  configureStream(source: number, sensor: number, config: StreamConfig): number {
    const dataType = config.dataType ?? "uint32";
    const recordType = RECORD_TYPE_CODES[config.type];
    const dataTypeCode = DATA_TYPE_CODES[dataType];
    if (recordType === undefined) throw new CoreError(abi.E_INVALID_ARGUMENT, `configure stream ${source}/${sensor}`);
    if (dataTypeCode === undefined) throw new CoreError(abi.E_INVALID_ARGUMENT, `configure stream ${source}/${sensor}`);
    const rate = config.sampleRateMs ?? 0;
    if (!Number.isInteger(rate) || rate < 0 || rate > 0xffffffff) {
      throw new CoreError(abi.E_INVALID_ARGUMENT, `configure stream ${source}/${sensor}`);
    }
    const index = check(
      this.exports.streamConfigure(u32(source), u32(sensor), recordType, dataTypeCode, rate),
      `configure stream ${source}/${sensor}`,
    );
    const info: StreamInfo = { index, source, sensor, dataType, recordType: config.type, sampleRateMs: rate };
    this.streams.set(streamKey(source, sensor), info);
    this.streamsByIndex[index] = info;
    return index;
  }

  private stream(source: number, sensor: number, operation: string): StreamInfo {
    const info = this.streams.get(streamKey(source, sensor));
    if (!info) throw new CoreError(abi.E_STREAM_UNKNOWN, `${operation} ${source}/${sensor}`);
    return info;
  }

  /** A configured stream that takes writes (not deactivated: deactivateSensor). */
  private writable(source: number, sensor: number, operation: string): StreamInfo {
    const info = this.stream(source, sensor, operation);
    if (this.inactive.size > 0 && this.inactive.has(streamKey(source, sensor))) {
      throw new CoreError(abi.E_INVALID_ARGUMENT, `${operation} ${source}/${sensor}: the sensor is deactivated`);
    }
    return info;
  }

  /** The core's index for a configured stream (for the fast paths below). */
  streamIndex(source: number, sensor: number): number {
    return this.stream(source, sensor, "find stream").index;
  }

  /**
   * Appends one record to a TSD stream, at `utcMs`. Throws CoreError: E_STREAM_UNKNOWN (never
   * configured), E_RECORD_TYPE_MISMATCH (an EVT stream), E_INVALID_ARGUMENT (a value the data type
   * cannot hold, a deactivated stream), E_ALL_PENDING or E_DISK_FULL when RAM is full and nothing
   * can make room. Blocks for one core call: a RAM append (the spill happens in processMemory).
   *
   * @example
   * device.writeTsd(0, 1001, 21.5, Date.now());
   */
  writeTsd(source: number, sensor: number, value: number, utcMs: number): void {
    const info = this.writable(source, sensor, "write TSD to");
    check(
      this.exports.streamWriteTsd(info.index, valueToBits(value, info.dataType), utcMs),
      `write TSD to ${source}/${sensor}`,
    );
    if (this.events.pending) this.eventsDeliver();
  }

  /**
   * Appends one record to an EVT stream, with its own time `utcMs`. Throws CoreError as writeTsd
   * (E_RECORD_TYPE_MISMATCH for a TSD stream).
   *
   * @example
   * device.writeEvt(0, 2001, 1, Date.now()); // a door opened
   */
  writeEvt(source: number, sensor: number, value: number, utcMs: number): void {
    const info = this.writable(source, sensor, "write EVT to");
    check(
      this.exports.streamWriteEvt(info.index, valueToBits(value, info.dataType), utcMs),
      `write EVT to ${source}/${sensor}`,
    );
    if (this.events.pending) this.eventsDeliver();
  }

  /**
   * Appends `values` to a TSD stream in as few core calls as the bulk buffer allows (bulkCapacity
   * records each): record i is timed firstUtcMs + i × the stream's sample rate. A typed array that
   * matches the data type (Uint32Array, Int32Array, Float32Array) is copied into device RAM as is;
   * other values are checked as writeTsd checks them. Throws CoreError like writeTsd for the first
   * record that fails; the records before it stay written (a batch whose first or last time is
   * invalid is refused whole).
   */
  writeTsdMany(source: number, sensor: number, values: ArrayLike<number>, firstUtcMs: number): void {
    const info = this.writable(source, sensor, "write TSD to");
    const rateMs = info.sampleRateMs;
    this.writeMany(info, abi.RECORD_TYPE_TSD, values, null, (from) => firstUtcMs + from * rateMs, source, sensor);
  }

  /**
   * Appends `values` to an EVT stream, record i at timesMs[i] (as many times as values), in as few
   * core calls as the bulk buffer allows. Values as for writeTsdMany; errors as for writeEvt, for the
   * first record that fails, with the records before it written.
   */
  writeEvtMany(source: number, sensor: number, values: ArrayLike<number>, timesMs: ArrayLike<number>): void {
    const info = this.writable(source, sensor, "write EVT to");
    if (timesMs.length !== values.length) {
      throw new CoreError(
        abi.E_INVALID_ARGUMENT,
        `write EVT to ${source}/${sensor}: ${values.length} values, ${timesMs.length} times`,
      );
    }
    this.writeMany(info, abi.RECORD_TYPE_EVT, values, timesMs, () => 0, source, sensor);
  }

  // The batch path of writeTsdMany/writeEvtMany: chunks of bulkCapacity records copied into the
  // bulk buffer (times, then value words: the batch layout of assembly/abi.ts) and appended by one
  // streamWriteMany call each.
  private writeMany(
    info: StreamInfo,
    recordType: number,
    values: ArrayLike<number>,
    timesMs: ArrayLike<number> | null,
    firstUtcMsOf: (from: number) => number,
    source: number,
    sensor: number,
  ): void {
    const capacity = this.bulkCapacityRecords;
    const total = values.length;
    const kind = recordType === abi.RECORD_TYPE_TSD ? "TSD" : "EVT";
    for (let from = 0; from < total;) {
      const chunk = Math.min(capacity, total - from);
      const valid = this.batchValuesPut(values, from, chunk, info.dataType);
      if (timesMs !== null) {
        if (timesMs instanceof Float64Array) this.batchTimes.set(timesMs.subarray(from, from + valid));
        else for (let i = 0; i < valid; i++) this.batchTimes[i] = timesMs[from + i] ?? NaN;
      }
      let done = 0;
      while (done < valid) {
        // Record `from + done` onwards: after a partial append the next call returns its error.
        if (done > 0) {
          this.batchWords.copyWithin(0, done, valid);
          if (timesMs !== null) this.batchTimes.copyWithin(0, done, valid);
        }
        const status = this.exports.streamWriteMany(info.index, recordType, valid - done, firstUtcMsOf(from + done));
        if (status < 0) {
          throw new CoreError(
            status,
            `write ${kind} to ${source}/${sensor} (record ${from + done} of ${total}; the ones before it are written)`,
          );
        }
        done += status;
      }
      if (valid < chunk) {
        // Throws the error writeTsd/writeEvt gives for that value.
        valueToBits(values[from + valid] as number, info.dataType);
      }
      from += chunk;
    }
  }

  // Puts values[from … from + count) into the batch's value words; returns how many are valid (all
  // unless one has no stored word under the data type: the ones before it).
  private batchValuesPut(values: ArrayLike<number>, from: number, count: number, dataType: DataType): number {
    if (
      (dataType === "uint32" && values instanceof Uint32Array) ||
      (dataType === "int32" && values instanceof Int32Array) ||
      (dataType === "float32" && values instanceof Float32Array)
    ) {
      this.batchWords.set(new Uint32Array(values.buffer, values.byteOffset + from * 4, count));
      return count;
    }
    if (
      dataType === "float32" &&
      (values instanceof Float64Array || values instanceof Int32Array || values instanceof Uint32Array)
    ) {
      this.batchFloats.set(values.subarray(from, from + count));
      return count;
    }
    const words = this.batchWords;
    for (let i = 0; i < count; i++) {
      const value = values[from + i] as number;
      try {
        words[i] = valueToBits(value, dataType);
      } catch {
        return i;
      }
    }
    return count;
  }

  /**
   * Reads up to `max` new records (oldest first, disk then RAM) and marks them pending: the next
   * read continues after them until ack() erases them or revert() makes them readable again.
   * Throws CoreError: E_STREAM_UNKNOWN for a stream never configured, E_INVALID_ARGUMENT for a
   * negative or fractional `max`. Blocks for the disk reads of the files it reads records from.
   *
   * @example
   * const records = device.readBulk(0, 1001, device.bulkCapacity);
   * await send(records);
   * device.ack(0, 1001, records.length);
   */
  readBulk(source: number, sensor: number, max: number): UploadRecord[] {
    const info = this.stream(source, sensor, "read from");
    return this.collect(
      info,
      check(this.exports.streamReadBulk(info.index, intArg(max)), `read from ${source}/${sensor}`),
    );
  }

  /**
   * readBulk into the caller's typed arrays instead of objects (no allocation): reads up to `max`
   * new records (and at most what `into` holds), marks them pending and returns how many it read.
   */
  readBulkInto(source: number, sensor: number, max: number, into: BulkRecords): number {
    const info = this.stream(source, sensor, "read from");
    const room = Math.min(into.seq.length, into.utcMs.length, into.value.length, into.disk.length);
    const count = check(
      this.exports.streamReadBulk(info.index, Math.min(intArg(max), room)),
      `read from ${source}/${sensor}`,
    );
    const words = this.bulkWords;
    const floats = this.bulkFloats;
    const b32 = this.bulk32;
    const b64 = this.bulk64;
    const { seq, utcMs, value, disk } = into;
    const dataType = info.dataType;
    for (let i = 0; i < count; i++) {
      const w = i * words;
      seq[i] = (b32[w + abi.BULK_SEQ_LO / 4] ?? 0) + (b32[w + abi.BULK_SEQ_HI / 4] ?? 0) * 2 ** 32;
      utcMs[i] = b64[i * floats + abi.BULK_UTC_MS / 8] ?? 0;
      value[i] = bitsToValue(b32[w + abi.BULK_VALUE / 4] ?? 0, dataType);
      disk[i] = (b32[w + abi.BULK_FLAGS / 4] ?? 0) & abi.BULK_FLAG_DISK;
    }
    return count;
  }

  /** What readBulk would return, without changing anything. */
  peek(source: number, sensor: number, max: number): UploadRecord[] {
    const info = this.stream(source, sensor, "peek");
    return this.collect(info, check(this.exports.streamPeek(info.index, intArg(max)), `peek ${source}/${sensor}`));
  }

  private collect(info: StreamInfo, count: number): UploadRecord[] {
    const records: UploadRecord[] = new Array<UploadRecord>(count);
    for (let i = 0; i < count; i++) {
      const w = i * this.bulkWords;
      const bits = this.bulk32[w + abi.BULK_VALUE / 4] ?? 0;
      records[i] = {
        seq: (this.bulk32[w + abi.BULK_SEQ_LO / 4] ?? 0) + (this.bulk32[w + abi.BULK_SEQ_HI / 4] ?? 0) * 2 ** 32,
        utcMs: this.bulk64[i * this.bulkFloats + abi.BULK_UTC_MS / 8] ?? 0,
        value: bitsToValue(bits, info.dataType),
        tier: ((this.bulk32[w + abi.BULK_FLAGS / 4] ?? 0) & abi.BULK_FLAG_DISK) !== 0 ? "disk" : "ram",
      };
    }
    return records;
  }

  /**
   * Erases exactly the first `count` pending records (the upload's ACK); a file whose records are
   * all erased goes to cleanup. Throws CoreError: E_STREAM_UNKNOWN, or E_ACK_TOO_MANY when `count` is more
   * than the records pending.
   *
   * @example
   * const records = device.readBulk(0, 7, 32);
   * device.ack(0, 7, records.length);
   */
  ack(source: number, sensor: number, count: number): void {
    const info = this.stream(source, sensor, "ack");
    check(this.exports.streamAck(info.index, count), `ack ${count} records of ${source}/${sensor}`);
    if (this.events.pending) this.eventsDeliver();
  }

  /**
   * The ACKs of several streams as one (group commit, SPEC.md 6.5): each entry erases exactly the
   * first `count` pending records of its stream, and one ACK-log write makes every one that erases
   * disk records durable. Every entry is checked before anything changes (a stream at most once);
   * if the write fails, CoreError E_ACK_PERSIST and no ACK is applied. At most `bulkCapacity` entries.
   */
  ackMany(entries: ReadonlyArray<{ source: number; sensor: number; count: number }>): void {
    if (entries.length > this.bulkCapacity) {
      throw new RangeError(`ackMany takes at most ${this.bulkCapacity} entries, not ${entries.length}`);
    }
    const words = abi.ACK_MANY_ENTRY_BYTES / 4;
    const floats = abi.ACK_MANY_ENTRY_BYTES / 8;
    entries.forEach((entry, i) => {
      const info = this.stream(entry.source, entry.sensor, "ack");
      this.bulk32[i * words + abi.ACK_MANY_STREAM_OFFSET / 4] = info.index;
      this.bulk64[i * floats + abi.ACK_MANY_COUNT_OFFSET / 8] = entry.count;
    });
    const what = entries.map((e) => `${e.count} of ${e.source}/${e.sensor}`).join(", ");
    check(this.exports.streamAckMany(entries.length), `ack ${what}`);
    if (this.events.pending) this.eventsDeliver();
  }

  /**
   * Makes every pending record readable again (the upload's NACK). Idempotent. Throws CoreError
   * E_STREAM_UNKNOWN for a stream never configured.
   *
   * @example
   * const records = device.readBulk(0, 7, 32);
   * if (!(await trySend(records))) device.revert(0, 7); // read again by the next readBulk
   */
  revert(source: number, sensor: number): void {
    const info = this.stream(source, sensor, "revert");
    check(this.exports.streamRevert(info.index), `revert ${source}/${sensor}`);
  }

  /** The stream's record counts and positions. Throws CoreError E_STREAM_UNKNOWN for a stream never configured. */
  counts(source: number, sensor: number): StreamCounts {
    const info = this.stream(source, sensor, "count");
    check(this.exports.streamQuery(info.index), `count ${source}/${sensor}`);
    const q = this.query64;
    return {
      total: q[abi.QUERY_RECORDS_TOTAL] ?? 0,
      pending: q[abi.QUERY_RECORDS_PENDING] ?? 0,
      new: q[abi.QUERY_RECORDS_NEW] ?? 0,
      ram: q[abi.QUERY_RECORDS_RAM] ?? 0,
      disk: q[abi.QUERY_RECORDS_DISK] ?? 0,
      nextSeq: q[abi.QUERY_SEQ_NEXT] ?? 0,
      ackedSeq: q[abi.QUERY_SEQ_ACKED] ?? 0,
      readSeq: q[abi.QUERY_SEQ_READ] ?? 0,
      ramSectors: q[abi.QUERY_SECTORS_RAM] ?? 0,
      diskFiles: q[abi.QUERY_FILES_DISK] ?? 0,
      discarded: q[abi.QUERY_RECORDS_DISCARDED] ?? 0,
    };
  }

  /** The configured streams as (source, sensor) pairs, in index order. */
  streamList(): Array<{ source: number; sensor: number; type: RecordType; dataType: DataType }> {
    const list: Array<{ source: number; sensor: number; type: RecordType; dataType: DataType }> = [];
    for (const [key, info] of this.streams) {
      const [source, sensor] = key.split(":").map(Number);
      list[info.index] = { source: source ?? 0, sensor: sensor ?? 0, type: info.recordType, dataType: info.dataType };
    }
    return list;
  }

  // ---- Tiering, flush and cleanup --------------------------------------------------------------

  /**
   * One call of the device's main-loop tick: spills, flushes and deletes within the board's per-tick
   * limits (tier.spillSectorsPerTickMax, filesWrittenPerTickMax, filesDeletedPerTickMax), so one
   * call blocks for at most that much disk work. Returns the state the machine is in afterwards.
   * Throws CoreError with the core's error code if the tick fails.
   *
   * @example
   * setInterval(() => device.processMemory(Date.now()), device.board.tier.tickIntervalMs || 100);
   */
  processMemory(nowMs: number): TierState {
    const state = check(this.exports.processMemory(nowMs), "process memory");
    this.clockMs = nowMs;
    if (this.events.pending) this.eventsDeliver();
    return STATE_NAMES[state] ?? "idle";
  }

  /** The tier state machine's state now. */
  get tierState(): TierState {
    return STATE_NAMES[this.exports.tierState()] ?? "idle";
  }

  /**
   * Starts moving every RAM sector to the disk tier (before a power off): the following processMemory
   * ticks do it, within their bounds, until getFlushProgress() is 101. Throws CoreError E_NO_DISK_TIER
   * on a RAM-only board. close() does this for you.
   */
  flushAllToDisk(): void {
    check(this.exports.flushAllToDisk(), "flush all to disk");
  }

  /** 0-100 while flushing; 101 when RAM holds no stream data and it is safe to power off. */
  getFlushProgress(): number {
    return check(this.exports.flushProgress(), "flush progress");
  }

  /** Stops a flush started with flushAllToDisk (the power stays on); what was moved stays on disk. */
  cancelMemoryFlush(): void {
    check(this.exports.flushCancel(), "cancel flush");
  }

  /** True exactly when no file awaits deletion and no deletion is in flight. */
  isCleanupComplete(): boolean {
    return check(this.exports.cleanupComplete(), "cleanup complete") === 1;
  }

  /** All pending work: RAM sectors still to move to disk, files awaiting deletion, deletions in flight. */
  getPendingDiskWriteCount(): number {
    return check(this.exports.pendingWorkCount(), "pending work count");
  }

  /** Where the deletion of acknowledged files stands, with an estimate of the time left. */
  getCleanupProgress(): CleanupProgress {
    this.exports.statsPointer(); // Throws DeviceClosedError after close().
    const s = this.stats64;
    const filesPending = s[abi.STAT_FILES_AWAITING_DELETE] ?? 0;
    const filesInFlight = s[abi.STAT_FILES_DELETING] ?? 0;
    const latency = this.bridge.deleteLatency;
    return {
      filesPending,
      bytesPending: s[abi.STAT_BYTES_AWAITING_DELETE] ?? 0,
      filesInFlight,
      filesDeleted: s[abi.STAT_FILES_DELETED] ?? 0,
      bytesDeleted: s[abi.STAT_BYTES_DELETED] ?? 0,
      failedAttempts: s[abi.STAT_DELETE_FAILURES] ?? 0,
      complete: (s[abi.STAT_CLEANUP_COMPLETE] ?? 0) === 1,
      etaMs: this.cleanupEtaMs(filesPending, filesInFlight),
      deleteLatencyMs: {
        p50: latency.quantileMs(0.5),
        p99: latency.quantileMs(0.99),
        max: latency.maxMs,
        samples: latency.count,
      },
    };
  }

  /** getCleanupProgress().etaMs for `queued` files awaiting deletion and `inFlight` lazy deletions. */
  private cleanupEtaMs(queued: number, inFlight: number): number | null {
    if (queued + inFlight === 0) return 0;
    const { tickIntervalMs, filesDeletedPerTickMax, deletesInFlightMax } = this.board.tier;
    if (this.exports.cleanupPolicy() === abi.CLEANUP_LAZY) {
      // Each tick starts what the in-flight bound allows; the deletions themselves run at the rate measured.
      const perFileMs = this.bridge.lazyPerFileMs();
      if (perFileMs === null) return null;
      const all = queued + inFlight;
      const pacedMs =
        Math.ceil(queued / deletesInFlightMax) * tickIntervalMs + Math.min(all, deletesInFlightMax) * perFileMs;
      return Math.max(pacedMs, all * perFileMs);
    }
    const latency = this.bridge.deleteLatency;
    if (latency.count === 0) return null;
    const perFileMs = latency.meanMs();
    // Full ticks of filesDeletedPerTickMax, then the rest; each is a tick interval or its deletions' time.
    const fullTicks = Math.floor(queued / filesDeletedPerTickMax);
    const rest = queued - fullTicks * filesDeletedPerTickMax;
    const tickMs = (files: number): number => Math.max(tickIntervalMs, files * perFileMs);
    return fullTicks * tickMs(filesDeletedPerTickMax) + (rest > 0 ? tickMs(rest) : 0) + inFlight * perFileMs;
  }

  /**
   * Deletes every `.imx` file now, bypassing the state machine: the core's files (their records
   * counted as discarded, every stream left consistent), then any stray `.imx` or temp file left in
   * the storage directory.
   */
  forceCleanupAllDiskFiles(): ForcedCleanup {
    const discardedBefore = this.stats64[abi.STAT_RECORDS_DISCARDED_DISK] ?? 0;
    const failed = check(this.exports.cleanupForceAll(), "force cleanup");
    // Files the core could not delete stay queued for retry: they are not strays.
    const known = new Set<string>();
    for (let slot = 0; failed > 0 && slot < this.exports.filesMaxConfigured(); slot++) {
      const length = this.exports.filePathOfSlot(slot);
      if (length > 0) {
        known.add(
          Buffer.from(new Uint8Array(this.memory.buffer, this.exports.pathBufferPtr(), length)).toString("latin1"),
        );
      }
    }
    this.bridge.sweepTemps();
    const strays = straysRemove(this.hal, known);
    this.eventsDeliver();
    return { failed, strays, recordsDiscarded: (this.stats64[abi.STAT_RECORDS_DISCARDED_DISK] ?? 0) - discardedBefore };
  }

  /** `.imx` files in the storage directory, counted from the directory itself. */
  countDiskFiles(): number {
    return diskFilesCount(this.hal);
  }

  /** RAM sectors that hold data (stream sectors and raw sectors). */
  countRamSectorsWithData(): number {
    return check(this.exports.ramSectorsWithData(), "count RAM sectors");
  }

  /**
   * Lets lazy cleanup finish what it can do now: starts the due queued deletions (at most
   * tier.deletesInFlightMax in flight at once, as processMemory does) and waits for every deletion
   * in flight to settle, until none is left in flight or due. A deletion that fails waits out its
   * retry back-off in the queue (processMemory retries it).
   */
  async settle(): Promise<void> {
    // Each round starts at least one deletion or waits for those in flight: bounded by the file table.
    const roundsMax = this.exports.filesMaxConfigured() + 2;
    for (let round = 0; round < roundsMax; round++) {
      const started = check(this.exports.cleanupLazyStart(), "start lazy deletions");
      if (started === 0 && this.bridge.pendingDeletes() === 0) break;
      await this.bridge.settle();
    }
    await this.bridge.settle();
    if (this.events.pending) this.eventsDeliver();
  }

  /**
   * Closes the device: flushes RAM to the disk tier (flushAllToDisk, then processMemory ticks of the
   * board's tick interval until progress 101, within `deadlineMs` of main-loop time), waits for
   * lazy deletions in flight, and releases the storage lock, so that another Device or run may open
   * the storage. Afterwards every method throws DeviceClosedError; close() again returns the same
   * result. A tick that fails still releases the lock, then rethrows its CoreError. Blocks the event
   * loop for the flush ticks (about the RAM's size written once, as a graceful stop: see the bench's
   * shutdown figures), then awaits the deletions.
   *
   * @example
   * const result = await device.close();
   * if (!result.flushed) console.warn(`${result.ramSectorsLeft} RAM sectors were not flushed`);
   */
  close(options: DeviceCloseOptions = {}): Promise<DeviceCloseResult> {
    if (this.closing === null) this.closing = this.closeNow(options);
    return this.closing;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.closing !== null;
  }

  private async closeNow(options: DeviceCloseOptions): Promise<DeviceCloseResult> {
    try {
      let ticks = 0;
      let flushed = false;
      if (this.board.disk !== null) {
        const stepMs = Math.max(1, this.board.tier.tickIntervalMs);
        const ticksMax = Math.ceil((options.deadlineMs ?? CLOSE_DEADLINE_MS_DEFAULT) / stepMs);
        let nowMs = options.nowMs ?? this.clockMs;
        this.flushAllToDisk();
        while (this.getFlushProgress() !== abi.FLUSH_PROGRESS_COMPLETE && ticks < ticksMax) {
          nowMs += stepMs;
          this.processMemory(nowMs);
          ticks++;
          if (ticks % 64 === 0) await this.bridge.settle();
        }
        flushed = this.getFlushProgress() === abi.FLUSH_PROGRESS_COMPLETE;
      }
      await this.bridge.settle();
      const ramSectorsLeft = this.countRamSectorsWithData();
      this.eventsDeliver();
      return { flushed, ticks, ramSectorsLeft };
    } finally {
      this.lock?.release();
      this.exportsClosed = true;
      this.exports = closedExports(`${this.board.name}${this.lockedDir === null ? "" : ` on ${this.lockedDir}`}`);
    }
  }

  /**
   * Calls `listener` for every `event` of the device (see DeviceEvents for each payload): spills,
   * discards (with their reason and record count), evictions, quarantines and cleanup completion.
   * A listener runs after the device call that caused the event has returned (never inside the
   * core), in the order the events happened; it may call the device. Listeners given as
   * DeviceOptions.on also see boot recovery's quarantines. Returns the device, for chaining.
   *
   * @example
   * device.on("discard", ({ source, sensor, reason, records }) => {
   *   console.warn(`${records} records of ${source}/${sensor} discarded (${reason})`);
   * });
   * device.on("cleanupComplete", ({ filesDeleted }) => console.log(`cleanup: ${filesDeleted} files deleted`));
   */
  on<E extends DeviceEventName>(event: E, listener: DeviceListener<E>): this {
    this.events.on(event, listener);
    return this;
  }

  /** Removes a listener added with on(). Returns the device. */
  off<E extends DeviceEventName>(event: E, listener: DeviceListener<E>): this {
    this.events.off(event, listener);
    return this;
  }

  private eventsDeliver(): void {
    if (this.exportsClosed) return;
    this.events.deliver();
  }

  // What only the device can tell, before a delivery: files quarantined while running, and whether
  // cleanup caught up after a deletion.
  private eventsCollect(): void {
    if (this.exportsClosed) return;
    const quarantined = this.bridge.quarantined;
    for (; this.quarantinedSeen < quarantined.length; this.quarantinedSeen++) {
      const file = quarantined[this.quarantinedSeen];
      if (file !== undefined) this.events.push("quarantine", file);
    }
    const hub = this.events;
    if (hub.deletedSinceCheck) {
      hub.deletedSinceCheck = false;
      if (this.exports.cleanupComplete() === 1) {
        hub.push("cleanupComplete", { filesDeleted: hub.filesDeleted, bytesDeleted: hub.bytesDeleted });
        hub.filesDeleted = 0;
        hub.bytesDeleted = 0;
      }
    }
  }

  /** Makes the disk tier behave as if `percent` of its quota were already used. */
  setDiskUsagePercent(percent: number): void {
    if (!this.board.disk) throw new CoreError(abi.E_NO_DISK_TIER, "set disk usage");
    if (!(percent >= 0 && percent <= 100)) throw new CoreError(abi.E_INVALID_ARGUMENT, "set disk usage");
    check(this.exports.diskUsageOffsetSet(Math.floor((this.board.disk.quotaBytes * percent) / 100)), "set disk usage");
  }

  // ---- Raw sector API ----------------------------------------------------------------------------

  /** The raw sector API (the original's imx_get_free_sector): a free RAM sector's id, outside any stream. Throws CoreError E_OUT_OF_SECTORS when none is free. */
  sectorAlloc(): number {
    return check(this.exports.sectorAlloc(), "allocate sector");
  }

  /** Frees a sector from sectorAlloc. Throws CoreError E_SECTOR_INVALID, E_SECTOR_NOT_ALLOCATED or E_SECTOR_OWNED (a stream's sector). */
  sectorFree(id: number): void {
    check(this.exports.sectorFree(u32(id)), `free sector ${id}`);
  }

  /** Writes one 32-bit word of a raw sector at a word-aligned offset. Throws CoreError E_SECTOR_INVALID, E_SECTOR_NOT_ALLOCATED, E_OFFSET_INVALID or E_SECTOR_OWNED. */
  sectorWrite(id: number, offsetBytes: number, value: number): void {
    check(this.exports.sectorWrite(u32(id), u32(offsetBytes), valueToBits(value, "uint32")), `write sector ${id}`);
  }

  /** Reads one 32-bit word of a raw sector. Throws CoreError as sectorWrite. */
  sectorRead(id: number, offsetBytes: number): number {
    return check(this.exports.sectorRead(u32(id), u32(offsetBytes)), `read sector ${id}`);
  }

  /** Links raw sector `id` to `next` (the original's chain of sectors). Throws CoreError as sectorWrite. */
  sectorLink(id: number, next: number): void {
    check(this.exports.sectorLink(u32(id), u32(next)), `link sector ${id}`);
  }

  /** The sector a raw sector is linked to (the original's get_next_sector). Throws CoreError as sectorWrite. */
  sectorNext(id: number): number {
    return check(this.exports.sectorNext(u32(id)), `next of sector ${id}`);
  }

  // ---- Statistics ------------------------------------------------------------------------------------

  /** The device's counters now: sectors, records, spills, files, bytes, ticks by state, delete latency (see DeviceStats). */
  stats() {
    check(this.exports.statsRefresh(), "refresh statistics");
    const s = this.stats64;
    const at = (index: number): number => s[index] ?? 0;
    const total = at(abi.STAT_SECTORS_TOTAL);
    const used = at(abi.STAT_SECTORS_USED);
    const ticksByState: Record<string, number> = {};
    STATE_NAMES.forEach((name, i) => {
      ticksByState[name] = at(abi.STAT_TICKS_BY_STATE + i);
    });
    return {
      sectorsTotal: total,
      sectorsFree: at(abi.STAT_SECTORS_FREE),
      sectorsUsed: used,
      sectorsUsedPeak: at(abi.STAT_SECTORS_USED_PEAK),
      usagePercent: total === 0 ? 0 : (used * 100) / total,
      allocations: at(abi.STAT_ALLOCATIONS),
      frees: at(abi.STAT_FREES),
      allocationFailures: at(abi.STAT_ALLOCATION_FAILURES),
      fragmentationPercent: at(abi.STAT_FRAGMENTATION_PERCENT),
      recordsWritten: at(abi.STAT_RECORDS_WRITTEN),
      recordsRead: at(abi.STAT_RECORDS_READ),
      recordsAcked: at(abi.STAT_RECORDS_ACKED),
      recordsDiscarded: at(abi.STAT_RECORDS_DISCARDED),
      recordsDiscardedDisk: at(abi.STAT_RECORDS_DISCARDED_DISK),
      recordsLive: at(abi.STAT_RECORDS_LIVE),
      sectorsDiscarded: at(abi.STAT_SECTORS_DISCARDED),
      sectorsSpilled: at(abi.STAT_SECTORS_SPILLED),
      spills: at(abi.STAT_SPILLS),
      spillsRefused: at(abi.STAT_SPILLS_REFUSED),
      spillsFailed: at(abi.STAT_SPILLS_FAILED),
      filesCreated: at(abi.STAT_FILES_CREATED),
      filesDeleted: at(abi.STAT_FILES_DELETED),
      filesLive: at(abi.STAT_FILES_LIVE),
      fileReads: at(abi.STAT_FILE_READS),
      filesCorrupt: at(abi.STAT_FILES_CORRUPT),
      bytesWritten: at(abi.STAT_BYTES_WRITTEN),
      bytesDeleted: at(abi.STAT_BYTES_DELETED),
      diskBytesUsed: at(abi.STAT_DISK_BYTES_USED),
      // The spill limit on diskBytesUsed + the usage offset: the quota's threshold, or less when the
      // filesystem has less room (0 without a disk tier); and the filesystem's free bytes as the
      // core reckons them (null without a disk tier or when the filesystem reports no limit).
      diskBytesLimit: at(abi.STAT_DISK_BYTES_LIMIT),
      diskFreeBytes:
        this.board.disk === null || s[abi.STAT_DISK_FREE_BYTES] === Infinity ? null : at(abi.STAT_DISK_FREE_BYTES),
      deleteFailures: at(abi.STAT_DELETE_FAILURES),
      filesAwaitingDelete: at(abi.STAT_FILES_AWAITING_DELETE),
      filesDeleting: at(abi.STAT_FILES_DELETING),
      cleanupComplete: at(abi.STAT_CLEANUP_COMPLETE) === 1,
      state: STATE_NAMES[at(abi.STAT_STATE)] ?? "idle",
      ticks: at(abi.STAT_TICKS),
      ticksByState,
      flushProgress: at(abi.STAT_FLUSH_PROGRESS),
      positionsWrites: at(abi.STAT_ACK_PERSISTS),
      // The ACK log (SPEC.md 6.5): its bytes now, records written this life, compactions this life.
      ackLogBytes: at(abi.STAT_ACK_LOG_BYTES),
      ackRecords: at(abi.STAT_ACK_RECORDS),
      ackLogCompactions: at(abi.STAT_ACK_LOG_COMPACTIONS),
      // Sectors direct tiered allocation (tier.mode "direct") wrote to disk.
      directSectors: at(abi.STAT_DIRECT_SECTORS),
      recordsLostRam: at(abi.STAT_RECORDS_LOST_RAM),
      recordsLostRamMax: at(abi.STAT_RECORDS_LOST_RAM_MAX),
      recordsRefused: at(abi.STAT_RECORDS_REFUSED),
      filesDiscarded: at(abi.STAT_FILES_DISCARDED),
      recordsDiscardedFiles: at(abi.STAT_RECORDS_DISCARDED_FILES),
      spillsNoSpace: at(abi.STAT_SPILLS_NO_SPACE),
      writeLatencyMs: { mean: this.bridge.writeLatency.meanMs(), max: this.bridge.writeLatency.maxMs },
      dirSyncFailures: this.bridge.dirSyncFailures,
      halNoSpaceErrors: this.bridge.noSpaceErrors,
    };
  }

  // ---- MM2 calls (README: "The original's names") ---------------------------------------------------

  /**
   * The original's `is_sector_allocated(sector)`: whether RAM sector `id` is allocated (to a stream
   * or raw). An id past the SAT is an error (E_SECTOR_INVALID), as in every sector call.
   */
  isSectorAllocated(id: number): boolean {
    return check(this.exports.sectorIsAllocated(u32(id)), `is sector ${id} allocated`) === 1;
  }

  /**
   * MM2's statistics reset (`imx_init_memory_statistics` on a running system): the event counters
   * (allocations, frees, records written/read/acknowledged/discarded, spills, files, bytes, ticks)
   * go to 0 and the peak to the sectors in use now; the gauges (sectors used, files live, disk
   * bytes, the cleanup queue, state) and boot recovery's figures stay.
   */
  resetStatistics(): void {
    check(this.exports.statsCountersResetNow(), "reset statistics");
  }

  /**
   * MM2's `imx_peek_next_tsd_evt(source, csb, csd, index, out)`: the `index`-th record after the
   * pending ones (0 = the next one a bulk read would return), without changing anything; null when
   * the stream holds fewer. `index` is below `bulkCapacity` (a peek fills the bulk buffer).
   */
  peekAt(source: number, sensor: number, index: number): UploadRecord | null {
    const info = this.stream(source, sensor, "peek at");
    if (!Number.isInteger(index) || index < 0 || index >= this.bulkCapacity) {
      throw new CoreError(abi.E_INVALID_ARGUMENT, `peek at index ${index} of ${source}/${sensor}`);
    }
    const count = check(this.exports.streamPeek(info.index, index + 1), `peek at ${source}/${sensor}`);
    return count > index ? (this.collect(info, count)[index] ?? null) : null;
  }

  /**
   * Pending records of one upload source: MM2 marks records pending per upload source over one chain
   * per sensor (`imx_has_pending_data` and the pending counts of `imx_get_new_sample_count` for each
   * sensor of the source), summed over the source's streams.
   */
  pendingCountBySource(source: number): number {
    u32(source);
    let pending = 0;
    for (const [key, info] of this.streams) {
      if (key.startsWith(`${source}:`)) {
        check(this.exports.streamQuery(info.index), `count pending of source ${source}`);
        pending += this.query64[abi.QUERY_RECORDS_PENDING] ?? 0;
      }
    }
    return pending;
  }

  /**
   * MM2's `imx_init_gps_config_for_source(source, ...)`: the EVT streams of `source` that hold the
   * position written with every `writeEvtWithGps` of that source (altitude and speed optional).
   */
  setGpsConfig(source: number, config: GpsConfig): void {
    const sensors = gpsSensors(config);
    for (const sensor of sensors) {
      const info = this.stream(source, sensor, "configure GPS of");
      if (info.recordType !== "evt")
        throw new CoreError(abi.E_RECORD_TYPE_MISMATCH, `configure GPS of ${source}/${sensor}`);
    }
    if (new Set(sensors).size !== sensors.length) {
      throw new CoreError(abi.E_INVALID_ARGUMENT, `configure GPS of source ${source}: a sensor is named twice`);
    }
    this.gpsConfigs.set(u32(source), { ...config });
  }

  /**
   * MM2's `imx_write_event_with_gps(source, csb, csd, value)`: the event and the position at its
   * time (latitude, longitude, and altitude and speed when configured), every record with the same
   * time, all or nothing. Everything is checked before the first write (streams, types, time,
   * values); a refusal for lack of room (refuse-new with RAM too full for the whole group) refuses
   * the whole group with E_DISK_FULL before anything is written.
   */
  writeEvtWithGps(source: number, sensor: number, value: number, utcMs: number, position: GpsPosition): void {
    const operation = `write EVT with GPS to ${source}/${sensor}`;
    const config = this.gpsConfigs.get(source);
    if (config === undefined)
      throw new CoreError(abi.E_STREAM_UNKNOWN, `${operation}: no GPS configured for the source`);
    const writes: Array<{ info: StreamInfo; value: number; sensor: number }> = [];
    const event = this.writable(source, sensor, operation);
    if (event.recordType !== "evt") throw new CoreError(abi.E_RECORD_TYPE_MISMATCH, operation);
    writes.push({ info: event, value, sensor });
    const add = (gpsSensor: number | undefined, gpsValue: number | undefined, name: string): void => {
      if (gpsSensor === undefined) return;
      if (gpsValue === undefined) throw new CoreError(abi.E_INVALID_ARGUMENT, `${operation}: no ${name} given`);
      writes.push({ info: this.writable(source, gpsSensor, operation), value: gpsValue, sensor: gpsSensor });
    };
    add(config.latitudeSensor, position.latitude, "latitude");
    add(config.longitudeSensor, position.longitude, "longitude");
    add(config.altitudeSensor, position.altitude, "altitude");
    add(config.speedSensor, position.speed, "speed");
    if (!Number.isSafeInteger(utcMs) || utcMs < 0) throw new CoreError(abi.E_INVALID_ARGUMENT, operation);
    const words = writes.map((w) => valueToBits(w.value, w.info.dataType));
    if (this.board.tier.diskFullPolicy === "refuse-new" && this.stats().sectorsFree < writes.length) {
      throw new CoreError(abi.E_DISK_FULL, `${operation}: RAM has no room for the whole group`);
    }
    writes.forEach((w, i) => {
      check(this.exports.streamWriteEvt(w.info.index, words[i] ?? 0, utcMs), `${operation} (${source}/${w.sensor})`);
    });
  }

  /**
   * MM2's `imx_set_utc_available(0)`: until `setUtcAvailable` is called, writes go through
   * `writeBeforeUtc` with device-system times (ms since an arbitrary epoch, e.g. boot).
   */
  setUtcUnavailable(): void {
    this.utcOffsetMs = null;
  }

  /** Whether UTC is known (it is from boot until setUtcUnavailable). */
  get utcAvailable(): boolean {
    return this.utcOffsetMs !== null;
  }

  /**
   * A write before UTC is known (MM2 on the STM32 keeps records stamped with system time and
   * converts them when time arrives, `perform_batch_utc_conversion`): held in order, at most
   * `UTC_HELD_MAX` records (E_OUT_OF_SECTORS beyond), and written with UTC = system time + the
   * offset when `setUtcAvailable` is called. When UTC is known it is an ordinary write at
   * system time + offset.
   */
  writeBeforeUtc(source: number, sensor: number, value: number, systemMs: number): void {
    const info = this.writable(source, sensor, "write before UTC to");
    if (!Number.isSafeInteger(systemMs) || systemMs < 0) {
      throw new CoreError(abi.E_INVALID_ARGUMENT, `write before UTC to ${source}/${sensor}`);
    }
    const bits = valueToBits(value, info.dataType);
    if (this.utcOffsetMs !== null) {
      this.heldWrite({ info, source, sensor, bits, systemMs }, this.utcOffsetMs);
      return;
    }
    if (this.utcHeld.length >= UTC_HELD_MAX) {
      throw new CoreError(
        abi.E_OUT_OF_SECTORS,
        `write before UTC to ${source}/${sensor}: ${UTC_HELD_MAX} records held`,
      );
    }
    this.utcHeld.push({ info, source, sensor, bits, systemMs });
  }

  /** Records written with writeBeforeUtc that wait for UTC. */
  get utcHeldCount(): number {
    return this.utcHeld.length;
  }

  /**
   * MM2's `imx_set_utc_available(1)`: UTC is now known as `utcOffsetMs` + system time; every held
   * record is written, oldest first, stamped with its system time + the offset. Returns how many.
   * A write that fails stops there (the rest stay held) and throws.
   */
  setUtcAvailable(utcOffsetMs: number): number {
    if (!Number.isSafeInteger(utcOffsetMs)) throw new CoreError(abi.E_INVALID_ARGUMENT, "set UTC available");
    this.utcOffsetMs = utcOffsetMs;
    let written = 0;
    while (this.utcHeld.length > 0) {
      const held = this.utcHeld[0];
      if (held === undefined) break;
      this.heldWrite(held, utcOffsetMs);
      this.utcHeld.shift();
      written++;
    }
    return written;
  }

  private heldWrite(held: HeldWrite, offsetMs: number): void {
    const utcMs = held.systemMs + offsetMs;
    const operation = `write to ${held.source}/${held.sensor} stamped at UTC ${utcMs}`;
    if (!(utcMs >= 0)) throw new CoreError(abi.E_INVALID_ARGUMENT, operation);
    const status =
      held.info.recordType === "tsd"
        ? this.exports.streamWriteTsd(held.info.index, held.bits, utcMs)
        : this.exports.streamWriteEvt(held.info.index, held.bits, utcMs);
    check(status, operation);
  }

  /**
   * MM2's `imx_deactivate_sensor(...)`: the stream takes no more writes (writeTsd, writeEvt, their -Many forms,
   * writeEvtWithGps and writeBeforeUtc are refused with E_INVALID_ARGUMENT); what it holds stays
   * and is still read, acknowledged and uploaded.
   */
  deactivateSensor(source: number, sensor: number): void {
    this.stream(source, sensor, "deactivate");
    this.inactive.add(streamKey(source, sensor));
  }

  /** MM2's `imx_activate_sensor(...)`: the stream takes writes again. */
  activateSensor(source: number, sensor: number): void {
    this.stream(source, sensor, "activate");
    this.inactive.delete(streamKey(source, sensor));
  }

  /** Whether the stream takes writes (see deactivateSensor). */
  isSensorActive(source: number, sensor: number): boolean {
    this.stream(source, sensor, "query");
    return !this.inactive.has(streamKey(source, sensor));
  }

  /**
   * The original's `reset_csd_entry(csd, entry)` and MM2's sensor reset: removes every record of
   * the stream, pending ones included — RAM sectors freed, files handed to cleanup, counted as
   * discarded — and keeps it configured, its sequence numbers going on. Returns the records removed.
   */
  resetSensor(source: number, sensor: number): number {
    const info = this.stream(source, sensor, "reset");
    const records = check(this.exports.streamReset(info.index), `reset ${source}/${sensor}`);
    if (records > 0) this.events.push("discard", { source, sensor, reason: "reset", records });
    this.eventsDeliver();
    return records;
  }
}

/** Stands in for the core's exports after close(): every use throws DeviceClosedError. */
function closedExports(where: string): CoreExports {
  return new Proxy({} as CoreExports, {
    get(_target, name) {
      throw new DeviceClosedError(String(name), where);
    },
  });
}

function streamKey(source: number, sensor: number): string {
  return `${source}:${sensor}`;
}

function u32(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new CoreError(abi.E_INVALID_ARGUMENT, `id ${value} is not a 32-bit unsigned integer`);
  }
  return value;
}

function intArg(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new CoreError(abi.E_INVALID_ARGUMENT, `count ${value} is not a non-negative integer`);
  }
  return value;
}
