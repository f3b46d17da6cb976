// The simulator's model of what the device holds: every record written (with a unique value, so it
// is recognised even when a power cut makes the device reuse sequence numbers), per stream the
// records not yet acknowledged or gone, and why each gone record went. The model checks what a
// bulk read delivers, learns from the files on disk which records must never go missing (checked
// with the host's own reader of the .imx format, independent of the core), and excuses the records
// of files the FaultyHal damaged.

import type { DataType, UploadRecord } from "../core/device.js";
import {
  HISTORY_DIR,
  IMX_HEADER_BYTES,
  IMX_OFFSET,
  IMX_SUFFIX,
  imxHeaderRead,
  imxPathParse,
  imxValid,
} from "../format/imx.js";
import { listFilesRecursive } from "../hal/atomic.js";
import type { FaultyHal } from "../hal/faulty.js";
import type { MemoryHal } from "../hal/memory.js";
import type { SimResult, SimStreamSpec } from "./options.js";
import type { SimFailure } from "./trace.js";

export interface Rec {
  id: number;
  stream: number;
  seq: number;
  utcMs: number;
  value: number;
  /** Seen in a complete, valid, durable `.imx` file: it must never go missing. */
  inFile: boolean;
  /** In a file the FaultyHal damaged: it may go missing with that file. */
  excused: boolean;
  /** Part of an ACK the power cut interrupted: it may or may not come back. */
  ackInDoubt?: boolean;
  /** The file it was first seen in (for failure messages). */
  filePath?: string;
}

export type GoneReason = "acked" | "discarded" | "lost" | "damaged";

export class StreamModel {
  configured = false;
  nextSeq = 0;
  ackedSeq = 0;
  readSeq = 0;
  /** Not acknowledged and not known to be gone, in sequence order; live[0 … pending) are pending. */
  live: Rec[] = [];
  pending = 0;
  /** Every record written since sequence numbers last restarted below it, by seq (for TSD times). */
  readonly bySeq = new Map<number, Rec>();

  constructor(
    readonly index: number,
    readonly spec: SimStreamSpec,
    readonly perSector: number,
  ) {}

  get key(): string {
    return `${this.spec.source}:${this.spec.sensor}`;
  }

  /** Index in `live` of the first record with seq ≥ `seq`. */
  lowerBound(seq: number): number {
    let lo = 0;
    let hi = this.live.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.live[mid] as Rec).seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Where the model reports: a broken guarantee ends the run, and trace lines say what happened. */
export interface ModelReport {
  fail(detail: string): SimFailure;
  traceAdd(line: string): void;
}

/** Largest record id that a float32 value holds exactly. */
const FLOAT_EXACT_MAX = 1 << 24;

export class RecordModel {
  readonly recs = new Map<number, Rec>();
  readonly gone = new Map<number, GoneReason>();
  private nextId = 1;
  /** Final paths the FaultyHal damaged (zero-filled tail), and the record ids they were meant to hold. */
  readonly damagedPaths = new Map<string, number[]>();
  private readonly damageResolved = new WeakSet<Uint8Array>();
  /** Zero-filled tails of the current device life's FaultyHal already looked at. */
  zeroTailsSeen = 0;
  /** Files already marked (path + size + CRC field), so each is read once. */
  private readonly marked = new Set<string>();
  /** Records that disappeared during this device life while it ran (discarded or damaged), for the "counted" check. */
  lifeGone = 0;
  /**
   * Whether a file is still on the storage. A complete file the device deleted unacknowledged was
   * given up by the disk-full policy evict-oldest (SPEC.md section 4): its records may go, counted.
   */
  fileExists: ((path: string) => boolean) | null = null;

  constructor(
    readonly models: StreamModel[],
    private readonly result: SimResult,
    private readonly report: ModelReport,
    private readonly bulkCap: number,
  ) {}

  /** The model of stream `source`:`sensor`, if the run has one. */
  streamOf(source: number, sensor: number): StreamModel | undefined {
    return this.models.find((m) => m.spec.source === source && m.spec.sensor === sensor);
  }

  /** A new record id for `dataType` and the value that carries it. */
  idNew(dataType: DataType): { id: number; value: number } {
    const id = this.nextId++;
    if (dataType === "float32" && id >= FLOAT_EXACT_MAX) throw new Error("record ids exhausted for float32 values");
    return { id, value: this.valueOf(id, dataType) };
  }

