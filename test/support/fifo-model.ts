// A plain TypeScript model of per-stream FIFOs, and a driver that runs the same operation against
// the model and a real device and checks every result. Discards are the one thing the model cannot
// predict (which sector or file the core drops depends on its layout), so the model learns them by
// observation: a read that skips records proves they were discarded, and the totals must then
// agree with the core's discard counters exactly, per stream and in all. The disk-full policy
// (SPEC.md section 4) says what may be lost: under refuse-new nothing is ever discarded on a disk
// tier (only forced cleanup drops data) and a write into full RAM is refused with E_DISK_FULL;
// under evict-oldest (and without a disk tier) no write is refused for lack of room, and a write
// into full RAM discards a RAM sector only when the disk tier could not take one: its spill was
// refused or failed, or no stream had a sector a spill may take (its oldest, not pending, not the
// one still filling).

import { expect } from "vitest";
import type { Device, RecordType, DataType, UploadRecord } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";
import { FLUSH_PROGRESS_COMPLETE } from "../../host/core/flush.js";
import * as abi from "../../host/core/abi.generated.js";
import { HISTORY_DIR, imxHeaderRead, imxPathParse } from "../../host/format/imx.js";

export interface ModelRecord {
  seq: number;
  value: number;
  utcMs: number;
}

export interface StreamSpec {
  source: number;
  sensor: number;
  type: RecordType;
  dataType: DataType;
  sampleRateMs: number;
}

export const TSD_BASE_MS = 1_700_000_000_000;

export class StreamModel {
  /** Records not acknowledged and not known to be discarded, oldest first. */
  live: ModelRecord[] = [];
  /** The first `pending` live records are pending. */
  pending = 0;
  nextSeq = 0;
  delivered: ModelRecord[] = [];
  discardedSeen = 0;

  constructor(readonly spec: StreamSpec) {}

  /** The record the next write produces; TSD samples are taken exactly on the sample grid. */
  nextRecord(value: number, evtUtcMs: number): ModelRecord {
    const seq = this.nextSeq;
    const utcMs = this.spec.type === "tsd" ? TSD_BASE_MS + seq * this.spec.sampleRateMs : evtUtcMs;
    return { seq, value, utcMs };
  }
}

/** Random values that read back exactly under their data type. */
export function valueFor(dataType: DataType, random: number): number {
  switch (dataType) {
    case "uint32":
      return random >>> 0;
    case "int32":
      return random | 0;
    case "float32":
      return Math.fround(((random | 0) / 1024) * 3.7);
  }
}

export class FifoHarness {
  readonly models: StreamModel[];
  droppedTotal = 0;
  /** Records the model dropped because a forced cleanup took the disk tier. */
  forcedTotal = 0;
  /** Writes refused with E_DISK_FULL (refuse-new only). */
  refusedTotal = 0;
  nowMs = 0;
  /** RAM discards by writes that found RAM full (evict-oldest on a disk tier), for coverage. */
  writeDiscards = 0;
  private readonly refuseNew: boolean;
  /** The core's statistics block, read directly (cheap enough for every write). */
  private readonly stat: Float64Array;

  constructor(
    readonly device: Device,
    specs: StreamSpec[],
  ) {
    this.refuseNew = device.hasDiskTier && device.board.tier.diskFullPolicy === "refuse-new";
    this.stat = new Float64Array(device.memory.buffer, device.exports.statsPointer(), abi.STAT_COUNT);
    this.models = specs.map((spec) => {
      device.configureStream(spec.source, spec.sensor, {
        type: spec.type,
        dataType: spec.dataType,
        sampleRateMs: spec.sampleRateMs,
      });
      return new StreamModel(spec);
    });
  }

  private model(i: number): StreamModel {
    const m = this.models[i % this.models.length];
    if (!m) throw new Error("no streams");
    return m;
  }

