// The `.imx` file format on the host (SPEC.md section 6): names and directories of the disk tier,
// the 64-byte header, its CRC, the sector images it carries and the records in them.
//
// Written from SPEC.md, not from the core's code and not through the wasm module, so that it can
// judge what the core wrote (the simulator's and the tests' oracle), as littlefs keeps a reader of
// its own format beside the driver. Its constants are checked against the core's (generated from
// assembly/abi.ts) in test/format/agreement.test.ts. Pure code: no file system, no policy.
//
//   history/<bucket>/<source>_<sensor>_<firstSeq, 20 digits>.imx
//
//   0      4    6      8       12      16 17 18     20      24      28        36     40       48        56       60    64
//   | magic|ver |hdrB  | source| sensor|rt|dt|sectB | rateMs| sectors| firstSeq| count| ackedSeq| createdMs| payload| crc |
//   | u32  |u16 |u16   | u32   | u32   |u8|u8|u16   | u32   | u32    | u64     | u32  | u64     | u64      | u32    | u32 |
//
// Then `sectors` sector images of `sectorBytes` each, exactly as in RAM (SPEC.md section 3.2):
//
//   TSD sector:  0 firstUtcMs i64 | 8 value0 u32 | 12 value1 u32 | …          (S − 8) / 4 records
//   EVT sector:  0 value0 u32 | 4 utcMs0 i64 | 12 value1 u32 | …  | padding    S / 12 records

import { crc32 } from "node:zlib";

// ---- Names -------------------------------------------------------------------------------------------

/** The disk tier's root directory, relative to the storage root. */
export const HISTORY_DIR = "history";
/** Bucket directories under history/: `0` … `9`. */
export const HISTORY_BUCKETS = 10;
/** Where boot recovery and the read path move a file that failed validation. */
export const CORRUPTED_DIR = "corrupted";
export const IMX_SUFFIX = ".imx";
/** An atomic write writes `<name>.tmp` first and renames it to `<name>`. */
export const TMP_SUFFIX = ".tmp";
/** firstSeq is zero-padded to this many decimal digits, so names sort in sequence order. */
export const IMX_SEQ_DIGITS = 20;

const U64_MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;
const MIX_SENSOR = 0x632be59bd9b4e019n;
const MIX_FINAL = 0xff51afd7ed558ccdn;

/** The bucket (0–9) of a file: a 64-bit mix of source, sensor and firstSeq (SPEC.md 6.1). */
export function imxBucket(source: number, sensor: number, firstSeq: number | bigint): number {
  let h = (BigInt(source) * GOLDEN) & U64_MASK;
  h ^= (BigInt(sensor) + MIX_SENSOR + ((h << 6n) & U64_MASK) + (h >> 2n)) & U64_MASK;
  h ^= (BigInt(firstSeq) + GOLDEN + ((h << 6n) & U64_MASK) + (h >> 2n)) & U64_MASK;
  h ^= h >> 33n;
  h = (h * MIX_FINAL) & U64_MASK;
  h ^= h >> 33n;
  return Number(h % BigInt(HISTORY_BUCKETS));
}

/** `history/<bucket>/<source>_<sensor>_<firstSeq, 20 digits>.imx`: where the core keeps that file. */
export function imxPathFormat(source: number, sensor: number, firstSeq: number | bigint): string {
  const seq = BigInt(firstSeq).toString().padStart(IMX_SEQ_DIGITS, "0");
  return `${HISTORY_DIR}/${imxBucket(source, sensor, firstSeq)}/${source}_${sensor}_${seq}${IMX_SUFFIX}`;
}

export interface ImxName {
  bucket: number;
  source: number;
  sensor: number;
  firstSeq: number;
}

const IMX_NAME = /^history\/(\d)\/(\d+)_(\d+)_(\d{20})\.imx$/;

/**
 * The fields of a path shaped like `history/<digit>/<digits>_<digits>_<20 digits>.imx`, or null.
 * The shape is not proof the core would look there: compare with `imxPathFormat` for that.
 */
export function imxPathParse(path: string): ImxName | null {
  const match = IMX_NAME.exec(path);
  if (!match) return null;
  return { bucket: Number(match[1]), source: Number(match[2]), sensor: Number(match[3]), firstSeq: Number(match[4]) };
}

/** Whether `path` is exactly the name the core gives a file of (source, sensor, firstSeq). */
export function imxPathIsCanonical(path: string): boolean {
  const name = imxPathParse(path);
  return name !== null && imxPathFormat(name.source, name.sensor, name.firstSeq) === path;
}

