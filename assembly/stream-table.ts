// Streams: one (upload source, sensor) FIFO of TSD or EVT records with 64-bit sequence numbers.
//
// Stream table entry, STREAM_ENTRY_BYTES = 112 bytes (SPEC.md, "Stream table entry"):
//
//   0 source u32 | 4 sensor u32 | 8 recordType u8 | 9 dataType u8 | 10 reserved u16 | 12 sampleRateMs u32
//   16 nextSeq u64 | 24 ackedSeq u64 | 32 readSeq u64 | 40 pendingCount u64
//   48 ramHead u32 | 52 ramTail u32 | 56 ramSectors u32 | 60 diskHead u32 | 64 diskTail u32 | 68 diskFiles u32
//   72 ramRecords u64 | 80 diskRecords u64 | 88 readHint u32 | 92 reserved u32 | 96 seqReserved u64
//   104 recordsDiscarded u64 | 112 end
//
// On a disk tier, sequence numbers below seqReserved are reserved durably (in the positions file)
// before they are used, so no restart, not even after a power cut, ever numbers a record with a
// sequence number already handed out.
//
// A stream's records, oldest first, are its disk files (diskHead … diskTail) and then its RAM
// sectors (ramHead … ramTail); sequence numbers only grow along that order, with gaps only where
// records were discarded. Records below ackedSeq are erased; live records in [ackedSeq, readSeq)
// are pending (read for upload, not yet acknowledged); the rest are new. Every cursor is a
// sequence number, never a (sector, offset) pair, so moving sectors between tiers never
// invalidates one.
//
// This file is the table: the entry layout, typed field access, and configuring and finding
// streams. What streams do (append, read, ACK, discard, the disk list) is in stream.ts.

import {
  DATA_TYPE_COUNT,
  E_INVALID_ARGUMENT,
  E_STREAM_CONFIG_MISMATCH,
  E_STREAM_TABLE_FULL,
  E_STREAM_UNKNOWN,
  FILE_SLOT_NULL,
  RECORD_TYPE_EVT,
  RECORD_TYPE_TSD,
  SECTOR_NULL,
  STREAM_ENTRY_BYTES,
} from "./abi";
import { core } from "./state";

// The entry as a typed view; the offsets above are read from it, and its size is the ABI's.
// @ts-ignore: decorator
@unmanaged
class StreamEntry {
  source!: u32;
  sensor!: u32;
  recordType!: u8;
  dataType!: u8;
  flags!: u16;
  sampleRateMs!: u32;
  nextSeq!: u64;
  ackedSeq!: u64;
  readSeq!: u64;
  pendingCount!: u64;
  ramHead!: u32;
  ramTail!: u32;
  ramSectors!: u32;
  diskHead!: u32;
  diskTail!: u32;
  diskFiles!: u32;
  ramRecords!: u64;
  diskRecords!: u64;
  readHint!: u32;
  reserved!: u32;
  seqReserved!: u64;
  recordsDiscarded!: u64;
}
if (offsetof<StreamEntry>() != STREAM_ENTRY_BYTES) ERROR("StreamEntry size differs from STREAM_ENTRY_BYTES");

export const S_SOURCE: usize = offsetof<StreamEntry>("source");
export const S_SENSOR: usize = offsetof<StreamEntry>("sensor");
export const S_RECORD_TYPE: usize = offsetof<StreamEntry>("recordType");
export const S_DATA_TYPE: usize = offsetof<StreamEntry>("dataType");
export const S_FLAGS: usize = offsetof<StreamEntry>("flags");
export const S_SAMPLE_RATE_MS: usize = offsetof<StreamEntry>("sampleRateMs");
export const S_NEXT_SEQ: usize = offsetof<StreamEntry>("nextSeq");
export const S_ACKED_SEQ: usize = offsetof<StreamEntry>("ackedSeq");
export const S_READ_SEQ: usize = offsetof<StreamEntry>("readSeq");
export const S_PENDING: usize = offsetof<StreamEntry>("pendingCount");
export const S_RAM_HEAD: usize = offsetof<StreamEntry>("ramHead");
export const S_RAM_TAIL: usize = offsetof<StreamEntry>("ramTail");
export const S_RAM_SECTORS: usize = offsetof<StreamEntry>("ramSectors");
export const S_DISK_HEAD: usize = offsetof<StreamEntry>("diskHead");
export const S_DISK_TAIL: usize = offsetof<StreamEntry>("diskTail");
export const S_DISK_FILES: usize = offsetof<StreamEntry>("diskFiles");
export const S_RAM_RECORDS: usize = offsetof<StreamEntry>("ramRecords");
export const S_DISK_RECORDS: usize = offsetof<StreamEntry>("diskRecords");
export const S_READ_HINT: usize = offsetof<StreamEntry>("readHint");
export const S_SEQ_RESERVED: usize = offsetof<StreamEntry>("seqReserved");
export const S_RECORDS_DISCARDED: usize = offsetof<StreamEntry>("recordsDiscarded");
// The drawing above, checked.
if (
  S_SOURCE != 0 ||
  S_SENSOR != 4 ||
  S_RECORD_TYPE != 8 ||
  S_DATA_TYPE != 9 ||
  S_FLAGS != 10 ||
  S_SAMPLE_RATE_MS != 12 ||
  S_NEXT_SEQ != 16 ||
  S_ACKED_SEQ != 24 ||
  S_READ_SEQ != 32 ||
  S_PENDING != 40 ||
  S_RAM_HEAD != 48 ||
  S_RAM_TAIL != 52 ||
  S_RAM_SECTORS != 56 ||
  S_DISK_HEAD != 60 ||
  S_DISK_TAIL != 64 ||
  S_DISK_FILES != 68 ||
  S_RAM_RECORDS != 72 ||
  S_DISK_RECORDS != 80 ||
  S_READ_HINT != 88 ||
  S_SEQ_RESERVED != 96 ||
  S_RECORDS_DISCARDED != 104
) {
  ERROR("stream entry drawing is out of date");
}

