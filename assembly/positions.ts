// The positions file, history/positions.imxp: every configured stream's ACK position and next
// sequence number (SPEC.md, "Positions file"). It is rewritten atomically whenever an ACK erases
// records that are on disk, when an append needs more sequence numbers, and when a flush
// completes (a closing write: every stream's exact next number, nothing reserved beyond it).
// Boot recovery reads it first, so no restart delivers an acknowledged record again and sequence
// numbers continue where they were.
//
// Header, 16 bytes: 0 magic u32 | 4 version u16 | 6 recordBytes u16 | 8 count u32 | 12 crc32 u32
// (CRC of header bytes 0-11, continued over the records). Then `count` records of 40 bytes:
//   0 source u32 | 4 sensor u32 | 8 ackedSeq u64 | 16 nextSeq u64 | 24 recordType u8 | 25 dataType u8
//   26 reserved u16 | 28 sampleRateMs u32 | 32 seqReserved u64

import {
  EVENT_ACK_PERSIST_FAILED,
  LOG_ERROR,
  OK,
  POSITION_ACKED_SEQ_OFFSET,
  POSITION_DATA_TYPE_OFFSET,
  POSITION_NEXT_SEQ_OFFSET,
  POSITION_RECORD_BYTES,
  POSITION_RECORD_TYPE_OFFSET,
  POSITION_SAMPLE_RATE_OFFSET,
  POSITION_SENSOR_OFFSET,
  POSITION_SOURCE_OFFSET,
  POSITION_SEQ_RESERVED_OFFSET,
  POSITIONS_COUNT_OFFSET,
  POSITIONS_CRC32_OFFSET,
  POSITIONS_FORMAT_VERSION,
  POSITIONS_HEADER_BYTES,
  POSITIONS_MAGIC,
  POSITIONS_MAGIC_OFFSET,
  POSITIONS_RECORD_BYTES_OFFSET,
  POSITIONS_VERSION_OFFSET,
  STAT_ACK_PERSISTS,
  SUBSYSTEM_STREAM,
} from "./abi";
import { crc32Update } from "./crc32";
import { asciiPut } from "./files";
import { halFileWrite, halLog } from "./hal";
import { statAdd } from "./stats";
import {
  streamAckedSeq,
  streamDataType,
  streamDirtySet,
  recordsPerSector,
  streamNextSeq,
  streamRecordType,
  streamSampleRateMs,
  streamSensor,
  streamSeqReserved,
  streamSeqReservedSet,
  streamSource,
} from "./stream-table";
import { core } from "./state";

export function positionsPathFormat(): i32 {
  return <i32>(asciiPut(core().pathPtr, "history/positions.imxp") - core().pathPtr);
}

export function positionsBytes(count: u32): u32 {
  return <u32>POSITIONS_HEADER_BYTES + count * <u32>POSITION_RECORD_BYTES;
}

// What RAM could hold of stream `s`: every sector full of its records. After a power cut no more
// than this many of its records can have been in RAM, and no more numbers than this are skipped.
export function seqRamRecordsMax(s: u32): u64 {
  return <u64>core().sectorCount * <u64>recordsPerSector(streamRecordType(s));
}

// The numbers a top-up reserves: what RAM could hold of the stream (at least one), so the unused
// part of a reservation is never more than a power cut could lose anyway.
function seqLease(s: u32): u64 {
  return max<u64>(1, seqRamRecordsMax(s));
}

// The sequence reservation a write of the positions file records for stream `s`: topped up to
// nextSeq + lease once half a lease or less is left, so one write serves every stream and appends
// rarely need one of their own. A closing write (a completed flush: RAM is empty) records
// seqReserved = nextSeq, which says "stopped exactly here" (SPEC.md 6.3).
function seqReservedNext(s: u32, closing: bool): u64 {
  const next = streamNextSeq(s);
  if (closing) return next;
  const reserved = streamSeqReserved(s);
  const lease = seqLease(s);
  return next + (lease >> 1) >= reserved ? max<u64>(reserved, next + lease) : reserved;
}

// A spill of stream `s` made its records below `end` durable in an `.imx` file. Recovery resumes
// an unclosed stream at least what RAM could hold above its data on disk, so numbers up to there
// are covered without writing the positions file: steady spilling needs no reservation writes.
export function seqBoundRaise(s: u32, end: u64): void {
  const bound = end + seqRamRecordsMax(s);
  if (bound > streamSeqReserved(s)) streamSeqReservedSet(s, bound);
}