/** The temp file an atomic write of `path` goes through. */
export function tmpPathOf(path: string): string {
  return path + TMP_SUFFIX;
}

/** Where a file refused at `path` is moved: `corrupted/<path with / replaced by _>` (`.1`, `.2`… when taken). */
export function corruptedPathOf(path: string, attempt = 0): string {
  const base = `${CORRUPTED_DIR}/${path.replace(/\//g, "_")}`;
  return attempt === 0 ? base : `${base}.${attempt}`;
}

// ---- Record types and sector images ------------------------------------------------------------------

export const RECORD_TYPE_TSD = 1;
export const RECORD_TYPE_EVT = 2;
export const DATA_TYPE_UINT32 = 0;
export const DATA_TYPE_INT32 = 1;
export const DATA_TYPE_FLOAT32 = 2;

/** A TSD sector opens with the UTC ms of its first record (i64), then one u32 value per record. */
export const TSD_SECTOR_HEADER_BYTES = 8;
export const TSD_RECORD_BYTES = 4;
/** An EVT record is its u32 value and its own UTC ms (i64), packed; the sector's tail is padding. */
export const EVT_RECORD_BYTES = 12;
export const EVT_UTC_OFFSET = 4;

/** A record type by its name or by its header code (RECORD_TYPE_TSD, RECORD_TYPE_EVT). */
export type RecordTypeOf = "tsd" | "evt" | number;

/** Records one sector of `sectorBytes` holds: (S − 8) / 4 for TSD, S / 12 for EVT; 0 for an unknown type. */
export function recordsPerSector(recordType: RecordTypeOf, sectorBytes: number): number {
  if (recordType === "tsd" || recordType === RECORD_TYPE_TSD) {
    return Math.max(0, Math.floor((sectorBytes - TSD_SECTOR_HEADER_BYTES) / TSD_RECORD_BYTES));
  }
  if (recordType === "evt" || recordType === RECORD_TYPE_EVT) return Math.floor(sectorBytes / EVT_RECORD_BYTES);
  return 0;
}

// ---- Header ------------------------------------------------------------------------------------------

export const IMX_MAGIC = 0x31584d49; // "IMX1" little-endian
export const IMX_FORMAT_VERSION = 1;
export const IMX_HEADER_BYTES = 64;

/** Byte offsets of the header fields. */
export const IMX_OFFSET = {
  magic: 0,
  version: 4,
  headerBytes: 6,
  source: 8,
  sensor: 12,
  recordType: 16,
  dataType: 17,
  sectorBytes: 18,
  sampleRateMs: 20,
  sectorCount: 24,
  firstSeq: 28,
  recordCount: 36,
  ackedSeq: 40,
  createdMs: 48,
  payloadBytes: 56,
  crc32: 60,
} as const;

/** Sequence numbers cross the wasm boundary as f64, so the core keeps them at most 2^53 − 1. */
export const SEQ_MAX = Number.MAX_SAFE_INTEGER;

/** Bytes of a file of `sectorCount` sector images. */
export function imxFileBytes(sectorCount: number, sectorBytes: number): number {
  return IMX_HEADER_BYTES + sectorCount * sectorBytes;
}

export interface ImxHeader {
  magic: number;
  version: number;
  headerBytes: number;
  source: number;
  sensor: number;
  recordType: number;
  dataType: number;
  sectorBytes: number;
  sampleRateMs: number;
  sectorCount: number;
  /** u64 fields as numbers: exact up to 2^53, which the core never passes (SEQ_MAX). */
  firstSeq: number;
  recordCount: number;
  ackedSeq: number;
  createdMs: number;
  payloadBytes: number;
  crc32: number;
}