// Stream flag: nextSeq or ackedSeq changed since the ACK position was last persisted.
export const STREAM_FLAG_DIRTY: u16 = 1;

// @ts-ignore: decorator
@inline
export function streamEntry(index: u32): usize {
  return core().streamsPtr + <usize>index * <usize>STREAM_ENTRY_BYTES;
}

// ---- Field access ----------------------------------------------------------------------------------
// @ts-ignore: decorator
@inline export function streamSource(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_SOURCE);
}
// @ts-ignore: decorator
@inline export function streamSensor(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_SENSOR);
}
// @ts-ignore: decorator
@inline export function streamRecordType(s: u32): i32 {
  return <i32>load<u8>(streamEntry(s) + S_RECORD_TYPE);
}
// @ts-ignore: decorator
@inline export function streamDataType(s: u32): i32 {
  return <i32>load<u8>(streamEntry(s) + S_DATA_TYPE);
}
// @ts-ignore: decorator
@inline export function streamSampleRateMs(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_SAMPLE_RATE_MS);
}
// @ts-ignore: decorator
@inline export function streamNextSeq(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_NEXT_SEQ);
}
// @ts-ignore: decorator
@inline export function streamAckedSeq(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_ACKED_SEQ);
}
// @ts-ignore: decorator
@inline export function streamReadSeq(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_READ_SEQ);
}
// @ts-ignore: decorator
@inline export function streamPending(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_PENDING);
}
// @ts-ignore: decorator
@inline export function streamPendingSet(s: u32, v: u64): void {
  store<u64>(streamEntry(s) + S_PENDING, v);
}
// @ts-ignore: decorator
@inline export function streamDirty(s: u32): bool {
  return (load<u16>(streamEntry(s) + S_FLAGS) & STREAM_FLAG_DIRTY) != 0;
}
// @ts-ignore: decorator
@inline export function streamDirtySet(s: u32, dirty: bool): void {
  const ptr = streamEntry(s) + S_FLAGS;
  store<u16>(ptr, dirty ? load<u16>(ptr) | STREAM_FLAG_DIRTY : load<u16>(ptr) & ~STREAM_FLAG_DIRTY);
}
// @ts-ignore: decorator
@inline export function streamRamHead(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_RAM_HEAD);
}
// @ts-ignore: decorator
@inline export function streamRamTail(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_RAM_TAIL);
}
// @ts-ignore: decorator
@inline export function streamRamSectors(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_RAM_SECTORS);
}
// @ts-ignore: decorator
@inline export function streamDiskHead(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_DISK_HEAD);
}
// @ts-ignore: decorator
@inline export function streamDiskTail(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_DISK_TAIL);
}
// @ts-ignore: decorator
@inline export function streamAckedSeqSet(s: u32, v: u64): void {
  store<u64>(streamEntry(s) + S_ACKED_SEQ, v);
}
// @ts-ignore: decorator
@inline export function streamNextSeqSet(s: u32, v: u64): void {
  store<u64>(streamEntry(s) + S_NEXT_SEQ, v);
}
// @ts-ignore: decorator
@inline export function streamSeqReserved(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_SEQ_RESERVED);
}
// @ts-ignore: decorator
@inline export function streamSeqReservedSet(s: u32, v: u64): void {
  store<u64>(streamEntry(s) + S_SEQ_RESERVED, v);
}
// @ts-ignore: decorator
@inline export function streamRecordsDiscarded(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_RECORDS_DISCARDED);
}
// @ts-ignore: decorator
@inline export function streamDiskFiles(s: u32): u32 {
  return load<u32>(streamEntry(s) + S_DISK_FILES);
}
// @ts-ignore: decorator
@inline export function streamRamRecords(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_RAM_RECORDS);
}
// @ts-ignore: decorator
@inline export function streamDiskRecords(s: u32): u64 {
  return load<u64>(streamEntry(s) + S_DISK_RECORDS);
}