  /** Whether some stream has a RAM sector a spill may take: its oldest, not pending, not its newest. */
  private spillEligible(): boolean {
    return this.models.some((m) => {
      const c = this.device.counts(m.spec.source, m.spec.sensor);
      // Pending records are the oldest live ones, disk first: the oldest RAM sector holds one
      // exactly when more records are pending than the disk holds.
      return c.ramSectors >= 2 && c.pending <= c.disk;
    });
  }

  write(i: number, random: number, evtUtcMs: number): void {
    const m = this.model(i);
    const record = m.nextRecord(valueFor(m.spec.dataType, random), evtUtcMs);
    // A write into full RAM on a disk tier: the drop-the-middle check below.
    const ramFull = this.device.hasDiskTier && this.stat[abi.STAT_SECTORS_FREE] === 0;
    const eligible = ramFull && this.spillEligible();
    const discardedBefore = this.stat[abi.STAT_SECTORS_DISCARDED] ?? 0;
    const refusedBefore = (this.stat[abi.STAT_SPILLS_REFUSED] ?? 0) + (this.stat[abi.STAT_SPILLS_FAILED] ?? 0);
    try {
      if (m.spec.type === "tsd") this.device.writeTsd(m.spec.source, m.spec.sensor, record.value, record.utcMs);
      else this.device.writeEvt(m.spec.source, m.spec.sensor, record.value, record.utcMs);
    } catch (e) {
      // The refusals a valid write may get: RAM full with every sector pending; and under
      // refuse-new, RAM full while the disk tier took nothing.
      expect(e).toBeInstanceOf(CoreError);
      const code = (e as CoreError).codeName;
      if (this.refuseNew && code === "E_DISK_FULL") {
        expect(this.device.stats().sectorsFree).toBe(0);
        this.refusedTotal++;
        return;
      }
      expect(code).toBe("E_ALL_PENDING");
      return;
    }
    m.nextSeq++;
    m.live.push(record);
    if (ramFull && (this.stat[abi.STAT_SECTORS_DISCARDED] ?? 0) > discardedBefore) {
      this.writeDiscards++;
      const refused =
        (this.stat[abi.STAT_SPILLS_REFUSED] ?? 0) + (this.stat[abi.STAT_SPILLS_FAILED] ?? 0) > refusedBefore;
      expect(
        refused || !eligible,
        "a write discarded a RAM sector although a spill could have taken one and was not refused",
      ).toBe(true);
    }
  }

  /** A write of the wrong record type: refused, nothing changes. */
  writeWrongType(i: number): void {
    const m = this.model(i);
    const before = this.snapshot();
    const write =
      m.spec.type === "tsd" ? this.device.writeEvt.bind(this.device) : this.device.writeTsd.bind(this.device);
    expect(() => write(m.spec.source, m.spec.sensor, 1, TSD_BASE_MS)).toThrow(/E_RECORD_TYPE_MISMATCH/);
    expect(this.snapshot()).toEqual(before);
  }

  /** Checks a read result against the model, learning discards from what it skipped. */
  private observe(m: StreamModel, got: UploadRecord[], max: number): ModelRecord[] {
    const room = Math.min(max, this.device.bulkCapacity);
    let position = m.pending;
    const matched: ModelRecord[] = [];
    for (const record of got) {
      // Skip model records the core no longer has: they were discarded.
      while (position < m.live.length && (m.live[position]?.seq ?? -1) < record.seq) {
        m.live.splice(position, 1);
        m.discardedSeen++;
        this.droppedTotal++;
      }
      const expected = m.live[position];
      expect(expected, `stream ${m.spec.sensor}: read seq ${record.seq} that the model does not hold`).toBeDefined();
      expect({ seq: record.seq, value: record.value, utcMs: record.utcMs }).toEqual(expected);
      matched.push(expected as ModelRecord);
      position++;
    }
    if (got.length < room) {
      // The core had nothing more: every later model record was discarded.
      const gone = m.live.length - position;
      m.live.splice(position, gone);
      m.discardedSeen += gone;
      this.droppedTotal += gone;
    }
    return matched;
  }

