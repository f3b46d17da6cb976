// One run of `compare` (and of `size`'s bisection): a device of `imx-memsim run` on a temporary
// storage, driven as fast as it goes through the workload and the outages until --duration, watched
// tick by tick for the figures its summary does not keep (peak disk bytes, upload lag, real time
// per tick, a time series for the charts), and turned into one row that adds up:
// written = delivered + discarded + stored.
//
// The figures are taken when --duration is reached, before the graceful stop's flush (which would
// add the same last spill to every run); the stop still runs, so lazy deletions settle and the
// temporary storage is left closed before it is removed.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as yieldNow } from "node:timers/promises";
import * as abi from "../core/abi.generated.js";
import { devicePreflight, type RunSettings } from "../run/device-preflight.js";
import { DeviceRun, type RunObserver } from "../run/device-run.js";
import { LogHistogram } from "./histogram.js";

export interface CompareRow {
  board: string;
  policy: string;
  /** The disk-full policy of the run (evict-oldest or refuse-new), or null without a disk tier. */
  diskFull: string | null;
  /** The board's tier mode: "spill" (spill from RAM past the threshold) or "direct" (new sectors on disk, SPEC.md 4.2). */
  tierMode: "spill" | "direct";
  /** The workload's streams this run took (a board with fewer stream slots takes the first ones). */
  streams: number;
  /** Why `streams` is fewer than the workload's, or null. */
  streamsNote: string | null;
  simulatedMs: number;
  /** Records the sensors wrote to the device. */
  written: number;
  /** Records the cloud acknowledged. */
  delivered: number;
  /** Records written and later dropped by the device; always the oldest (RAM full, files evicted). */
  discarded: number;
  /** Of `discarded`, the oldest: all of them (kept apart from `refusedNewest`, which is not in `written`). */
  discardedOldest: number;
  /**
   * Samples the device refused at write time (refuse-new with RAM and disk full, or every sector
   * pending): the newest, never written, so not part of `written`.
   */
  refusedNewest: number;
  /** Records still on the device (RAM or disk) at the end. */
  stored: number;
  /** written === delivered + discarded + stored. */
  addsUp: boolean;
  /** discarded + refusedNewest: what this board and policy lost. */
  lost: number;
  ramSectors: number;
  ramPeakSectors: number;
  ramPeakPercent: number;
  ramPeakBytes: number;
  /** Bytes the disk tier held at its fullest (its `.imx` files and positions). */
  diskPeakBytes: number;
  /** The disk tier's quota, or null without one. */
  diskQuotaBytes: number | null;
  filesCreated: number;
  /** Sectors allocated straight on disk (direct mode; 0 in spill mode). */
  directSectors: number;
  /** Bytes written to the disk tier: the flash wear. */
  diskBytesWritten: number;
  /** Age of the oldest record of each acknowledged packet when its ACK came, per record: median (ms). */
  uploadLagMsP50: number | null;
  uploadLagMsP99: number | null;
  /** Real time of one main-loop tick (sensors, uploader, processMemory), 99th percentile (µs). */
  tickUsP99: number | null;
  /** Real time the run took (ms). */
  realMs: number;
}

/** Samples over simulated time, for the charts: parallel arrays, `sinceStartMs` first. */
export interface CompareSeries {
  sinceStartMs: number[];
  ramPercent: number[];
  diskBytes: number[];
  stored: number[];
  delivered: number[];
  lost: number[];
}

export interface CompareResult {
  row: CompareRow;
  series: CompareSeries;
}

/** A run to make: the settings (their storageDir is replaced) and the note on the streams taken. */
export interface CompareRunInput {
  settings: RunSettings;
  streamsNote: string | null;
}

/** Told about every slice of real time with the fraction of --duration simulated so far. */
export type CompareProgress = (fraction: number) => void;

const SERIES_POINTS_MAX = 400;
/** Real time of one slice of ticks before the loop yields (so lazy deletions settle). */
const SLICE_MS = 20;

class CompareProbe implements RunObserver {
  diskPeakBytes = 0;
  readonly lagMs = new LogHistogram();
  readonly tickUs = new LogHistogram();
  readonly series: CompareSeries = {
    sinceStartMs: [],
    ramPercent: [],
    diskBytes: [],
    stored: [],
    delivered: [],
    lost: [],
  };
  private acked: number[] = [];
  private lastTickAt = 0;
  private nextSampleMs = 0;
  private stats: Float64Array | null = null;

  constructor(
    private readonly startMs: number,
    private readonly sampleEveryMs: number,
  ) {}

  /** A new slice begins: the time since the last tick includes the loop's yield, so it is not a tick's. */
  sliceStart(): void {
    this.lastTickAt = 0;
  }

  tick(run: DeviceRun, nowMs: number): void {
    const at = performance.now();
    if (this.lastTickAt !== 0) this.tickUs.add((at - this.lastTickAt) * 1000);
    this.lastTickAt = at;
    if (this.stats === null) {
      this.stats = new Float64Array(run.device.memory.buffer, run.device.exports.statsPointer(), abi.STAT_COUNT);
      this.acked = run.streams.map((stream) => stream.acked);
      this.nextSampleMs = nowMs;
    }
    const stats = this.stats;
    const diskBytes = stats[abi.STAT_DISK_BYTES_USED] ?? 0;
    if (diskBytes > this.diskPeakBytes) this.diskPeakBytes = diskBytes;
    for (const stream of run.streams) {
      const before = this.acked[stream.index] ?? 0;
      if (stream.acked === before) continue;
      this.acked[stream.index] = stream.acked;
      if (Number.isFinite(stream.ackedFirstUtcMs))
        this.lagMs.add(nowMs - stream.ackedFirstUtcMs, stream.acked - before);
    }
    if (nowMs >= this.nextSampleMs) {
      this.nextSampleMs = nowMs + this.sampleEveryMs;
      this.sample(run, nowMs, stats);
    }
  }

