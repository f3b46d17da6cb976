// Streams: a TSD or EVT stream is configured once and then written and read back exactly (uint32,
// int32 including negatives, float32 as its Math.fround); TSD times are first UTC + index × rate
// across sector boundaries; sequence numbers start at 0 and only grow. Wrong record types,
// conflicting reconfiguration, a full stream table, unknown streams and invalid arguments are
// refused with their code and change nothing (statistics and every byte of device RAM compared).
// The upload cycle: a bulk read marks records pending, peek changes nothing and returns what a bulk
// read would, ACK erases exactly the first `count` pending records and frees sectors that empty,
// NACK (revert) is idempotent. Runs on nrf52840 (RAM only, 64-record bulk reads) and tiny (4
// streams, 8-record bulk reads); no test here calls processMemory, so nothing moves to disk.

import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device, type StreamConfig, type StreamCounts } from "../../host/core/device.js";
import { expectRefused, firstDifference, range, ramSnapshot, readAll, seqs, statsSnapshot } from "./helpers.js";

const T0_MS = 1_700_000_000_000;

function device(boardName = "nrf52840"): Device {
  return Device.create({ board: loadBoard(boardName) });
}

/** Writes `count` EVT records valued 100 + k at T0 + k to a stream configured as uint32 EVT. */
function evtStream(d: Device, count: number, source = 1, sensor = 10): void {
  d.configureStream(source, sensor, { type: "evt" });
  for (let k = 0; k < count; k++) d.writeEvt(source, sensor, 100 + k, T0_MS + k);
}

function countsOf(d: Device, source = 1, sensor = 10): Pick<StreamCounts, "total" | "pending" | "new"> {
  const { total, pending, new: fresh } = d.counts(source, sensor);
  return { total, pending, new: fresh };
}

describe("values and times read back exactly", () => {
  test("EVT uint32: every value and UTC time, across sectors", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt", dataType: "uint32" });
    const values = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xdeadbeef, 12345];
    const times = [0, 1, T0_MS, 2 ** 42, Number.MAX_SAFE_INTEGER, 5, 5, 4, 3];
    values.forEach((value, k) => d.writeEvt(1, 1, value, times[k]!));
    const records = readAll(d, 1, 1);
    expect(records.map((r) => r.value)).toEqual(values);
    expect(records.map((r) => r.utcMs)).toEqual(times);
    expect(seqs(records)).toEqual(range(0, values.length));
    expect(records.every((r) => r.tier === "ram")).toBe(true);
  });

  test("EVT int32: negatives and both ends of the range", () => {
    const d = device();
    d.configureStream(1, 2, { type: "evt", dataType: "int32" });
    const values = [-2147483648, -2147483647, -1000000, -1, 0, 1, 2147483647];
    values.forEach((value, k) => d.writeEvt(1, 2, value, T0_MS + k));
    expect(readAll(d, 1, 2).map((r) => r.value)).toEqual(values);
  });

  test("float32 values read back as their float32 rounding (EVT and TSD)", () => {
    const values = [
      0,
      -0,
      1.5,
      Math.PI,
      -Math.E,
      1e-30,
      -3.4e38,
      3.4028234663852886e38,
      1 / 3,
      Infinity,
      -Infinity,
      NaN,
    ];
    const d = device();
    d.configureStream(2, 1, { type: "evt", dataType: "float32" });
    d.configureStream(2, 2, { type: "tsd", dataType: "float32", sampleRateMs: 1000 });
    values.forEach((value, k) => {
      d.writeEvt(2, 1, value, T0_MS + k);
      d.writeTsd(2, 2, value, T0_MS + k * 1000);
    });
    const expected = values.map((value) => Math.fround(value));
    expect(readAll(d, 2, 1).map((r) => r.value)).toEqual(expected);
    expect(readAll(d, 2, 2).map((r) => r.value)).toEqual(expected);
  });

  test("TSD times are first UTC + index × rate across sector boundaries", () => {
    const d = device();
    const rateMs = 250;
    d.configureStream(3, 1, { type: "tsd", dataType: "uint32", sampleRateMs: rateMs });
    const tsdPerSector = (d.board.memory.sectorBytes - 8) / 4;
    const count = 3 * tsdPerSector + 2;
    for (let k = 0; k < count; k++) d.writeTsd(3, 1, 1000 + k, T0_MS + k * rateMs);
    expect(d.stats().sectorsUsed).toBe(Math.ceil(count / tsdPerSector));
    const records = readAll(d, 3, 1);
    expect(records.map((r) => r.utcMs)).toEqual(range(0, count).map((k) => T0_MS + k * rateMs));
    expect(records.map((r) => r.value)).toEqual(range(0, count).map((k) => 1000 + k));
    expect(seqs(records)).toEqual(range(0, count));
  });

  test("sequence numbers start at 0 and keep growing through acks and reverts", () => {
    const d = device();
    evtStream(d, 5);
    expect(d.counts(1, 10).nextSeq).toBe(5);
    expect(seqs(d.readBulk(1, 10, 3))).toEqual([0, 1, 2]);
    d.ack(1, 10, 3);
    d.readBulk(1, 10, 1);
    d.revert(1, 10);
    for (let k = 5; k < 9; k++) d.writeEvt(1, 10, 100 + k, T0_MS + k);
    expect(d.counts(1, 10).nextSeq).toBe(9);
    expect(seqs(readAll(d, 1, 10))).toEqual(range(3, 9));
  });
});