  /** The device took record `id` as the next of `model`. */
  written(model: StreamModel, id: number, value: number, utcMs: number): void {
    const rec: Rec = { id, stream: model.index, seq: model.nextSeq, utcMs, value, inFile: false, excused: false };
    model.nextSeq++;
    model.live.push(rec);
    model.bySeq.set(rec.seq, rec);
    this.recs.set(id, rec);
    this.result.recordsWritten++;
  }

  /** The device acknowledged the first `count` pending records of `model`. */
  acked(model: StreamModel, count: number): void {
    if (count === 0) return;
    const acked = model.live.splice(0, count);
    for (const rec of acked) this.goneSet(rec, "acked");
    model.pending -= count;
    model.ackedSeq = (acked[acked.length - 1] as Rec).seq + 1;
    this.result.recordsAcked += count;
  }

  /** Record ids a file written at `path` with `intended` bytes was meant to hold (current sequence numbers). */
  private idsOfImage(path: string, intended: Uint8Array): number[] {
    const name = imxPathParse(path);
    const header = imxHeaderRead(intended);
    if (!name || !header) return [];
    const model = this.streamOf(name.source, name.sensor);
    if (!model) return [];
    const ids: number[] = [];
    const end = header.firstSeq + header.recordCount;
    for (let i = model.lowerBound(header.firstSeq); i < model.live.length; i++) {
      const rec = model.live[i] as Rec;
      if (rec.seq >= end) break;
      ids.push(rec.id);
    }
    return ids;
  }

  /** Marks the records of every newly damaged `.imx` file as excused (they may vanish with it). */
  damageResolve(faulty: FaultyHal): void {
    const zeroTails = faulty.injected["zero-tail"];
    if (zeroTails === this.zeroTailsSeen) return;
    this.zeroTailsSeen = zeroTails;
    for (const [path, intended] of faulty.damagedFiles()) {
      if (!path.endsWith(IMX_SUFFIX) || this.damageResolved.has(intended)) continue;
      this.damageResolved.add(intended);
      const ids = [...(this.damagedPaths.get(path) ?? []), ...this.idsOfImage(path, intended)];
      for (const id of ids) {
        const rec = this.recs.get(id);
        if (rec) rec.excused = true;
      }
      this.damagedPaths.set(path, ids);
      this.report.traceAdd(`  damaged ${path} (${ids.length} records excused)`);
    }
  }

  quarantinedWhileRunning(from: string, to: string): void {
    const ids = this.damagedPaths.get(from);
    if (ids === undefined)
      throw this.report.fail(`the device quarantined ${from} (to ${to}) although the simulator never damaged it`);
    this.result.filesQuarantined++;
    this.report.traceAdd(`  quarantined ${from} while running`);
    for (const id of ids) {
      const rec = this.recs.get(id);
      if (!rec || this.gone.has(id)) continue;
      const model = this.models[rec.stream] as StreamModel;
      const at = model.live.indexOf(rec);
      if (at < 0) continue;
      model.live.splice(at, 1);
      if (at < model.pending) model.pending--;
      this.goneSet(rec, "damaged");
      this.lifeGone++;
    }
  }

  /** Whether `rec` sits in a complete file that must never lose it: not damaged, and still on the storage. */
  inKeptFile(rec: Rec): boolean {
    if (!rec.inFile || rec.excused) return false;
    return rec.filePath === undefined || this.fileExists === null || this.fileExists(rec.filePath);
  }

  goneSet(rec: Rec, reason: GoneReason): void {
    this.gone.set(rec.id, reason);
    if (reason === "discarded") this.result.recordsDiscarded++;
    else if (reason === "damaged") this.result.recordsDamaged++;
    else if (reason === "lost") this.result.recordsLostRam++;
  }

  private valueOf(id: number, dataType: DataType): number {
    return dataType === "int32" ? -id : id;
  }

  private idOf(value: number): number {
    return Math.abs(value);
  }

