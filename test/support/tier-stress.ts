// The stress driver behind test/tier/stress.test.ts: a seeded random main loop over one device,
// checked against a small model of what each stream must still deliver.
//
// It keeps writing 4 streams (TSD and EVT, three data types) and uploading them — bulk reads, ACKs
// of part or all of what was read, sometimes a NACK (revert) — while processMemory ticks on a
// simulated clock, flushes start and are cancelled, the disk tier crosses its quota threshold and
// back, lazy deletions settle at random moments and, optionally, the HAL fails writes and removals
// and forced cleanups drop the disk tier. Discards are the one thing the model cannot predict, so it
// learns them by observation: a read that skips sequence numbers proves they were discarded, and at
// the end the skipped numbers must add up to the core's own discard counter exactly.

import { expect } from "vitest";
import { type Board, type CleanupPolicy, loadBoard } from "../../host/boards.js";
import { Device, type StreamConfig, type UploadRecord } from "../../host/core/device.js";
import { ensureCleanupComplete } from "../../host/core/ensure-cleanup.js";
import { CoreError } from "../../host/core/errors.js";
import { FLUSH_PROGRESS_COMPLETE } from "../../host/core/flush.js";
import { listFilesRecursive } from "../../host/hal/atomic.js";
import type { HalErrorCode } from "../../host/hal/hal.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { FailingHal, type FaultOp } from "./failing-hal.js";
import { Prng } from "./prng.js";

interface StreamSpec extends StreamConfig {
  source: number;
  sensor: number;
}

const SPECS: StreamSpec[] = [
  { source: 1, sensor: 100, type: "tsd", dataType: "uint32", sampleRateMs: 1000 },
  { source: 1, sensor: 101, type: "tsd", dataType: "float32", sampleRateMs: 250 },
  { source: 2, sensor: 200, type: "evt", dataType: "int32" },
  { source: 2, sensor: 201, type: "evt", dataType: "uint32" },
];
const UTC_BASE_MS = 1_700_000_000_000;

