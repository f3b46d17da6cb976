// The MM2 calls the project had no equivalent for, each under the original's name (README: "The
// original's names"): is_sector_allocated, the statistics reset, imx_peek_next_tsd_evt(index),
// pending counts per upload source, imx_write_event_with_gps, writes before UTC is known
// (imx_set_utc_available), sensor activate / deactivate, and a sensor reset that removes a stream's
// data. Each is shown on a real device; the refusals change nothing.

import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device, UTC_HELD_MAX } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { boardClone, coreErrorOf } from "./helpers.js";

const T0 = Date.UTC(2026, 0, 10);

function device(board = loadBoard("fc1-imx6")): Device {
  return Device.create({ board, hal: new MemoryHal(), nowMs: T0 });
}

describe("is_sector_allocated", () => {
  it("is true for an allocated sector, false once freed, an error past the SAT", () => {
    const d = device();
    const id = d.sectorAlloc();
    expect(d.isSectorAllocated(id)).toBe(true);
    d.sectorFree(id);
    expect(d.isSectorAllocated(id)).toBe(false);
    d.configureStream(1, 1, { type: "evt" });
    d.writeEvt(1, 1, 5, T0);
    expect(d.isSectorAllocated(0)).toBe(true);
    expect(coreErrorOf(() => d.isSectorAllocated(d.board.memory.sectorCount)).code).toBe(abi.E_SECTOR_INVALID);
  });
});

describe("the statistics reset", () => {
  it("zeroes the event counters, keeps the gauges, and the peak becomes what is in use", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    for (let i = 0; i < 50; i++) d.writeEvt(1, 1, i, T0 + i);
    d.ack(1, 1, d.readBulk(1, 1, 10).length);
    const before = d.stats();
    expect(before.recordsWritten).toBe(50);
    d.resetStatistics();
    const after = d.stats();
    expect(after).toMatchObject({
      recordsWritten: 0,
      recordsRead: 0,
      recordsAcked: 0,
      allocations: 0,
      frees: 0,
      ticks: 0,
    });
    expect(after.sectorsUsed).toBe(before.sectorsUsed);
    expect(after.recordsLive).toBe(40);
    expect(after.sectorsUsedPeak).toBe(after.sectorsUsed);
    d.writeEvt(1, 1, 99, T0 + 99);
    expect(d.stats().recordsWritten).toBe(1);
  });
});

describe("imx_peek_next_tsd_evt(index)", () => {
  it("returns the index-th record after the pending ones, changing nothing", () => {
    const d = device();
    d.configureStream(1, 2, { type: "evt" });
    for (let i = 0; i < 20; i++) d.writeEvt(1, 2, 100 + i, T0 + i);
    expect(d.peekAt(1, 2, 0)?.value).toBe(100);
    expect(d.peekAt(1, 2, 7)).toMatchObject({ value: 107, utcMs: T0 + 7, tier: "ram" });
    d.readBulk(1, 2, 5);
    expect(d.peekAt(1, 2, 0)?.value).toBe(105);
    expect(d.peekAt(1, 2, 14)?.value).toBe(119);
    expect(d.peekAt(1, 2, 15)).toBeNull();
    expect(d.counts(1, 2).pending).toBe(5);
    expect(coreErrorOf(() => d.peekAt(1, 2, d.bulkCapacity)).code).toBe(abi.E_INVALID_ARGUMENT);
    expect(coreErrorOf(() => d.peekAt(1, 2, -1)).code).toBe(abi.E_INVALID_ARGUMENT);
  });
});

describe("pending counts per upload source", () => {
  it("sums the pending records of every stream of the source", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    d.configureStream(1, 2, { type: "evt" });
    d.configureStream(2, 1, { type: "evt" });
    for (let i = 0; i < 10; i++)
      for (const [source, sensor] of [
        [1, 1],
        [1, 2],
        [2, 1],
      ] as const)
        d.writeEvt(source, sensor, i, T0 + i);
    d.readBulk(1, 1, 3);
    d.readBulk(1, 2, 4);
    d.readBulk(2, 1, 6);
    expect(d.pendingCountBySource(1)).toBe(7);
    expect(d.pendingCountBySource(2)).toBe(6);
    expect(d.pendingCountBySource(3)).toBe(0);
    d.revert(1, 2);
    expect(d.pendingCountBySource(1)).toBe(3);
  });
});

