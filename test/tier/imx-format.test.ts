// The `.imx` file format (SPEC.md §6), checked from the bytes a real spill leaves on disk: after a
// spill into a fresh temporary directory, every file is read with node:fs and parsed by the host's
// own reader of the format (host/format/imx.ts, written from SPEC.md, not from the core), so the
// core and that reader must agree. Each header field must match the stream and the tick that wrote
// it, the CRC must be what zlib.crc32 computes over header bytes [0, 60) continued over the
// payload, the size must be header + sectors × sectorBytes, the payload must be the RAM sector
// images holding exactly the records written, the file must pass the reader's validation, and the
// path must be history/<bucket>/<source>_<sensor>_<firstSeq, 20 digits>.imx with the bucket of
// SPEC.md §6.1. No `.tmp` file may remain.

import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import * as abi from "../../host/core/abi.generated.js";
import { Device } from "../../host/core/device.js";
import {
  IMX_FORMAT_VERSION,
  IMX_HEADER_BYTES,
  IMX_MAGIC,
  imxBucket,
  imxCheck,
  type ImxHeader,
  imxHeaderRead,
  imxPathFormat,
  imxPathParse,
  imxRecordsRead,
  imxValueOf,
} from "../../host/format/imx.js";
import {
  evtPerSector,
  filesUnder,
  imxFilesUnder,
  sectorsAtThreshold,
  storageDirMake,
  storageDirRemove,
  TickClock,
  tsdPerSector,
  UTC_BASE_MS,
  valueOf,
} from "../support/tier-helpers.js";
import { flushDrain } from "../../host/core/flush.js";

function headerOf(bytes: Uint8Array): ImxHeader {
  const header = imxHeaderRead(bytes);
  if (header === null) throw new Error("not an .imx file");
  return header;
}

/** CRC-32 of header bytes [0, 60) continued over the payload, by zlib. */
function crcExpected(bytes: Uint8Array): number {
  return zlib.crc32(bytes.subarray(IMX_HEADER_BYTES), zlib.crc32(bytes.subarray(0, 60)));
}

const TSD = { source: 7, sensor: 1001, rateMs: 1000 };
// Large ids show that source and sensor are printed in full, unsigned, in decimal.
const EVT = { source: 300_000, sensor: 4_000_000_000 };
const evtValueOf = (seq: number): number => Math.fround(seq / 8 - 3.25);
const evtUtcOf = (seq: number): number => UTC_BASE_MS + seq * 250 + (seq % 3);