  /** Checks one delivered record against the model; returns the model's record. */
  recordCheck(model: StreamModel, got: UploadRecord, context: string): Rec {
    const id = this.idOf(got.value);
    const rec = this.recs.get(id);
    const where = `stream ${model.key} seq ${got.seq} value ${got.value}`;
    if (!rec) throw this.report.fail(`${context}: delivered a record the model never wrote (${where})`);
    if (rec.stream !== model.index)
      throw this.report.fail(`${context}: delivered a record of another stream (${where})`);
    if (this.gone.get(id) === "acked")
      throw this.report.fail(`${context}: delivered an acknowledged record again (${where})`);
    if (rec.seq !== got.seq)
      throw this.report.fail(`${context}: record id ${id} came back with seq ${got.seq}, written as seq ${rec.seq}`);
    if (rec.value !== got.value)
      throw this.report.fail(`${context}: ${where}: value ${got.value}, written ${rec.value}`);
    if (!this.timeMatches(model, rec, got.utcMs)) {
      throw this.report.fail(`${context}: ${where}: time ${got.utcMs}, written at ${rec.utcMs}`);
    }
    return rec;
  }

  /** EVT: the time written. TSD: first time of the sector + k × rate, the sector opened by one of the k records before. */
  private timeMatches(model: StreamModel, rec: Rec, utcMs: number): boolean {
    if (model.spec.type === "evt") return utcMs === rec.utcMs;
    for (let k = 0; k < model.perSector && k <= rec.seq; k++) {
      const opener = model.bySeq.get(rec.seq - k);
      if (opener && opener.utcMs + k * model.spec.sampleRateMs === utcMs) return true;
    }
    return false;
  }

  /**
   * A bulk read returned `got` (asked for `max`): each record must be the next live, non-pending
   * one, except records the device dropped in between, which must not be in a complete file.
   */
  delivered(model: StreamModel, got: UploadRecord[], max: number, context: string): void {
    let at = model.pending;
    let lastSeq = model.readSeq - 1;
    for (const r of got) {
      if (r.seq <= lastSeq)
        throw this.report.fail(`${context}: seq ${r.seq} delivered after seq ${lastSeq}: out of order`);
      const rec = this.recordCheck(model, r, context);
      const index = model.live.indexOf(rec, at);
      if (index < 0) {
        throw this.report.fail(
          `${context}: delivered record seq ${r.seq} (id ${rec.id}), which the model had as ${this.gone.get(rec.id) ?? "pending"}`,
        );
      }
      this.droppedBetween(model, at, index, context);
      at++;
      lastSeq = r.seq;
    }
    // Fewer than asked for: nothing new is left, so every later live record is gone.
    if (got.length < Math.min(max, this.bulkCap)) this.droppedBetween(model, at, model.live.length, context);
    model.pending += got.length;
    if (got.length > 0) model.readSeq = lastSeq + 1;
    this.result.recordsDelivered += got.length;
  }

  /** live[from … to) were skipped by a read: the device dropped them. */
  private droppedBetween(model: StreamModel, from: number, to: number, context: string): void {
    if (to <= from) return;
    const dropped = model.live.splice(from, to - from);
    for (const rec of dropped) {
      if (this.inKeptFile(rec)) {
        throw this.report.fail(
          `${context}: skipped seq ${rec.seq} (id ${rec.id}) of stream ${model.key}, which is in a complete .imx file`,
        );
      }
      this.goneSet(rec, "discarded");
      this.lifeGone++;
    }
  }

  /** Marks every live record that sits in a complete, valid (and, with durableOnly, durable) `.imx` file. */
  markInFile(hal: MemoryHal, durableOnly: boolean, life: number): void {
    if (!hal.isDir(HISTORY_DIR)) return;
    const header = new Uint8Array(IMX_HEADER_BYTES);
    for (const path of listFilesRecursive(hal, HISTORY_DIR, IMX_SUFFIX)) {
      const name = imxPathParse(path);
      if (name === null || (durableOnly && !hal.isDurable(path))) continue;
      // A file is read and checked once per content (size and CRC field) and device life.
      const size = hal.fileSize(path);
      hal.readFileInto(path, header);
      const crc = new DataView(header.buffer).getUint32(IMX_OFFSET.crc32, true);
      const key = `${path}:${size}:${crc}:${life}`;
      if (this.marked.has(key)) continue;
      this.marked.add(key);
      const data = hal.readFile(path);
      if (!imxValid(data, name)) continue;
      const count = imxHeaderRead(data)?.recordCount ?? 0;
      const model = this.streamOf(name.source, name.sensor);
      if (!model) continue;
      const end = name.firstSeq + count;
      for (let i = model.lowerBound(name.firstSeq); i < model.live.length; i++) {
        const rec = model.live[i] as Rec;
        if (rec.seq >= end) break;
        if (!rec.inFile) rec.filePath = path;
        rec.inFile = true;
      }
    }
  }
}