describe("configuration", () => {
  test("configuring again with the same settings returns the same index; other settings are E_STREAM_CONFIG_MISMATCH", () => {
    const d = device();
    const tsd = d.configureStream(5, 50, { type: "tsd", dataType: "int32", sampleRateMs: 100 });
    const evt = d.configureStream(5, 51, { type: "evt", dataType: "float32" });
    expect(evt).not.toBe(tsd);
    expect(d.configureStream(5, 50, { type: "tsd", dataType: "int32", sampleRateMs: 100 })).toBe(tsd);
    expect(d.configureStream(5, 51, { type: "evt", dataType: "float32" })).toBe(evt);
    d.writeTsd(5, 50, -7, T0_MS);

    const conflicting: Array<[number, StreamConfig]> = [
      [50, { type: "evt", dataType: "int32" }],
      [50, { type: "tsd", dataType: "uint32", sampleRateMs: 100 }],
      [50, { type: "tsd", dataType: "int32", sampleRateMs: 101 }],
      [51, { type: "evt", dataType: "uint32" }],
    ];
    for (const [sensor, config] of conflicting) {
      expectRefused(d, () => d.configureStream(5, sensor, config), "E_STREAM_CONFIG_MISMATCH");
    }
    // The stream kept its settings: the int32 value still reads back signed.
    expect(d.readBulk(5, 50, 10).map((r) => r.value)).toEqual([-7]);
  });

  test("the stream table holds streamsMax streams, then E_STREAM_TABLE_FULL", () => {
    const d = device("tiny");
    const streamsMax = d.board.memory.streamsMax;
    const indexes = range(0, streamsMax).map((k) => d.configureStream(9, k, { type: "evt" }));
    expect(indexes).toEqual(range(0, streamsMax));
    expectRefused(d, () => d.configureStream(9, streamsMax, { type: "evt" }), "E_STREAM_TABLE_FULL");
    expect(d.exports.streamFind(9, streamsMax)).toBe(abi.E_STREAM_UNKNOWN);
    // A full table still answers for the streams it holds.
    expect(d.configureStream(9, 0, { type: "evt" })).toBe(0);
  });

  test("a TSD write to an EVT stream and the reverse are E_RECORD_TYPE_MISMATCH, in the core too", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    d.configureStream(1, 2, { type: "tsd", sampleRateMs: 1000 });
    d.writeEvt(1, 1, 1, T0_MS);
    d.writeTsd(1, 2, 1, T0_MS);
    expectRefused(d, () => d.writeTsd(1, 1, 2, T0_MS), "E_RECORD_TYPE_MISMATCH");
    expectRefused(d, () => d.writeEvt(1, 2, 2, T0_MS), "E_RECORD_TYPE_MISMATCH");
    const ramBefore = ramSnapshot(d);
    expect(d.exports.streamWriteTsd(d.streamIndex(1, 1), 2, T0_MS)).toBe(abi.E_RECORD_TYPE_MISMATCH);
    expect(d.exports.streamWriteEvt(d.streamIndex(1, 2), 2, T0_MS)).toBe(abi.E_RECORD_TYPE_MISMATCH);
    expect(firstDifference(ramBefore, ramSnapshot(d))).toBe(-1);
  });

  test("an unknown stream is E_STREAM_UNKNOWN, from the host facade and from the core", () => {
    const d = device();
    evtStream(d, 3);
    expectRefused(d, () => d.writeEvt(4, 4, 1, T0_MS), "E_STREAM_UNKNOWN");
    expectRefused(d, () => d.readBulk(4, 4, 1), "E_STREAM_UNKNOWN");
    expectRefused(d, () => d.ack(4, 4, 0), "E_STREAM_UNKNOWN");
    expectRefused(d, () => d.counts(4, 4), "E_STREAM_UNKNOWN");

    const statsBefore = statsSnapshot(d);
    const ramBefore = ramSnapshot(d);
    const e = d.exports;
    for (const index of [1, 2, 0xffff, -1]) {
      const results = [
        e.streamWriteEvt(index, 1, T0_MS),
        e.streamWriteTsd(index, 1, T0_MS),
        e.streamReadBulk(index, 1),
        e.streamPeek(index, 1),
        e.streamAck(index, 0),
        e.streamRevert(index),
        e.streamQuery(index),
      ];
      expect({ index, results }).toEqual({ index, results: Array(results.length).fill(abi.E_STREAM_UNKNOWN) });
    }
    expect(firstDifference(ramBefore, ramSnapshot(d))).toBe(-1);
    expect(statsSnapshot(d)).toEqual(statsBefore);
  });
});