function viewOf(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** The header of an `.imx` image, or null when it is shorter than a header or its magic is not `IMX1`. */
export function imxHeaderRead(data: Uint8Array): ImxHeader | null {
  if (data.byteLength < IMX_HEADER_BYTES) return null;
  const view = viewOf(data);
  const o = IMX_OFFSET;
  if (view.getUint32(o.magic, true) !== IMX_MAGIC) return null;
  return {
    magic: IMX_MAGIC,
    version: view.getUint16(o.version, true),
    headerBytes: view.getUint16(o.headerBytes, true),
    source: view.getUint32(o.source, true),
    sensor: view.getUint32(o.sensor, true),
    recordType: view.getUint8(o.recordType),
    dataType: view.getUint8(o.dataType),
    sectorBytes: view.getUint16(o.sectorBytes, true),
    sampleRateMs: view.getUint32(o.sampleRateMs, true),
    sectorCount: view.getUint32(o.sectorCount, true),
    firstSeq: Number(view.getBigUint64(o.firstSeq, true)),
    recordCount: view.getUint32(o.recordCount, true),
    ackedSeq: Number(view.getBigUint64(o.ackedSeq, true)),
    createdMs: Number(view.getBigUint64(o.createdMs, true)),
    payloadBytes: view.getUint32(o.payloadBytes, true),
    crc32: view.getUint32(o.crc32, true),
  };
}

/** The CRC an `.imx` image should carry: CRC-32 of header bytes 0–59, continued over the payload. */
export function imxCrc(data: Uint8Array): number {
  const head = crc32(data.subarray(0, IMX_OFFSET.crc32));
  return crc32(data.subarray(IMX_HEADER_BYTES), head) >>> 0;
}

/** Rewrites the CRC field of an `.imx` image in place so that it validates (corruption tests). */
export function imxCrcFix(data: Uint8Array): void {
  viewOf(data).setUint32(IMX_OFFSET.crc32, imxCrc(data), true);
}

/** What a writer chooses; magic, version, header size, sector count, payload size and CRC follow. */
export interface ImxFileFields {
  source: number;
  sensor: number;
  recordType: number;
  dataType: number;
  sectorBytes: number;
  sampleRateMs: number;
  firstSeq: number;
  recordCount: number;
  ackedSeq: number;
  createdMs: number;
}

/**
 * A complete `.imx` image: the header for `fields` and `payload` (whole sector images, so its
 * length is a multiple of sectorBytes), with its CRC. The inverse of imxHeaderRead.
 */
export function imxFileEncode(fields: ImxFileFields, payload: Uint8Array): Uint8Array {
  if (fields.sectorBytes <= 0 || payload.byteLength % fields.sectorBytes !== 0) {
    throw new RangeError(`payload of ${payload.byteLength} bytes is not whole ${fields.sectorBytes}-byte sectors`);
  }
  const data = new Uint8Array(IMX_HEADER_BYTES + payload.byteLength);
  data.set(payload, IMX_HEADER_BYTES);
  const view = viewOf(data);
  const o = IMX_OFFSET;
  view.setUint32(o.magic, IMX_MAGIC, true);
  view.setUint16(o.version, IMX_FORMAT_VERSION, true);
  view.setUint16(o.headerBytes, IMX_HEADER_BYTES, true);
  view.setUint32(o.source, fields.source, true);
  view.setUint32(o.sensor, fields.sensor, true);
  view.setUint8(o.recordType, fields.recordType);
  view.setUint8(o.dataType, fields.dataType);
  view.setUint16(o.sectorBytes, fields.sectorBytes, true);
  view.setUint32(o.sampleRateMs, fields.sampleRateMs, true);
  view.setUint32(o.sectorCount, payload.byteLength / fields.sectorBytes, true);
  view.setBigUint64(o.firstSeq, BigInt(fields.firstSeq), true);
  view.setUint32(o.recordCount, fields.recordCount, true);
  view.setBigUint64(o.ackedSeq, BigInt(fields.ackedSeq), true);
  view.setBigUint64(o.createdMs, BigInt(Math.max(0, Math.trunc(fields.createdMs))), true);
  view.setUint32(o.payloadBytes, payload.byteLength, true);
  imxCrcFix(data);
  return data;
}

// ---- Validation --------------------------------------------------------------------------------------

/** Why an image is not a valid `.imx` file, named like the core's refusal codes (SPEC.md 8). */
export type ImxFault = "E_IMX_SIZE" | "E_IMX_MAGIC" | "E_IMX_VERSION" | "E_IMX_GEOMETRY" | "E_IMX_CRC" | "E_IMX_COUNTS";

/** The geometry of the board that is to read the file; without it the header's own is taken. */
export interface ImxGeometry {
  sectorBytes: number;
  sectorsPerFileMax: number;
}

function typesValid(recordType: number, dataType: number, sampleRateMs: number): boolean {
  if (dataType < DATA_TYPE_UINT32 || dataType > DATA_TYPE_FLOAT32) return false;
  if (recordType === RECORD_TYPE_TSD) return sampleRateMs > 0;
  if (recordType === RECORD_TYPE_EVT) return sampleRateMs === 0;
  return false;
}

/**
 * The first rule of SPEC.md 6.4 that `data` breaks, in the order boot recovery checks them
 * (size of a header, magic, version and header size, geometry, payload and file size, CRC,
 * types, record count filling every sector but the last, sequence bounds); null for a valid file.
 */
export function imxCheck(data: Uint8Array, geometry?: ImxGeometry): ImxFault | null {
  if (data.byteLength < IMX_HEADER_BYTES) return "E_IMX_SIZE";
  const header = imxHeaderRead(data);
  if (header === null) return "E_IMX_MAGIC";
  if (header.version !== IMX_FORMAT_VERSION || header.headerBytes !== IMX_HEADER_BYTES) return "E_IMX_VERSION";
  const sectorBytes = geometry?.sectorBytes ?? header.sectorBytes;
  if (header.sectorBytes !== sectorBytes) return "E_IMX_GEOMETRY";
  const sectors = header.sectorCount;
  if (sectors === 0 || (geometry !== undefined && sectors > geometry.sectorsPerFileMax)) return "E_IMX_GEOMETRY";
  const payloadBytes = sectors * sectorBytes;
  if (header.payloadBytes !== payloadBytes || data.byteLength !== IMX_HEADER_BYTES + payloadBytes) return "E_IMX_SIZE";
  if (imxCrc(data) !== header.crc32) return "E_IMX_CRC";
  if (!typesValid(header.recordType, header.dataType, header.sampleRateMs)) return "E_IMX_COUNTS";
  const perSector = recordsPerSector(header.recordType, sectorBytes);
  const records = header.recordCount;
  if (records === 0 || records > sectors * perSector || records <= (sectors - 1) * perSector) return "E_IMX_COUNTS";
  if (header.firstSeq > SEQ_MAX - records || header.ackedSeq > header.firstSeq + records) return "E_IMX_COUNTS";
  return null;
}

/**
 * Whether `data` is a complete, valid `.imx` file (imxCheck passes) whose header names the stream
 * and first sequence number `name` gives (parsed from its path).
 */
export function imxValid(data: Uint8Array, name: Pick<ImxName, "source" | "sensor" | "firstSeq">): boolean {
  if (imxCheck(data) !== null) return false;
  const header = imxHeaderRead(data);
  return (
    header !== null &&
    header.source === name.source &&
    header.sensor === name.sensor &&
    header.firstSeq === name.firstSeq
  );
}

// ---- Records -----------------------------------------------------------------------------------------

export interface ImxRecord {
  seq: number;
  utcMs: number;
  /** The raw 32-bit value word; see imxValueOf for the number it stands for. */
  word: number;
}

/** Every record of a file (erased ones included: the header's ackedSeq says which are). */
export function imxRecordsRead(data: Uint8Array, header: ImxHeader): ImxRecord[] {
  const view = viewOf(data);
  const perSector = recordsPerSector(header.recordType, header.sectorBytes);
  const records: ImxRecord[] = [];
  for (let k = 0; k < header.recordCount && perSector > 0; k++) {
    const sector = IMX_HEADER_BYTES + Math.floor(k / perSector) * header.sectorBytes;
    const i = k % perSector;
    if (header.recordType === RECORD_TYPE_TSD) {
      const firstUtcMs = Number(view.getBigInt64(sector, true));
      const word = view.getUint32(sector + TSD_SECTOR_HEADER_BYTES + TSD_RECORD_BYTES * i, true);
      records.push({ seq: header.firstSeq + k, utcMs: firstUtcMs + i * header.sampleRateMs, word });
    } else {
      const at = sector + EVT_RECORD_BYTES * i;
      records.push({
        seq: header.firstSeq + k,
        utcMs: Number(view.getBigInt64(at + EVT_UTC_OFFSET, true)),
        word: view.getUint32(at, true),
      });
    }
  }
  return records;
}

const wordF32 = new Float32Array(1);
const wordU32 = new Uint32Array(wordF32.buffer);

/** The number a value word stands for under `dataType` (uint32, int32 or float32). */
export function imxValueOf(word: number, dataType: number): number {
  if (dataType === DATA_TYPE_INT32) return word | 0;
  if (dataType === DATA_TYPE_FLOAT32) {
    wordU32[0] = word;
    return wordF32[0] ?? 0;
  }
  return word >>> 0;
}