describe("imx_write_event_with_gps", () => {
  function gpsDevice(board = loadBoard("fc1-imx6")): Device {
    const d = device(board);
    d.configureStream(7, 1006, { type: "evt", dataType: "float32" });
    d.configureStream(7, 2, { type: "evt", dataType: "float32" });
    d.configureStream(7, 3, { type: "evt", dataType: "float32" });
    d.configureStream(7, 4, { type: "evt", dataType: "float32" });
    d.setGpsConfig(7, { latitudeSensor: 2, longitudeSensor: 3, altitudeSensor: 4 });
    return d;
  }

  it("writes the event and the position with the same time", () => {
    const d = gpsDevice();
    d.writeEvtWithGps(7, 1006, 42.5, T0 + 5, { latitude: 37.25, longitude: -122.5, altitude: 12 });
    const at = (sensor: number) => d.peek(7, sensor, 10);
    expect(at(1006)).toMatchObject([{ value: 42.5, utcMs: T0 + 5 }]);
    expect(at(2)).toMatchObject([{ value: 37.25, utcMs: T0 + 5 }]);
    expect(at(3)).toMatchObject([{ value: -122.5, utcMs: T0 + 5 }]);
    expect(at(4)).toMatchObject([{ value: 12, utcMs: T0 + 5 }]);
  });

  it("writes nothing when any part is refused", () => {
    const d = gpsDevice();
    const nothing = () => [1006, 2, 3, 4].map((sensor) => d.counts(7, sensor).total);
    expect(coreErrorOf(() => d.writeEvtWithGps(7, 1006, 1, T0, { latitude: 1, longitude: 2 })).code).toBe(
      abi.E_INVALID_ARGUMENT,
    );
    expect(coreErrorOf(() => d.writeEvtWithGps(7, 1006, 1, -1, { latitude: 1, longitude: 2, altitude: 3 })).code).toBe(
      abi.E_INVALID_ARGUMENT,
    );
    expect(coreErrorOf(() => d.writeEvtWithGps(8, 1006, 1, T0, { latitude: 1, longitude: 2 })).code).toBe(
      abi.E_STREAM_UNKNOWN,
    );
    expect(nothing()).toEqual([0, 0, 0, 0]);
    d.configureStream(7, 9, { type: "tsd", sampleRateMs: 1000 });
    expect(coreErrorOf(() => d.setGpsConfig(7, { latitudeSensor: 9, longitudeSensor: 3 })).code).toBe(
      abi.E_RECORD_TYPE_MISMATCH,
    );
  });

  it("under refuse-new with RAM too full for the group, refuses it whole", () => {
    const board = boardClone("tiny", (b) => {
      b.tier.diskFullPolicy = "refuse-new";
    });
    const d = gpsDevice(board);
    const filler = d.sectorAlloc();
    const raw: number[] = [filler];
    while (d.stats().sectorsFree > 2) raw.push(d.sectorAlloc());
    expect(coreErrorOf(() => d.writeEvtWithGps(7, 1006, 1, T0, { latitude: 1, longitude: 2, altitude: 3 })).code).toBe(
      abi.E_DISK_FULL,
    );
    expect([1006, 2, 3, 4].map((sensor) => d.counts(7, sensor).total)).toEqual([0, 0, 0, 0]);
  });
});

