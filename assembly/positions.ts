// Where every stream's ACK position, next sequence number and reservation are made durable
// (SPEC.md 6.3, 6.5): the ACK log, history/acks.imxa. It starts with a checkpoint (the positions
// file's layout: every stream, one CRC) when it has been compacted, followed by fixed 56-byte
// records, each with its own CRC, appended with one data sync whenever an ACK erases records that
// are on disk, an append needs more sequence numbers, or a flush completes (a closing record: the
// exact next number, nothing reserved beyond it). Past a bound the log is compacted: a checkpoint
// of every stream is written atomically over it, after the record that made it pass the bound is
// durable. Boot recovery reads a positions file of the first format, history/positions.imxp, if
// one is left, then the log, so no restart delivers an acknowledged record again and sequence
// numbers continue where they were.
//
// ACK record, 56 bytes (little-endian):
//    0 magic u32 "IMXA" | 4 version u8 | 5 recordType u8 | 6 dataType u8 | 7 reserved u8
//    8 source u32 | 12 sensor u32 | 16 sampleRateMs u32 | 20 recordSeq u32
//   24 ackedSeq u64 | 32 nextSeq u64 | 40 seqReserved u64 | 48 reserved u32 | 52 crc32 u32 (bytes 0-51)
//
// Checkpoint, and positions file of the first format (read only), header 16 bytes: 0 magic u32 | 4 version u16 |
// 6 recordBytes u16 | 8 count u32 | 12 crc32 u32 (CRC of header bytes 0-11, continued over the
// records). Then `count` records of 40 bytes:
//   0 source u32 | 4 sensor u32 | 8 ackedSeq u64 | 16 nextSeq u64 | 24 recordType u8 | 25 dataType u8
//   26 reserved u16 | 28 sampleRateMs u32 | 32 seqReserved u64

