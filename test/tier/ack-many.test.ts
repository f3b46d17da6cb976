// Group commit and whole-file ACKs (SPEC.md 6.5). ackMany makes the ACKs of several streams durable
// with one ACK-log write, checks every entry before anything changes, and changes nothing when the
// write fails. An ACK that erases a stream's oldest file exactly to its end is made durable by
// deleting that file (removal, directory sync), with no record; if the directory sync fails, the
// record is appended after all. After a power cut no acknowledged record comes back either way.

import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { CoreError } from "../../host/core/errors.js";
import { flushDrain } from "../../host/core/flush.js";
import { ACK_LOG_PATH, ackLogScan } from "../../host/format/positions.js";
import { FaultyHal } from "../../host/hal/faulty.js";
import type { HalErrorCode, HalOp } from "../../host/hal/hal.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { imxScan } from "../../host/sim/imx-scan.js";

const board = loadBoard("tiny");
const A = { source: 0, sensor: 7 };
const B = { source: 0, sensor: 8 };

/** Two EVT streams, 12 records each, flushed to disk (files of 4 sectors: 8 records each). */
function rig(policy: "immediate" | "batched" | "lazy" = "immediate") {
  const inner = new MemoryHal();
  let rule: ((op: HalOp, path: string) => HalErrorCode | null) | null = null;
  const hal = new FaultyHal(inner, { seed: 1, failWhen: (op, path) => (rule ? rule(op, path) : null) });
  const device = Device.create({ board, hal, policy });
  for (const s of [A, B]) device.configureStream(s.source, s.sensor, { type: "evt" });
  for (let i = 0; i < 12; i++) {
    device.writeEvt(A.source, A.sensor, 100 + i, 1_000 + i);
    device.writeEvt(B.source, B.sensor, 200 + i, 1_000 + i);
  }
  device.flushAllToDisk();
  let t = 0;
  expect(flushDrain(device, () => device.processMemory(++t), 999)).toBeGreaterThanOrEqual(0);
  return {
    inner,
    device,
    fail(next: ((op: HalOp, path: string) => HalErrorCode | null) | null): void {
      rule = next;
    },
    calls: () => ({ ...inner.stats().calls }),
    records: () => ackLogScan(inner.readFile(ACK_LOG_PATH)).records.length,
  };
}

