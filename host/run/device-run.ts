// One simulated device for `imx-memsim run`: its main loop over simulated time. Every tick (the
// board's main-loop interval) it writes the sensor records that are due, steps the uploader, and
// calls processMemory. The same engine runs a single device on the main thread and each device of
// a fleet on a worker thread.
//
// Life cycle: devicePreflight (reads only; bad input throws a user error and nothing changes) →
// DeviceRun.start (identity file, Device.create with boot recovery, run state) → advance(...) in
// slices until finished or stopped → stop() (graceful: revert packets in the air, flush to disk
// until progress 101 or the deadline, checkpoint the clock) → summary().
//
// Resuming: the run state holds the simulated clock, checkpointed every simulated hour and at a
// graceful stop. After a graceful stop the next life starts 1 ms after it; after a kill, one
// checkpoint interval after the last checkpoint (every record the killed life wrote is older), as
// if the device had been off until then.
//
// The cloud's sequence numbers (see uplink.ts): at start, per stream, with L the last seq in the
// upload log and N the device's next sequence number after recovery, a new pair [N, L + 1 − N] is
// added when the device would otherwise number a record at or below L. It is written to the run
// state before the first upload of the life.

import { appendFileSync, writeFileSync } from "node:fs";
import { type Board, type CleanupPolicy } from "../boards.js";
import * as abi from "../core/abi.generated.js";
import { Device, type TierState } from "../core/device.js";
import { CoreError } from "../core/errors.js";
import type { LogLevel } from "../core/log.js";
import type { RecoveryReport } from "../core/recovery.js";
import { type ShutdownFlushResult, shutdownFlush } from "../core/flush.js";
import { Prng } from "../base/prng.js";
import { HOUR_MS, SECOND_MS } from "./duration.js";
import { hash32 } from "./hash.js";
import { OutageSchedule, type OutageSpec } from "./outage-schedule.js";
import { type PacketLogContents, packetLogRead, PacketLogWriter } from "./packet-log.js";
import { SensorBank, type SensorStream } from "./sensors.js";
import {
  identityFor,
  lockCheck,
  lockTake,
  type RunState,
  RUN_STATE_FORMAT,
  RUN_STATE_FORMAT_VERSION,
  runStateWrite,
  StorageError,
  type StoragePlan,
  historyStreamsRead,
  storageFileWrite,
  IDENTITY_FILE,
  storagePreflight,
} from "./storage.js";
import { type RunStream, Uploader, type UplinkCounters, type UplinkSettings } from "./uplink.js";
import { streamKey, type UploadLogContents, uploadLogRead, UploadLogWriter } from "./upload-log.js";
import { defaultWorkload, type StreamSpec, type Workload, WorkloadError, workloadKey } from "./workload.js";

export const RUN_START_UTC_MS_DEFAULT = Date.UTC(2025, 0, 10);
export const CHECKPOINT_EVERY_MS = HOUR_MS;
export const SEED_DEFAULT = 1;
/** Tick interval for a board whose processMemory has none (it works on every call). */
export const TICK_MS_FALLBACK = 100;
/** A drain that has not emptied the device after this much simulated time gives up. */
export const DRAIN_MS_MAX = 30 * 24 * HOUR_MS;

export interface RunSettings {
  board: Board;
  policy: CleanupPolicy | null;
  storageDir: string;
  uploadLogPath: string | null;
  /** The packets file (imatrix messages acknowledged); absent or null for none. */
  packetsPath?: string | null;
  tracePath: string | null;
  traceEveryMs: number;
  /** null: the stored seed, or SEED_DEFAULT. */
  seed: number | null;
  /** null: the stored start, or RUN_START_UTC_MS_DEFAULT. */
  startUtcMs: number | null;
  /** Total simulated time since the storage's first run; null runs until stopped. */
  durationMs: number | null;
  drain: boolean;
  /** null: the stored workload, or the default one. */
  workload: Workload | null;
  uplink: UplinkSettings;
  outages: OutageSpec[];
  /** null: the board's main-loop interval. */
  tickMs: number | null;
  shutdownDeadlineMs: number;
  checkpointEveryMs: number;
  logLevel: LogLevel;
  /** The device's number in a fleet, or null for a single device. */
  device: number | null;
  version: string;
}