// @ts-ignore: decorator
@inline
export function streamFieldAdd64(s: u32, offset: usize, delta: i64): void {
  const ptr = streamEntry(s) + offset;
  store<u64>(ptr, <u64>(<i64>load<u64>(ptr) + delta));
}

// @ts-ignore: decorator
@inline
export function streamFieldAdd32(s: u32, offset: usize, delta: i32): void {
  const ptr = streamEntry(s) + offset;
  store<u32>(ptr, <u32>(<i32>load<u32>(ptr) + delta));
}

// Records per sector for a record type.
// @ts-ignore: decorator
@inline
export function recordsPerSector(recordType: i32): u32 {
  return recordType == RECORD_TYPE_TSD ? core().tsdPerSector : core().evtPerSector;
}

// Live (not erased) records among `count` records starting at `firstSeq`.
// @ts-ignore: decorator
@inline
export function liveRecords(firstSeq: u64, count: u64, ackedSeq: u64): u64 {
  const end = firstSeq + count;
  if (end <= ackedSeq) return 0;
  return ackedSeq > firstSeq ? end - ackedSeq : count;
}

export function streamsInit(): void {
  const c = core();
  c.streamCount = 0;
  memory.fill(c.streamsPtr, 0, <usize>c.streamsMax * <usize>STREAM_ENTRY_BYTES);
}

export function streamValid(s: i32): bool {
  return s >= 0 && <u32>s < core().streamCount;
}

export function streamFind(source: u32, sensor: u32): i32 {
  for (let s: u32 = 0; s < core().streamCount; s++) {
    if (streamSource(s) == source && streamSensor(s) == sensor) return <i32>s;
  }
  return E_STREAM_UNKNOWN;
}

// Configures (source, sensor) with a record type fixed for its lifetime. Configuring it again with
// the same settings returns the same index; different settings are refused.
export function streamConfigure(source: u32, sensor: u32, recordType: i32, dataType: i32, sampleRateMs: u32): i32 {
  const c = core();
  if (recordType != RECORD_TYPE_TSD && recordType != RECORD_TYPE_EVT) return E_INVALID_ARGUMENT;
  if (dataType < 0 || dataType >= DATA_TYPE_COUNT) return E_INVALID_ARGUMENT;
  if (recordType == RECORD_TYPE_TSD && sampleRateMs == 0) return E_INVALID_ARGUMENT;
  if (recordType == RECORD_TYPE_EVT && sampleRateMs != 0) return E_INVALID_ARGUMENT;
  const existing = streamFind(source, sensor);
  if (existing >= 0) {
    const s = <u32>existing;
    if (streamRecordType(s) != recordType || streamDataType(s) != dataType || streamSampleRateMs(s) != sampleRateMs) {
      return E_STREAM_CONFIG_MISMATCH;
    }
    return existing;
  }
  if (c.streamCount >= c.streamsMax) return E_STREAM_TABLE_FULL;
  const s = c.streamCount++;
  const e = streamEntry(s);
  memory.fill(e, 0, <usize>STREAM_ENTRY_BYTES);
  store<u32>(e + S_SOURCE, source);
  store<u32>(e + S_SENSOR, sensor);
  store<u8>(e + S_RECORD_TYPE, <u8>recordType);
  store<u8>(e + S_DATA_TYPE, <u8>dataType);
  store<u32>(e + S_SAMPLE_RATE_MS, sampleRateMs);
  store<u32>(e + S_RAM_HEAD, SECTOR_NULL);
  store<u32>(e + S_RAM_TAIL, SECTOR_NULL);
  store<u32>(e + S_DISK_HEAD, FILE_SLOT_NULL);
  store<u32>(e + S_DISK_TAIL, FILE_SLOT_NULL);
  store<u32>(e + S_READ_HINT, SECTOR_NULL);
  return <i32>s;
}
