// The checks of a device against the simulator's model, run after every step and after every boot:
// the per-stream counters, what boot recovery did, restart equivalence with a twin booted on a copy
// of the storage, and a drain of such a twin that must deliver every record of a complete file.

import type { Device, StreamCounts } from "../core/device.js";
import { FLUSH_PROGRESS_COMPLETE } from "../core/flush.js";
import type { MemoryHal } from "../hal/memory.js";
import { tmpFilesList } from "./imx-scan.js";
import type { ModelReport, Rec, RecordModel } from "./model.js";

export class DeviceChecks {
  constructor(
    private readonly records: RecordModel,
    private readonly report: ModelReport,
    private readonly bulkCap: number,
  ) {}

  counts(device: Device): void {
    for (const model of this.records.models) {
      if (!model.configured) continue;
      const c = device.counts(model.spec.source, model.spec.sensor);
      const what = `stream ${model.key}`;
      if (c.nextSeq !== model.nextSeq) throw this.report.fail(`${what}: nextSeq ${c.nextSeq}, model ${model.nextSeq}`);
      if (c.ackedSeq !== model.ackedSeq)
        throw this.report.fail(`${what}: ackedSeq ${c.ackedSeq}, model ${model.ackedSeq}`);
      if (c.readSeq !== model.readSeq) throw this.report.fail(`${what}: readSeq ${c.readSeq}, model ${model.readSeq}`);
      if (c.pending !== model.pending) throw this.report.fail(`${what}: pending ${c.pending}, model ${model.pending}`);
      if (c.total > model.live.length)
        throw this.report.fail(`${what}: ${c.total} live records, model knows only ${model.live.length}`);
      if (c.total !== c.ram + c.disk)
        throw this.report.fail(`${what}: total ${c.total} is not ram ${c.ram} + disk ${c.disk}`);
      if (c.new !== c.total - c.pending) throw this.report.fail(`${what}: new ${c.new} is not total − pending`);
    }
    const discarded = device.stats().recordsDiscarded;
    if (this.records.lifeGone > discarded) {
      throw this.report.fail(
        `${this.records.lifeGone} records vanished during this device life but only ${discarded} were counted as discarded`,
      );
    }
  }

  recovery(device: Device, hal: MemoryHal, context: string): void {
    const report = device.recovery;
    if (!report) throw this.report.fail(`${context}: no recovery report`);
    for (const q of report.quarantined) {
      if (!this.records.damagedPaths.has(q.path)) {
        throw this.report.fail(
          `${context}: recovery quarantined ${q.path} (${q.reason}), a file the simulator never damaged`,
        );
      }
    }
    const tmp = tmpFilesList(hal);
    if (tmp.length > 0) throw this.report.fail(`${context}: temp files left after boot: ${tmp.join(", ")}`);
  }

  /**
   * Drains every stream of `twin` (a device on a copy of the storage) and checks guarantee (4):
   * in order, never an acknowledged record, every record of a complete file. Returns what came back.
   */
  drain(twin: Device, context: string): Map<number, Rec[]> {
    const back = new Map<number, Rec[]>();
    const known = new Set<string>();
    for (const entry of twin.streamList()) {
      const key = `${entry.source}:${entry.sensor}`;
      known.add(key);
      const model = this.records.models.find((m) => m.key === key);
      if (!model)
        throw this.report.fail(`${context}: the device recovered stream ${key}, which the model never configured`);
      const recs: Rec[] = [];
      const counts = twin.counts(entry.source, entry.sensor);
      let lastSeq = counts.ackedSeq - 1;
      const total = counts.total;
      for (let guard = 0; guard <= total / this.bulkCap + 2; guard++) {
        const got = twin.readBulk(entry.source, entry.sensor, this.bulkCap);
        if (got.length === 0) break;
        for (const r of got) {
          if (r.seq <= lastSeq)
            throw this.report.fail(`${context}: stream ${key} delivered seq ${r.seq} after ${lastSeq}`);
          lastSeq = r.seq;
          const rec = this.records.recordCheck(model, r, context);
          if (this.records.gone.get(rec.id) === "lost")
            throw this.report.fail(`${context}: record id ${rec.id} seq ${r.seq} came back after it had been lost`);
          recs.push(rec);
        }
      }
      if (recs.length !== total)
        throw this.report.fail(`${context}: stream ${key} counts ${total} live records but delivered ${recs.length}`);
      back.set(model.index, recs);
    }
    for (const model of this.records.models) {
      const ids = new Set((back.get(model.index) ?? []).map((r) => r.id));
      for (const rec of model.live) {
        if (this.records.inKeptFile(rec) && rec.ackInDoubt !== true && !ids.has(rec.id)) {
          const report = twin.recovery;
          throw this.report.fail(
            `${context}: stream ${model.key} seq ${rec.seq} (id ${rec.id}) was in a complete .imx file (${rec.filePath}), ` +
              `not acknowledged, and did not come back; device: ${JSON.stringify(twin.streamList().length > 0 ? twin.counts(model.spec.source, model.spec.sensor) : null)}; ` +
              `recovery: kept ${report?.filesKept}, deleted ${report?.filesDeleted}, quarantined ${JSON.stringify(report?.quarantined)}`,
          );
        }
      }
    }
    return back;
  }

  /** Restart equivalence: a second device on a copy of the storage sees what `device` sees. */
  equivalence(device: Device, twin: Device, context: string): void {
    const mine = JSON.stringify(device.streamList());
    const theirs = JSON.stringify(twin.streamList());
    if (mine !== theirs)
      throw this.report.fail(`${context}: restart equivalence: streams ${mine} vs ${theirs} on a copy`);
    for (const s of device.streamList()) {
      const a = device.counts(s.source, s.sensor);
      const b = twin.counts(s.source, s.sensor);
      for (const field of ["total", "disk", "ram", "pending", "nextSeq", "ackedSeq", "readSeq"] as const) {
        if (a[field] !== b[field]) {
          throw this.report.fail(
            `${context}: restart equivalence: stream ${s.source}:${s.sensor} ${field} ${a[field]} vs ${b[field]} on a copy`,
          );
        }
      }
    }
    if (
      (twin.recovery?.filesQuarantined ?? 0) !== 0 &&
      (device.recovery?.quarantined.every((q) => q.movedTo !== null) ?? true)
    ) {
      throw this.report.fail(
        `${context}: a second boot quarantined files the first one kept: ${JSON.stringify(twin.recovery?.quarantined)}`,
      );
    }
  }

  /** Flush progress 101 means no stream data is left in RAM. */
  flushComplete(device: Device): void {
    if (device.getFlushProgress() !== FLUSH_PROGRESS_COMPLETE) return;
    for (const model of this.records.models) {
      if (!model.configured) continue;
      const c: StreamCounts = device.counts(model.spec.source, model.spec.sensor);
      if (c.ram !== 0)
        throw this.report.fail(`flush progress is 101 but stream ${model.key} still has ${c.ram} records in RAM`);
    }
  }
}