function mix(stream: number, seq: number): number {
  let h = Math.imul(stream + 1, 0x85ebca6b) ^ Math.imul(seq + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The value written as record `seq` of stream `stream`, exact under the stream's data type. */
function valueOf(stream: number, seq: number): number {
  const h = mix(stream, seq);
  switch (SPECS[stream]?.dataType) {
    case "float32":
      return Math.fround((h | 0) / 1024);
    case "int32":
      return h | 0;
    default:
      return h;
  }
}

/** The time written with record `seq`: TSD samples on their grid, EVT times increasing with jitter. */
function utcOf(stream: number, seq: number): number {
  const spec = SPECS[stream] as StreamSpec;
  return spec.type === "tsd"
    ? UTC_BASE_MS + seq * (spec.sampleRateMs ?? 0)
    : UTC_BASE_MS + seq * 13 + (mix(stream, seq) % 7);
}

class StreamModel {
  /** Records written so far: sequence numbers 0 … nextSeq−1. */
  nextSeq = 0;
  /** Sequence numbers read and not yet acknowledged, oldest first. */
  pending: number[] = [];
  lastAckedSeq = -1;
  acked = 0;
  /** Sequence numbers skipped between acknowledged records: they must have been discarded. */
  skipped = 0;
}

export interface StressScenario {
  boardName: string;
  /** The board, when it is not a file in boards/ (a geometry of test/support/geometries.ts). */
  board?: Board;
  policy: CleanupPolicy;
  steps: number;
  seed: number;
  /** Inject HAL faults (failed writes, renames and removals) at random moments. */
  faults?: boolean;
  /** Call forceCleanupAllDiskFiles() at random moments. */
  forcedCleanups?: boolean;
}

export interface StressResult {
  written: number;
  acked: number;
  discarded: number;
  filesCreated: number;
  filesDeleted: number;
  writesRefused: number;
  flushesCompleted: number;
  spillsRefused: number;
  spillsFailed: number;
  deleteFailures: number;
  forcedCleanups: number;
  acksRefused: number;
  ensureTicks: number;
}

// Step kinds and their weights.
const ACTIONS = [
  "write",
  "read",
  "ack",
  "revert",
  "peek",
  "tick",
  "flush",
  "cancel",
  "diskUsage",
  "settle",
  "fault",
  "force",
] as const;
const WEIGHTS = [34, 18, 16, 2, 2, 20, 1, 1, 1, 5, 2, 1];
// Removal faults hit the core's deletions of `.imx` files only: a failed rename followed by a failed
// removal of its temporary file leaves a `.tmp` file that nothing removes later (reported
// separately), and this run checks that the directory ends empty.
const FAULTS: Array<[FaultOp, HalErrorCode, string]> = [
  ["writeFile", "EIO", ""],
  ["writeFile", "ENOSPC", ""],
  ["rename", "EIO", ""],
  ["remove", "EBUSY", ".imx"],
  ["remove", "EACCES", ".imx"],
  ["removeAsync", "EIO", ".imx"],
];

/** Runs one scenario; every check is an expect(), so a failure throws with the step's context. */
export async function stressRun(scenario: StressScenario): Promise<StressResult> {
  const { boardName, policy, steps, seed } = scenario;
  const board = scenario.board ?? loadBoard(boardName);
  const rng = new Prng(seed);
  const memoryHal = new MemoryHal();
  const hal = new FailingHal(memoryHal);
  const device = Device.create({ board, hal, policy });
  const models = SPECS.map((spec) => {
    device.configureStream(spec.source, spec.sensor, spec);
    return new StreamModel();
  });
  // Bursts of a few records on the tiny geometries (the uploader's bulk reads of 8 keep pace), a few
  // hundred on fc1-imx6.
  const writeBurstMax = boardName === "fc1-imx6" ? 240 : 6;
  const tickStepMs = Math.max(1, board.tier.tickIntervalMs);
  let nowMs = 1000;
  let writesRefused = 0;
  let flushesCompleted = 0;
  let forcedCleanups = 0;
  let acksRefused = 0;
  /** Progress of the flush under way as last seen, or −1 when none is. */
  let flushProgress = -1;

  // Checked without expect() on the fast path: a run reads hundreds of thousands of records.
  const recordCheck = (s: number, record: UploadRecord, afterSeq: number): void => {
    const ok =
      record.seq > afterSeq &&
      record.seq < (models[s] as StreamModel).nextSeq &&
      Object.is(record.value, valueOf(s, record.seq)) &&
      record.utcMs === utcOf(s, record.seq);
    if (!ok) {
      expect({ ...record, afterSeq }, `stream ${s}: record read after seq ${afterSeq}`).toEqual({
        seq: record.seq,
        utcMs: utcOf(s, record.seq),
        value: valueOf(s, record.seq),
        tier: record.tier,
        afterSeq,
      });
      throw new Error(`stream ${s}: seq ${record.seq} read after seq ${afterSeq}, or never written`);
    }
  };
  const lastKnownSeq = (m: StreamModel): number => m.pending[m.pending.length - 1] ?? m.lastAckedSeq;

  const read = (s: number, max: number): number => {
    const spec = SPECS[s] as StreamSpec;
    const m = models[s] as StreamModel;
    const batch = device.readBulk(spec.source, spec.sensor, max);
    for (const record of batch) {
      recordCheck(s, record, lastKnownSeq(m));
      m.pending.push(record.seq);
    }
    expect(device.counts(spec.source, spec.sensor).pending, `stream ${s}: pending after a read`).toBe(m.pending.length);
    return batch.length;
  };

  const ack = (s: number, count: number): void => {
    const spec = SPECS[s] as StreamSpec;
    const m = models[s] as StreamModel;
    try {
      device.ack(spec.source, spec.sensor, count);
    } catch (e) {
      // An ACK that erases records on disk first makes the new position durable; when that write
      // fails the ACK is refused and changes nothing.
      if (!(scenario.faults === true && e instanceof CoreError && e.codeName === "E_ACK_PERSIST")) throw e;
      acksRefused++;
      const counts = device.counts(spec.source, spec.sensor);
      expect(counts.pending, `stream ${s}: pending after a refused ACK`).toBe(m.pending.length);
      expect(counts.ackedSeq, `stream ${s}: acknowledged cursor after a refused ACK`).toBe(m.lastAckedSeq + 1);
      return;
    }
    for (const seq of m.pending.splice(0, count)) {
      m.skipped += seq - m.lastAckedSeq - 1;
      m.lastAckedSeq = seq;
      m.acked++;
    }
    const counts = device.counts(spec.source, spec.sensor);
    if (count > 0) expect(counts.ackedSeq, `stream ${s}: acknowledged cursor`).toBe(m.lastAckedSeq + 1);
    expect(counts.pending, `stream ${s}: pending after an ACK`).toBe(m.pending.length);
  };

  let step = 0;
  let action = "";
  try {
    for (; step < steps; step++) {
      action = ACTIONS[rng.weighted(WEIGHTS)] as string;
      const s = rng.intIn(0, SPECS.length - 1);
      const spec = SPECS[s] as StreamSpec;
      const m = models[s] as StreamModel;
      switch (action) {
        case "write": {
          const count = rng.intIn(1, writeBurstMax);
          for (let i = 0; i < count; i++) {
            const seq = m.nextSeq;
            try {
              if (spec.type === "tsd") device.writeTsd(spec.source, spec.sensor, valueOf(s, seq), utcOf(s, seq));
              else device.writeEvt(spec.source, spec.sensor, valueOf(s, seq), utcOf(s, seq));
            } catch (e) {
              // RAM full of pending records, or (with faults) the sequence reservation could not be
              // written: the write is refused and changes nothing.
              const refused =
                e instanceof CoreError &&
                (e.codeName === "E_ALL_PENDING" || (scenario.faults === true && e.codeName === "E_SEQ_RESERVE"));
              if (!refused) throw e;
              writesRefused++;
              break;
            }
            m.nextSeq++;
          }
          expect(device.counts(spec.source, spec.sensor).nextSeq).toBe(m.nextSeq);
          break;
        }
        case "read":
          read(s, rng.intIn(1, device.bulkCapacity));
          break;
        case "ack":
          ack(s, rng.chance(1, 2) ? m.pending.length : rng.intIn(0, m.pending.length));
          break;
        case "revert":
          device.revert(spec.source, spec.sensor);
          m.pending = [];
          break;
        case "peek": {
          let after = lastKnownSeq(m);
          for (const record of device.peek(spec.source, spec.sensor, rng.intIn(1, device.bulkCapacity))) {
            recordCheck(s, record, after);
            after = record.seq;
          }
          break;
        }
        case "tick": {
          nowMs += rng.intIn(1, 2 * tickStepMs);
          device.processMemory(nowMs);
          const progress = device.getFlushProgress();
          const cleanup = device.getCleanupProgress();
          expect(device.isCleanupComplete()).toBe(cleanup.filesPending === 0 && cleanup.filesInFlight === 0);
          if (flushProgress >= 0) {
            // A flush under way never goes backwards, even while writes go on.
            expect(progress, "flush progress").toBeGreaterThanOrEqual(flushProgress);
            flushProgress = progress;
            if (progress === FLUSH_PROGRESS_COMPLETE) {
              flushesCompleted++;
              flushProgress = -1;
            }
          }
          break;
        }
        case "flush":
          if (device.hasDiskTier) {
            device.flushAllToDisk();
            const progress = device.getFlushProgress();
            if (flushProgress >= 0) expect(progress, "flush progress").toBeGreaterThanOrEqual(flushProgress);
            // 101 at once: RAM holds no stream data, nothing to follow (later writes start over).
            flushProgress = progress === FLUSH_PROGRESS_COMPLETE ? -1 : progress;
          }
          break;
        case "cancel":
          device.cancelMemoryFlush();
          flushProgress = -1;
          break;
        case "diskUsage":
          if (device.hasDiskTier) device.setDiskUsagePercent(rng.pick([0, 0, 0, 50, 79, 85, 95]));
          break;
        case "settle":
          if (rng.chance(1, 2)) await device.settle();
          else await new Promise((resolve) => setImmediate(resolve));
          break;
        case "fault":
          if (scenario.faults === true) {
            const [op, code, pathSuffix] = rng.pick(FAULTS);
            hal.failNext(op, code, rng.intIn(1, 3), pathSuffix);
          }
          break;
        case "force":
          if (scenario.forcedCleanups === true && device.hasDiskTier) {
            device.forceCleanupAllDiskFiles();
            forcedCleanups++;
            // Pending records that were on disk are gone; the ones left are the newest, in RAM.
            for (let i = 0; i < SPECS.length; i++) {
              const sp = SPECS[i] as StreamSpec;
              const model = models[i] as StreamModel;
              const left = device.counts(sp.source, sp.sensor).pending;
              model.pending = model.pending.slice(model.pending.length - left);
              expect(device.counts(sp.source, sp.sensor).disk).toBe(0);
            }
          }
          break;
      }
    }

    // Drain: faults off, the disk back under its threshold, then upload everything that is left.
    action = "drain";
    hal.clearFaults();
    await device.settle();
    if (device.hasDiskTier) device.setDiskUsagePercent(0);
    for (let round = 0; round < 100; round++) {
      let left = 0;
      for (let s = 0; s < SPECS.length; s++) {
        const spec = SPECS[s] as StreamSpec;
        device.revert(spec.source, spec.sensor);
        (models[s] as StreamModel).pending = [];
        while (read(s, device.bulkCapacity) > 0);
        ack(s, (models[s] as StreamModel).pending.length);
        left += device.counts(spec.source, spec.sensor).total;
      }
      if (left === 0) break;
      nowMs += tickStepMs;
      device.processMemory(nowMs);
    }
    action = "ensureCleanupComplete";
    const ensured = await ensureCleanupComplete(device, { nowMs });
    expect(ensured.complete, "cleanup complete").toBe(true);
    expect(ensured.filesLeft, ".imx files left").toBe(0);
    expect(ensured.ramSectorsLeft, "RAM sectors left").toBe(0);
    expect(device.countDiskFiles()).toBe(0);
    // No `.imx` file and no temporary file is left anywhere (the positions file stays, by design).
    const left = memoryHal.isDir("history") ? listFilesRecursive(memoryHal, "history", "") : [];
    expect(
      left.filter((file) => file.endsWith(".imx") || file.endsWith(".tmp")),
      "files left",
    ).toEqual([]);
    expect(memoryHal.exists("corrupted"), "nothing quarantined").toBe(false);

    action = "final accounting";
    const stats = device.stats();
    let written = 0;
    let acked = 0;
    let skipped = 0;
    for (let s = 0; s < SPECS.length; s++) {
      const spec = SPECS[s] as StreamSpec;
      const m = models[s] as StreamModel;
      const counts = device.counts(spec.source, spec.sensor);
      expect(counts.total, `stream ${s}: records left`).toBe(0);
      expect(counts.nextSeq).toBe(m.nextSeq);
      // Acknowledged once each, in order, or skipped: nothing else.
      const trailing = m.nextSeq - 1 - m.lastAckedSeq;
      expect(m.acked + m.skipped + trailing, `stream ${s}: every sequence number accounted for`).toBe(m.nextSeq);
      written += m.nextSeq;
      acked += m.acked;
      skipped += m.nextSeq - m.acked;
    }
    expect(stats.recordsWritten).toBe(written);
    expect(stats.recordsAcked).toBe(acked);
    expect(stats.recordsDiscarded, "records the upload skipped = records the core counted as discarded").toBe(skipped);
    if (scenario.forcedCleanups !== true) expect(stats.recordsDiscardedDisk).toBe(0);
    expect(stats.recordsLive).toBe(0);
    expect(stats.filesCorrupt).toBe(0);
    expect(stats.sectorsUsed).toBe(0);
    expect(stats.filesLive).toBe(0);
    expect(stats.filesDeleted).toBe(stats.filesCreated);
    expect(stats.diskBytesUsed).toBe(0);
    expect(device.isCleanupComplete()).toBe(true);
    return {
      written,
      acked,
      discarded: skipped,
      filesCreated: stats.filesCreated,
      filesDeleted: stats.filesDeleted,
      writesRefused,
      flushesCompleted,
      spillsRefused: stats.spillsRefused,
      spillsFailed: stats.spillsFailed,
      deleteFailures: stats.deleteFailures,
      forcedCleanups,
      acksRefused,
      ensureTicks: ensured.ticks,
    };
  } catch (e) {
    const where =
      `stress ${boardName}/${policy}${scenario.faults === true ? "/faults" : ""}` +
      `${scenario.forcedCleanups === true ? "/forced" : ""} failed at step ${step} (${action}); ` +
      `replay with IMX_SEED=${seed}`;
    if (e instanceof Error) e.message = `${where}: ${e.message}`;
    throw e;
  }
}
