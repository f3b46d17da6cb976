// The host's reader of the on-disk format (host/format), checked against SPEC.md section 6 alone,
// with no core involved: names and buckets, the header's fields and CRC, the records a sector holds,
// the validation order of boot recovery, and the positions file. test/format/agreement.test.ts
// then shows that the core writes and reads exactly this format.

import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  corruptedPathOf,
  EVT_RECORD_BYTES,
  IMX_HEADER_BYTES,
  IMX_OFFSET,
  imxBucket,
  imxCheck,
  imxCrc,
  imxCrcFix,
  imxFileBytes,
  type ImxFileFields,
  imxFileEncode,
  imxHeaderRead,
  imxPathFormat,
  imxPathIsCanonical,
  imxPathParse,
  imxRecordsRead,
  imxValid,
  imxValueOf,
  RECORD_TYPE_EVT,
  RECORD_TYPE_TSD,
  recordsPerSector,
  tmpPathOf,
} from "../../host/format/imx.js";
import {
  POSITIONS_PATH,
  type PositionRecord,
  positionsEncode,
  positionsFileBytes,
  positionsRead,
  positionsValid,
} from "../../host/format/positions.js";

/** A TSD file of `records` values 1000 + k, timed 5000 + k × 10, in `sectorBytes`-byte sectors. */
function tsdFile(sectorBytes: number, records: number, firstSeq = 0): { fields: ImxFileFields; data: Uint8Array } {
  const perSector = recordsPerSector("tsd", sectorBytes);
  const sectors = Math.ceil(records / perSector);
  const payload = new Uint8Array(sectors * sectorBytes);
  const view = new DataView(payload.buffer);
  for (let k = 0; k < records; k++) {
    const sector = Math.floor(k / perSector) * sectorBytes;
    if (k % perSector === 0) view.setBigInt64(sector, BigInt(5000 + k * 10), true);
    view.setUint32(sector + 8 + 4 * (k % perSector), 1000 + k, true);
  }
  const fields: ImxFileFields = {
    source: 4_000_000_000,
    sensor: 7,
    recordType: RECORD_TYPE_TSD,
    dataType: 0,
    sectorBytes,
    sampleRateMs: 10,
    firstSeq,
    recordCount: records,
    ackedSeq: firstSeq,
    createdMs: 1_700_000_000_123,
  };
  return { fields, data: imxFileEncode(fields, payload) };
}

describe("names", () => {
  it("are history/<bucket>/<source>_<sensor>_<firstSeq in 20 digits>.imx, parsed back", () => {
    const path = imxPathFormat(4_294_967_295, 0, 123);
    expect(path).toMatch(/^history\/\d\/4294967295_0_00000000000000000123\.imx$/);
    expect(imxPathParse(path)).toEqual({
      bucket: imxBucket(4_294_967_295, 0, 123),
      source: 4_294_967_295,
      sensor: 0,
      firstSeq: 123,
    });
    expect(imxPathIsCanonical(path)).toBe(true);
    expect(imxPathFormat(1, 2, 2n ** 53n - 1n)).toMatch(/_00009007199254740991\.imx$/);
  });

  it("spread over all ten buckets, the same for numbers and bigints", () => {
    const seen = new Set<number>();
    for (let seq = 0; seq < 200; seq++) {
      const bucket = imxBucket(7, 1001, seq);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(10);
      expect(imxBucket(7, 1001, BigInt(seq))).toBe(bucket);
      seen.add(bucket);
    }
    expect(seen.size).toBe(10);
  });

  it("are canonical only as the core spells them: right bucket, no leading zeros", () => {
    const path = imxPathFormat(7, 1001, 42);
    const name = imxPathParse(path);
    const wrongBucket = path.replace(/^history\/\d/, `history/${((name?.bucket ?? 0) + 1) % 10}`);
    expect(imxPathParse(wrongBucket)).not.toBeNull();
    expect(imxPathIsCanonical(wrongBucket)).toBe(false);
    expect(imxPathIsCanonical(path.replace("/7_", "/07_"))).toBe(false);
    for (const bad of [
      "history/1/7_1001_42.imx",
      "history/12/7_1_00000000000000000000.imx",
      "x/1/7_1_00000000000000000000.imx",
    ]) {
      expect(imxPathParse(bad), bad).toBeNull();
    }
  });

  it("of temp and quarantined files follow SPEC.md 6.1 and 6.4", () => {
    expect(tmpPathOf("history/3/1_2_00000000000000000000.imx")).toBe("history/3/1_2_00000000000000000000.imx.tmp");
    expect(corruptedPathOf("history/3/a.imx")).toBe("corrupted/history_3_a.imx");
    expect(corruptedPathOf("history/3/a.imx", 2)).toBe("corrupted/history_3_a.imx.2");
    expect(POSITIONS_PATH).toBe("history/positions.imxp");
  });
});

