// The core and the host's own reader of the format (host/format) agree, so the reader can judge the
// core: the reader's constants are the core's (assembly/abi.ts, generated to the host); every path
// the core gives a file (filePathOfSlot) is the reader's imxPathFormat of that file's header; the
// positions file the core writes reads back as the streams' positions; a file the reader encodes
// is adopted by the core's boot recovery with the same records; and for every damaged header byte
// of a file the core wrote, boot recovery refuses it for the reason the reader names (imxCheck).

import { describe, expect, it } from "vitest";
import type { Board } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";
import * as imx from "../../host/format/imx.js";
import * as positions from "../../host/format/positions.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { boardClone } from "../core/helpers.js";

const TSD = { source: 4_000_000_000, sensor: 17, rateMs: 250 };
const EVT = { source: 3, sensor: 4_294_967_295 };
const UTC_MS = 1_700_000_000_000;

/** A device on a MemoryHal whose two streams have spilled every record to files. */
function spilled(board: Board, records: number): { device: Device; hal: MemoryHal } {
  const hal = new MemoryHal();
  const device = Device.create({ board, hal, nowMs: 0 });
  device.configureStream(TSD.source, TSD.sensor, { type: "tsd", sampleRateMs: TSD.rateMs });
  device.configureStream(EVT.source, EVT.sensor, { type: "evt", dataType: "int32" });
  for (let k = 0; k < records; k++) {
    device.writeTsd(TSD.source, TSD.sensor, 1000 + k, UTC_MS + k * TSD.rateMs);
    device.writeEvt(EVT.source, EVT.sensor, -k, UTC_MS + 7 * k);
    if (device.countRamSectorsWithData() * 2 >= board.memory.sectorCount) flushed(device);
  }
  flushed(device);
  return { device, hal };
}

function flushed(device: Device): void {
  device.flushAllToDisk();
  let nowMs = 1;
  const ticks = flushDrain(device, () => device.processMemory((nowMs += device.board.tier.tickIntervalMs)), 1000);
  expect(ticks).toBeGreaterThanOrEqual(0);
}

function imxPaths(hal: MemoryHal): string[] {
  return [...hal.snapshot().files.keys()].filter((p) => p.endsWith(imx.IMX_SUFFIX)).sort();
}

describe("the host's format constants", () => {
  it("are the core's", () => {
    const pairs: Array<[string, number, number]> = [
      ["IMX_MAGIC", imx.IMX_MAGIC, abi.IMX_MAGIC],
      ["IMX_FORMAT_VERSION", imx.IMX_FORMAT_VERSION, abi.IMX_FORMAT_VERSION],
      ["IMX_HEADER_BYTES", imx.IMX_HEADER_BYTES, abi.IMX_HEADER_BYTES],
      ["HISTORY_BUCKETS", imx.HISTORY_BUCKETS, abi.HISTORY_BUCKETS],
      ["RECORD_TYPE_TSD", imx.RECORD_TYPE_TSD, abi.RECORD_TYPE_TSD],
      ["RECORD_TYPE_EVT", imx.RECORD_TYPE_EVT, abi.RECORD_TYPE_EVT],
      ["DATA_TYPE_UINT32", imx.DATA_TYPE_UINT32, abi.DATA_TYPE_UINT32],
      ["DATA_TYPE_INT32", imx.DATA_TYPE_INT32, abi.DATA_TYPE_INT32],
      ["DATA_TYPE_FLOAT32", imx.DATA_TYPE_FLOAT32, abi.DATA_TYPE_FLOAT32],
      ["POSITIONS_MAGIC", positions.POSITIONS_MAGIC, abi.POSITIONS_MAGIC],
      ["POSITIONS_FORMAT_VERSION", positions.POSITIONS_FORMAT_VERSION, abi.POSITIONS_FORMAT_VERSION],
      ["POSITIONS_HEADER_BYTES", positions.POSITIONS_HEADER_BYTES, abi.POSITIONS_HEADER_BYTES],
      ["POSITION_RECORD_BYTES", positions.POSITION_RECORD_BYTES, abi.POSITION_RECORD_BYTES],
    ];
    for (const [name, host, core] of pairs) expect(host, name).toBe(core);
    const generated = abi as unknown as Record<string, number>;
    const snake = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
    const coreName: Record<string, string> = {
      sampleRateMs: "SAMPLE_RATE",
      crc32: "CRC32",
      headerBytes: "HEADER_BYTES",
    };
    for (const [field, offset] of Object.entries(imx.IMX_OFFSET)) {
      expect(offset, field).toBe(generated[`IMX_${coreName[field] ?? snake(field)}_OFFSET`]);
    }
    for (const [field, offset] of Object.entries(positions.POSITIONS_OFFSET)) {
      expect(offset, field).toBe(generated[`POSITIONS_${snake(field)}_OFFSET`]);
    }
    for (const [field, offset] of Object.entries(positions.POSITION_OFFSET)) {
      expect(offset, field).toBe(generated[`POSITION_${coreName[field] ?? snake(field)}_OFFSET`]);
    }
  });
});