describe("imx_set_utc_available", () => {
  it("holds writes made before UTC is known and stamps them when it arrives", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    d.configureStream(1, 2, { type: "tsd", sampleRateMs: 1000 });
    expect(d.utcAvailable).toBe(true);
    d.setUtcUnavailable();
    d.writeBeforeUtc(1, 1, 5, 1_000);
    d.writeBeforeUtc(1, 2, 6, 2_000);
    d.writeBeforeUtc(1, 1, 7, 3_000);
    expect(d.utcHeldCount).toBe(3);
    expect(d.counts(1, 1).total).toBe(0);
    expect(d.setUtcAvailable(T0)).toBe(3);
    expect(d.utcHeldCount).toBe(0);
    expect(d.peek(1, 1, 10)).toMatchObject([
      { value: 5, utcMs: T0 + 1_000 },
      { value: 7, utcMs: T0 + 3_000 },
    ]);
    expect(d.peek(1, 2, 10)).toMatchObject([{ value: 6, utcMs: T0 + 2_000 }]);
    // With UTC known it is an ordinary write at system time + offset.
    d.writeBeforeUtc(1, 1, 8, 4_000);
    expect(d.peekAt(1, 1, 2)).toMatchObject({ value: 8, utcMs: T0 + 4_000 });
  });

  it("holds at most UTC_HELD_MAX records", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    d.setUtcUnavailable();
    for (let i = 0; i < UTC_HELD_MAX; i++) d.writeBeforeUtc(1, 1, i, i);
    expect(coreErrorOf(() => d.writeBeforeUtc(1, 1, 0, 0)).code).toBe(abi.E_OUT_OF_SECTORS);
    expect(d.utcHeldCount).toBe(UTC_HELD_MAX);
  });
});

describe("sensor activate / deactivate / reset", () => {
  it("a deactivated sensor takes no writes, keeps what it holds, and takes writes again once activated", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    d.writeEvt(1, 1, 1, T0);
    d.deactivateSensor(1, 1);
    expect(d.isSensorActive(1, 1)).toBe(false);
    expect(coreErrorOf(() => d.writeEvt(1, 1, 2, T0 + 1)).message).toMatch(/deactivated/);
    expect(d.readBulk(1, 1, 10)).toHaveLength(1);
    d.activateSensor(1, 1);
    d.writeEvt(1, 1, 3, T0 + 2);
    expect(d.counts(1, 1).total).toBe(2);
  });

  it("reset removes every record of the stream, RAM and disk and pending, counted as discarded", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    d.configureStream(1, 2, { type: "evt" });
    for (let i = 0; i < 200; i++) {
      d.writeEvt(1, 1, i, T0 + i);
      d.writeEvt(1, 2, i, T0 + i);
    }
    d.flushAllToDisk();
    for (let t = 1; t < 100 && d.getFlushProgress() !== 101; t++) d.processMemory(T0 + t * 1000);
    for (let i = 200; i < 260; i++) d.writeEvt(1, 1, i, T0 + i);
    d.readBulk(1, 1, 30);
    const before = d.counts(1, 1);
    expect(before.diskFiles).toBeGreaterThan(0);
    const next = before.nextSeq;
    expect(d.resetSensor(1, 1)).toBe(260);
    const after = d.counts(1, 1);
    expect(after).toMatchObject({ total: 0, pending: 0, ram: 0, disk: 0, ramSectors: 0, diskFiles: 0, discarded: 260 });
    expect(d.stats().recordsAcked).toBe(0);
    expect(d.stats().recordsDiscarded).toBe(260);
    expect(d.counts(1, 2).total).toBe(200);
    for (let t = 0; t < 20; t++) d.processMemory(T0 + 200_000 + t * 1000);
    expect(d.countDiskFiles()).toBe(d.counts(1, 2).diskFiles);
    d.writeEvt(1, 1, 7, T0 + 999);
    expect(d.peek(1, 1, 1)).toMatchObject([{ seq: next, value: 7 }]);
    expect(d.resetSensor(1, 2)).toBe(200);
    expect(d.resetSensor(1, 2)).toBe(0);
  });

  it("a reset on a new device from the same storage does not bring the records back", () => {
    const hal = new MemoryHal();
    const d = Device.create({ board: loadBoard("fc1-imx6"), hal, nowMs: T0 });
    d.configureStream(1, 1, { type: "evt" });
    for (let i = 0; i < 100; i++) d.writeEvt(1, 1, i, T0 + i);
    d.flushAllToDisk();
    for (let t = 1; t < 100 && d.getFlushProgress() !== 101; t++) d.processMemory(T0 + t * 1000);
    d.resetSensor(1, 1);
    const again = Device.create({ board: loadBoard("fc1-imx6"), hal, nowMs: T0 + 10_000_000 });
    again.configureStream(1, 1, { type: "evt" });
    expect(again.counts(1, 1).total).toBe(0);
  });
});