describe("records per sector", () => {
  it("are (S − 8) / 4 for TSD and S / 12 for EVT on every sector size a board may have", () => {
    expect([recordsPerSector("tsd", 32), recordsPerSector("evt", 32)]).toEqual([6, 2]);
    expect([recordsPerSector("tsd", 16), recordsPerSector("evt", 16)]).toEqual([2, 1]);
    for (let s = 16; s <= 4096; s += 4) {
      expect(recordsPerSector(RECORD_TYPE_TSD, s)).toBe((s - 8) / 4);
      expect(recordsPerSector("tsd", s)).toBe((s - 8) / 4);
      expect(recordsPerSector(RECORD_TYPE_EVT, s)).toBe(Math.floor(s / EVT_RECORD_BYTES));
      expect(recordsPerSector("evt", s)).toBe(Math.floor(s / 12));
    }
    expect(recordsPerSector(3, 32)).toBe(0);
  });
});

describe("header", () => {
  it("round-trips every field, with the CRC of bytes 0–59 continued over the payload", () => {
    const { fields, data } = tsdFile(32, 14, 600);
    expect(data.byteLength).toBe(imxFileBytes(3, 32));
    const header = imxHeaderRead(data);
    expect(header).toEqual({
      ...fields,
      magic: 0x31584d49,
      version: 1,
      headerBytes: IMX_HEADER_BYTES,
      sectorCount: 3,
      payloadBytes: 96,
      crc32: crc32(data.subarray(64), crc32(data.subarray(0, 60))),
    });
    expect(String.fromCharCode(...data.subarray(0, 4))).toBe("IMX1");
    expect(imxCrc(data)).toBe(header?.crc32);
    expect(imxCheck(data, { sectorBytes: 32, sectorsPerFileMax: 3 })).toBeNull();
    expect(imxValid(data, { source: 4_000_000_000, sensor: 7, firstSeq: 600 })).toBe(true);
    expect(imxValid(data, { source: 4_000_000_000, sensor: 7, firstSeq: 601 })).toBe(false);
  });

  it("is not read from fewer than 64 bytes or without the magic", () => {
    const { data } = tsdFile(32, 6);
    expect(imxHeaderRead(data.subarray(0, 63))).toBeNull();
    const other = data.slice();
    other[0] = 0;
    expect(imxHeaderRead(other)).toBeNull();
  });

  it("gives the records back with their times and values", () => {
    const { data } = tsdFile(16, 5, 10);
    const header = imxHeaderRead(data);
    if (header === null) throw new Error("no header");
    expect(imxRecordsRead(data, header)).toEqual(
      Array.from({ length: 5 }, (_, k) => ({
        seq: 10 + k,
        utcMs: 5000 + Math.floor(k / 2) * 20 + (k % 2) * 10,
        word: 1000 + k,
      })),
    );
    expect(imxValueOf(0xffffffff, 1)).toBe(-1);
    expect(imxValueOf(0x3fc00000, 2)).toBe(1.5);
    expect(imxValueOf(0xffffffff, 0)).toBe(4294967295);
  });
});