describe.each(["tiny", "fc1-imx6"] as const)(".imx files on %s", (boardName) => {
  const board = loadBoard(boardName);
  const { sectorBytes } = board.memory;
  let dir: string;

  beforeEach(() => {
    dir = storageDirMake();
  });
  afterEach(() => storageDirRemove(dir));

  it("have every header field, a zlib CRC-32, whole sector images of the records written and a name that says which", () => {
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(TSD.source, TSD.sensor, { type: "tsd", dataType: "uint32", sampleRateMs: TSD.rateMs });
    device.configureStream(EVT.source, EVT.sensor, { type: "evt", dataType: "float32" });
    let seq = 0;
    while (device.countRamSectorsWithData() < sectorsAtThreshold(board)) {
      device.writeTsd(TSD.source, TSD.sensor, valueOf(seq), UTC_BASE_MS + seq * TSD.rateMs);
      device.writeEvt(EVT.source, EVT.sensor, evtValueOf(seq), evtUtcOf(seq));
      seq++;
    }
    // One acknowledged record in the TSD stream: its files carry ackedSeq 1.
    device.readBulk(TSD.source, TSD.sensor, 1);
    device.ack(TSD.source, TSD.sensor, 1);

    // Tick at known times and note which tick wrote which file.
    const createdAt = new Map<string, number>();
    const clock = new TickClock(board, 5_000_000);
    for (let i = 0; i < 20 && (device.stats().filesCreated === 0 || device.tierState !== "idle"); i++) {
      clock.tick(device);
      for (const file of imxFilesUnder(dir)) if (!createdAt.has(file)) createdAt.set(file, clock.nowMs);
    }
    const files = imxFilesUnder(dir);
    expect(files.length).toBe(device.stats().filesCreated);
    expect(files.length).toBeGreaterThan(1);
    expect(filesUnder(dir, ".tmp")).toEqual([]);

    const nextFirstSeq = new Map<string, number>();
    // In name order without the bucket: per stream, oldest file first (the sequence number is zero-padded).
    const withoutBucket = (file: string): string => file.slice("history/0/".length);
    for (const file of [...files].sort((a, b) => (withoutBucket(a) < withoutBucket(b) ? -1 : 1))) {
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, file)));
      const header = headerOf(bytes);
      const name = imxPathParse(file);
      expect(name, file).not.toBeNull();
      const { bucket, source, sensor, firstSeq } = name as NonNullable<typeof name>;
      const isTsd = header.recordType === abi.RECORD_TYPE_TSD;
      const stream = isTsd ? TSD : EVT;
      const perSector = isTsd ? tsdPerSector(board) : evtPerSector(board);

      expect(header.magic, file).toBe(IMX_MAGIC);
      expect(header.version, file).toBe(IMX_FORMAT_VERSION);
      expect(header.headerBytes, file).toBe(IMX_HEADER_BYTES);
      expect(header.source, file).toBe(stream.source);
      expect(header.sensor, file).toBe(stream.sensor);
      expect(header.recordType, file).toBe(isTsd ? abi.RECORD_TYPE_TSD : abi.RECORD_TYPE_EVT);
      expect(header.dataType, file).toBe(isTsd ? abi.DATA_TYPE_UINT32 : abi.DATA_TYPE_FLOAT32);
      expect(header.sectorBytes, file).toBe(sectorBytes);
      expect(header.sampleRateMs, file).toBe(isTsd ? TSD.rateMs : 0);
      expect(header.sectorCount, file).toBeGreaterThan(1);
      expect(header.sectorCount, file).toBeLessThanOrEqual(board.disk?.sectorsPerFileMax ?? 0);
      // A spill outside a flush moves only full sectors.
      expect(header.recordCount, file).toBe(header.sectorCount * perSector);
      expect(header.ackedSeq, file).toBe(isTsd ? 1 : 0);
      expect(header.createdMs, file).toBe(createdAt.get(file) ?? -1);
      expect(header.payloadBytes, file).toBe(header.sectorCount * sectorBytes);
      expect(bytes.byteLength, file).toBe(IMX_HEADER_BYTES + header.sectorCount * sectorBytes);
      expect(header.crc32, file).toBe(crcExpected(bytes));
      expect(imxCheck(bytes, { sectorBytes, sectorsPerFileMax: board.disk?.sectorsPerFileMax ?? 0 }), file).toBeNull();

      expect(source).toBe(stream.source);
      expect(sensor).toBe(stream.sensor);
      expect(firstSeq).toBe(header.firstSeq);
      expect(bucket).toBe(imxBucket(stream.source, stream.sensor, header.firstSeq));
      expect(file).toBe(imxPathFormat(stream.source, stream.sensor, header.firstSeq));

      // A stream's files hold consecutive sequence numbers, the oldest from 0.
      const key = `${stream.source}_${stream.sensor}`;
      expect(header.firstSeq, file).toBe(nextFirstSeq.get(key) ?? 0);
      nextFirstSeq.set(key, header.firstSeq + header.recordCount);

      // The reader's records are the ones written, in order.
      const records = imxRecordsRead(bytes, header);
      expect(records.map((r) => r.seq)).toEqual(records.map((_, k) => header.firstSeq + k));
      for (const r of records) {
        expect(imxValueOf(r.word, header.dataType)).toBe(isTsd ? valueOf(r.seq) : evtValueOf(r.seq));
        expect(r.utcMs).toBe(isTsd ? UTC_BASE_MS + r.seq * TSD.rateMs : evtUtcOf(r.seq));
      }
      // The payload is the RAM sector images: the records written, in order.
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let k = 0; k < header.sectorCount; k++) {
        const at = IMX_HEADER_BYTES + k * sectorBytes;
        const first = header.firstSeq + k * perSector;
        if (isTsd) {
          expect(Number(view.getBigInt64(at, true))).toBe(UTC_BASE_MS + first * TSD.rateMs);
          for (let i = 0; i < perSector; i++) expect(view.getUint32(at + 8 + 4 * i, true)).toBe(valueOf(first + i));
        } else {
          for (let i = 0; i < perSector; i++) {
            expect(view.getFloat32(at + 12 * i, true)).toBe(evtValueOf(first + i));
            expect(Number(view.getBigInt64(at + 12 * i + 4, true))).toBe(evtUtcOf(first + i));
          }
        }
      }
    }
    expect(nextFirstSeq.size).toBe(2);
  });

  it("end with a partly filled sector after a flush, its unused bytes zero", () => {
    const device = Device.create({ board, storageDir: dir });
    device.configureStream(TSD.source, TSD.sensor, { type: "tsd", sampleRateMs: TSD.rateMs });
    const perSector = tsdPerSector(board);
    const written = perSector + 4;
    for (let seq = 0; seq < written; seq++) {
      device.writeTsd(TSD.source, TSD.sensor, valueOf(seq), UTC_BASE_MS + seq * TSD.rateMs);
    }
    device.flushAllToDisk();
    const clock = new TickClock(board, 7_000_000);
    let writtenAtMs = -1;
    const flushTicks = flushDrain(
      device,
      () => {
        clock.tick(device);
        if (writtenAtMs < 0 && imxFilesUnder(dir).length > 0) writtenAtMs = clock.nowMs;
      },
      10,
    );
    expect(flushTicks).toBeGreaterThanOrEqual(0);
    const files = imxFilesUnder(dir);
    expect(files).toHaveLength(1);
    expect(filesUnder(dir, ".tmp")).toEqual([]);
    const file = files[0] as string;
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, file)));
    const header = headerOf(bytes);
    expect(header.sectorCount).toBe(2);
    expect(header.recordCount).toBe(written);
    expect(header.firstSeq).toBe(0);
    expect(header.createdMs).toBe(writtenAtMs);
    expect(bytes.byteLength).toBe(IMX_HEADER_BYTES + 2 * sectorBytes);
    expect(header.crc32).toBe(crcExpected(bytes));
    expect(imxCheck(bytes)).toBeNull();
    expect(imxRecordsRead(bytes, header).map((r) => r.word)).toEqual(
      Array.from({ length: written }, (_, k) => valueOf(k)),
    );
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const last = IMX_HEADER_BYTES + sectorBytes;
    expect(Number(view.getBigInt64(last, true))).toBe(UTC_BASE_MS + perSector * TSD.rateMs);
    for (let i = 0; i < 4; i++) expect(view.getUint32(last + 8 + 4 * i, true)).toBe(valueOf(perSector + i));
    expect([...bytes.subarray(last + 8 + 4 * 4)].every((b) => b === 0)).toBe(true);
    expect(file).toMatch(new RegExp(`^history/${imxBucket(TSD.source, TSD.sensor, 0)}/7_1001_0{20}\\.imx$`));
  });
});
