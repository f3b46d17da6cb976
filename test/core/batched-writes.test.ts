// Batched writes: writeTsdMany and writeEvtMany store exactly what the same records written one
// by one store — values, times, sequence numbers, tiers, statistics and the files a full RAM spills
// to — for every data type, across sector boundaries, bulk-buffer chunks and spills (tiny: 8-record
// chunks, a spill every few sectors; fc1-imx6: 255-record chunks). A value or time the single
// write would refuse stops the batch there with the same error; the records before it stay written.

import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device, type DataType, type RecordType } from "../../host/core/device.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { coreErrorOf, readAll, statsSnapshot } from "./helpers.js";

const T0_MS = 1_700_000_000_000;

function valuesOf(dataType: DataType, count: number): number[] {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const u = (Math.imul(i + 1, 0x9e3779b1) >>> 0) ^ i;
    values.push(dataType === "uint32" ? u >>> 0 : dataType === "int32" ? u | 0 : (u / 2 ** 32) * 2000 - 1000);
  }
  return values;
}

function typed(dataType: DataType, values: number[]): ArrayLike<number> {
  if (dataType === "uint32") return Uint32Array.from(values);
  if (dataType === "int32") return Int32Array.from(values);
  return Float32Array.from(values);
}

interface Written {
  records: ReturnType<typeof readAll>;
  stats: ReturnType<typeof statsSnapshot>;
  files: string[];
}

/** Writes `count` records one by one or batched (in pieces of `piece`), ticking between pieces, then reads all back. */
function written(
  boardName: string,
  type: RecordType,
  dataType: DataType,
  count: number,
  mode: "single" | "many" | "many-typed",
  piece: number,
): Written {
  const board = loadBoard(boardName);
  const hal = new MemoryHal();
  const device = Device.create({ board, hal, nowMs: 0 });
  const rateMs = type === "tsd" ? 250 : 0;
  device.configureStream(3, 7, { type, dataType, sampleRateMs: rateMs });
  const values = valuesOf(dataType, count);
  const times = values.map((_, i) => T0_MS + i * 3 + (i % 5));
  let nowMs = 0;
  for (let from = 0; from < count; from += piece) {
    const to = Math.min(count, from + piece);
    if (mode === "single") {
      for (let i = from; i < to; i++) {
        if (type === "tsd") device.writeTsd(3, 7, values[i]!, T0_MS + i * rateMs);
        else device.writeEvt(3, 7, values[i]!, times[i]!);
      }
    } else {
      const part = mode === "many" ? values.slice(from, to) : typed(dataType, values.slice(from, to));
      if (type === "tsd") device.writeTsdMany(3, 7, part, T0_MS + from * rateMs);
      else device.writeEvtMany(3, 7, part, Float64Array.from(times.slice(from, to)));
    }
    device.processMemory((nowMs += 1000));
  }
  const stats = statsSnapshot(device);
  const records = readAll(device, 3, 7);
  const files: string[] = [];
  if (hal.isDir("history"))
    for (const bucket of hal.list("history")) {
      if (!hal.isDir(`history/${bucket}`)) continue;
      for (const name of hal.list(`history/${bucket}`)) {
        files.push(`${bucket}/${name}:${Buffer.from(hal.readFile(`history/${bucket}/${name}`)).toString("hex")}`);
      }
    }
  return { records, stats, files };
}

describe("a batch stores what single writes store", () => {
  const cases: Array<[string, RecordType, DataType, number, number]> = [
    ["tiny", "tsd", "uint32", 300, 37],
    ["tiny", "evt", "float32", 200, 11],
    ["tiny", "evt", "int32", 200, 64],
    ["fc1-imx6", "tsd", "float32", 20000, 7000],
    ["fc1-imx6", "evt", "uint32", 9000, 1000],
    ["nrf52840", "tsd", "int32", 500, 500],
  ];
  test.each(cases)("%s %s %s: %i records in pieces of %i", (board, type, dataType, count, piece) => {
    const single = written(board, type, dataType, count, "single", piece);
    expect(single.records.length).toBeGreaterThan(0);
    // On the boards with a disk tier the writes spilled (and some records may have been discarded).
    if (board !== "nrf52840") expect(single.files.length).toBeGreaterThan(0);
    for (const mode of ["many", "many-typed"] as const) {
      const many = written(board, type, dataType, count, mode, piece);
      expect(many.records).toEqual(single.records);
      expect(many.stats).toEqual(single.stats);
      expect(many.files).toEqual(single.files);
    }
  });
});