export interface DevicePreflight {
  plan: StoragePlan;
  uploadLog: UploadLogContents | null;
  packetLog: PacketLogContents | null;
  workload: Workload;
  seed: number;
  runStartMs: number;
  resumed: boolean;
}

/** Everything `run` checks before it changes anything. Throws a user error (exit 2) for bad input. */
export function devicePreflight(settings: RunSettings, options: { lock?: boolean } = {}): DevicePreflight {
  const { board } = settings;
  const plan = storagePreflight(settings.storageDir, board, "device");
  if (options.lock !== false && plan.exists) lockCheck(plan.dir, settings.storageDir);
  const state = plan.runState;
  let workload = settings.workload ?? defaultWorkload();
  let seed = settings.seed ?? SEED_DEFAULT + (settings.device ?? 0);
  let runStartMs = settings.startUtcMs ?? RUN_START_UTC_MS_DEFAULT;
  if (state !== null) {
    const stored: Workload = { origin: "run state", streams: state.workload as unknown as StreamSpec[] };
    if (settings.workload !== null && workloadKey(settings.workload) !== workloadKey(stored)) {
      throw new StorageError(
        `storage ${settings.storageDir} was run with another workload (${stored.streams.length} streams: ${streamsShow(stored.streams)}); ` +
          `resume it without workload flags or with the same ones, or use another --storage`,
      );
    }
    if (settings.seed !== null && settings.seed !== state.seed) {
      throw new StorageError(
        `storage ${settings.storageDir} was run with --seed ${state.seed}; resume it with that seed (or without --seed)`,
      );
    }
    if (settings.startUtcMs !== null && settings.startUtcMs !== state.runStartUtcMs) {
      throw new StorageError(
        `storage ${settings.storageDir} started at ${new Date(state.runStartUtcMs).toISOString()}; --start applies to a new storage only`,
      );
    }
    workload = stored;
    seed = state.seed;
    runStartMs = state.runStartUtcMs;
  }
  if (state === null && plan.hasHistory) {
    // A storage this command did not run: its streams must have the workload's settings.
    const stored = historyStreamsRead(plan.dir, null, settings.storageDir);
    for (const spec of workload.streams) {
      const found = stored.get(streamKey(spec.source, spec.sensor));
      if (found === undefined) continue;
      const want = {
        recordType: spec.type === "tsd" ? abi.RECORD_TYPE_TSD : abi.RECORD_TYPE_EVT,
        dataType: DATA_TYPE_CODES[spec.dataType],
        sampleRateMs: spec.type === "tsd" ? (spec.sampleRateMs ?? 0) : 0,
      };
      if (
        found.recordType !== want.recordType ||
        found.dataType !== want.dataType ||
        found.sampleRateMs !== want.sampleRateMs
      ) {
        throw new StorageError(
          `storage ${settings.storageDir}: stream ${spec.source}/${spec.sensor} is ` +
            `${streamShow(found.recordType, found.dataType, found.sampleRateMs)} in ${found.from}; ` +
            `the workload has it as ${streamShow(want.recordType, want.dataType, want.sampleRateMs)}`,
        );
      }
    }
  }
  if (workload.streams.length > board.memory.streamsMax) {
    throw new WorkloadError(
      `${workload.origin}: ${workload.streams.length} streams, but board ${board.name} has room for ${board.memory.streamsMax}`,
    );
  }
  const uploadLog = settings.uploadLogPath === null ? null : uploadLogRead(settings.uploadLogPath);
  const packetsPath = settings.packetsPath ?? null;
  const packetLog = packetsPath === null ? null : packetLogRead(packetsPath);
  return { plan, uploadLog, packetLog, workload, seed, runStartMs, resumed: state !== null };
}

const DATA_TYPE_CODES: Record<StreamSpec["dataType"], number> = {
  uint32: abi.DATA_TYPE_UINT32,
  int32: abi.DATA_TYPE_INT32,
  float32: abi.DATA_TYPE_FLOAT32,
};

