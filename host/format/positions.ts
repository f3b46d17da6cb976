// The positions file, history/positions.imxp (SPEC.md 6.3): every configured stream's ACK position,
// next sequence number and sequence reservation. Written from SPEC.md, independently of the core,
// like ./imx.ts; pure code.
//
//   Header, 16 bytes:  0 magic u32 "IMXP" | 4 version u16 | 6 recordBytes u16 | 8 count u32 | 12 crc32 u32
//   (CRC-32 of header bytes 0–11, continued over the records), then `count` records of 40 bytes:
//
//   0      4      8         16       24 25 26   28      32           40
//   | source| sensor| ackedSeq| nextSeq|rt|dt|  0 | rateMs| seqReserved |
//   | u32   | u32   | u64     | u64    |u8|u8|u16 | u32   | u64         |

import { crc32 } from "node:zlib";
import { HISTORY_DIR } from "./imx.js";

export const POSITIONS_PATH = `${HISTORY_DIR}/positions.imxp`;
export const POSITIONS_MAGIC = 0x50584d49; // "IMXP" little-endian
export const POSITIONS_FORMAT_VERSION = 1;
export const POSITIONS_HEADER_BYTES = 16;
export const POSITION_RECORD_BYTES = 40;
/** The count field's limit: streams are 16-bit indexes. */
export const POSITIONS_COUNT_MAX = 0xffff;

export const POSITIONS_OFFSET = { magic: 0, version: 4, recordBytes: 6, count: 8, crc32: 12 } as const;
export const POSITION_OFFSET = {
  source: 0,
  sensor: 4,
  ackedSeq: 8,
  nextSeq: 16,
  recordType: 24,
  dataType: 25,
  sampleRateMs: 28,
  seqReserved: 32,
} as const;

/** Bytes of a positions file of `count` streams. */
export function positionsFileBytes(count: number): number {
  return POSITIONS_HEADER_BYTES + count * POSITION_RECORD_BYTES;
}

export interface PositionRecord {
  source: number;
  sensor: number;
  /** u64 fields as numbers: exact up to 2^53, which the core never passes. */
  ackedSeq: number;
  nextSeq: number;
  recordType: number;
  dataType: number;
  sampleRateMs: number;
  seqReserved: number;
}

export interface PositionsHeader {
  version: number;
  recordBytes: number;
  count: number;
  crc32: number;
}