  sample(run: DeviceRun, nowMs: number, stats: Float64Array): void {
    let written = 0;
    let delivered = 0;
    let refused = 0;
    for (const stream of run.streams) {
      written += stream.sensorStream.written;
      delivered += stream.acked;
      refused += stream.sensorStream.writeFailures;
    }
    const discarded = stats[abi.STAT_RECORDS_DISCARDED] ?? 0;
    const sectors = Math.max(1, run.settings.board.memory.sectorCount);
    const s = this.series;
    s.sinceStartMs.push(nowMs - this.startMs);
    s.ramPercent.push(Math.round(((stats[abi.STAT_SECTORS_USED] ?? 0) * 10_000) / sectors) / 100);
    s.diskBytes.push(stats[abi.STAT_DISK_BYTES_USED] ?? 0);
    s.stored.push(written - delivered - discarded);
    s.delivered.push(delivered);
    s.lost.push(discarded + refused);
  }
}

const round1 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);
const round0 = (x: number | null): number | null => (x === null ? null : Math.round(x));

/**
 * Runs one device until --duration (settings.durationMs, required) on a temporary storage that is
 * removed afterwards, and returns its row and series. `progress` is told after every slice.
 */
export async function compareRunOne(input: CompareRunInput, progress?: CompareProgress): Promise<CompareResult> {
  const durationMs = input.settings.durationMs;
  if (durationMs === null || durationMs <= 0) throw new Error("compareRunOne: settings.durationMs must be set");
  const dir = mkdtempSync(join(tmpdir(), "imx-memsim-compare-"));
  const started = performance.now();
  try {
    const settings: RunSettings = {
      ...input.settings,
      storageDir: dir,
      uploadLogPath: null,
      packetsPath: null,
      tracePath: null,
      drain: false,
      device: null,
    };
    const pre = devicePreflight(settings, { lock: false });
    const probe = new CompareProbe(pre.runStartMs, Math.max(1, Math.ceil(durationMs / SERIES_POINTS_MAX)));
    const run = DeviceRun.start(settings, pre, { lock: false, observer: probe });
    let row: CompareRow;
    try {
      while (!run.finished) {
        probe.sliceStart();
        run.advance(Infinity, SLICE_MS);
        progress?.(Math.min(1, (run.nowMs - pre.runStartMs) / durationMs));
        // Lazy deletions settle on the event loop; a worker's messages go out here too.
        await yieldNow();
      }
      row = compareRow(run, input, probe, performance.now() - started);
      await run.stop(null);
    } finally {
      run.release();
    }
    return { row, series: probe.series };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function compareRow(run: DeviceRun, input: CompareRunInput, probe: CompareProbe, realMs: number): CompareRow {
  const { board } = run.settings;
  const stats = run.device.stats();
  let written = 0;
  let delivered = 0;
  let stored = 0;
  let refused = 0;
  for (const stream of run.streams) {
    written += stream.sensorStream.written;
    delivered += stream.acked;
    refused += stream.sensorStream.writeFailures;
    stored += run.device.counts(stream.source, stream.sensor).total;
  }
  const discarded = stats.recordsDiscarded;
  probe.sample(
    run,
    run.nowMs,
    new Float64Array(run.device.memory.buffer, run.device.exports.statsPointer(), abi.STAT_COUNT),
  );
  const sectors = board.memory.sectorCount;
  return {
    board: board.name,
    policy: run.settings.policy ?? board.tier.cleanupPolicy,
    diskFull: board.disk === null ? null : board.tier.diskFullPolicy,
    tierMode: board.tier.mode,
    streams: run.streams.length,
    streamsNote: input.streamsNote,
    simulatedMs: run.nowMs - run.pre.runStartMs,
    written,
    delivered,
    discarded,
    discardedOldest: discarded,
    refusedNewest: refused,
    stored,
    addsUp: written === delivered + discarded + stored,
    lost: discarded + refused,
    ramSectors: sectors,
    ramPeakSectors: stats.sectorsUsedPeak,
    ramPeakPercent: sectors === 0 ? 0 : Math.round((stats.sectorsUsedPeak * 10_000) / sectors) / 100,
    ramPeakBytes: stats.sectorsUsedPeak * board.memory.sectorBytes,
    diskPeakBytes: probe.diskPeakBytes,
    diskQuotaBytes: board.disk?.quotaBytes ?? null,
    filesCreated: stats.filesCreated,
    directSectors: stats.directSectors,
    diskBytesWritten: stats.bytesWritten,
    uploadLagMsP50: round0(probe.lagMs.quantile(0.5)),
    uploadLagMsP99: round0(probe.lagMs.quantile(0.99)),
    tickUsP99: round1(probe.tickUs.quantile(0.99)),
    realMs: Math.round(realMs),
  };
}