function streamShow(recordType: number, dataType: number, rateMs: number): string {
  const type = recordType === abi.RECORD_TYPE_TSD ? `TSD every ${rateMs} ms` : "EVT";
  const data = Object.entries(DATA_TYPE_CODES).find(([, code]) => code === dataType)?.[0] ?? `data type ${dataType}`;
  return `${type}, ${data}`;
}

function streamsShow(streams: readonly StreamSpec[]): string {
  const shown = streams.slice(0, 4).map((s) => `${s.source}/${s.sensor} ${s.type}`);
  return shown.join(", ") + (streams.length > 4 ? ", …" : "");
}

// ---- Status and summary ---------------------------------------------------------------------------

export interface DeviceStatus {
  device: number | null;
  board: string;
  simNowMs: number;
  runStartMs: number;
  lifeStartMs: number;
  endMs: number | null;
  usagePercent: number;
  sectorsUsed: number;
  sectorsTotal: number;
  spillThresholdPercent: number;
  state: TierState;
  flushProgress: number;
  filesLive: number;
  diskBytesUsed: number;
  quotaBytes: number | null;
  linkUp: boolean;
  /** When the current outage ends, or the next one starts. */
  linkChangeMs: number | null;
  inflight: number;
  /** Records stored on the device (not yet acknowledged). */
  backlog: number;
  storedAtStart: number;
  written: number;
  uploaded: number;
  appended: number;
  redelivered: number;
  discarded: number;
  writeFailures: number;
  filesCreated: number;
  filesDeleted: number;
  cleanupFilesPending: number;
  cleanupComplete: boolean;
  cleanupEtaMs: number;
  phase: "running" | "draining" | "stopping" | "done";
}

export interface StreamSummary {
  source: number;
  sensor: number;
  name: string;
  type: string;
  storedAtStart: number;
  written: number;
  uploaded: number;
  appended: number;
  redelivered: number;
  stored: number;
  /** storedAtStart + written − uploaded − stored: what the core discarded from this stream. */
  discarded: number;
  writeFailures: number;
  firstUtcMs: number | null;
  lastUtcMs: number | null;
  nextSeq: number;
  logLastSeq: number;
}

export interface DeviceSummary {
  device: number | null;
  board: string;
  policy: CleanupPolicy;
  storage: string;
  uploadLog: string | null;
  seed: number;
  life: number;
  resumed: boolean;
  recovery: (Omit<RecoveryReport, "quarantined"> & { quarantined: number }) | null;
  simulated: {
    runStartUtc: string;
    lifeStartUtc: string;
    endUtc: string;
    lifeMs: number;
    sinceRunStartMs: number;
    ticks: number;
    tickMs: number;
  };
  realMs: number;
  speedup: number;
  records: {
    storedAtStart: number;
    written: number;
    uploaded: number;
    stored: number;
    discarded: number;
    /** storedAtStart + written − uploaded − stored − discarded: 0 when every record is accounted for. */
    unaccounted: number;
    balanced: boolean;
    appendedToLog: number;
    redelivered: number;
    writeFailures: number;
    lostWithRamAtLastKill: number;
  };
  uplink: UplinkCounters & { outagesSeen: number; lastLogError: string | null };
  /** The iMatrix wire format's figures (--packet-format imatrix), or null. */
  wire: {
    packets: string | null;
    /** Messages acknowledged (each one line of the packets file). */
    messages: number;
    /** Bytes of those messages on the wire. */
    bytes: number;
    bytesPerRecord: number;
    messagesSent: number;
    bytesSent: number;
    messageBytesMax: number;
  } | null;
  ram: {
    sectorsTotal: number;
    sectorsUsedPeak: number;
    usagePercentPeak: number;
    usagePercentEnd: number;
    ramSectorsLeft: number;
  };
  disk: {
    filesCreated: number;
    filesDeleted: number;
    filesLive: number;
    filesOnDisk: number;
    diskBytesUsed: number;
    spills: number;
    spillsRefused: number;
    sectorsSpilled: number;
    discardedFromDisk: number;
  };
  cleanup: {
    filesPending: number;
    filesDeleted: number;
    failedAttempts: number;
    complete: boolean;
    deleteLatencyP99Ms: number;
  };
  stop: {
    reason: "duration" | "drained" | "drain-limit" | "signal" | "stopped";
    signal: string | null;
    flush: ShutdownFlushResult["outcome"];
    flushComplete: boolean;
    flushTicks: number;
    flushRealMs: number;
    recordsReverted: number;
  };
  streams: StreamSummary[];
}