describe("invalid arguments are E_INVALID_ARGUMENT and change nothing", () => {
  test("a TSD stream without a rate, and an EVT stream with one, are refused and not created", () => {
    const d = device();
    expectRefused(d, () => d.configureStream(1, 1, { type: "tsd", sampleRateMs: 0 }), "E_INVALID_ARGUMENT");
    expectRefused(d, () => d.configureStream(1, 1, { type: "tsd" }), "E_INVALID_ARGUMENT");
    expectRefused(d, () => d.configureStream(1, 2, { type: "evt", sampleRateMs: 5 }), "E_INVALID_ARGUMENT");
    expectRefused(d, () => d.configureStream(1, 3, { type: "tsd", sampleRateMs: 1.5 }), "E_INVALID_ARGUMENT");
    expect(d.exports.streamFind(1, 1)).toBe(abi.E_STREAM_UNKNOWN);
    expect(d.exports.streamFind(1, 2)).toBe(abi.E_STREAM_UNKNOWN);
    expect(d.exports.streamFind(1, 3)).toBe(abi.E_STREAM_UNKNOWN);
    // The core refuses the same settings when called directly.
    expect(d.exports.streamConfigure(1, 1, abi.RECORD_TYPE_TSD, abi.DATA_TYPE_UINT32, 0)).toBe(abi.E_INVALID_ARGUMENT);
    expect(d.exports.streamConfigure(1, 2, abi.RECORD_TYPE_EVT, abi.DATA_TYPE_UINT32, 5)).toBe(abi.E_INVALID_ARGUMENT);
    expect(d.exports.streamConfigure(1, 2, 3, abi.DATA_TYPE_UINT32, 0)).toBe(abi.E_INVALID_ARGUMENT);
    expect(d.exports.streamConfigure(1, 2, abi.RECORD_TYPE_EVT, abi.DATA_TYPE_FLOAT32 + 1, 0)).toBe(
      abi.E_INVALID_ARGUMENT,
    );
    expect(d.exports.streamFind(1, 2)).toBe(abi.E_STREAM_UNKNOWN);
  });

  test("a NaN, negative, infinite or too large UTC time is refused by the core for TSD and EVT", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt" });
    d.configureStream(1, 2, { type: "tsd", sampleRateMs: 1000 });
    d.writeEvt(1, 1, 1, T0_MS);
    for (const utcMs of [NaN, -1, -0.5, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 2]) {
      expectRefused(d, () => d.writeEvt(1, 1, 7, utcMs), "E_INVALID_ARGUMENT");
      expectRefused(d, () => d.writeTsd(1, 2, 7, utcMs), "E_INVALID_ARGUMENT");
    }
    expect(d.counts(1, 1).nextSeq).toBe(1);
    expect(d.counts(1, 2).nextSeq).toBe(0);
  });

  test("a value with no 32-bit word under the stream's data type is refused", () => {
    const d = device();
    d.configureStream(1, 1, { type: "evt", dataType: "uint32" });
    d.configureStream(1, 2, { type: "tsd", dataType: "int32", sampleRateMs: 10 });
    for (const value of [-1, 0.5, 2 ** 32, NaN, Infinity]) {
      expectRefused(d, () => d.writeEvt(1, 1, value, T0_MS), "E_INVALID_ARGUMENT");
    }
    for (const value of [-(2 ** 31) - 1, 2 ** 31, 1.25, NaN, -Infinity]) {
      expectRefused(d, () => d.writeTsd(1, 2, value, T0_MS), "E_INVALID_ARGUMENT");
    }
    expect(d.stats().recordsWritten).toBe(0);
  });

  test("a negative or fractional read maximum or ACK count is refused", () => {
    const d = device();
    evtStream(d, 10);
    d.readBulk(1, 10, 4);
    for (const max of [-1, 1.5, NaN, 2 ** 31]) {
      expectRefused(d, () => d.readBulk(1, 10, max), "E_INVALID_ARGUMENT");
      expectRefused(d, () => d.peek(1, 10, max), "E_INVALID_ARGUMENT");
    }
    for (const count of [-1, 0.5, 2.5, NaN, -Infinity])
      expectRefused(d, () => d.ack(1, 10, count), "E_INVALID_ARGUMENT");
    // The core refuses a negative maximum itself.
    expect(d.exports.streamReadBulk(d.streamIndex(1, 10), -1)).toBe(abi.E_INVALID_ARGUMENT);
    expect(d.exports.streamPeek(d.streamIndex(1, 10), -5)).toBe(abi.E_INVALID_ARGUMENT);
    expect(countsOf(d)).toEqual({ total: 10, pending: 4, new: 6 });
  });
});

