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
// The settings and the preflight are in device-preflight.ts, the status and the summary in
// device-report.ts, the trace file in run-trace.ts; this file holds the life cycle and the loop.
//
// Resuming: the run state holds the simulated clock, checkpointed every simulated hour and at a
// graceful stop. After a graceful stop the next life starts 1 ms after it; after a kill, one
// checkpoint interval after the last checkpoint (every record the killed life wrote is older), as
// if the device had been off until then.
//
// A full filesystem under a host file is counted and survived (HostFiles in device-report.ts): an
// identity, lock or run-state write refused for want of room is retried at the next checkpoint
// attempt (one simulated minute later, not an hour), and uploads wait while the life's first
// run state (its sequence offsets and storage id) is not on disk, unless the run state already
// there holds the same (a resumed life that added no offset); an upload-log append that fails
// leaves its cycle unacknowledged (uplink.ts); trace lines that cannot be appended are counted and
// dropped. A graceful stop still flushes what the disk tier takes; what it could not (the records
// still in RAM, lost at power off) is reported and counted: the stop's run state records them, and
// the next life reports them as lost with RAM.
//
// The cloud's sequence numbers (see uplink.ts): at start, per stream, with L the last seq in the
// upload log and N the device's next sequence number after recovery, a new pair [N, L + 1 − N] is
// added when the device would otherwise number a record at or below L. It is written to the run
// state before the first upload of the life.

import { randomUUID } from "node:crypto";
import { Prng } from "../base/prng.js";
import * as abi from "../core/abi.generated.js";
import { Device } from "../core/device.js";
import { CoreError } from "../core/errors.js";
import type { Hal } from "../hal/hal.js";
import { NodeFsHal } from "../hal/node-fs.js";
import type { CoreLogger } from "../core/log.js";
import { type ShutdownFlushResult, shutdownFlush } from "../core/flush.js";
import { type DevicePreflight, DRAIN_MS_MAX, type RunSettings, TICK_MS_FALLBACK } from "./device-preflight.js";
import {
  deviceStatus,
  type DeviceStatus,
  deviceSummary,
  type DeviceSummary,
  type HostFiles,
  round2,
  type RunView,
} from "./device-report.js";
import { SECOND_MS } from "./duration.js";
import { hash32 } from "./hash.js";
import { OutageSchedule } from "./outage-schedule.js";
import { RunTrace } from "./run-trace.js";
import { PacketLogWriter } from "./packet-log.js";
import { SensorBank, type SensorStream } from "./sensors.js";
import {
  errorText,
  IDENTITY_FILE,
  identityFor,
  isSpaceError,
  type LockHandle,
  lockTake,
  RUN_STATE_FILE,
  RUN_STATE_FORMAT,
  RUN_STATE_FORMAT_VERSION,
  type RunState,
  runStateWrite,
  StorageError,
  storageFileWrite,
} from "./storage.js";
import { type RunStream, Uploader } from "./uplink.js";
import { streamKey, UploadLogWriter } from "./upload-log.js";

/** Ticks between checks of the real-time budget in advance(). */
const TICKS_PER_BUDGET_CHECK = 256;
/** After a host file write refused for want of room, the next attempt comes this much simulated time later. */
export const HOST_WRITE_RETRY_MS = 60 * SECOND_MS;

export interface DeviceRunOptions {
  /** Take the storage's lock (default true; a fleet's devices share the fleet's). */
  lock?: boolean;
  /**
   * The HAL (rooted at the storage) that the identity, lock and run-state writes go through, and
   * the device's disk tier when given; NodeFsHal by default.
   */
  hal?: Hal;
  /** The device's core logger (default: one at the settings' level, printing to stderr). */
  logger?: CoreLogger;
  /** Told after every tick (the dashboard and the Perfetto trace watch the run through it). */
  observer?: RunObserver;
}

/** Watches a run tick by tick; it may read the run and the device, never change them. */
export interface RunObserver {
  tick(run: DeviceRun, nowMs: number): void;
}