import {
  ACK_LOG_COMPACT_FACTOR,
  ACK_LOG_FORMAT_VERSION,
  ACK_LOG_MAGIC,
  ACK_LOG_RECORDS_MIN,
  ACK_MANY_ACKED_OFFSET,
  ACK_MANY_ENTRY_BYTES,
  ACK_MANY_FLAGS_OFFSET,
  ACK_MANY_STREAM_OFFSET,
  ACK_RECORD_ACKED_SEQ_OFFSET,
  ACK_RECORD_BYTES,
  ACK_RECORD_CRC32_OFFSET,
  ACK_RECORD_DATA_TYPE_OFFSET,
  ACK_RECORD_MAGIC_OFFSET,
  ACK_RECORD_NEXT_SEQ_OFFSET,
  ACK_RECORD_RECORD_TYPE_OFFSET,
  ACK_RECORD_SAMPLE_RATE_OFFSET,
  ACK_RECORD_SENSOR_OFFSET,
  ACK_RECORD_SEQ_OFFSET,
  ACK_RECORD_SEQ_RESERVED_OFFSET,
  ACK_RECORD_SOURCE_OFFSET,
  ACK_RECORD_VERSION_OFFSET,
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
  STAT_ACK_LOG_BYTES,
  STAT_ACK_LOG_COMPACTIONS,
  STAT_ACK_PERSISTS,
  STAT_ACK_RECORDS,
  STREAM_NULL,
  SUBSYSTEM_STREAM,
} from "./abi";
import { crc32Update } from "./crc32";
import { asciiPut } from "./files";
import { halFileAppend, halFileDelete, halFileWrite, halLog } from "./hal";
import { diskFreeBytesForMetadata } from "./disk-space";
import { statAdd, statGet, statSet } from "./stats";
import { POSITIONS_LEGACY_FOUND, POSITIONS_LEGACY_NONE, POSITIONS_LEGACY_REPLACED } from "./state";
import {
  streamAckedSeq,
  streamDataType,
  streamDirty,
  streamDirtySet,
  streamFind,
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

// Whether a record written for stream `s` now would top its reservation up (SPEC.md 3.3).
export function seqTopUpDue(s: u32): bool {
  return seqReservedNext(s, false) != streamSeqReserved(s);
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

// Fills the ACK record for stream `s` at `at` (SPEC.md 6.5): its position `ackedSeq`, next number
// and reservation `reserved`, numbered `recordSeq`, with its CRC.
function ackRecordFill(at: usize, s: u32, ackedSeq: u64, reserved: u64, recordSeq: u32): void {
  memory.fill(at, 0, <usize>ACK_RECORD_BYTES);
  store<u32>(at + ACK_RECORD_MAGIC_OFFSET, ACK_LOG_MAGIC);
  store<u8>(at + ACK_RECORD_VERSION_OFFSET, <u8>ACK_LOG_FORMAT_VERSION);
  store<u8>(at + ACK_RECORD_RECORD_TYPE_OFFSET, <u8>streamRecordType(s));
  store<u8>(at + ACK_RECORD_DATA_TYPE_OFFSET, <u8>streamDataType(s));
  store<u32>(at + ACK_RECORD_SOURCE_OFFSET, streamSource(s));
  store<u32>(at + ACK_RECORD_SENSOR_OFFSET, streamSensor(s));
  store<u32>(at + ACK_RECORD_SAMPLE_RATE_OFFSET, streamSampleRateMs(s));
  store<u32>(at + ACK_RECORD_SEQ_OFFSET, recordSeq);
  store<u64>(at + ACK_RECORD_ACKED_SEQ_OFFSET, ackedSeq);
  store<u64>(at + ACK_RECORD_NEXT_SEQ_OFFSET, streamNextSeq(s));
  store<u64>(at + ACK_RECORD_SEQ_RESERVED_OFFSET, reserved);
  store<u32>(at + ACK_RECORD_CRC32_OFFSET, crc32Update(0, at, <usize>ACK_RECORD_CRC32_OFFSET));
}

export function ackLogPathFormat(): i32 {
  return <i32>(asciiPut(core().pathPtr, "history/acks.imxa") - core().pathPtr);
}

// Bytes past which the ACK log is compacted: a checkpoint of every stream and then
// max(ACK_LOG_RECORDS_MIN, ACK_LOG_COMPACT_FACTOR × streams) records.
function ackLogBytesMax(): f64 {
  const count = core().streamCount;
  const records = max<u32>(<u32>ACK_LOG_RECORDS_MIN, <u32>ACK_LOG_COMPACT_FACTOR * count);
  return <f64>positionsBytes(count) + <f64>records * <f64>ACK_RECORD_BYTES;
}

// After recovery found a torn or corrupt record, or after a failed append (which may have left part
// of a record): the log takes no more appends, whose records would no longer start on a record
// boundary; the next metadata write first replaces it with a checkpoint.
export function ackLogDamagedSet(): void {
  core().ackLogDamaged = true;
}

// Recovery read a positions file of the first format: the next metadata write compacts the log
// (its checkpoint covers every stream), and a later one deletes the positions file (SPEC.md 6.5).
export function positionsLegacyFound(): void {
  core().positionsLegacy = POSITIONS_LEGACY_FOUND;
}

// Writes a checkpoint of every stream's position over the ACK log, atomically (temp file, sync,
// rename, directory sync): the compaction. The checkpoint has the positions-file layout (header
// and 40-byte records, SPEC.md 6.3), so it fits the I/O buffer; appends follow it. Stream `stream`
// is written with `ackedSeq` (an ACK being applied, durable in the log already; STREAM_NULL for
// none). The records it replaces are already durable in the log, so a compaction that fails, or
// whose rename a power cut undoes, loses nothing; the log stays over its bound and the next write
// tries again. Returns OK or the HAL's error code.
function ackLogCompact(stream: u32, ackedSeq: u64): i32 {
  const c = core();
  const buf = c.writeBufPtr;
  const count = c.streamCount;
  for (let s: u32 = 0; s < count; s++) {
    const record = buf + <usize>positionsBytes(s);
    memory.fill(record, 0, <usize>POSITION_RECORD_BYTES);
    store<u32>(record + POSITION_SOURCE_OFFSET, streamSource(s));
    store<u32>(record + POSITION_SENSOR_OFFSET, streamSensor(s));
    store<u64>(record + POSITION_ACKED_SEQ_OFFSET, s == stream ? ackedSeq : streamAckedSeq(s));
    store<u64>(record + POSITION_NEXT_SEQ_OFFSET, streamNextSeq(s));
    store<u8>(record + POSITION_RECORD_TYPE_OFFSET, <u8>streamRecordType(s));
    store<u8>(record + POSITION_DATA_TYPE_OFFSET, <u8>streamDataType(s));
    store<u32>(record + POSITION_SAMPLE_RATE_OFFSET, streamSampleRateMs(s));
    store<u64>(record + POSITION_SEQ_RESERVED_OFFSET, streamSeqReserved(s));
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
  const status = halFileWrite(c.pathPtr, ackLogPathFormat(), buf, <i32>bytes);
  if (status != OK) return status;
  for (let s: u32 = 0; s < count; s++) streamDirtySet(s, false);
  c.ackLogDamaged = false;
  if (c.positionsLegacy == POSITIONS_LEGACY_FOUND) c.positionsLegacy = POSITIONS_LEGACY_REPLACED;
  statSet(STAT_ACK_LOG_BYTES, <f64>bytes);
  statAdd(STAT_ACK_LOG_COMPACTIONS, 1);
  return OK;
}

// Whether a closing write must carry stream `s`: its position changed, or its numbering is open.
function closingNeeds(s: u32): bool {
  return streamDirty(s) || streamSeqReserved(s) != streamNextSeq(s);
}

// The bytes a closing write (positionsPersist with closing) appends: a record per stream that needs one.
export function positionsClosingBytes(): u32 {
  let n: u32 = 0;
  for (let s: u32 = 0; s < core().streamCount; s++) if (closingNeeds(s)) n++;
  return n * <u32>ACK_RECORD_BYTES;
}

// Before records are appended: nothing is appended after damage; and when the filesystem's free
// bytes (as the core reckons them from its last read, which a metadata write does not schedule:
// SPEC.md 4.1) would not keep room for a checkpoint's temp file after this append, the log is
// compacted first, which gives back all but a checkpoint's worth of it. Spills stop at the margin,
// so that room is normally there. Returns OK or the HAL's error code of the compaction.
function persistPrepare(stream: u32): i32 {
  const c = core();
  const roomBytes =
    diskFreeBytesForMetadata(<f64>positionsBytes(c.streamCount)) -
    <f64>(c.streamCount * <u32>ACK_RECORD_BYTES) -
    <f64>c.ioBufBytes;
  if (c.ackLogDamaged || (roomBytes < 0 && statGet(STAT_ACK_LOG_BYTES) > <f64>positionsBytes(c.streamCount))) {
    // A checkpoint of what is durable now goes first.
    const status = ackLogCompact(STREAM_NULL, 0);
    if (status != OK) {
      halLog(LOG_ERROR, SUBSYSTEM_STREAM, EVENT_ACK_PERSIST_FAILED, <f64>stream, <f64>status);
      return status;
    }
  }
  return OK;
}

// Records that fit one append: the write buffer's size in whole records.
function recordsPerAppend(): u32 {
  return max<u32>(1, core().ioBufBytes / <u32>ACK_RECORD_BYTES);
}

// Appends the `n` records filled at the write buffer with one data sync; on success their streams
// take the recorded reservations and are no longer dirty. Returns OK or the HAL's error code
// (the log is then marked damaged: part of a record may have landed).
function recordsAppend(n: u32, stream: u32): i32 {
  const c = core();
  const buf = c.writeBufPtr;
  const bytes = n * <u32>ACK_RECORD_BYTES;
  const status = halFileAppend(c.pathPtr, ackLogPathFormat(), buf, <i32>bytes);
  if (status != OK) {
    halLog(LOG_ERROR, SUBSYSTEM_STREAM, EVENT_ACK_PERSIST_FAILED, <f64>stream, <f64>status);
    ackLogDamagedSet();
    return status;
  }
  for (let i: u32 = 0; i < n; i++) {
    const at = buf + <usize>i * <usize>ACK_RECORD_BYTES;
    const s = streamFind(load<u32>(at + ACK_RECORD_SOURCE_OFFSET), load<u32>(at + ACK_RECORD_SENSOR_OFFSET));
    assert(s >= 0, "a written record names a configured stream");
    streamDirtySet(<u32>s, false);
    streamSeqReservedSet(<u32>s, load<u64>(at + ACK_RECORD_SEQ_RESERVED_OFFSET));
  }
  statAdd(STAT_ACK_LOG_BYTES, <f64>bytes);
  statAdd(STAT_ACK_RECORDS, <f64>n);
  statAdd(STAT_ACK_PERSISTS, 1);
  return OK;
}

// After records were appended: the positions file of the first format goes once a checkpoint has
// replaced it (the append succeeded, so the checkpoint's directory entry is durable: the HAL
// syncs a directory it owes before appending there).
function persistFinish(): void {
  const c = core();
  if (c.positionsLegacy == POSITIONS_LEGACY_REPLACED) {
    if (halFileDelete(c.pathPtr, positionsPathFormat()) == OK) c.positionsLegacy = POSITIONS_LEGACY_NONE;
  }
}

// Whether the log has passed its bound (or a positions file of the first format awaits its checkpoint).
function ackLogCompactDue(): bool {
  return statGet(STAT_ACK_LOG_BYTES) > ackLogBytesMax() || core().positionsLegacy == POSITIONS_LEGACY_FOUND;
}

// Compacts the log if it is due, from the streams' positions as they are (after an ackMany has
// applied its ACKs). A failure leaves the log whole and over its bound: the next write tries again.
export function ackLogCompactIfDue(): void {
  if (ackLogCompactDue()) ackLogCompact(STREAM_NULL, 0);
}

// Makes positions durable in the ACK log, history/acks.imxa (SPEC.md 6.5). Not closing: appends
// one record for `stream` with position `ackedSeq` and its reservation topped up (an ACK that
// erases disk records, or an append that needs numbers). Closing (a completed flush; RAM holds no
// stream data): appends a closing record (seqReserved = nextSeq) for every stream that needs one,
// as many to an append as the write buffer holds. An append is one data sync, and it is the
// durable point: the new values take effect once it is written. Only then, once the log is past
// ackLogBytesMax(), is it compacted (ackLogCompact), so a compaction whose rename a power cut
// undoes leaves the old log, which already holds this record. Returns OK or the HAL's error code.
export function positionsPersist(stream: u32, ackedSeq: u64, closing: bool = false): i32 {
  const c = core();
  assert(c.diskTier, "positions are persisted only on a disk tier");
  assert(closing || stream < c.streamCount, "a record names its stream");
  const prepared = persistPrepare(stream);
  if (prepared != OK) return prepared;
  const buf = c.writeBufPtr;
  const count = c.streamCount;
  if (closing) {
    const cap = recordsPerAppend();
    let n: u32 = 0;
    for (let s: u32 = 0; s < count; s++) {
      if (!closingNeeds(s)) continue;
      const recordSeq = <u32>((<u64>statGet(STAT_ACK_RECORDS) + <u64>n) & 0xffffffff);
      ackRecordFill(buf + <usize>n * <usize>ACK_RECORD_BYTES, s, streamAckedSeq(s), streamNextSeq(s), recordSeq);
      n++;
      if (n == cap) {
        const status = recordsAppend(n, stream);
        if (status != OK) return status;
        n = 0;
      }
    }
    if (n > 0) {
      const status = recordsAppend(n, stream);
      if (status != OK) return status;
    }
  } else {
    const recordSeq = <u32>((<u64>statGet(STAT_ACK_RECORDS)) & 0xffffffff);
    ackRecordFill(buf, stream, ackedSeq, seqReservedNext(stream, false), recordSeq);
    const status = recordsAppend(1, stream);
    if (status != OK) return status;
  }
  persistFinish();
  if (ackLogCompactDue()) {
    ackLogCompact(closing ? STREAM_NULL : stream, ackedSeq); // a failure leaves the log whole and over its bound: the next write tries again
  }
  return OK;
}

// Group commit (ackMany, SPEC.md 6.5): makes the ACKs of the `n` entries at `entries` durable, one
// record for each entry flagged as erasing disk records (ACK_MANY_FLAGS_OFFSET), with its new
// position (ACK_MANY_ACKED_OFFSET) and its reservation topped up, as few appends as the write
// buffer allows (one, unless more streams than it holds records). Does not compact: the caller
// applies the ACKs and then calls ackLogCompactIfDue(). Returns OK or the HAL's error code; when an
// append fails after earlier ones of the same call succeeded, the streams of those are durably
// acknowledged already (they were the cloud's word) and the rest are not.
export function positionsPersistMany(entries: usize, n: u32): i32 {
  const c = core();
  assert(c.diskTier, "positions are persisted only on a disk tier");
  const prepared = persistPrepare(STREAM_NULL);
  if (prepared != OK) return prepared;
  const buf = c.writeBufPtr;
  const cap = recordsPerAppend();
  let k: u32 = 0;
  let written: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const entry = entries + <usize>i * <usize>ACK_MANY_ENTRY_BYTES;
    if (load<u32>(entry + ACK_MANY_FLAGS_OFFSET) == 0) continue;
    const s = load<u32>(entry + ACK_MANY_STREAM_OFFSET);
    const recordSeq = <u32>((<u64>statGet(STAT_ACK_RECORDS) + <u64>k) & 0xffffffff);
    ackRecordFill(
      buf + <usize>k * <usize>ACK_RECORD_BYTES,
      s,
      load<u64>(entry + ACK_MANY_ACKED_OFFSET),
      seqReservedNext(s, false),
      recordSeq,
    );
    k++;
    if (k == cap) {
      const status = recordsAppend(k, s);
      if (status != OK) return status;
      written += k;
      k = 0;
    }
  }
  if (k > 0) {
    const status = recordsAppend(k, STREAM_NULL);
    if (status != OK) return status;
    written += k;
  }
  if (written > 0) persistFinish();
  return OK;
}

// Whether the `ACK_RECORD_BYTES` at `at` are a valid ACK record (magic, version, CRC, types,
// ackedSeq ≤ nextSeq ≤ 2^53 − 1, seqReserved ≤ 2^53 − 1).
export function ackRecordValid(at: usize): bool {
  if (load<u32>(at + ACK_RECORD_MAGIC_OFFSET) != ACK_LOG_MAGIC) return false;
  if (<i32>load<u8>(at + ACK_RECORD_VERSION_OFFSET) != ACK_LOG_FORMAT_VERSION) return false;
  if (crc32Update(0, at, <usize>ACK_RECORD_CRC32_OFFSET) != load<u32>(at + ACK_RECORD_CRC32_OFFSET)) return false;
  const acked = load<u64>(at + ACK_RECORD_ACKED_SEQ_OFFSET);
  const next = load<u64>(at + ACK_RECORD_NEXT_SEQ_OFFSET);
  const seqMax: u64 = 9007199254740991;
  return acked <= next && next <= seqMax && load<u64>(at + ACK_RECORD_SEQ_RESERVED_OFFSET) <= seqMax;
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