describe("the upload cycle", () => {
  test("a bulk read marks records pending; the counts follow", () => {
    const d = device();
    evtStream(d, 20);
    expect(countsOf(d)).toEqual({ total: 20, pending: 0, new: 20 });
    const first = d.readBulk(1, 10, 10);
    expect(seqs(first)).toEqual(range(0, 10));
    expect(first.map((r) => r.value)).toEqual(range(100, 110));
    expect(countsOf(d)).toEqual({ total: 20, pending: 10, new: 10 });
    expect(seqs(d.readBulk(1, 10, 4))).toEqual(range(10, 14));
    expect(countsOf(d)).toEqual({ total: 20, pending: 14, new: 6 });
    expect(d.stats().recordsRead).toBe(14);
    expect(d.readBulk(1, 10, 0)).toEqual([]);
  });

  test("peek changes nothing and returns exactly what the next bulk read returns", () => {
    const d = device();
    evtStream(d, 20);
    d.readBulk(1, 10, 6);
    const countsBefore = d.counts(1, 10);
    const statsBefore = statsSnapshot(d);
    const peeked = d.peek(1, 10, 5);
    expect(seqs(peeked)).toEqual(range(6, 11));
    expect(d.peek(1, 10, 5)).toEqual(peeked);
    expect(d.counts(1, 10)).toEqual(countsBefore);
    expect(statsSnapshot(d)).toEqual(statsBefore);
    expect(d.readBulk(1, 10, 5)).toEqual(peeked);
  });

  test("read 10, ACK 3, revert, read again: the read starts at the 4th record", () => {
    const d = device();
    evtStream(d, 20);
    d.readBulk(1, 10, 10);
    d.ack(1, 10, 3);
    expect(countsOf(d)).toEqual({ total: 17, pending: 7, new: 10 });
    expect(d.stats().recordsAcked).toBe(3);
    d.revert(1, 10);
    expect(countsOf(d)).toEqual({ total: 17, pending: 0, new: 17 });
    const again = d.readBulk(1, 10, 10);
    expect(seqs(again)).toEqual(range(3, 13));
    expect(again.map((r) => r.value)).toEqual(range(103, 113));
  });

  test("revert is idempotent: a second revert changes nothing", () => {
    const d = device();
    evtStream(d, 12);
    d.readBulk(1, 10, 8);
    d.ack(1, 10, 2);
    d.revert(1, 10);
    const countsOnce = d.counts(1, 10);
    const ramOnce = ramSnapshot(d);
    d.revert(1, 10);
    expect(d.counts(1, 10)).toEqual(countsOnce);
    expect(firstDifference(ramOnce, ramSnapshot(d))).toBe(-1);
    expect(seqs(readAll(d, 1, 10))).toEqual(range(2, 12));
  });

  test("an ACK of more than is pending is E_ACK_TOO_MANY and changes nothing", () => {
    const d = device();
    evtStream(d, 10);
    expectRefused(d, () => d.ack(1, 10, 1), "E_ACK_TOO_MANY");
    d.readBulk(1, 10, 4);
    expectRefused(d, () => d.ack(1, 10, 5), "E_ACK_TOO_MANY");
    expectRefused(d, () => d.ack(1, 10, Infinity), "E_ACK_TOO_MANY");
    d.ack(1, 10, 4);
    expectRefused(d, () => d.ack(1, 10, 1), "E_ACK_TOO_MANY");
    expect(countsOf(d)).toEqual({ total: 6, pending: 0, new: 6 });
  });

  test("an ACK of 0 changes nothing", () => {
    const d = device();
    evtStream(d, 4);
    d.readBulk(1, 10, 2);
    const ramBefore = ramSnapshot(d);
    d.ack(1, 10, 0);
    expect(firstDifference(ramBefore, ramSnapshot(d))).toBe(-1);
    expect(countsOf(d)).toEqual({ total: 4, pending: 2, new: 2 });
  });

  test("a bulk read or peek larger than the board's bulkRecordsMax returns at most that many", () => {
    const d = device("tiny");
    const bulkMax = d.board.memory.bulkRecordsMax;
    evtStream(d, 3 * bulkMax);
    expect(d.peek(1, 10, 1000).length).toBe(bulkMax);
    expect(seqs(d.readBulk(1, 10, 1000))).toEqual(range(0, bulkMax));
    expect(seqs(d.readBulk(1, 10, 2 ** 31 - 1))).toEqual(range(bulkMax, 2 * bulkMax));
    expect(d.counts(1, 10).pending).toBe(2 * bulkMax);
  });

  for (const type of ["evt", "tsd"] as const) {
    test(`${type}: a sector is freed exactly when its last record is acknowledged`, () => {
      const d = device("tiny");
      const { sectorBytes } = d.board.memory;
      const perSector = type === "evt" ? Math.floor(sectorBytes / 12) : (sectorBytes - 8) / 4;
      d.configureStream(1, 10, type === "evt" ? { type } : { type, sampleRateMs: 10 });
      const count = 3 * perSector;
      for (let k = 0; k < count; k++) {
        if (type === "evt") d.writeEvt(1, 10, k, T0_MS + k);
        else d.writeTsd(1, 10, k, T0_MS + 10 * k);
      }
      expect(d.stats().sectorsUsed).toBe(3);
      readAll(d, 1, 10);
      const usedAfterAck: number[] = [];
      for (let k = 0; k < count; k++) {
        d.ack(1, 10, 1);
        usedAfterAck.push(d.stats().sectorsUsed);
      }
      // After k + 1 records are acknowledged, the sectors left are those still holding one.
      expect(usedAfterAck).toEqual(range(0, count).map((k) => 3 - Math.floor((k + 1) / perSector)));
      expect(d.stats()).toMatchObject({ frees: 3, recordsAcked: count, recordsLive: 0 });
      expect(d.counts(1, 10)).toMatchObject({ total: 0, pending: 0, ramSectors: 0, ackedSeq: count, nextSeq: count });
    });
  }
});