// ---- The engine -------------------------------------------------------------------------------------

interface TraceWriter {
  path: string;
  buffered: string[];
}

const TRACE_LINES_PER_WRITE = 256;
/** Ticks between checks of the real-time budget in advance(). */
const TICKS_PER_BUDGET_CHECK = 256;

export class DeviceRun {
  readonly device: Device;
  readonly streams: RunStream[];
  readonly sensors: SensorBank;
  readonly uploader: Uploader;
  readonly tickMs: number;
  readonly lifeStartMs: number;
  readonly endMs: number | null;
  nowMs: number;
  ticks = 0;
  phase: DeviceStatus["phase"] = "running";
  private drainStartMs: number | null = null;
  private nextTraceMs: number;
  private nextCheckpointMs: number;
  private nextDrainCheckMs = 0;
  private readonly trace: TraceWriter | null;
  private readonly log: UploadLogWriter | null;
  private readonly packets: PacketLogWriter | null;
  private readonly state: RunState;
  private readonly schedule: OutageSchedule;
  private readonly realStartMs = performance.now();
  private readonly unlock: (() => void) | null;
  private outagesSeen = 0;
  private wasUp = true;
  private stopInfo: DeviceSummary["stop"] | null = null;
  private finishReason: DeviceSummary["stop"]["reason"] | null = null;

  private constructor(
    readonly settings: RunSettings,
    readonly pre: DevicePreflight,
    lock: boolean,
  ) {
    const { board } = settings;
    const { plan } = pre;
    const prior = plan.runState;
    this.tickMs = settings.tickMs ?? (board.tier.tickIntervalMs > 0 ? board.tier.tickIntervalMs : TICK_MS_FALLBACK);
    const lastClockMs = prior?.clockUtcMs ?? pre.runStartMs;
    this.lifeStartMs =
      prior === null ? pre.runStartMs : prior.cleanStop ? lastClockMs + 1 : lastClockMs + prior.checkpointEveryMs + 1;
    this.nowMs = this.lifeStartMs;
    this.endMs = settings.durationMs === null ? null : pre.runStartMs + settings.durationMs;

    // First change to the storage directory: its identity (once), then the lock.
    if (plan.identity === null)
      storageFileWrite(plan.dir, IDENTITY_FILE, identityFor(board, "device", settings.version));
    this.unlock = lock ? lockTake(plan.dir) : null;
    try {
      this.device = Device.create({
        board,
        storageDir: plan.dir,
        nowMs: this.lifeStartMs,
        log: settings.logLevel,
        ...(settings.policy === null ? {} : { policy: settings.policy }),
      });
      const life = (prior?.lives ?? 0) + 1;
      this.sensors = new SensorBank(pre.workload.streams, pre.seed, pre.runStartMs, life, this.lifeStartMs);
      const seqOffsets: Record<string, Array<[number, number]>> = { ...(prior?.seqOffsets ?? {}) };
      this.streams = this.sensors.streams.map((sensorStream, index) =>
        this.streamOpen(sensorStream, index, seqOffsets),
      );
      this.state = {
        format: RUN_STATE_FORMAT,
        version: RUN_STATE_FORMAT_VERSION,
        seed: pre.seed,
        runStartUtcMs: pre.runStartMs,
        clockUtcMs: this.lifeStartMs,
        checkpointEveryMs: settings.checkpointEveryMs,
        cleanStop: false,
        lives: life,
        workload: pre.workload.streams as unknown as Array<Record<string, unknown>>,
        seqOffsets,
      };
      // The sequence offsets are durable before anything is uploaded.
      runStateWrite(plan.dir, this.state);
      this.log = pre.uploadLog === null ? null : UploadLogWriter.open(pre.uploadLog);
      this.packets = pre.packetLog === null ? null : PacketLogWriter.open(pre.packetLog);
      this.schedule = new OutageSchedule(settings.outages, pre.runStartMs, pre.seed);
      this.wasUp = this.schedule.isUp(this.nowMs);
      this.uploader = new Uploader(
        this.device,
        this.streams,
        settings.uplink,
        this.schedule,
        new Prng(hash32(pre.seed, 0x75706c6b, life)),
        this.log,
        this.lifeStartMs,
        settings.uplink.packetFormat === "imatrix"
          ? { serial: wireSerial(settings.device), packets: this.packets }
          : null,
      );
      this.trace = settings.tracePath === null ? null : { path: settings.tracePath, buffered: [] };
      if (this.trace !== null && !pre.resumed) writeFileSync(this.trace.path, "");
      this.nextTraceMs = this.lifeStartMs;
      this.nextCheckpointMs = this.lifeStartMs + settings.checkpointEveryMs;
    } catch (error) {
      this.unlock?.();
      throw error;
    }
  }