function viewOf(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

/** The header of a positions image, or null when it is shorter than a header or its magic is not `IMXP`. */
export function positionsHeaderRead(data: Uint8Array): PositionsHeader | null {
  if (data.byteLength < POSITIONS_HEADER_BYTES) return null;
  const view = viewOf(data);
  if (view.getUint32(POSITIONS_OFFSET.magic, true) !== POSITIONS_MAGIC) return null;
  return {
    version: view.getUint16(POSITIONS_OFFSET.version, true),
    recordBytes: view.getUint16(POSITIONS_OFFSET.recordBytes, true),
    count: view.getUint32(POSITIONS_OFFSET.count, true),
    crc32: view.getUint32(POSITIONS_OFFSET.crc32, true),
  };
}

/** Record `index` of a positions image; the caller makes sure it lies inside `data`. */
export function positionRecordRead(data: Uint8Array, index: number): PositionRecord {
  return streamPositionRead(viewOf(data), POSITIONS_HEADER_BYTES + index * POSITION_RECORD_BYTES, POSITION_OFFSET);
}

/** The offsets of a stream's position fields, as a positions record and an ACK record both lay them out. */
interface StreamPositionOffsets {
  source: number;
  sensor: number;
  ackedSeq: number;
  nextSeq: number;
  recordType: number;
  dataType: number;
  sampleRateMs: number;
  seqReserved: number;
}

/** A stream's position fields at `at`, by the layout `o` (a positions record or an ACK record). */
function streamPositionRead(view: DataView, at: number, o: StreamPositionOffsets): PositionRecord {
  return {
    source: view.getUint32(at + o.source, true),
    sensor: view.getUint32(at + o.sensor, true),
    ackedSeq: Number(view.getBigUint64(at + o.ackedSeq, true)),
    nextSeq: Number(view.getBigUint64(at + o.nextSeq, true)),
    recordType: view.getUint8(at + o.recordType),
    dataType: view.getUint8(at + o.dataType),
    sampleRateMs: view.getUint32(at + o.sampleRateMs, true),
    seqReserved: Number(view.getBigUint64(at + o.seqReserved, true)),
  };
}

/** The CRC a positions image should carry: header bytes 0–11, continued over the records. */
export function positionsCrc(data: Uint8Array): number {
  const head = crc32(data.subarray(0, POSITIONS_OFFSET.crc32));
  return crc32(data.subarray(POSITIONS_HEADER_BYTES), head) >>> 0;
}

/**
 * Whether `data` is a valid positions file as the core checks it (magic, version, record size,
 * count and length, CRC; SPEC.md 6.3). Record contents (types, acked ≤ next) are not judged here.
 */
export function positionsValid(data: Uint8Array): boolean {
  const header = positionsHeaderRead(data);
  if (header === null) return false;
  if (header.version !== POSITIONS_FORMAT_VERSION || header.recordBytes !== POSITION_RECORD_BYTES) return false;
  if (header.count > POSITIONS_COUNT_MAX || data.byteLength !== positionsFileBytes(header.count)) return false;
  return positionsCrc(data) === header.crc32;
}

/** The records of a valid positions file, or null when it fails positionsValid. */
export function positionsRead(data: Uint8Array): PositionRecord[] | null {
  if (!positionsValid(data)) return null;
  const count = positionsHeaderRead(data)?.count ?? 0;
  return Array.from({ length: count }, (_, i) => positionRecordRead(data, i));
}

/** A complete positions image for `records`, in stream index order, with its CRC. */
export function positionsEncode(records: readonly PositionRecord[]): Uint8Array {
  const data = new Uint8Array(positionsFileBytes(records.length));
  const view = viewOf(data);
  view.setUint32(POSITIONS_OFFSET.magic, POSITIONS_MAGIC, true);
  view.setUint16(POSITIONS_OFFSET.version, POSITIONS_FORMAT_VERSION, true);
  view.setUint16(POSITIONS_OFFSET.recordBytes, POSITION_RECORD_BYTES, true);
  view.setUint32(POSITIONS_OFFSET.count, records.length, true);
  const o = POSITION_OFFSET;
  records.forEach((r, i) => {
    const at = POSITIONS_HEADER_BYTES + i * POSITION_RECORD_BYTES;
    view.setUint32(at + o.source, r.source, true);
    view.setUint32(at + o.sensor, r.sensor, true);
    view.setBigUint64(at + o.ackedSeq, BigInt(r.ackedSeq), true);
    view.setBigUint64(at + o.nextSeq, BigInt(r.nextSeq), true);
    view.setUint8(at + o.recordType, r.recordType);
    view.setUint8(at + o.dataType, r.dataType);
    view.setUint32(at + o.sampleRateMs, r.sampleRateMs, true);
    view.setBigUint64(at + o.seqReserved, BigInt(r.seqReserved), true);
  });
  view.setUint32(POSITIONS_OFFSET.crc32, positionsCrc(data), true);
  return data;
}

// ---- The ACK log, history/acks.imxa (SPEC.md 6.5) ------------------------------------------------
//
//   After a compaction it starts with a checkpoint: a positions image (the layout above) of every
//   stream. Then fixed records of 56 bytes, appended in the order they were written:
//    0 magic u32 "IMXA" | 4 version u8 | 5 recordType u8 | 6 dataType u8 | 7 0
//    8 source u32 | 12 sensor u32 | 16 sampleRateMs u32 | 20 recordSeq u32
//   24 ackedSeq u64 | 32 nextSeq u64 | 40 seqReserved u64 | 48 0 u32 | 52 crc32 u32 (of bytes 0–51)

export const ACK_LOG_PATH = `${HISTORY_DIR}/acks.imxa`;
export const ACK_LOG_MAGIC = 0x41584d49; // "IMXA" little-endian
export const ACK_LOG_FORMAT_VERSION = 1;
export const ACK_RECORD_BYTES = 56;
export const ACK_RECORD_OFFSET = {
  magic: 0,
  version: 4,
  recordType: 5,
  dataType: 6,
  source: 8,
  sensor: 12,
  sampleRateMs: 16,
  recordSeq: 20,
  ackedSeq: 24,
  nextSeq: 32,
  seqReserved: 40,
  crc32: 52,
} as const;

/**
 * Whether an ACK log image starts with a checkpoint: the positions magic, or the positions header's
 * version and record size at offsets 4 and 6 (no ACK record has those: its u16 at 4 is version |
 * recordType << 8 with recordType ≥ 1). Either alone says so, so one flipped bit cannot make a
 * checkpoint pass for records.
 */
export function ackLogCheckpointAt(data: Uint8Array): boolean {
  const view = viewOf(data);
  if (data.byteLength >= 4 && view.getUint32(POSITIONS_OFFSET.magic, true) === POSITIONS_MAGIC) return true;
  return (
    data.byteLength >= POSITIONS_HEADER_BYTES &&
    view.getUint16(POSITIONS_OFFSET.version, true) === POSITIONS_FORMAT_VERSION &&
    view.getUint16(POSITIONS_OFFSET.recordBytes, true) === POSITION_RECORD_BYTES
  );
}

/**
 * Bytes of the checkpoint an ACK log image starts with (ackLogCheckpointAt): a positions image's
 * length by its count field, whether or not it is valid, and at most the image; else 0 (a log
 * never compacted).
 */
export function ackLogCheckpointBytes(data: Uint8Array): number {
  if (!ackLogCheckpointAt(data)) return 0;
  if (data.byteLength < POSITIONS_HEADER_BYTES) return data.byteLength;
  const count = viewOf(data).getUint32(POSITIONS_OFFSET.count, true);
  return Math.min(data.byteLength, positionsFileBytes(Math.min(count, POSITIONS_COUNT_MAX)));
}

export interface AckRecord extends PositionRecord {
  recordSeq: number;
}

/** The ACK record at byte `at` of `data`, or null when it is cut short or fails its magic, version or CRC. */
export function ackRecordRead(data: Uint8Array, at: number): AckRecord | null {
  if (at + ACK_RECORD_BYTES > data.byteLength) return null;
  const view = viewOf(data);
  const o = ACK_RECORD_OFFSET;
  if (view.getUint32(at + o.magic, true) !== ACK_LOG_MAGIC) return null;
  if (view.getUint8(at + o.version) !== ACK_LOG_FORMAT_VERSION) return null;
  if (crc32(data.subarray(at, at + o.crc32)) >>> 0 !== view.getUint32(at + o.crc32, true)) return null;
  return { ...streamPositionRead(view, at, o), recordSeq: view.getUint32(at + o.recordSeq, true) };
}

export interface AckLogScan {
  /** The checkpoint's records (null: no checkpoint, or one that fails positionsValid). */
  checkpoint: PositionRecord[] | null;
  /** Bytes of the checkpoint (0 without one). */
  checkpointBytes: number;
  records: AckRecord[];
  /** Whole records that failed their checks (skipped by recovery). */
  invalid: number;
  /** Bytes after the last whole record: a torn append (ignored by recovery). */
  tornBytes: number;
}

/** Every record of an ACK log image, as boot recovery reads it. */
export function ackLogScan(data: Uint8Array): AckLogScan {
  const checkpointBytes = ackLogCheckpointBytes(data);
  const checkpoint = checkpointBytes > 0 ? positionsRead(data.subarray(0, checkpointBytes)) : null;
  const tail = data.subarray(checkpointBytes);
  const records: AckRecord[] = [];
  let invalid = 0;
  const whole = Math.floor(tail.byteLength / ACK_RECORD_BYTES);
  for (let i = 0; i < whole; i++) {
    const record = ackRecordRead(tail, i * ACK_RECORD_BYTES);
    if (record === null) invalid++;
    else records.push(record);
  }
  return { checkpoint, checkpointBytes, records, invalid, tornBytes: tail.byteLength - whole * ACK_RECORD_BYTES };
}

/** One ACK record with its CRC. */
export function ackRecordEncode(r: AckRecord): Uint8Array {
  const data = new Uint8Array(ACK_RECORD_BYTES);
  const view = viewOf(data);
  const o = ACK_RECORD_OFFSET;
  view.setUint32(o.magic, ACK_LOG_MAGIC, true);
  view.setUint8(o.version, ACK_LOG_FORMAT_VERSION);
  view.setUint8(o.recordType, r.recordType);
  view.setUint8(o.dataType, r.dataType);
  view.setUint32(o.source, r.source, true);
  view.setUint32(o.sensor, r.sensor, true);
  view.setUint32(o.sampleRateMs, r.sampleRateMs, true);
  view.setUint32(o.recordSeq, r.recordSeq, true);
  view.setBigUint64(o.ackedSeq, BigInt(r.ackedSeq), true);
  view.setBigUint64(o.nextSeq, BigInt(r.nextSeq), true);
  view.setBigUint64(o.seqReserved, BigInt(r.seqReserved), true);
  view.setUint32(o.crc32, crc32(data.subarray(0, o.crc32)) >>> 0, true);
  return data;
}