describe.each([16, 32, 64, 128])("with %i-byte sectors", (sectorBytes) => {
  const board = boardClone("tiny", (b) => {
    b.memory.sectorBytes = sectorBytes;
    b.memory.ramBytes = 65536;
    b.device.ramBytes = 131072;
    b.memory.bulkRecordsMax = 64;
    if (b.disk) {
      b.disk.filesMax = 64;
      b.disk.quotaBytes = 64 * imx.imxFileBytes(b.disk.sectorsPerFileMax, sectorBytes);
    }
  });
  const geometry = { sectorBytes, sectorsPerFileMax: board.disk?.sectorsPerFileMax ?? 0 };

  it("the core names, writes and records its files as the reader reads them", () => {
    const { device, hal } = spilled(board, 60);
    const paths = imxPaths(hal);
    expect(paths.length).toBeGreaterThan(2);
    const fromCore = new Set<string>();
    for (let slot = 0; slot < device.exports.filesMaxConfigured(); slot++) {
      const length = device.exports.filePathOfSlot(slot);
      if (length <= 0) continue;
      const bytes = new Uint8Array(device.memory.buffer, device.exports.pathBufferPtr(), length);
      fromCore.add(String.fromCharCode(...bytes));
    }
    expect([...fromCore].sort()).toEqual(paths);
    const seen = { tsd: 0, evt: 0 };
    for (const path of paths) {
      const data = hal.readFile(path);
      const header = imx.imxHeaderRead(data);
      if (header === null) throw new Error(`${path}: no header`);
      expect(imx.imxCheck(data, geometry), path).toBeNull();
      expect(path).toBe(imx.imxPathFormat(header.source, header.sensor, header.firstSeq));
      expect(imx.imxPathIsCanonical(path)).toBe(true);
      expect(header.sectorBytes).toBe(sectorBytes);
      for (const r of imx.imxRecordsRead(data, header)) {
        if (header.recordType === imx.RECORD_TYPE_TSD) {
          expect([r.word, r.utcMs]).toEqual([1000 + r.seq, UTC_MS + r.seq * TSD.rateMs]);
          seen.tsd++;
        } else {
          expect([imx.imxValueOf(r.word, header.dataType), r.utcMs]).toEqual([-r.seq || 0, UTC_MS + 7 * r.seq]);
          seen.evt++;
        }
      }
    }
    expect(seen).toEqual({ tsd: 60, evt: 60 });

    // An ACK of records on disk appends one record to the ACK log (no positions file is written);
    // the reader finds the stream's new position in it.
    expect(device.readBulk(TSD.source, TSD.sensor, 9)).toHaveLength(9);
    const logBefore = hal.exists(positions.ACK_LOG_PATH) ? hal.readFile(positions.ACK_LOG_PATH).byteLength : 0;
    device.ack(TSD.source, TSD.sensor, 9);
    expect(hal.exists(positions.POSITIONS_PATH)).toBe(false);
    const log = hal.readFile(positions.ACK_LOG_PATH);
    expect(log.byteLength).toBe(logBefore + positions.ACK_RECORD_BYTES);
    const scan = positions.ackLogScan(log);
    expect([scan.invalid, scan.tornBytes]).toEqual([0, 0]);
    const last = scan.records.at(-1);
    const stored = last === undefined ? [] : [last];
    expect(stored.map(({ seqReserved: _lease, recordSeq: _n, ...p }) => p)).toEqual([
      {
        source: TSD.source,
        sensor: TSD.sensor,
        ackedSeq: 9,
        nextSeq: 60,
        recordType: 1,
        dataType: 0,
        sampleRateMs: 250,
      },
    ]);
    for (const p of stored) expect(p.seqReserved).toBeGreaterThanOrEqual(p.nextSeq);
  });

  it("the core's recovery adopts files the reader encodes, with their records", () => {
    const hal = new MemoryHal();
    const perSector = imx.recordsPerSector("evt", sectorBytes);
    const count = perSector * 2 + 1;
    const payload = new Uint8Array(3 * sectorBytes);
    const view = new DataView(payload.buffer);
    for (let k = 0; k < count; k++) {
      const at = Math.floor(k / perSector) * sectorBytes + imx.EVT_RECORD_BYTES * (k % perSector);
      view.setInt32(at, -5 * k, true);
      view.setBigInt64(at + imx.EVT_UTC_OFFSET, BigInt(UTC_MS + 3 * k), true);
    }
    const fields = { ...EVT, recordType: imx.RECORD_TYPE_EVT, dataType: imx.DATA_TYPE_INT32, sectorBytes };
    const data = imx.imxFileEncode(
      { ...fields, sampleRateMs: 0, firstSeq: 40, recordCount: count, ackedSeq: 0, createdMs: UTC_MS },
      payload,
    );
    const path = imx.imxPathFormat(EVT.source, EVT.sensor, 40);
    hal.mkdir(imx.HISTORY_DIR);
    hal.mkdir(path.slice(0, path.lastIndexOf("/")));
    hal.writeFile(path, data);
    hal.syncFile(path);
    const device = Device.create({ board, hal });
    expect(device.recovery?.filesKept).toBe(1);
    expect(device.recovery?.quarantined).toEqual([]);
    const back = device.readBulk(EVT.source, EVT.sensor, 100);
    expect(back.map((r) => [r.seq, r.value, r.utcMs, r.tier])).toEqual(
      Array.from({ length: count }, (_, k) => [40 + k, -5 * k || 0, UTC_MS + 3 * k, "disk"]),
    );
  });

  it("boot recovery refuses a damaged file for the reason the reader names", () => {
    const { hal: source } = spilled(board, 12);
    const path = imxPaths(source).find(
      (p) => imx.imxHeaderRead(source.readFile(p))?.recordType === imx.RECORD_TYPE_TSD,
    );
    if (path === undefined) throw new Error("no TSD file");
    const original = source.readFile(path);
    const name = imx.imxPathParse(path);
    if (name === null) throw new Error(`${path} does not parse`);
    let refusals = 0;
    for (let offset = 0; offset < imx.IMX_HEADER_BYTES; offset++) {
      for (const crcFix of [false, true]) {
        const damaged = original.slice();
        damaged[offset] = (damaged[offset] ?? 0) ^ (1 << (offset % 8));
        if (crcFix && offset < imx.IMX_OFFSET.crc32) imx.imxCrcFix(damaged);
        const header = imx.imxHeaderRead(damaged);
        const nameMismatch =
          header !== null &&
          (header.source !== name.source || header.sensor !== name.sensor || header.firstSeq !== name.firstSeq);
        const fault = imx.imxCheck(damaged, geometry);
        const hal = new MemoryHal();
        hal.mkdir(imx.HISTORY_DIR);
        hal.mkdir(path.slice(0, path.lastIndexOf("/")));
        hal.writeFile(path, damaged);
        hal.syncFile(path);
        const recovery = Device.create({ board, hal }).recovery;
        const reasons = (recovery?.quarantined ?? []).map((q) => q.reason);
        const label = `byte ${offset}${crcFix ? ", CRC fixed" : ""}`;
        if (fault !== null) expect(reasons, label).toEqual([`refused: ${fault}`]);
        else expect(reasons, label).toEqual([]);
        // A valid header under another file's name: moved to the name the header gives it.
        const target = header === null ? path : imx.imxPathFormat(header.source, header.sensor, header.firstSeq);
        expect(recovery?.moved, label).toEqual(nameMismatch && fault === null ? [{ from: path, to: target }] : []);
        if (reasons.length > 0) refusals++;
      }
    }
    expect(refusals).toBeGreaterThan(imx.IMX_HEADER_BYTES);
  });
});