  /** Creates the device on its storage (boot recovery runs here) and gets ready to run. */
  static start(settings: RunSettings, pre: DevicePreflight, options: { lock?: boolean } = {}): DeviceRun {
    return new DeviceRun(settings, pre, options.lock !== false);
  }

  private streamOpen(
    sensorStream: SensorStream,
    index: number,
    seqOffsets: Record<string, Array<[number, number]>>,
  ): RunStream {
    const spec = sensorStream.spec;
    const config = {
      type: spec.type,
      dataType: spec.dataType,
      ...(spec.type === "tsd" ? { sampleRateMs: spec.sampleRateMs ?? 1 } : {}),
    };
    try {
      this.device.configureStream(spec.source, spec.sensor, config);
    } catch (error) {
      if (error instanceof CoreError && error.code === abi.E_STREAM_CONFIG_MISMATCH) {
        throw new StorageError(
          `storage ${this.settings.storageDir} holds stream ${spec.source}/${spec.sensor} with other settings than the workload's ` +
            `(${spec.type}, ${spec.dataType}${spec.type === "tsd" ? `, every ${spec.sampleRateMs} ms` : ""})`,
        );
      }
      throw error;
    }
    const key = streamKey(spec.source, spec.sensor);
    const counts = this.device.counts(spec.source, spec.sensor);
    const logged = this.pre.uploadLog?.streams.get(key);
    const logLastSeq = logged?.lastSeq ?? -1;
    const offsets = [...(seqOffsets[key] ?? [])];
    const last = offsets[offsets.length - 1];
    const lastOffset = last?.[1] ?? 0;
    const needed = logLastSeq + 1 - counts.nextSeq;
    if (needed > lastOffset || (last !== undefined && counts.nextSeq < last[0])) {
      offsets.push([counts.nextSeq, Math.max(needed, lastOffset)]);
    }
    if (offsets.length > 0) seqOffsets[key] = offsets;
    return {
      index,
      key,
      source: spec.source,
      sensor: spec.sensor,
      sensorStream,
      seqOffsets: offsets,
      logLastSeq,
      logTail: logged?.tail ?? new Map<number, { utcMs: number; value: number }>(),
      storedAtStart: counts.total,
      acked: 0,
      appended: 0,
      redelivered: 0,
    };
  }

  get finished(): boolean {
    return this.phase === "done";
  }

  /** Runs ticks until the clock reaches `targetMs`, the run is finished, or `realBudgetMs` is spent. */
  advance(targetMs: number, realBudgetMs: number): void {
    if (this.phase !== "running" && this.phase !== "draining") return;
    const deadline = performance.now() + realBudgetMs;
    let n = 0;
    while (this.nowMs + this.tickMs <= targetMs) {
      this.tick();
      if (this.finished) return;
      if (++n % TICKS_PER_BUDGET_CHECK === 0 && performance.now() >= deadline) return;
    }
  }