  readBulk(i: number, max: number): void {
    const m = this.model(i);
    const got = this.device.readBulk(m.spec.source, m.spec.sensor, max);
    const matched = this.observe(m, got, max);
    m.pending += matched.length;
  }

  peek(i: number, max: number): void {
    const m = this.model(i);
    const before = this.device.counts(m.spec.source, m.spec.sensor);
    const got = this.device.peek(m.spec.source, m.spec.sensor, max);
    this.observe(m, got, max);
    expect(this.device.counts(m.spec.source, m.spec.sensor)).toEqual(before);
  }

  ack(i: number, fraction: number): void {
    const m = this.model(i);
    const count = Math.floor(fraction * m.pending);
    this.device.ack(m.spec.source, m.spec.sensor, count);
    m.delivered.push(...m.live.splice(0, count));
    m.pending -= count;
  }

  /** An ACK of more records than are pending: refused, nothing changes. */
  ackTooMany(i: number): void {
    const m = this.model(i);
    const before = this.snapshot();
    expect(() => this.device.ack(m.spec.source, m.spec.sensor, m.pending + 1)).toThrow(/E_ACK_TOO_MANY/);
    expect(this.snapshot()).toEqual(before);
  }

  revert(i: number): void {
    const m = this.model(i);
    this.device.revert(m.spec.source, m.spec.sensor);
    m.pending = 0;
  }

  async tick(count: number): Promise<void> {
    const stepMs = Math.max(1, this.device.board.tier.tickIntervalMs);
    for (let t = 0; t < count; t++) {
      this.nowMs += stepMs;
      this.device.processMemory(this.nowMs);
    }
    await this.device.settle();
  }

  async flush(): Promise<void> {
    if (!this.device.hasDiskTier) return;
    const refusedBefore = this.device.stats().spillsRefused;
    this.device.flushAllToDisk();
    let last = -1;
    for (let t = 0; t < 10_000 && this.device.getFlushProgress() !== FLUSH_PROGRESS_COMPLETE; t++) {
      const progress = this.device.getFlushProgress();
      expect(progress).toBeGreaterThanOrEqual(last);
      last = progress;
      await this.tick(1);
      if (
        this.device.stats().spillsRefused > refusedBefore &&
        this.device.getFlushProgress() !== FLUSH_PROGRESS_COMPLETE
      ) {
        // The disk tier is full: a flush cannot finish; cancel it and go on.
        this.device.cancelMemoryFlush();
        await this.tick(1);
        return;
      }
    }
    expect(this.device.getFlushProgress()).toBe(FLUSH_PROGRESS_COMPLETE);
    expect(this.device.stats().sectorsUsed).toBe(0);
  }

  forceCleanup(): void {
    const onDisk = this.models.map((m) => this.device.counts(m.spec.source, m.spec.sensor).disk);
    // In spill mode a stream's disk records are its oldest. In direct mode (SPEC.md 4.2) they are
    // the ones whose sequence numbers lie in the stream's files, read from the files' headers.
    const direct = this.device.board.tier.mode === "direct";
    const ranges = direct ? this.fileRanges() : new Map<string, Array<[number, number]>>();
    const result = this.device.forceCleanupAllDiskFiles();
    expect(result.failed).toBe(0);
    expect(result.strays).toBe(0);
    this.models.forEach((m, i) => {
      const d = onDisk[i] ?? 0;
      if (direct) {
        const inFiles = ranges.get(`${m.spec.source}_${m.spec.sensor}`) ?? [];
        const kept = m.live.filter((r) => !inFiles.some(([from, to]) => r.seq >= from && r.seq < to));
        expect(m.live.length - kept.length).toBe(d);
        const pendingDropped = m.live.slice(0, m.pending).filter((r) => !kept.includes(r)).length;
        m.live = kept;
        m.discardedSeen += d;
        this.droppedTotal += d;
        this.forcedTotal += d;
        m.pending -= pendingDropped;
        return;
      }
      m.live.splice(0, d);
      m.discardedSeen += d;
      this.droppedTotal += d;
      this.forcedTotal += d;
      m.pending = Math.max(0, m.pending - d);
    });
    expect(this.device.countDiskFiles()).toBe(0);
  }

