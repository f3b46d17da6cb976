// What a device run reports: its live status (for the status line and the fleet's aggregate) and,
// at the end, its summary: where every record went, the uplink, RAM, disk and cleanup, and how it
// stopped. Both read the run through RunView and change nothing.

import type { CleanupPolicy } from "../boards.js";
import type { Device, TierState } from "../core/device.js";
import type { ShutdownFlushResult } from "../core/flush.js";
import type { RecoveryReport } from "../core/recovery.js";
import type { DevicePreflight, RunSettings } from "./device-preflight.js";
import type { OutageSchedule } from "./outage-schedule.js";
import type { RunStream, Uploader } from "./uplink.js";
import type { UplinkCounters } from "./uplink.js";

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
  /** getCleanupProgress().etaMs: null while no deletion has been timed. */
  cleanupEtaMs: number | null;
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
  /** Boot recovery's report, its lists as counts (removed files are in filesDeleted, copiesRemoved and tempFilesRemoved). */
  recovery: (Omit<RecoveryReport, "quarantined" | "moved" | "removed"> & { quarantined: number; moved: number }) | null;
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
    /**
     * Records the previous life lost with its RAM: after a graceful stop, those its flush could
     * not write (its lostWithRamAtStop); after a kill, boot recovery's count. 0 for a new storage.
     */
    lostWithRamAtLastKill: number;
    /**
     * Of `stored`, the records still in RAM when this life's graceful stop ended (the flush could
     * not write them: a full disk, or no disk tier): lost at power off. The next life reports
     * them as its lostWithRamAtLastKill. 0 after a complete flush.
     */
    lostWithRamAtStop: number;
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
    /** The spill limit at the end: the quota's threshold, or less when the filesystem had less room. */
    diskBytesLimit: number;
    /** The filesystem's free bytes as the core reckoned them at the end (null: no limit reported). */
    diskFreeBytes: number | null;
    spills: number;
    spillsRefused: number;
    sectorsSpilled: number;
    /** Sectors direct tiered allocation (tier.mode "direct") put on disk instead of spilling. */
    directSectors: number;
    /** Files the disk tier deleted to make room (evict-oldest), and the unacknowledged records they held. */
    filesEvicted: number;
    recordsEvicted: number;
    /** Records deleted with their files by a forced cleanup. */
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
    /** Records still in RAM when the stop ended (0 when the flush completed): lost at power off. */
    ramRecordsLeft: number;
  };
  hostFiles: HostFiles;
  streams: StreamSummary[];
}

/**
 * The run's own files at the storage root, and what a full filesystem did to them: a write refused
 * for want of room is counted here and retried, never fatal.
 */
export interface HostFiles {
  /** imx-memsim.json is on disk (written by this life or an earlier one). */
  identityWritten: boolean;
  /** This life holds imx-memsim.lock (false: no room for it, or a fleet device under the fleet's lock). */
  lockWritten: boolean;
  /** Run-state writes tried (the life's first, the hourly checkpoints and their retries, the stop's). */
  checkpoints: number;
  /** Of those, the ones refused for want of room (each retried a simulated minute later). */
  checkpointFailures: number;
  /** The last run-state write (the stop's, after a graceful stop) is on disk. */
  lastCheckpointWritten: boolean;
  /** Trace lines that could not be appended (a full filesystem under the trace file). */
  traceLinesDropped: number;
  /** The first few distinct failures, "file: code". */
  errors: string[];
}

/** The run as its status and summary see it. */
export interface RunView {
  readonly settings: RunSettings;
  readonly pre: DevicePreflight;
  readonly device: Device;
  readonly streams: readonly RunStream[];
  readonly uploader: Uploader;
  readonly schedule: OutageSchedule;
  readonly tickMs: number;
  readonly lifeStartMs: number;
  readonly endMs: number | null;
  readonly nowMs: number;
  readonly ticks: number;
  readonly phase: DeviceStatus["phase"];
  /** The life of the storage this run is (1 for its first run). */
  readonly life: number;
  readonly realStartMs: number;
  readonly outagesSeen: number;
  readonly stopInfo: DeviceSummary["stop"] | null;
  readonly finishReason: DeviceSummary["stop"]["reason"] | null;
  readonly hostFiles: HostFiles;
  /** Records the previous life lost with its RAM (see DeviceSummary.records.lostWithRamAtLastKill). */
  readonly lostWithRamAtLastKill: number;
  /** Records stored on the device (not yet acknowledged), over the run's streams. */
  backlog(): number;
}