  private write = (stream: SensorStream, value: number, utcMs: number): boolean => {
    const spec = stream.spec;
    try {
      if (spec.type === "tsd") this.device.writeTsd(spec.source, spec.sensor, value, utcMs);
      else this.device.writeEvt(spec.source, spec.sensor, value, utcMs);
      return true;
    } catch (error) {
      // RAM full with every sector pending, raw sectors hold the pool, or the disk refused the
      // sequence reservation: the sample is lost, counted.
      const refused = [abi.E_ALL_PENDING, abi.E_OUT_OF_SECTORS, abi.E_SEQ_RESERVE];
      if (error instanceof CoreError && refused.includes(error.code)) return false;
      throw error;
    }
  };

  private tick(): void {
    const now = this.nowMs + this.tickMs;
    this.nowMs = now;
    this.ticks++;
    if (this.phase === "running") {
      if (this.endMs !== null && now >= this.endMs) {
        this.finishOrDrain(now);
        if (this.finished) return;
      } else {
        this.sensors.writeDue(now, this.write);
      }
    }
    this.uploader.step(now);
    this.device.processMemory(now);
    if (now >= this.nextTraceMs) this.traceWrite(now);
    if (now >= this.nextCheckpointMs) {
      this.checkpoint(now, false);
      this.nextCheckpointMs = now + this.settings.checkpointEveryMs;
    }
    if (this.phase === "draining" && now >= this.nextDrainCheckMs) {
      this.nextDrainCheckMs = now + SECOND_MS;
      if (this.backlog() === 0 && this.uploader.inflightRecords === 0) this.finish("drained");
      else if (now - (this.drainStartMs ?? now) >= DRAIN_MS_MAX) this.finish("drain-limit");
    }
  }

  private finishOrDrain(now: number): void {
    if (!this.settings.drain) {
      this.finish("duration");
      return;
    }
    this.phase = "draining";
    this.drainStartMs = now;
  }

  private finish(reason: DeviceSummary["stop"]["reason"]): void {
    this.finishReason = reason;
    this.phase = "done";
  }

  private backlog(): number {
    let n = 0;
    for (const s of this.streams) n += this.device.counts(s.source, s.sensor).total;
    return n;
  }

  private linkNote(now: number): boolean {
    const up = this.schedule.isUp(now);
    if (this.wasUp && !up) this.outagesSeen++;
    this.wasUp = up;
    return up;
  }

  private traceWrite(now: number): void {
    const linkUp = this.linkNote(now);
    this.nextTraceMs = now + this.settings.traceEveryMs;
    if (this.trace === null) return;
    const s = this.device.stats();
    let written = 0;
    let uploaded = 0;
    for (const stream of this.streams) {
      written += stream.sensorStream.written;
      uploaded += stream.acked;
    }
    const line = {
      ...(this.settings.device === null ? {} : { device: this.settings.device }),
      simMs: now,
      sinceStartMs: now - this.pre.runStartMs,
      usagePercent: round2(s.usagePercent),
      sectorsUsed: s.sectorsUsed,
      state: s.state,
      filesLive: s.filesLive,
      diskBytesUsed: s.diskBytesUsed,
      backlog: s.recordsLive,
      inflight: this.uploader.inflightRecords,
      linkUp,
      written,
      uploaded,
      discarded: s.recordsDiscarded,
      filesCreated: s.filesCreated,
      filesDeleted: s.filesDeleted,
      cleanupPending: s.filesAwaitingDelete + s.filesDeleting,
      spills: s.spills,
    };
    this.trace.buffered.push(JSON.stringify(line));
    if (this.trace.buffered.length >= TRACE_LINES_PER_WRITE) this.traceFlush();
  }

  private traceFlush(): void {
    if (this.trace === null || this.trace.buffered.length === 0) return;
    appendFileSync(this.trace.path, this.trace.buffered.join("\n") + "\n");
    this.trace.buffered = [];
  }

  private checkpoint(now: number, cleanStop: boolean): void {
    this.state.clockUtcMs = now;
    this.state.cleanStop = cleanStop;
    runStateWrite(this.pre.plan.dir, this.state);
  }