// Whether every stream's numbering is closed: the positions file says where each stopped exactly.
export function positionsClosed(): bool {
  const c = core();
  if (!c.diskTier) return true;
  for (let s: u32 = 0; s < c.streamCount; s++) if (streamSeqReserved(s) != streamNextSeq(s)) return false;
  return true;
}

// Writes every stream's position durably; stream `overrideStream` is written with
// `overrideAckedSeq` (an ACK about to be applied). Sequence reservations are topped up (or, when
// `closing`, released: RAM must hold no stream data) and take effect only once the file is
// written. Returns OK or the HAL's error code.
export function positionsPersist(overrideStream: u32, overrideAckedSeq: u64, closing: bool = false): i32 {
  const c = core();
  assert(c.diskTier, "positions are persisted only on a disk tier");
  const buf = c.writeBufPtr;
  const count = c.streamCount;
  for (let s: u32 = 0; s < count; s++) {
    const record = buf + <usize>positionsBytes(s);
    memory.fill(record, 0, <usize>POSITION_RECORD_BYTES);
    store<u32>(record + POSITION_SOURCE_OFFSET, streamSource(s));
    store<u32>(record + POSITION_SENSOR_OFFSET, streamSensor(s));
    store<u64>(record + POSITION_ACKED_SEQ_OFFSET, s == overrideStream ? overrideAckedSeq : streamAckedSeq(s));
    store<u64>(record + POSITION_NEXT_SEQ_OFFSET, streamNextSeq(s));
    store<u8>(record + POSITION_RECORD_TYPE_OFFSET, <u8>streamRecordType(s));
    store<u8>(record + POSITION_DATA_TYPE_OFFSET, <u8>streamDataType(s));
    store<u32>(record + POSITION_SAMPLE_RATE_OFFSET, streamSampleRateMs(s));
    store<u64>(record + POSITION_SEQ_RESERVED_OFFSET, seqReservedNext(s, closing));
  }
  memory.fill(buf, 0, <usize>POSITIONS_HEADER_BYTES);
  store<u32>(buf + POSITIONS_MAGIC_OFFSET, POSITIONS_MAGIC);
  store<u16>(buf + POSITIONS_VERSION_OFFSET, <u16>POSITIONS_FORMAT_VERSION);
  store<u16>(buf + POSITIONS_RECORD_BYTES_OFFSET, <u16>POSITION_RECORD_BYTES);
  store<u32>(buf + POSITIONS_COUNT_OFFSET, count);
  const bytes = positionsBytes(count);
  let crc = crc32Update(0, buf, <usize>POSITIONS_CRC32_OFFSET);
  crc = crc32Update(crc, buf + <usize>POSITIONS_HEADER_BYTES, <usize>(bytes - <u32>POSITIONS_HEADER_BYTES));
  store<u32>(buf + POSITIONS_CRC32_OFFSET, crc);
  const status = halFileWrite(c.pathPtr, positionsPathFormat(), buf, <i32>bytes);
  if (status != OK) {
    halLog(LOG_ERROR, SUBSYSTEM_STREAM, EVENT_ACK_PERSIST_FAILED, <f64>overrideStream, <f64>status);
    return status;
  }
  for (let s: u32 = 0; s < count; s++) {
    streamDirtySet(s, false);
    streamSeqReservedSet(s, load<u64>(buf + <usize>positionsBytes(s) + <usize>POSITION_SEQ_RESERVED_OFFSET));
  }
  statAdd(STAT_ACK_PERSISTS, 1);
  return OK;
}

// Whether `length` bytes at `buf` are a valid positions file; returns its record count or −1.
export function positionsValid(buf: usize, length: i32): i32 {
  if (length < POSITIONS_HEADER_BYTES) return -1;
  if (load<u32>(buf + POSITIONS_MAGIC_OFFSET) != POSITIONS_MAGIC) return -1;
  if (<i32>load<u16>(buf + POSITIONS_VERSION_OFFSET) != POSITIONS_FORMAT_VERSION) return -1;
  if (<i32>load<u16>(buf + POSITIONS_RECORD_BYTES_OFFSET) != POSITION_RECORD_BYTES) return -1;
  const count = load<u32>(buf + POSITIONS_COUNT_OFFSET);
  if (count > 0xffff || <u32>length != positionsBytes(count)) return -1;
  let crc = crc32Update(0, buf, <usize>POSITIONS_CRC32_OFFSET);
  crc = crc32Update(crc, buf + <usize>POSITIONS_HEADER_BYTES, <usize>(<u32>length - <u32>POSITIONS_HEADER_BYTES));
  if (crc != load<u32>(buf + POSITIONS_CRC32_OFFSET)) return -1;
  return <i32>count;
}