export function deviceStatus(run: RunView): DeviceStatus {
  const s = run.device.stats();
  const cleanup = run.device.getCleanupProgress();
  const outage = run.schedule.outageAt(run.nowMs);
  let written = 0;
  let uploaded = 0;
  let appended = 0;
  let redelivered = 0;
  let writeFailures = 0;
  let storedAtStart = 0;
  for (const stream of run.streams) {
    written += stream.sensorStream.written;
    writeFailures += stream.sensorStream.writeFailures;
    uploaded += stream.acked;
    appended += stream.appended;
    redelivered += stream.redelivered;
    storedAtStart += stream.storedAtStart;
  }
  return {
    device: run.settings.device,
    board: run.settings.board.name,
    simNowMs: run.nowMs,
    runStartMs: run.pre.runStartMs,
    lifeStartMs: run.lifeStartMs,
    endMs: run.endMs,
    usagePercent: s.usagePercent,
    sectorsUsed: s.sectorsUsed,
    sectorsTotal: s.sectorsTotal,
    spillThresholdPercent: run.settings.board.tier.spillThresholdPercent,
    state: s.state,
    flushProgress: s.flushProgress,
    filesLive: s.filesLive,
    diskBytesUsed: s.diskBytesUsed,
    quotaBytes: run.settings.board.disk?.quotaBytes ?? null,
    linkUp: outage === null,
    linkChangeMs: outage !== null ? outage.endMs : run.schedule.nextOutageStart(run.nowMs),
    inflight: run.uploader.inflightRecords,
    backlog: run.backlog(),
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
    phase: run.phase,
  };
}

/** Boot recovery's report as the summary shows it: its lists as counts. */
function recoveryShown({ removed, ...recovery }: RecoveryReport): NonNullable<DeviceSummary["recovery"]> {
  return {
    ...recovery,
    durationMs: round2(recovery.durationMs),
    quarantined: recovery.quarantined.length,
    moved: recovery.moved.length,
  };
}

export function deviceSummary(run: RunView): DeviceSummary {
  const s = run.device.stats();
  const cleanup = run.device.getCleanupProgress();
  const realMs = performance.now() - run.realStartMs;
  const streams: StreamSummary[] = run.streams.map((stream) => {
    const counts = run.device.counts(stream.source, stream.sensor);
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
  const recovery = run.device.recovery;
  const lifeMs = run.nowMs - run.lifeStartMs;
  return {
    device: run.settings.device,
    board: run.settings.board.name,
    policy: run.settings.policy ?? run.settings.board.tier.cleanupPolicy,
    storage: run.pre.plan.dir,
    uploadLog: run.settings.uploadLogPath,
    seed: run.pre.seed,
    life: run.life,
    resumed: run.pre.resumed,
    recovery: recovery === null ? null : recoveryShown(recovery),
    simulated: {
      runStartUtc: new Date(run.pre.runStartMs).toISOString(),
      lifeStartUtc: new Date(run.lifeStartMs).toISOString(),
      endUtc: new Date(run.nowMs).toISOString(),
      lifeMs,
      sinceRunStartMs: run.nowMs - run.pre.runStartMs,
      ticks: run.ticks,
      tickMs: run.tickMs,
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
      lostWithRamAtLastKill: run.lostWithRamAtLastKill,
      lostWithRamAtStop: run.stopInfo?.ramRecordsLeft ?? 0,
    },
    uplink: { ...run.uploader.counters, outagesSeen: run.outagesSeen, lastLogError: run.uploader.lastLogError },
    wire: wireSummary(run),
    ram: {
      sectorsTotal: s.sectorsTotal,
      sectorsUsedPeak: s.sectorsUsedPeak,
      usagePercentPeak: round2((s.sectorsUsedPeak * 100) / Math.max(1, s.sectorsTotal)),
      usagePercentEnd: round2(s.usagePercent),
      ramSectorsLeft: run.device.countRamSectorsWithData(),
    },
    disk: {
      filesCreated: s.filesCreated,
      filesDeleted: s.filesDeleted,
      filesLive: s.filesLive,
      filesOnDisk: run.device.countDiskFiles(),
      diskBytesUsed: s.diskBytesUsed,
      diskBytesLimit: s.diskBytesLimit,
      diskFreeBytes: s.diskFreeBytes,
      spills: s.spills,
      spillsRefused: s.spillsRefused,
      sectorsSpilled: s.sectorsSpilled,
      directSectors: s.directSectors,
      filesEvicted: s.filesDiscarded,
      recordsEvicted: s.recordsDiscardedFiles,
      discardedFromDisk: s.recordsDiscardedDisk,
    },
    cleanup: {
      filesPending: cleanup.filesPending + cleanup.filesInFlight,
      filesDeleted: cleanup.filesDeleted,
      failedAttempts: cleanup.failedAttempts,
      complete: cleanup.complete,
      deleteLatencyP99Ms: round2(cleanup.deleteLatencyMs.p99),
    },
    stop: run.stopInfo ?? {
      reason: run.finishReason ?? "stopped",
      signal: null,
      flush: "deadline",
      flushComplete: false,
      flushTicks: 0,
      flushRealMs: 0,
      recordsReverted: 0,
      ramRecordsLeft: 0,
    },
    hostFiles: { ...run.hostFiles, errors: [...run.hostFiles.errors] },
    streams,
  };
}

function wireSummary(run: RunView): DeviceSummary["wire"] {
  if (run.settings.uplink.packetFormat !== "imatrix") return null;
  const c = run.uploader.counters;
  return {
    packets: run.settings.packetsPath ?? null,
    messages: c.packetsAcked,
    bytes: c.wireBytesAcked,
    bytesPerRecord: c.recordsAcked > 0 ? round2(c.wireBytesAcked / c.recordsAcked) : 0,
    messagesSent: c.packetsSent,
    bytesSent: c.wireBytesSent,
    messageBytesMax: c.wireMessageBytesMax,
  };
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