describe("validation", () => {
  const geometry = { sectorBytes: 32, sectorsPerFileMax: 4 };
  const changed = (change: (view: DataView, data: Uint8Array) => void, crcFix = true): Uint8Array => {
    const data = tsdFile(32, 14).data.slice();
    change(new DataView(data.buffer), data);
    if (crcFix) imxCrcFix(data);
    return data;
  };

  it("names the first rule broken, in the order boot recovery checks them", () => {
    expect(imxCheck(new Uint8Array(63), geometry)).toBe("E_IMX_SIZE");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.magic, 0, true)),
        geometry,
      ),
    ).toBe("E_IMX_MAGIC");
    expect(
      imxCheck(
        changed((v) => v.setUint16(IMX_OFFSET.version, 2, true)),
        geometry,
      ),
    ).toBe("E_IMX_VERSION");
    expect(
      imxCheck(
        changed((v) => v.setUint16(IMX_OFFSET.headerBytes, 60, true)),
        geometry,
      ),
    ).toBe("E_IMX_VERSION");
    expect(
      imxCheck(
        changed((v) => v.setUint16(IMX_OFFSET.sectorBytes, 64, true)),
        geometry,
      ),
    ).toBe("E_IMX_GEOMETRY");
    expect(
      imxCheck(
        changed(() => undefined),
        { sectorBytes: 32, sectorsPerFileMax: 2 },
      ),
    ).toBe("E_IMX_GEOMETRY");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.sectorCount, 0, true)),
        geometry,
      ),
    ).toBe("E_IMX_GEOMETRY");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.payloadBytes, 64, true)),
        geometry,
      ),
    ).toBe("E_IMX_SIZE");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.sectorCount, 2, true)),
        geometry,
      ),
    ).toBe("E_IMX_SIZE");
    expect(
      imxCheck(
        changed((_, d) => (d[70] = (d[70] ?? 0) ^ 1), false),
        geometry,
      ),
    ).toBe("E_IMX_CRC");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.sampleRateMs, 0, true)),
        geometry,
      ),
    ).toBe("E_IMX_COUNTS");
    expect(
      imxCheck(
        changed((v) => v.setUint8(IMX_OFFSET.dataType, 3)),
        geometry,
      ),
    ).toBe("E_IMX_COUNTS");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.recordCount, 12, true)),
        geometry,
      ),
    ).toBe("E_IMX_COUNTS");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.recordCount, 19, true)),
        geometry,
      ),
    ).toBe("E_IMX_COUNTS");
    expect(
      imxCheck(
        changed((v) => v.setBigUint64(IMX_OFFSET.ackedSeq, 15n, true)),
        geometry,
      ),
    ).toBe("E_IMX_COUNTS");
    expect(
      imxCheck(
        changed((v) => v.setBigUint64(IMX_OFFSET.firstSeq, 2n ** 53n, true)),
        geometry,
      ),
    ).toBe("E_IMX_COUNTS");
    expect(
      imxCheck(
        changed((v) => v.setUint32(IMX_OFFSET.recordCount, 13, true)),
        geometry,
      ),
    ).toBeNull();
  });

  it("refuses to encode a payload that is not whole sectors", () => {
    expect(() => imxFileEncode(tsdFile(32, 6).fields, new Uint8Array(33))).toThrow(RangeError);
  });
});

describe("positions file", () => {
  const records: PositionRecord[] = [
    {
      source: 1,
      sensor: 2,
      ackedSeq: 5,
      nextSeq: 9,
      recordType: 1,
      dataType: 2,
      sampleRateMs: 100,
      seqReserved: 1 << 20,
    },
    {
      source: 4_000_000_000,
      sensor: 3,
      ackedSeq: 0,
      nextSeq: 0,
      recordType: 2,
      dataType: 0,
      sampleRateMs: 0,
      seqReserved: 0,
    },
  ];

  it("round-trips its records behind a 16-byte header with a CRC", () => {
    const data = positionsEncode(records);
    expect(data.byteLength).toBe(positionsFileBytes(2));
    expect(data.byteLength).toBe(16 + 2 * 40);
    expect(String.fromCharCode(...data.subarray(0, 4))).toBe("IMXP");
    expect(positionsRead(data)).toEqual(records);
    expect(positionsRead(positionsEncode([]))).toEqual([]);
  });

  it("fails validation on any flipped bit and on a wrong length", () => {
    const data = positionsEncode(records);
    for (let bit = 0; bit < data.byteLength * 8; bit++) {
      const damaged = data.slice();
      damaged[bit >> 3] = (damaged[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      expect(positionsValid(damaged), `bit ${bit}`).toBe(false);
    }
    expect(positionsValid(data.subarray(0, data.byteLength - 1))).toBe(false);
    expect(positionsRead(data.subarray(0, 15))).toBeNull();
  });
});