  /** Each stream's `.imx` files as sequence ranges [first, first + records), from their headers. */
  private fileRanges(): Map<string, Array<[number, number]>> {
    const hal = this.device.hal;
    const ranges = new Map<string, Array<[number, number]>>();
    if (!hal.exists(HISTORY_DIR)) return ranges;
    for (const bucket of hal.list(HISTORY_DIR)) {
      const dir = `${HISTORY_DIR}/${bucket}`;
      if (!hal.isDir(dir)) continue;
      for (const name of hal.list(dir)) {
        const parsed = imxPathParse(`${dir}/${name}`);
        const header = parsed === null ? null : imxHeaderRead(hal.readFile(`${dir}/${name}`));
        if (parsed === null || header === null) continue;
        const key = `${parsed.source}_${parsed.sensor}`;
        const list = ranges.get(key) ?? [];
        list.push([header.firstSeq, header.firstSeq + header.recordCount]);
        ranges.set(key, list);
      }
    }
    return ranges;
  }

  private snapshot(): unknown {
    const { writeLatencyMs: _w, ...stats } = this.device.stats();
    return { stats, counts: this.models.map((m) => this.device.counts(m.spec.source, m.spec.sensor)) };
  }

  /** The invariants that hold after every operation. */
  check(): void {
    const stats = this.device.stats();
    expect(stats.sectorsUsed + stats.sectorsFree).toBe(stats.sectorsTotal);
    let unobserved = 0;
    for (const m of this.models) {
      const c = this.device.counts(m.spec.source, m.spec.sensor);
      expect(c.pending).toBe(m.pending);
      expect(c.nextSeq).toBe(m.nextSeq);
      expect(c.total).toBeLessThanOrEqual(m.live.length);
      expect(c.ram + c.disk).toBe(c.total);
      unobserved += m.live.length - c.total;
      // Per stream: what the model saw go missing or still misses is what the core counted for it.
      expect(c.discarded, `stream ${m.spec.sensor}: discards counted for it`).toBe(
        m.discardedSeen + m.live.length - c.total,
      );
    }
    // Every record the model holds that the core does not is a discard the core counted.
    expect(stats.recordsDiscarded - this.droppedTotal).toBe(unobserved);
    expect(stats.recordsRefused).toBe(this.refusedTotal);
    // refuse-new keeps what is stored: nothing but a forced cleanup ever drops a record.
    if (this.refuseNew) {
      expect(stats.recordsDiscarded).toBe(this.forcedTotal);
      expect(stats.filesDiscarded).toBe(0);
    }
    expect(stats.recordsLive).toBe(this.models.reduce((sum, m) => sum + m.live.length, 0) - unobserved);
    expect(this.device.memory.buffer.byteLength).toBe(Math.ceil(this.device.ramBytes / 65536) * 65536);
    if (this.device.hasDiskTier && this.device.isCleanupComplete()) {
      expect(this.device.countDiskFiles()).toBe(stats.filesLive);
    }
  }

  /** Uploads everything, then cleans up: every record written is delivered once, in order, or counted discarded. */
  drain(): void {
    for (const m of this.models) {
      this.revert(this.models.indexOf(m));
      for (let guard = 0; guard < 100_000; guard++) {
        const before = m.live.length;
        this.readBulk(this.models.indexOf(m), this.device.bulkCapacity);
        if (m.pending === 0) {
          expect(m.live.length).toBe(0);
          break;
        }
        this.ack(this.models.indexOf(m), 1);
        expect(m.live.length).toBeLessThan(before);
      }
      const seqs = m.delivered.map((r) => r.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(m.delivered.length + m.discardedSeen).toBe(m.nextSeq);
    }
    const stats = this.device.stats();
    expect(stats.recordsDiscarded).toBe(this.droppedTotal);
  }
}