  status(): DeviceStatus {
    const s = this.device.stats();
    const cleanup = this.device.getCleanupProgress();
    const outage = this.schedule.outageAt(this.nowMs);
    let written = 0;
    let uploaded = 0;
    let appended = 0;
    let redelivered = 0;
    let writeFailures = 0;
    let storedAtStart = 0;
    for (const stream of this.streams) {
      written += stream.sensorStream.written;
      writeFailures += stream.sensorStream.writeFailures;
      uploaded += stream.acked;
      appended += stream.appended;
      redelivered += stream.redelivered;
      storedAtStart += stream.storedAtStart;
    }
    return {
      device: this.settings.device,
      board: this.settings.board.name,
      simNowMs: this.nowMs,
      runStartMs: this.pre.runStartMs,
      lifeStartMs: this.lifeStartMs,
      endMs: this.endMs,
      usagePercent: s.usagePercent,
      sectorsUsed: s.sectorsUsed,
      sectorsTotal: s.sectorsTotal,
      spillThresholdPercent: this.settings.board.tier.spillThresholdPercent,
      state: s.state,
      flushProgress: s.flushProgress,
      filesLive: s.filesLive,
      diskBytesUsed: s.diskBytesUsed,
      quotaBytes: this.settings.board.disk?.quotaBytes ?? null,
      linkUp: outage === null,
      linkChangeMs: outage !== null ? outage.endMs : this.schedule.nextOutageStart(this.nowMs),
      inflight: this.uploader.inflightRecords,
      backlog: this.backlog(),
      storedAtStart,
      written,
      uploaded,
      appended,
      redelivered,
      discarded: s.recordsDiscarded,
      writeFailures,
      filesCreated: s.filesCreated,
      filesDeleted: s.filesDeleted,
      cleanupFilesPending: cleanup.filesPending + cleanup.filesInFlight,
      cleanupComplete: cleanup.complete,
      cleanupEtaMs: cleanup.etaMs,
      phase: this.phase,
    };
  }

  /**
   * The graceful stop: packets in the air are reverted, everything in RAM is flushed to disk
   * (until progress 101 or the deadline), and the clock is checkpointed.
   */
  async stop(signal: NodeJS.Signals | null = null): Promise<void> {
    if (this.stopInfo !== null) return;
    const reason = this.finishReason ?? (signal === null ? "stopped" : "signal");
    this.phase = "stopping";
    const reverted = this.uploader.abandon();
    let flush: ShutdownFlushResult;
    try {
      flush = await shutdownFlush(this.device, {
        nowMs: this.nowMs,
        stepMs: this.tickMs,
        deadlineMs: this.settings.shutdownDeadlineMs,
      });
      this.nowMs = flush.nowMs;
      this.checkpoint(this.nowMs, true);
    } finally {
      this.traceFlush();
      this.log?.close();
      this.packets?.close();
      this.unlock?.();
    }
    this.stopInfo = {
      reason,
      signal,
      flush: flush.outcome,
      flushComplete: flush.complete,
      flushTicks: flush.ticks,
      flushRealMs: round2(flush.realMs),
      recordsReverted: reverted,
    };
    this.phase = "done";
  }

  private wireSummary(): DeviceSummary["wire"] {
    if (this.settings.uplink.packetFormat !== "imatrix") return null;
    const c = this.uploader.counters;
    return {
      packets: this.settings.packetsPath ?? null,
      messages: c.packetsAcked,
      bytes: c.wireBytesAcked,
      bytesPerRecord: c.recordsAcked > 0 ? round2(c.wireBytesAcked / c.recordsAcked) : 0,
      messagesSent: c.packetsSent,
      bytesSent: c.wireBytesSent,
      messageBytesMax: c.wireMessageBytesMax,
    };
  }