describe("a batch stops where a single write would be refused", () => {
  test("an out-of-range value: the records before it are written, the error is the single write's", () => {
    const device = Device.create({ board: loadBoard("nrf52840") });
    device.configureStream(1, 1, { type: "tsd", dataType: "uint32", sampleRateMs: 1000 });
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, -1, 11];
    const error = coreErrorOf(() => device.writeTsdMany(1, 1, values, T0_MS));
    const single = coreErrorOf(() => device.writeTsd(1, 1, -1, T0_MS));
    expect(error.codeName).toBe("E_INVALID_ARGUMENT");
    expect(error.message).toBe(single.message);
    const records = readAll(device, 1, 1);
    expect(records.map((r) => r.value)).toEqual(values.slice(0, 9));
    expect(records.map((r) => r.utcMs)).toEqual(values.slice(0, 9).map((_, i) => T0_MS + i * 1000));
  });

  test("an invalid EVT time: the records before it are written", () => {
    const device = Device.create({ board: loadBoard("tiny") });
    device.configureStream(1, 1, { type: "evt", dataType: "uint32" });
    const values = Uint32Array.from([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
    const times = Float64Array.from(values, (_, i) => (i === 10 ? 1.5 : T0_MS + i));
    const error = coreErrorOf(() => device.writeEvtMany(1, 1, values, times));
    expect(error.codeName).toBe("E_INVALID_ARGUMENT");
    expect(error.message).toContain("record 10 of 12");
    expect(readAll(device, 1, 1).map((r) => r.value)).toEqual([...values.slice(0, 10)]);
  });

  test("a TSD batch whose last time is out of range is refused whole", () => {
    const device = Device.create({ board: loadBoard("nrf52840") });
    device.configureStream(1, 1, { type: "tsd", dataType: "uint32", sampleRateMs: 1000 });
    const error = coreErrorOf(() => device.writeTsdMany(1, 1, [1, 2, 3], Number.MAX_SAFE_INTEGER - 1000));
    expect(error.codeName).toBe("E_INVALID_ARGUMENT");
    expect(device.counts(1, 1).total).toBe(0);
  });

  test("wrong record type, unknown stream and mismatched times are refused", () => {
    const device = Device.create({ board: loadBoard("nrf52840") });
    device.configureStream(1, 1, { type: "tsd", sampleRateMs: 1000 });
    device.configureStream(1, 2, { type: "evt" });
    expect(coreErrorOf(() => device.writeEvtMany(1, 1, [1], [T0_MS])).codeName).toBe("E_RECORD_TYPE_MISMATCH");
    expect(coreErrorOf(() => device.writeTsdMany(1, 2, [1], T0_MS)).codeName).toBe("E_RECORD_TYPE_MISMATCH");
    expect(coreErrorOf(() => device.writeTsdMany(9, 9, [1], T0_MS)).codeName).toBe("E_STREAM_UNKNOWN");
    expect(coreErrorOf(() => device.writeEvtMany(1, 2, [1, 2], [T0_MS])).codeName).toBe("E_INVALID_ARGUMENT");
    device.writeTsdMany(1, 1, [], T0_MS);
    expect(device.counts(1, 1).total).toBe(0);
  });
});

describe("readBulkInto", () => {
  test("fills typed arrays with what readBulk returns, marks them pending, bounded by the arrays", () => {
    const make = (): Device => {
      const device = Device.create({ board: loadBoard("tiny"), hal: new MemoryHal(), nowMs: 0 });
      device.configureStream(1, 1, { type: "evt", dataType: "float32" });
      const values = Float64Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? -i / 3 : i * 1e30));
      device.writeEvtMany(
        1,
        1,
        values,
        Float64Array.from(values, (_, i) => T0_MS + i),
      );
      for (let t = 1; t <= 20; t++) device.processMemory(t * 1000);
      return device;
    };
    const expected = readAll(make(), 1, 1);
    expect(expected.some((r) => r.tier === "disk")).toBe(true);
    const device = make();
    const into = {
      seq: new Float64Array(5),
      utcMs: new Float64Array(5),
      value: new Float64Array(5),
      disk: new Uint8Array(5),
    };
    const got: typeof expected = [];
    for (let reads = 0; reads < 100; reads++) {
      const count = device.readBulkInto(1, 1, 1000, into);
      expect(count).toBeLessThanOrEqual(5);
      if (count === 0) break;
      for (let i = 0; i < count; i++) {
        const tier = into.disk[i] === 1 ? "disk" : "ram";
        got.push({ seq: into.seq[i]!, utcMs: into.utcMs[i]!, value: into.value[i]!, tier });
      }
    }
    expect(got).toEqual(expected);
    expect(device.counts(1, 1).pending).toBe(expected.length);
  });
});