/** Boots a device on what survives a power cut and reads every stream to its end. */
function afterPowerCut(inner: MemoryHal): { A: number[]; B: number[] } {
  const hal = inner.clone();
  hal.crash();
  const device = Device.create({ board, hal });
  const read = (s: { source: number; sensor: number }): number[] => {
    const values: number[] = [];
    for (let guard = 0; guard < 100; guard++) {
      const got = device.readBulk(s.source, s.sensor, 8);
      if (got.length === 0) break;
      values.push(...got.map((r) => r.value));
      device.ack(s.source, s.sensor, got.length);
    }
    return values;
  };
  return { A: read(A), B: read(B) };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe("ackMany", () => {
  it("makes the ACKs of two streams durable with one append and one sync", () => {
    const r = rig();
    expect(r.device.readBulk(A.source, A.sensor, 3)).toHaveLength(3);
    expect(r.device.readBulk(B.source, B.sensor, 5)).toHaveLength(5);
    const before = r.calls();
    const records = r.records();
    r.device.ackMany([
      { ...A, count: 3 },
      { ...B, count: 5 },
    ]);
    const after = r.calls();
    expect(after.appendFile - before.appendFile).toBe(1);
    expect(after.syncFile - before.syncFile).toBe(1);
    expect(r.records() - records).toBe(2);
    expect(r.device.counts(A.source, A.sensor).ackedSeq).toBe(3);
    expect(r.device.counts(B.source, B.sensor).ackedSeq).toBe(5);
    expect(afterPowerCut(r.inner)).toEqual({ A: range(103, 112), B: range(205, 212) });
  });

  it("checks every entry before anything changes", () => {
    const r = rig();
    r.device.readBulk(A.source, A.sensor, 3);
    r.device.readBulk(B.source, B.sensor, 2);
    const before = [r.device.counts(A.source, A.sensor), r.device.counts(B.source, B.sensor)];
    const code = (entries: Array<{ source: number; sensor: number; count: number }>): number | null => {
      try {
        r.device.ackMany(entries);
        return null;
      } catch (e) {
        return e instanceof CoreError ? e.code : -1;
      }
    };
    expect(
      code([
        { ...A, count: 3 },
        { ...B, count: 3 },
      ]),
    ).toBe(abi.E_ACK_TOO_MANY);
    expect(
      code([
        { ...A, count: 1 },
        { ...A, count: 1 },
      ]),
    ).toBe(abi.E_INVALID_ARGUMENT);
    expect(code([{ ...A, count: 1.5 }])).toBe(abi.E_INVALID_ARGUMENT);
    expect([r.device.counts(A.source, A.sensor), r.device.counts(B.source, B.sensor)]).toEqual(before);
    r.device.ackMany([]); // nothing to do
  });

  it("refuses with E_ACK_PERSIST and changes nothing when the write fails", () => {
    const r = rig();
    r.device.readBulk(A.source, A.sensor, 3);
    r.device.readBulk(B.source, B.sensor, 2);
    const before = [r.device.counts(A.source, A.sensor), r.device.counts(B.source, B.sensor)];
    r.fail((op) => (op === "appendFile" ? "EIO" : null));
    let error: unknown = null;
    try {
      r.device.ackMany([
        { ...A, count: 3 },
        { ...B, count: 2 },
      ]);
    } catch (e) {
      error = e;
    }
    expect((error as CoreError).code).toBe(abi.E_ACK_PERSIST);
    expect([r.device.counts(A.source, A.sensor), r.device.counts(B.source, B.sensor)]).toEqual(before);
    r.fail(null);
    r.device.ackMany([
      { ...A, count: 3 },
      { ...B, count: 2 },
    ]);
    expect(afterPowerCut(r.inner)).toEqual({ A: range(103, 112), B: range(202, 212) });
  });
});

describe("an ACK that erases the oldest file exactly to its end", () => {
  for (const policy of ["immediate"] as const) {
    it(`is made durable by the file's deletion, with no record (${policy})`, () => {
      const r = rig(policy);
      // The first ACK after the flush tops the reservation up, so it takes a record.
      r.device.readBulk(A.source, A.sensor, 2);
      r.device.ack(A.source, A.sensor, 2);
      const files = imxScan(r.inner).length;
      const records = r.records();
      const before = r.calls();
      r.device.readBulk(A.source, A.sensor, 6);
      r.device.ack(A.source, A.sensor, 6); // records 2-7: the rest of the first file
      const after = r.calls();
      expect(r.records()).toBe(records);
      expect(after.appendFile - before.appendFile).toBe(0);
      expect(after.remove - before.remove).toBe(1);
      expect(after.syncDir - before.syncDir).toBe(1);
      expect(imxScan(r.inner)).toHaveLength(files - 1);
      expect(afterPowerCut(r.inner)).toEqual({ A: range(108, 112), B: range(200, 212) });
    });
  }

  it("takes a record after all when the deletion's directory sync fails", () => {
    const r = rig();
    r.device.readBulk(A.source, A.sensor, 2);
    r.device.ack(A.source, A.sensor, 2);
    const records = r.records();
    r.fail((op) => (op === "syncDir" ? "EIO" : null));
    r.device.readBulk(A.source, A.sensor, 6);
    r.device.ack(A.source, A.sensor, 6);
    r.fail(null);
    expect(r.records()).toBe(records + 1);
    // A power cut may bring the file back; the record says it is acknowledged.
    expect(afterPowerCut(r.inner)).toEqual({ A: range(108, 112), B: range(200, 212) });
  });

  it("is refused, changing nothing, when the removal and the record both fail", () => {
    const r = rig();
    r.device.readBulk(A.source, A.sensor, 2);
    r.device.ack(A.source, A.sensor, 2);
    r.device.readBulk(A.source, A.sensor, 6);
    const before = r.device.counts(A.source, A.sensor);
    r.fail((op) => (op === "remove" || op === "appendFile" ? "EIO" : null));
    expect(() => r.device.ack(A.source, A.sensor, 6)).toThrow(CoreError);
    r.fail(null);
    expect(r.device.counts(A.source, A.sensor)).toEqual(before);
    expect(afterPowerCut(r.inner)).toEqual({ A: range(102, 112), B: range(200, 212) });
  });

  for (const policy of ["batched", "lazy"] as const) {
    it(`under the ${policy} policy takes a record, the deletion left to the policy`, () => {
      const r = rig(policy);
      r.device.readBulk(A.source, A.sensor, 2);
      r.device.ack(A.source, A.sensor, 2);
      const records = r.records();
      r.device.readBulk(A.source, A.sensor, 6);
      r.device.ack(A.source, A.sensor, 6);
      expect(r.records()).toBe(records + 1);
      expect(afterPowerCut(r.inner)).toEqual({ A: range(108, 112), B: range(200, 212) });
    });
  }
});