  summary(): DeviceSummary {
    const s = this.device.stats();
    const cleanup = this.device.getCleanupProgress();
    const realMs = performance.now() - this.realStartMs;
    const streams: StreamSummary[] = this.streams.map((stream) => {
      const counts = this.device.counts(stream.source, stream.sensor);
      const sensor = stream.sensorStream;
      return {
        source: stream.source,
        sensor: stream.sensor,
        name: sensor.spec.name,
        type: sensor.spec.type,
        storedAtStart: stream.storedAtStart,
        written: sensor.written,
        uploaded: stream.acked,
        appended: stream.appended,
        redelivered: stream.redelivered,
        stored: counts.total,
        discarded: stream.storedAtStart + sensor.written - stream.acked - counts.total,
        writeFailures: sensor.writeFailures,
        firstUtcMs: sensor.firstUtcMs,
        lastUtcMs: sensor.lastUtcMs,
        nextSeq: counts.nextSeq,
        logLastSeq: stream.logLastSeq,
      };
    });
    const sum = (f: (x: StreamSummary) => number): number => streams.reduce((a, x) => a + f(x), 0);
    const storedAtStart = sum((x) => x.storedAtStart);
    const written = sum((x) => x.written);
    const uploaded = sum((x) => x.uploaded);
    const stored = sum((x) => x.stored);
    const discarded = s.recordsDiscarded;
    const unaccounted = storedAtStart + written - uploaded - stored - discarded;
    const recovery = this.device.recovery;
    const lifeMs = this.nowMs - this.lifeStartMs;
    return {
      device: this.settings.device,
      board: this.settings.board.name,
      policy: this.settings.policy ?? this.settings.board.tier.cleanupPolicy,
      storage: this.pre.plan.dir,
      uploadLog: this.settings.uploadLogPath,
      seed: this.pre.seed,
      life: this.state.lives,
      resumed: this.pre.resumed,
      recovery:
        recovery === null
          ? null
          : { ...recovery, durationMs: round2(recovery.durationMs), quarantined: recovery.quarantined.length },
      simulated: {
        runStartUtc: new Date(this.pre.runStartMs).toISOString(),
        lifeStartUtc: new Date(this.lifeStartMs).toISOString(),
        endUtc: new Date(this.nowMs).toISOString(),
        lifeMs,
        sinceRunStartMs: this.nowMs - this.pre.runStartMs,
        ticks: this.ticks,
        tickMs: this.tickMs,
      },
      realMs: round2(realMs),
      speedup: realMs > 0 ? Math.round(lifeMs / realMs) : 0,
      records: {
        storedAtStart,
        written,
        uploaded,
        stored,
        discarded,
        unaccounted,
        balanced: unaccounted === 0 && uploaded === s.recordsAcked && written === s.recordsWritten,
        appendedToLog: sum((x) => x.appended),
        redelivered: sum((x) => x.redelivered),
        writeFailures: sum((x) => x.writeFailures),
        lostWithRamAtLastKill: recovery?.recordsLostRam ?? 0,
      },
      uplink: { ...this.uploader.counters, outagesSeen: this.outagesSeen, lastLogError: this.uploader.lastLogError },
      wire: this.wireSummary(),
      ram: {
        sectorsTotal: s.sectorsTotal,
        sectorsUsedPeak: s.sectorsUsedPeak,
        usagePercentPeak: round2((s.sectorsUsedPeak * 100) / Math.max(1, s.sectorsTotal)),
        usagePercentEnd: round2(s.usagePercent),
        ramSectorsLeft: this.device.countRamSectorsWithData(),
      },
      disk: {
        filesCreated: s.filesCreated,
        filesDeleted: s.filesDeleted,
        filesLive: s.filesLive,
        filesOnDisk: this.device.countDiskFiles(),
        diskBytesUsed: s.diskBytesUsed,
        spills: s.spills,
        spillsRefused: s.spillsRefused,
        sectorsSpilled: s.sectorsSpilled,
        discardedFromDisk: s.recordsDiscardedDisk,
      },
      cleanup: {
        filesPending: cleanup.filesPending + cleanup.filesInFlight,
        filesDeleted: cleanup.filesDeleted,
        failedAttempts: cleanup.failedAttempts,
        complete: cleanup.complete,
        deleteLatencyP99Ms: round2(cleanup.deleteLatencyMs.p99),
      },
      stop: this.stopInfo ?? {
        reason: this.finishReason ?? "stopped",
        signal: null,
        flush: "deadline",
        flushComplete: false,
        flushTicks: 0,
        flushRealMs: 0,
        recordsReverted: 0,
      },
      streams,
    };
  }
}

/** The device serial of the iMatrix messages: 1 for a single device, 1 + i for device i of a fleet. */
export function wireSerial(device: number | null): number {
  return 1 + (device ?? 0);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