export class DeviceRun implements RunView {
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
  private readonly trace: RunTrace | null;
  private readonly log: UploadLogWriter | null;
  private readonly packets: PacketLogWriter | null;
  private readonly state: RunState;
  /** The life of the storage this run is (1 for its first run). */
  readonly life: number;
  readonly schedule: OutageSchedule;
  readonly realStartMs = performance.now();
  private readonly lock: LockHandle | null;
  private readonly hal: Hal;
  private readonly observer: RunObserver | null;
  private identityPending: boolean;
  /** The life's first run state (sequence offsets, storage id) is on disk: uploads may start. */
  private stateDurable = false;
  readonly hostFiles: HostFiles;
  outagesSeen = 0;
  private wasUp = true;
  stopInfo: DeviceSummary["stop"] | null = null;
  finishReason: DeviceSummary["stop"]["reason"] | null = null;
  /**
   * Records the previous life lost with its RAM: after a graceful stop, those its flush could not
   * write (from its run state); after a kill (or a stop whose run state was not written), boot
   * recovery's count. 0 for a new storage.
   */
  readonly lostWithRamAtLastKill: number;

  private constructor(
    readonly settings: RunSettings,
    readonly pre: DevicePreflight,
    options: DeviceRunOptions,
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

    this.hostFiles = {
      identityWritten: plan.identity !== null,
      lockWritten: false,
      checkpoints: 0,
      checkpointFailures: 0,
      lastCheckpointWritten: true,
      traceLinesDropped: 0,
      errors: [],
    };
    // First change to the storage directory: its identity (once), then the lock.
    this.hal = options.hal ?? new NodeFsHal(plan.dir);
    this.observer = options.observer ?? null;
    this.identityPending = plan.identity === null;
    this.identityWrite();
    this.lock = options.lock === false ? null : lockTake(plan.dir, this.hal);
    this.hostFiles.lockWritten = this.lock !== null && this.lock.failure === null;
    if (this.lock?.failure != null) this.hostError(`lock: ${this.lock.failure}; running without it`);
    try {
      this.device = Device.create({
        board,
        storageDir: plan.dir,
        // The run took the storage's lock above (or its fleet did).
        lock: false,
        ...(options.hal === undefined ? {} : { hal: options.hal }),
        nowMs: this.lifeStartMs,
        log: options.logger ?? settings.logLevel,
        ...(settings.policy === null ? {} : { policy: settings.policy }),
      });
      const life = (prior?.lives ?? 0) + 1;
      this.life = life;
      const lostAtStop = prior?.cleanStop === true ? prior.ramRecordsLostAtStop : undefined;
      this.lostWithRamAtLastKill = lostAtStop ?? this.device.recovery?.recordsLostRam ?? 0;
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
        storageId: prior?.storageId ?? randomUUID(),
      };
      // The sequence offsets are durable before anything is uploaded (uploads wait until they are).
      this.stateDurable = this.stateWrite() || uploadStateSame(prior, this.state);
      this.log =
        pre.uploadLog === null
          ? null
          : UploadLogWriter.open(pre.uploadLog, { storageId: this.state.storageId ?? "", storage: plan.dir });
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
      this.trace = settings.tracePath === null ? null : new RunTrace(settings.tracePath, !pre.resumed);
      if (this.trace?.lastError != null) this.hostError(`trace: ${this.trace.lastError}`);
      this.nextTraceMs = this.lifeStartMs;
      this.nextCheckpointMs = this.lifeStartMs + settings.checkpointEveryMs;
    } catch (error) {
      this.lock?.release();
      throw error;
    }
  }

  /** Creates the device on its storage (boot recovery runs here) and gets ready to run. */
  static start(settings: RunSettings, pre: DevicePreflight, options: DeviceRunOptions = {}): DeviceRun {
    return new DeviceRun(settings, pre, options);
  }

  private hostError(text: string): void {
    const errors = this.hostFiles.errors;
    if (errors.length < 8 && !errors.includes(text)) errors.push(text);
  }

  /** Writes the identity if it is still to be written; false if the filesystem had no room. */
  private identityWrite(): boolean {
    if (!this.identityPending) return true;
    const { plan } = this.pre;
    try {
      storageFileWrite(
        plan.dir,
        IDENTITY_FILE,
        identityFor(this.settings.board, "device", this.settings.version),
        this.hal,
      );
    } catch (error) {
      if (!isSpaceError(error)) throw error;
      this.hostError(`${IDENTITY_FILE}: ${errorText(error)}`);
      return false;
    }
    this.identityPending = false;
    this.hostFiles.identityWritten = true;
    return true;
  }

  /** Writes the run state (and a pending identity); false, counted, if the filesystem had no room. */
  private stateWrite(): boolean {
    this.hostFiles.checkpoints++;
    let written = this.identityWrite();
    if (written) {
      try {
        runStateWrite(this.pre.plan.dir, this.state, this.hal);
      } catch (error) {
        if (!isSpaceError(error)) throw error;
        this.hostError(`${RUN_STATE_FILE}: ${errorText(error)}`);
        written = false;
      }
    }
    if (!written) this.hostFiles.checkpointFailures++;
    this.hostFiles.lastCheckpointWritten = written;
    return written;
  }

  /** Releases what a run that will not stop gracefully holds (the lock, open files). Idempotent. */
  release(): void {
    try {
      this.log?.close();
      this.packets?.close();
    } finally {
      this.lock?.release();
    }
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
      ackedFirstUtcMs: NaN,
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
      // RAM full with every sector pending, raw sectors hold the pool, the disk refused the
      // sequence reservation, or RAM and disk are full under refuse-new: the sample is lost, counted.
      const refused = [abi.E_ALL_PENDING, abi.E_OUT_OF_SECTORS, abi.E_SEQ_RESERVE, abi.E_DISK_FULL];
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
    if (this.stateDurable) this.uploader.step(now);
    this.device.processMemory(now);
    this.observer?.tick(this, now);
    if (now >= this.nextTraceMs) this.traceWrite(now);
    if (now >= this.nextCheckpointMs) {
      const written = this.checkpoint(now, false);
      if (written) this.stateDurable = true;
      this.nextCheckpointMs = now + (written ? this.settings.checkpointEveryMs : HOST_WRITE_RETRY_MS);
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

  backlog(): number {
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
    let written = 0;
    let uploaded = 0;
    for (const stream of this.streams) {
      written += stream.sensorStream.written;
      uploaded += stream.acked;
    }
    this.trace.add(
      {
        device: this.settings.device,
        simMs: now,
        sinceStartMs: now - this.pre.runStartMs,
        inflight: this.uploader.inflightRecords,
        linkUp,
        written,
        uploaded,
      },
      this.device.stats(),
    );
  }

  private checkpoint(now: number, cleanStop: boolean, ramRecordsLost = 0): boolean {
    this.state.clockUtcMs = now;
    this.state.cleanStop = cleanStop;
    if (cleanStop) this.state.ramRecordsLostAtStop = ramRecordsLost;
    else delete this.state.ramRecordsLostAtStop;
    return this.stateWrite();
  }

  status(): DeviceStatus {
    return deviceStatus(this);
  }

  /**
   * The graceful stop: packets in the air are reverted, everything in RAM is flushed to disk
   * (until progress 101, or the deadline, or a full disk), and the clock is checkpointed with the
   * records the flush left in RAM (lost at power off; 0 after a complete flush).
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
      this.checkpoint(this.nowMs, true, flush.complete ? 0 : flush.ramRecordsLeft);
    } finally {
      this.trace?.flush();
      if (this.trace !== null) {
        this.hostFiles.traceLinesDropped = this.trace.linesDropped;
        if (this.trace.lastError !== null) this.hostError(`trace: ${this.trace.lastError}`);
      }
      this.release();
    }
    this.stopInfo = {
      reason,
      signal,
      flush: flush.outcome,
      flushComplete: flush.complete,
      flushTicks: flush.ticks,
      flushRealMs: round2(flush.realMs),
      recordsReverted: reverted,
      ramRecordsLeft: flush.complete ? 0 : flush.ramRecordsLeft,
    };
    this.phase = "done";
  }

  summary(): DeviceSummary {
    return deviceSummary(this);
  }
}

/**
 * Whether the run state already on disk holds what uploads depend on (the storage id and every
 * stream's sequence offsets) as this life has them: then uploads need not wait for this life's
 * first run-state write (on a full filesystem it may be a while).
 */
function uploadStateSame(prior: RunState | null, state: RunState): boolean {
  if (prior?.storageId === undefined || prior.storageId !== state.storageId) return false;
  const keys = new Set([...Object.keys(prior.seqOffsets), ...Object.keys(state.seqOffsets)]);
  for (const key of keys) {
    if (JSON.stringify(prior.seqOffsets[key] ?? []) !== JSON.stringify(state.seqOffsets[key] ?? [])) return false;
  }
  return true;
}

/** The device serial of the iMatrix messages: 1 for a single device, 1 + i for device i of a fleet. */
export function wireSerial(device: number | null): number {
  return 1 + (device ?? 0);
}
