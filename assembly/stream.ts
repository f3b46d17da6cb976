// Stream operations: append, bulk read and peek, ACK and NACK, discarding for space, and the upkeep
// of each stream's disk list (spill commit, corrupt files, boot recovery's recount, forced cleanup).
// The table they work on, and what a stream is, are in stream-table.ts.

import {
  ACK_MANY_ACKED_OFFSET,
  ACK_MANY_COUNT_OFFSET,
  ACK_MANY_ENTRY_BYTES,
  ACK_MANY_FLAGS_OFFSET,
  ACK_MANY_STREAM_OFFSET,
  CLEANUP_IMMEDIATE,
  DELETE_UNSYNCED,
  BULK_FLAGS,
  BULK_FLAG_DISK,
  BULK_RECORD_BYTES,
  BULK_SEQ_HI,
  BULK_SEQ_LO,
  BULK_UTC_MS,
  BULK_VALUE,
  DISK_FULL_REFUSE_NEW,
  EVENT_DISCARD,
  EVENT_WRITE_REFUSED,
  E_ACK_PERSIST,
  E_ACK_TOO_MANY,
  E_ALL_PENDING,
  E_DISK_FULL,
  E_FILE_CORRUPT,
  E_INVALID_ARGUMENT,
  E_OUT_OF_SECTORS,
  E_RECORD_TYPE_MISMATCH,
  E_SEQ_RESERVE,
  E_STREAM_UNKNOWN,
  FILE_SLOT_NULL,
  LOG_DEBUG,
  LOG_WARN,
  OK,
  QUERY_DATA_TYPE,
  QUERY_FILES_DISK,
  QUERY_RECORDS_DISK,
  QUERY_RECORDS_NEW,
  QUERY_RECORDS_PENDING,
  QUERY_RECORDS_RAM,
  QUERY_RECORDS_TOTAL,
  QUERY_RECORD_TYPE,
  QUERY_RECORDS_DISCARDED,
  QUERY_SAMPLE_RATE_MS,
  QUERY_SECTORS_RAM,
  QUERY_SENSOR,
  QUERY_SEQ_ACKED,
  QUERY_SEQ_NEXT,
  QUERY_SEQ_READ,
  QUERY_SOURCE,
  RECORD_TYPE_TSD,
  SECTOR_NULL,
  STAT_RECORDS_ACKED,
  STAT_RECORDS_DISCARDED,
  STAT_RECORDS_DISCARDED_FILES,
  STAT_RECORDS_LIVE,
  STAT_RECORDS_READ,
  STAT_RECORDS_REFUSED,
  STAT_RECORDS_WRITTEN,
  STAT_SECTORS_DISCARDED,
  STREAM_NULL,
  SUBSYSTEM_STREAM,
} from "./abi";
import { EVT_RECORD_BYTES, TSD_HEADER_BYTES, TSD_RECORD_BYTES } from "./config";
import { ackLogCompactIfDue, positionsPersist, positionsPersistMany, seqBoundRaise, seqTopUpDue } from "./positions";
import { cleanupEnqueue, cleanupFileDeleteForAck, cleanupFileGone } from "./cleanup";
import { cachedSectorData, fileFirstSeq, fileLoad, fileNext, fileNextSet, fileQuarantine, fileRecords } from "./files";
import { halLog } from "./hal";
import {
  satAllocationFailed,
  satFreeCount,
  sectorCountGet,
  sectorCountSet,
  sectorData,
  sectorFirstSeqGet,
  sectorNextGet,
  sectorNextSet,
  sectorOwnerGet,
  sectorRelease,
  sectorTake,
} from "./sat";
import { statAdd, statGet } from "./stats";
import { core } from "./state";
import {
  STREAM_FLAG_DIRTY,
  S_ACKED_SEQ,
  S_DISK_FILES,
  S_DISK_HEAD,
  S_DISK_RECORDS,
  S_DISK_TAIL,
  S_FLAGS,
  S_NEXT_SEQ,
  S_PENDING,
  S_RAM_HEAD,
  S_RAM_RECORDS,
  S_RAM_SECTORS,
  S_RAM_TAIL,
  S_READ_HINT,
  S_RECORDS_DISCARDED,
  S_READ_SEQ,
  S_SEQ_RESERVED,
  liveRecords,
  recordsPerSector,
  streamAckedSeq,
  streamDataType,
  streamDirtySet,
  streamDiskFiles,
  streamDiskHead,
  streamDiskRecords,
  streamDiskTail,
  streamEntry,
  streamFieldAdd32,
  streamFieldAdd64,
  streamNextSeq,
  streamPending,
  streamRamHead,
  streamRamRecords,
  streamRamSectors,
  streamRamTail,
  streamReadSeq,
  streamRecordType,
  streamRecordsDiscarded,
  streamSampleRateMs,
  streamSensor,
  streamSource,
  streamValid,
} from "./stream-table";

// ---- Append ----------------------------------------------------------------------------------------

// Appends one record. `utcMs` is the record's time (EVT) or the time of the sample (TSD: stored
// only when it opens a sector; later samples in the sector are timed first + index × rate).
export function streamAppend(s: i32, recordType: i32, value: u32, utcMs: f64): i32 {
  const invalid = appendCheck(s, recordType, utcMs);
  if (invalid != OK) return invalid;
  const stream = <u32>s;
  const e = streamEntry(stream);
  const perSector = recordsPerSector(recordType);
  let tail = load<u32>(e + S_RAM_TAIL);
  const sectorNeeded = tail == SECTOR_NULL || sectorCountGet(tail) >= perSector;
  // Refuse before changing anything when no sector can be had.
  if (sectorNeeded && satFreeCount() == 0) {
    if (discardVictim() == STREAM_NONE) {
      satAllocationFailed();
      // Nothing to discard: every stream sector is pending, or raw sectors hold the pool.
      return streamSectorsAny() ? E_ALL_PENDING : E_OUT_OF_SECTORS;
    }
    // RAM is full and the disk tier took nothing (the caller tried a spill): refuse-new keeps what
    // is stored and refuses the new record.
    if (core().diskTier && <i32>core().diskFullPolicy == DISK_FULL_REFUSE_NEW) {
      statAdd(STAT_RECORDS_REFUSED, 1);
      halLog(LOG_DEBUG, SUBSYSTEM_STREAM, EVENT_WRITE_REFUSED, <f64>stream, statGet(STAT_RECORDS_REFUSED));
      return E_DISK_FULL;
    }
  }
  // Reserve sequence numbers durably before using them (one ACK record tops the stream up).
  if (core().diskTier && load<u64>(e + S_NEXT_SEQ) >= load<u64>(e + S_SEQ_RESERVED)) {
    if (positionsPersist(stream, load<u64>(e + S_ACKED_SEQ)) != OK) return E_SEQ_RESERVE;
    assert(load<u64>(e + S_NEXT_SEQ) < load<u64>(e + S_SEQ_RESERVED), "reservation not topped up");
  }
  if (sectorNeeded) {
    const seq = load<u64>(e + S_NEXT_SEQ);
    let id = sectorTake(stream, seq);
    if (id == SECTOR_NULL) {
      const discarded = discardForSpace();
      assert(discarded, "no sector to discard after the check");
      id = sectorTake(stream, seq);
      assert(id != SECTOR_NULL, "discard freed no sector");
    }
    tail = load<u32>(e + S_RAM_TAIL); // the discard may have changed this stream's tail
    if (tail == SECTOR_NULL) {
      store<u32>(e + S_RAM_HEAD, id);
    } else {
      sectorNextSet(tail, id);
    }
    store<u32>(e + S_RAM_TAIL, id);
    streamFieldAdd32(stream, S_RAM_SECTORS, 1);
    if (recordType == RECORD_TYPE_TSD) store<i64>(sectorData(id), <i64>utcMs);
    tail = id;
  }
  const index = sectorCountGet(tail);
  if (recordType == RECORD_TYPE_TSD) {
    store<u32>(sectorData(tail) + <usize>(TSD_HEADER_BYTES + index * TSD_RECORD_BYTES), value);
  } else {
    const record = sectorData(tail) + <usize>(index * EVT_RECORD_BYTES);
    store<u32>(record, value);
    store<i64>(record + 4, <i64>utcMs);
  }
  sectorCountSet(tail, index + 1);
  streamFieldAdd64(stream, S_NEXT_SEQ, 1);
  store<u16>(e + S_FLAGS, load<u16>(e + S_FLAGS) | STREAM_FLAG_DIRTY);
  streamFieldAdd64(stream, S_RAM_RECORDS, 1);
  statAdd(STAT_RECORDS_WRITTEN, 1);
  statAdd(STAT_RECORDS_LIVE, 1);
  return OK;
}

// Appends records `from`… of a batch while they fit in the stream's RAM tail sector and need
// nothing else: no new sector, no sequence-number reservation. Values are u32 words at `values`;
// EVT times are f64 at `times` (each one checked; the fill stops before an invalid one), TSD records
// take their times from the sector they join. Returns how many it appended (0 when the next record
// needs a new sector, a reservation or has an invalid time: streamAppend handles that one). The
// caller has checked the stream and its record type. Updates the counters once per sector.
export function streamAppendFill(s: u32, recordType: i32, values: usize, times: usize, from: i32, count: i32): i32 {
  const e = streamEntry(s);
  const tail = load<u32>(e + S_RAM_TAIL);
  if (tail == SECTOR_NULL) return 0;
  const index = <i32>sectorCountGet(tail);
  let fit = <i32>recordsPerSector(recordType) - index;
  if (fit > count - from) fit = count - from;
  if (fit <= 0) return 0;
  if (core().diskTier) {
    const reserved = load<u64>(e + S_SEQ_RESERVED) - load<u64>(e + S_NEXT_SEQ);
    if (<u64>fit > reserved) fit = <i32>reserved;
  }
  const data = sectorData(tail);
  let n = 0;
  if (recordType == RECORD_TYPE_TSD) {
    const out = data + <usize>(TSD_HEADER_BYTES + index * TSD_RECORD_BYTES);
    for (; n < fit; n++) store<u32>(out + <usize>(n * TSD_RECORD_BYTES), load<u32>(values + <usize>((from + n) << 2)));
  } else {
    for (; n < fit; n++) {
      const utcMs = load<f64>(times + <usize>((from + n) << 3));
      if (!(utcMs >= 0) || utcMs > 9007199254740991 || utcMs != Math.floor(utcMs)) break;
      const record = data + <usize>((index + n) * EVT_RECORD_BYTES);
      store<u32>(record, load<u32>(values + <usize>((from + n) << 2)));
      store<i64>(record + 4, <i64>utcMs);
    }
  }
  if (n == 0) return 0;
  sectorCountSet(tail, <u32>(index + n));
  streamFieldAdd64(s, S_NEXT_SEQ, <i64>n);
  store<u16>(e + S_FLAGS, load<u16>(e + S_FLAGS) | STREAM_FLAG_DIRTY);
  streamFieldAdd64(s, S_RAM_RECORDS, <i64>n);
  statAdd(STAT_RECORDS_WRITTEN, <f64>n);
  statAdd(STAT_RECORDS_LIVE, <f64>n);
  return n;
}

// The checks of an append that need no state: a known stream, its record type, a valid time.
function appendCheck(s: i32, recordType: i32, utcMs: f64): i32 {
  if (!streamValid(s)) return E_STREAM_UNKNOWN;
  if (streamRecordType(<u32>s) != recordType) return E_RECORD_TYPE_MISMATCH;
  if (!(utcMs >= 0) || utcMs > 9007199254740991 || utcMs != Math.floor(utcMs)) return E_INVALID_ARGUMENT;
  return OK;
}

// Whether a valid append to stream `s` needs a new sector while RAM has none free: the write path
// then first tries to spill (tier-machine.ts, spillForWrite) before streamAppend discards or refuses.
export function streamAppendNeedsRoom(s: i32, recordType: i32, utcMs: f64): bool {
  if (appendCheck(s, recordType, utcMs) != OK || satFreeCount() != 0) return false;
  const tail = streamRamTail(<u32>s);
  return tail == SECTOR_NULL || sectorCountGet(tail) >= recordsPerSector(recordType);
}

function streamSectorsAny(): bool {
  for (let s: u32 = 0; s < core().streamCount; s++) if (streamRamSectors(s) > 0) return true;
  return false;
}

// Whether RAM sector `id` of stream `s` holds a pending record.
export function sectorHasPending(s: u32, id: u32): bool {
  const acked = streamAckedSeq(s);
  const read = streamReadSeq(s);
  if (read <= acked) return false;
  const first = sectorFirstSeqGet(id);
  const end = first + <u64>sectorCountGet(id);
  return first < read && end > acked;
}

// Frees one RAM sector when the pool is empty: the oldest non-pending sector of the stream that
// owns the most RAM sectors. Its records are counted as discarded. Returns false when every
// sector holds pending data (or the pool is held by raw sectors).
const STREAM_NONE: u32 = 0xffffffff;

// The stream a discard would take a sector from: the one that owns the most RAM sectors among
// those with a sector holding no pending record; STREAM_NONE when there is none. Changes nothing.
function discardVictim(): u32 {
  let victim: u32 = STREAM_NONE;
  let victimSectors: u32 = 0;
  for (let s: u32 = 0; s < core().streamCount; s++) {
    const sectors = streamRamSectors(s);
    if (sectors <= victimSectors) continue;
    // A stream has a non-pending sector exactly when its newest sector holds no pending record.
    if (sectorHasPending(s, streamRamTail(s))) continue;
    victim = s;
    victimSectors = sectors;
  }
  return victim;
}

export function discardForSpace(): bool {
  const victim = discardVictim();
  if (victim == STREAM_NONE) return false;
  let previous = SECTOR_NULL;
  let id = streamRamHead(victim);
  for (let steps: u32 = 0; steps < core().sectorCount && id != SECTOR_NULL; steps++) {
    if (!sectorHasPending(victim, id)) {
      const live = liveRecords(sectorFirstSeqGet(id), <u64>sectorCountGet(id), streamAckedSeq(victim));
      ramSectorUnlink(victim, previous, id);
      sectorRelease(id);
      streamFieldAdd64(victim, S_RAM_RECORDS, -(<i64>live));
      streamFieldAdd64(victim, S_RECORDS_DISCARDED, <i64>live);
      statAdd(STAT_RECORDS_DISCARDED, <f64>live);
      statAdd(STAT_RECORDS_LIVE, -(<f64>live));
      statAdd(STAT_SECTORS_DISCARDED, 1);
      halLog(LOG_WARN, SUBSYSTEM_STREAM, EVENT_DISCARD, <f64>victim, <f64>live);
      return true;
    }
    previous = id;
    id = sectorNextGet(id);
  }
  assert(false, "stream chain has no non-pending sector");
  return false;
}

// Unlinks RAM sector `id` (whose predecessor is `previous`) from stream `s`; the caller frees it.
function ramSectorUnlink(s: u32, previous: u32, id: u32): void {
  const e = streamEntry(s);
  const next = sectorNextGet(id);
  if (previous == SECTOR_NULL) {
    assert(load<u32>(e + S_RAM_HEAD) == id, "unlink of a sector that is not the head");
    store<u32>(e + S_RAM_HEAD, next);
  } else {
    sectorNextSet(previous, next);
  }
  if (load<u32>(e + S_RAM_TAIL) == id) store<u32>(e + S_RAM_TAIL, previous);
  if (load<u32>(e + S_READ_HINT) == id) store<u32>(e + S_READ_HINT, SECTOR_NULL);
  sectorNextSet(id, SECTOR_NULL);
  streamFieldAdd32(s, S_RAM_SECTORS, -1);
}

// ---- Read (bulk read and peek) -----------------------------------------------------------------------

// @ts-ignore: decorator
@inline
function bulkEmit(out: u32, seq: u64, value: u32, utcMs: i64, flags: u32): void {
  const record = core().bulkPtr + <usize>out * <usize>BULK_RECORD_BYTES;
  store<u32>(record + BULK_SEQ_LO, <u32>seq);
  store<u32>(record + BULK_SEQ_HI, <u32>(seq >> 32));
  store<u32>(record + BULK_VALUE, value);
  store<u32>(record + BULK_FLAGS, flags);
  store<f64>(record + BULK_UTC_MS, <f64>utcMs);
}

// Emits records `from` … of one sector image at `data` (first seq `first`, `count` records).
// Returns how many it emitted, at most `room`.
function sectorEmit(
  data: usize,
  first: u64,
  count: u32,
  from: u32,
  room: u32,
  out: u32,
  recordType: i32,
  rateMs: u32,
  flags: u32,
): u32 {
  const n = min<u32>(count - from, room);
  if (recordType == RECORD_TYPE_TSD) {
    const firstUtc = load<i64>(data);
    for (let i: u32 = 0; i < n; i++) {
      const k = from + i;
      bulkEmit(
        out + i,
        first + <u64>k,
        load<u32>(data + <usize>(TSD_HEADER_BYTES + k * TSD_RECORD_BYTES)),
        firstUtc + <i64>k * <i64>rateMs,
        flags,
      );
    }
  } else {
    for (let i: u32 = 0; i < n; i++) {
      const k = from + i;
      const record = data + <usize>(k * EVT_RECORD_BYTES);
      bulkEmit(out + i, first + <u64>k, load<u32>(record), load<i64>(record + 4), flags);
    }
  }
  return n;
}

// Copies up to `recordsMax` records after the pending ones, oldest first, into the bulk buffer. With
// `mark`, they become pending (a bulk read); without, nothing changes (a peek). Returns the count
// or an error code; on error nothing is marked.
export function streamRead(s: i32, recordsMax: i32, mark: bool): i32 {
  const c = core();
  if (!streamValid(s)) return E_STREAM_UNKNOWN;
  if (recordsMax < 0) return E_INVALID_ARGUMENT;
  const stream = <u32>s;
  const room = min<u32>(<u32>recordsMax, c.bulkRecordsMax);
  const recordType = streamRecordType(stream);
  const rateMs = streamSampleRateMs(stream);
  const perSector = recordsPerSector(recordType);
  let cursor = max<u64>(streamReadSeq(stream), streamAckedSeq(stream));
  let out: u32 = 0;

  // Both tiers hold records in sequence order. In spill mode every file is older than every RAM
  // sector; in direct mode (SPEC.md 4.2) files and RAM sectors interleave. So the read merges them
  // by sequence number: it takes from the tier with the lower next record, up to the other's.
  const e = streamEntry(stream);
  let slot = streamDiskHead(stream);
  let previousSlot = FILE_SLOT_NULL;
  let id = load<u32>(e + S_RAM_HEAD);
  const hint = load<u32>(e + S_READ_HINT);
  if (hint != SECTOR_NULL && sectorOwnerGet(hint) == stream && sectorFirstSeqGet(hint) <= cursor) id = hint;
  let lastId = SECTOR_NULL;
  let fileSteps: u32 = 0;
  let ramSteps: u32 = 0;
  for (let rounds: u32 = 0; out < room && rounds <= c.bulkRecordsMax * 2 + 2; rounds++) {
    while (slot != FILE_SLOT_NULL && fileSteps <= 0xffff && fileFirstSeq(slot) + <u64>fileRecords(slot) <= cursor) {
      previousSlot = slot;
      slot = fileNext(slot);
      fileSteps++;
    }
    while (id != SECTOR_NULL && ramSteps < c.sectorCount && sectorFirstSeqGet(id) + <u64>sectorCountGet(id) <= cursor) {
      id = sectorNextGet(id);
      ramSteps++;
    }
    if (fileSteps > 0xffff || ramSteps >= c.sectorCount) break;
    if (slot == FILE_SLOT_NULL && id == SECTOR_NULL) break;
    const diskNext: u64 = slot == FILE_SLOT_NULL ? U64.MAX_VALUE : max<u64>(cursor, fileFirstSeq(slot));
    const ramNext: u64 = id == SECTOR_NULL ? U64.MAX_VALUE : max<u64>(cursor, sectorFirstSeqGet(id));
    if (diskNext < ramNext) {
      const status = fileLoad(slot, streamSource(stream), streamSensor(stream));
      if (status == E_FILE_CORRUPT) {
        // The file changed on disk behind the core's back: quarantine it and read on past it.
        const next = fileNext(slot);
        diskFileDropCorrupt(stream, previousSlot, slot);
        slot = next;
        continue;
      }
      if (status != OK) return status;
      const first = fileFirstSeq(slot);
      const count = fileRecords(slot);
      const end = min<u64>(first + <u64>count, ramNext);
      let index = <u32>(diskNext - first);
      const indexEnd = <u32>(end - first);
      while (index < indexEnd && out < room) {
        const k = index / perSector;
        const from = index - k * perSector;
        const inSector = min<u32>(perSector, count - k * perSector);
        const n = sectorEmit(
          cachedSectorData(k),
          first + <u64>(k * perSector),
          inSector,
          from,
          min<u32>(room - out, indexEnd - index),
          out,
          recordType,
          rateMs,
          BULK_FLAG_DISK,
        );
        if (n == 0) break;
        out += n;
        index += n;
      }
      cursor = first + <u64>index;
    } else {
      const first = sectorFirstSeqGet(id);
      const count = sectorCountGet(id);
      const from = <u32>(ramNext - first);
      const upTo = diskNext - ramNext;
      const cap = upTo < <u64>(room - out) ? <u32>upTo : room - out;
      const n = sectorEmit(sectorData(id), first, count, from, cap, out, recordType, rateMs, 0);
      if (n == 0) break;
      out += n;
      cursor = first + <u64>(from + n);
      lastId = id;
    }
  }

  if (mark && out > 0) {
    const lastRecord = c.bulkPtr + <usize>(out - 1) * <usize>BULK_RECORD_BYTES;
    const lastSeq = (<u64>load<u32>(lastRecord + BULK_SEQ_LO)) | ((<u64>load<u32>(lastRecord + BULK_SEQ_HI)) << 32);
    store<u64>(e + S_READ_SEQ, lastSeq + 1);
    streamFieldAdd64(stream, S_PENDING, <i64>out);
    if (lastId != SECTOR_NULL) store<u32>(e + S_READ_HINT, lastId);
    statAdd(STAT_RECORDS_READ, <f64>out);
  }
  return <i32>out;
}

// ---- ACK and NACK ------------------------------------------------------------------------------------

// Erases exactly the first `count` pending records; frees every RAM sector that becomes empty and
// hands every disk file that becomes fully acknowledged to cleanup. When the ACK erases records
// that are on disk, the new position is persisted first (a record in the ACK log); if that fails,
// the ACK is refused with E_ACK_PERSIST and nothing changes.
export function streamAck(s: i32, count: f64): i32 {
  if (!streamValid(s)) return E_STREAM_UNKNOWN;
  const stream = <u32>s;
  if (!(count >= 0) || count != Math.floor(count)) return E_INVALID_ARGUMENT;
  if (count > <f64>streamPending(stream)) return E_ACK_TOO_MANY;
  if (count == 0) return OK;
  const acked = ackEnd(stream, <u64>count);
  let deleted = FILE_SLOT_NULL;
  if (ackTouchesDisk(stream, acked)) {
    const durable = ackDurable(stream, acked);
    if (durable < 0) return E_ACK_PERSIST;
    deleted = <u32>durable;
  } else {
    streamDirtySet(stream, true);
  }
  ackApply(stream, <u64>count, acked, deleted);
  return OK;
}

// Whole-file ACK (SPEC.md 6.5): whether the ACK of `stream` ending at `acked` may be made durable
// by deleting the stream's oldest file instead of appending a record. It must erase that file to
// its end and no other file (what else it erases is in RAM), the policy must be the one that
// deletes in the ACK path anyway (immediate: batched and lazy defer deletions by design), and the
// record would have no other job (no reservation top-up due).
function ackByDeletion(stream: u32, acked: u64): bool {
  if (core().cleanupPolicy != CLEANUP_IMMEDIATE) return false;
  const head = streamDiskHead(stream);
  if (head == FILE_SLOT_NULL) return false;
  const end = fileFirstSeq(head) + <u64>fileRecords(head);
  const next = fileNext(head);
  // The head file to its end and no record of the next file (what lies between is in RAM).
  const whole = acked >= end && (next == FILE_SLOT_NULL || fileFirstSeq(next) >= acked);
  return whole && !seqTopUpDue(stream);
}

// Makes the ACK of `stream` ending at `acked`, which erases disk records, durable: by deleting the
// file it erases when ackByDeletion allows (recovery then finds the stream's oldest file gone and
// reads from the next, so none of its records can come back), else, or if that deletion fails,
// by an ACK record. Returns the slot of the file the ACK deleted (FILE_SLOT_NULL for none), or −1
// when the record could not be written and nothing changed (the ACK is refused).
function ackDurable(stream: u32, acked: u64): i64 {
  let deleted = FILE_SLOT_NULL;
  if (ackByDeletion(stream, acked)) {
    const slot = streamDiskHead(stream);
    const status = cleanupFileDeleteForAck(slot);
    if (status == OK) {
      streamDirtySet(stream, true); // the position is for the next record or checkpoint to carry
      return <i64>slot;
    }
    if (status == DELETE_UNSYNCED) deleted = slot;
  }
  if (positionsPersist(stream, acked) != OK) {
    // Removed but not known durable, and no record: the file is gone from the store, so the ACK
    // stands; until the host's retried directory sync goes through it is at-least-once.
    if (deleted != FILE_SLOT_NULL) {
      streamDirtySet(stream, true);
      return <i64>deleted;
    }
    return -1;
  }
  return <i64>deleted;
}

// Group commit (SPEC.md 6.5, 7.2): the ACKs of `n` streams, entries of ACK_MANY_ENTRY_BYTES at the
// bulk buffer (stream index, count). Every entry is checked first (a known stream, at most once, a
// whole count no larger than its pending records); then one ACK-log write carries a record for
// every stream whose ACK erases disk records, and only then are the ACKs applied. If the write
// fails the call is refused with E_ACK_PERSIST and no ACK is applied.
export function streamAckMany(n: i32): i32 {
  const c = core();
  if (n < 0 || <u32>n * <u32>ACK_MANY_ENTRY_BYTES > c.bulkRecordsMax * <u32>BULK_RECORD_BYTES) {
    return E_INVALID_ARGUMENT;
  }
  const entries = c.bulkPtr;
  let touching: u32 = 0;
  for (let i: u32 = 0; i < <u32>n; i++) {
    const entry = entries + <usize>i * <usize>ACK_MANY_ENTRY_BYTES;
    const s = load<i32>(entry + ACK_MANY_STREAM_OFFSET);
    if (!streamValid(s)) return E_STREAM_UNKNOWN;
    const count = load<f64>(entry + ACK_MANY_COUNT_OFFSET);
    if (!(count >= 0) || count != Math.floor(count)) return E_INVALID_ARGUMENT;
    if (count > <f64>streamPending(<u32>s)) return E_ACK_TOO_MANY;
    for (let j: u32 = 0; j < i; j++) {
      if (load<i32>(entries + <usize>j * <usize>ACK_MANY_ENTRY_BYTES + ACK_MANY_STREAM_OFFSET) == s) {
        return E_INVALID_ARGUMENT;
      }
    }
    const ackedAt = count > 0 ? ackEnd(<u32>s, <u64>count) : streamAckedSeq(<u32>s);
    const disk = count > 0 && ackTouchesDisk(<u32>s, ackedAt);
    store<u32>(entry + ACK_MANY_FLAGS_OFFSET, disk ? 1 : 0);
    store<u64>(entry + ACK_MANY_ACKED_OFFSET, ackedAt);
    if (disk) touching++;
  }
  // One stream's ACK erasing disk records is made durable as a single ACK is (it may be a whole-file
  // ACK); several go into one write, one sync for them all, and their files to cleanup.
  let deleted = FILE_SLOT_NULL;
  let deletedStream: u32 = STREAM_NULL;
  if (touching == 1) {
    for (let i: u32 = 0; i < <u32>n; i++) {
      const entry = entries + <usize>i * <usize>ACK_MANY_ENTRY_BYTES;
      if (load<u32>(entry + ACK_MANY_FLAGS_OFFSET) == 0) continue;
      deletedStream = load<u32>(entry + ACK_MANY_STREAM_OFFSET);
      const durable = ackDurable(deletedStream, load<u64>(entry + ACK_MANY_ACKED_OFFSET));
      if (durable < 0) return E_ACK_PERSIST;
      deleted = <u32>durable;
    }
  } else if (touching > 1 && positionsPersistMany(entries, <u32>n) != OK) {
    return E_ACK_PERSIST;
  }
  for (let i: u32 = 0; i < <u32>n; i++) {
    const entry = entries + <usize>i * <usize>ACK_MANY_ENTRY_BYTES;
    const stream = load<u32>(entry + ACK_MANY_STREAM_OFFSET);
    const count = <u64>load<f64>(entry + ACK_MANY_COUNT_OFFSET);
    if (count == 0) continue;
    if (load<u32>(entry + ACK_MANY_FLAGS_OFFSET) == 0) streamDirtySet(stream, true);
    ackApply(
      stream,
      count,
      load<u64>(entry + ACK_MANY_ACKED_OFFSET),
      stream == deletedStream ? deleted : FILE_SLOT_NULL,
    );
  }
  if (touching > 1) ackLogCompactIfDue();
  return OK;
}

// Applies an ACK of `count` pending records of `stream` ending at `acked` (ackEnd), already durable
// where it had to be. `deleted`: the file the ACK already deleted (FILE_SLOT_NULL for none); the
// others it erases entirely go to cleanup.
function ackApply(stream: u32, count: u64, acked: u64, deleted: u32): void {
  const e = streamEntry(stream);
  const old = load<u64>(e + S_ACKED_SEQ);
  let erased: u64 = 0;
  // Every live record below `acked` goes, in either tier (they interleave in direct mode).
  for (let steps: u32 = 0; steps <= 0xffff; steps++) {
    const slot = load<u32>(e + S_DISK_HEAD);
    if (slot == FILE_SLOT_NULL) break;
    const first = fileFirstSeq(slot);
    const end = first + <u64>fileRecords(slot);
    if (first >= acked) break;
    const from = max<u64>(old, first);
    const to = min<u64>(end, acked);
    const take = to > from ? to - from : 0;
    erased += take;
    streamFieldAdd64(stream, S_DISK_RECORDS, -(<i64>take));
    if (end > acked) break;
    diskHeadRemove(stream);
    if (slot == deleted) cleanupFileGone(slot);
    else cleanupEnqueue(slot);
  }

  for (let steps: u32 = 0; steps < core().sectorCount; steps++) {
    const id = load<u32>(e + S_RAM_HEAD);
    if (id == SECTOR_NULL) break;
    const first = sectorFirstSeqGet(id);
    const end = first + <u64>sectorCountGet(id);
    if (first >= acked) break;
    const from = max<u64>(old, first);
    const to = min<u64>(end, acked);
    const take = to > from ? to - from : 0;
    erased += take;
    streamFieldAdd64(stream, S_RAM_RECORDS, -(<i64>take));
    if (end > acked) break;
    ramSectorUnlink(stream, SECTOR_NULL, id);
    sectorRelease(id);
  }
  assert(erased == count, "ack erased other than the pending records planned");

  store<u64>(e + S_ACKED_SEQ, acked);
  streamFieldAdd64(stream, S_PENDING, -(<i64>count));
  statAdd(STAT_RECORDS_ACKED, <f64>count);
  statAdd(STAT_RECORDS_LIVE, -(<f64>count));
}

// Whether an ACK that moves ackedSeq to `acked` erases records that are in `.imx` files: a file on
// the stream's disk list holds a record in [ackedSeq, acked).
function ackTouchesDisk(stream: u32, acked: u64): bool {
  const from = streamAckedSeq(stream);
  let slot = streamDiskHead(stream);
  for (let steps: u32 = 0; slot != FILE_SLOT_NULL && steps <= 0xffff; steps++) {
    const first = fileFirstSeq(slot);
    if (first >= acked) return false;
    if (first + <u64>fileRecords(slot) > from) return true;
    slot = fileNext(slot);
  }
  return false;
}

// Where an ACK of `count` pending records would move ackedSeq, without changing anything: the
// sequence number after the count-th live record from ackedSeq, in sequence order across both tiers.
function ackEnd(stream: u32, count: u64): u64 {
  let remaining = count;
  let cursor = streamAckedSeq(stream);
  let slot = streamDiskHead(stream);
  let id = streamRamHead(stream);
  const c = core();
  for (let steps: u32 = 0; remaining > 0 && steps <= 0xffff + c.sectorCount; steps++) {
    while (slot != FILE_SLOT_NULL && fileFirstSeq(slot) + <u64>fileRecords(slot) <= cursor) slot = fileNext(slot);
    while (id != SECTOR_NULL && sectorFirstSeqGet(id) + <u64>sectorCountGet(id) <= cursor) id = sectorNextGet(id);
    if (slot == FILE_SLOT_NULL && id == SECTOR_NULL) break;
    const diskNext: u64 = slot == FILE_SLOT_NULL ? U64.MAX_VALUE : max<u64>(cursor, fileFirstSeq(slot));
    const ramNext: u64 = id == SECTOR_NULL ? U64.MAX_VALUE : max<u64>(cursor, sectorFirstSeqGet(id));
    let from: u64;
    let end: u64;
    if (diskNext < ramNext) {
      from = diskNext;
      end = min<u64>(fileFirstSeq(slot) + <u64>fileRecords(slot), ramNext);
    } else {
      from = ramNext;
      end = min<u64>(sectorFirstSeqGet(id) + <u64>sectorCountGet(id), diskNext);
    }
    const take = min<u64>(end - from, remaining);
    remaining -= take;
    cursor = from + take;
  }
  return cursor;
}

// Makes every pending record readable again. Idempotent.
export function streamRevert(s: i32): i32 {
  if (!streamValid(s)) return E_STREAM_UNKNOWN;
  const e = streamEntry(<u32>s);
  store<u64>(e + S_READ_SEQ, load<u64>(e + S_ACKED_SEQ));
  store<u64>(e + S_PENDING, 0);
  store<u32>(e + S_READ_HINT, SECTOR_NULL);
  return OK;
}

// ---- Disk list -----------------------------------------------------------------------------------------

// Puts the file in `slot` on stream `s`'s disk list, which is kept in sequence order: at the tail
// (a spill, boot recovery's sorted scan, a direct write) or, when the file is older than files
// already there (a flush in direct mode moves RAM sectors older than the direct files), before the
// first of them.
export function diskTailAppend(s: u32, slot: u32, liveCount: u64): void {
  const e = streamEntry(s);
  const tail = load<u32>(e + S_DISK_TAIL);
  const firstSeq = fileFirstSeq(slot);
  if (tail != FILE_SLOT_NULL && fileFirstSeq(tail) > firstSeq) {
    let previous = FILE_SLOT_NULL;
    let at = load<u32>(e + S_DISK_HEAD);
    for (let steps: u32 = 0; at != FILE_SLOT_NULL && fileFirstSeq(at) < firstSeq && steps <= 0xffff; steps++) {
      previous = at;
      at = fileNext(at);
    }
    fileNextSet(slot, at);
    if (previous == FILE_SLOT_NULL) store<u32>(e + S_DISK_HEAD, slot);
    else fileNextSet(previous, slot);
    streamFieldAdd32(s, S_DISK_FILES, 1);
    streamFieldAdd64(s, S_DISK_RECORDS, <i64>liveCount);
    return;
  }
  if (tail == FILE_SLOT_NULL) {
    store<u32>(e + S_DISK_HEAD, slot);
  } else {
    fileNextSet(tail, slot);
  }
  store<u32>(e + S_DISK_TAIL, slot);
  streamFieldAdd32(s, S_DISK_FILES, 1);
  streamFieldAdd64(s, S_DISK_RECORDS, <i64>liveCount);
}

// Removes a file that failed validation from stream `s` (its predecessor is `previous`): its live
// records are counted as discarded, pending ones stop being pending, and the host moves the file
// to corrupted/.
function diskFileDropCorrupt(s: u32, previous: u32, slot: u32): void {
  diskFileUnlink(s, previous, slot);
  fileQuarantine(slot, streamSource(s), streamSensor(s));
}

// Takes the file in `slot` (whose predecessor on the list is `previous`) off stream `s`: its live
// records are counted as discarded, its pending ones stop being pending. Returns the live records.
// The caller deletes or quarantines the file and releases its slot.
function diskFileUnlink(s: u32, previous: u32, slot: u32): u64 {
  const e = streamEntry(s);
  const first = fileFirstSeq(slot);
  const end = first + <u64>fileRecords(slot);
  const acked = load<u64>(e + S_ACKED_SEQ);
  const live = liveRecords(first, <u64>fileRecords(slot), acked);
  const pendingLo = max<u64>(first, acked);
  const pendingHi = min<u64>(end, load<u64>(e + S_READ_SEQ));
  if (pendingHi > pendingLo) streamFieldAdd64(s, S_PENDING, -(<i64>(pendingHi - pendingLo)));
  const next = fileNext(slot);
  if (previous == FILE_SLOT_NULL) {
    store<u32>(e + S_DISK_HEAD, next);
  } else {
    fileNextSet(previous, next);
  }
  if (load<u32>(e + S_DISK_TAIL) == slot) store<u32>(e + S_DISK_TAIL, previous);
  streamFieldAdd32(s, S_DISK_FILES, -1);
  streamFieldAdd64(s, S_DISK_RECORDS, -(<i64>live));
  streamFieldAdd64(s, S_RECORDS_DISCARDED, <i64>live);
  statAdd(STAT_RECORDS_DISCARDED, <f64>live);
  statAdd(STAT_RECORDS_LIVE, -(<f64>live));
  return live;
}

// Whether the file in `slot` of stream `s` holds a pending record.
export function fileHasPending(s: u32, slot: u32): bool {
  const acked = streamAckedSeq(s);
  const read = streamReadSeq(s);
  if (read <= acked) return false;
  const first = fileFirstSeq(slot);
  return first < read && first + <u64>fileRecords(slot) > acked;
}

// The file evict-oldest would give up first on stream `s`: the oldest file that holds no pending
// record and is not the stream's newest file on disk (that one tells boot recovery where the
// stream's data on disk ends). FILE_SLOT_NULL when there is none. Changes nothing.
export function diskFileOldestFree(s: u32): u32 {
  const tail = streamDiskTail(s);
  let slot = streamDiskHead(s);
  for (let steps: u32 = 0; slot != FILE_SLOT_NULL && slot != tail && steps <= 0xffff; steps++) {
    if (!fileHasPending(s, slot)) return slot;
    slot = fileNext(slot);
  }
  return FILE_SLOT_NULL;
}

// A file of stream `s` that the disk tier deleted to make room (evict-oldest): off the list, its
// live records counted as discarded (also in STAT_RECORDS_DISCARDED_FILES). Returns them.
export function diskFileDiscarded(s: u32, slot: u32): u64 {
  let previous = FILE_SLOT_NULL;
  let at = streamDiskHead(s);
  for (let steps: u32 = 0; at != slot && steps <= 0xffff; steps++) {
    assert(at != FILE_SLOT_NULL, "discarded file is not on its stream");
    previous = at;
    at = fileNext(at);
  }
  const live = diskFileUnlink(s, previous, slot);
  statAdd(STAT_RECORDS_DISCARDED_FILES, <f64>live);
  return live;
}

export function diskHeadRemove(s: u32): u32 {
  const e = streamEntry(s);
  const slot = load<u32>(e + S_DISK_HEAD);
  assert(slot != FILE_SLOT_NULL, "disk list is empty");
  const next = fileNext(slot);
  store<u32>(e + S_DISK_HEAD, next);
  if (next == FILE_SLOT_NULL) store<u32>(e + S_DISK_TAIL, FILE_SLOT_NULL);
  streamFieldAdd32(s, S_DISK_FILES, -1);
  return slot;
}

// Recovery: hands files whose every record is below ackedSeq to cleanup, recounts the live
// records on disk, and makes nothing pending. Returns the live records on disk.
export function diskListRecount(s: u32): u64 {
  const e = streamEntry(s);
  const acked = load<u64>(e + S_ACKED_SEQ);
  for (let steps: u32 = 0; steps <= 0xffff; steps++) {
    const slot = load<u32>(e + S_DISK_HEAD);
    if (slot == FILE_SLOT_NULL || fileFirstSeq(slot) + <u64>fileRecords(slot) > acked) break;
    diskHeadRemove(s);
    cleanupEnqueue(slot);
  }
  let live: u64 = 0;
  let slot = load<u32>(e + S_DISK_HEAD);
  for (let steps: u32 = 0; slot != FILE_SLOT_NULL && steps <= 0xffff; steps++) {
    live += liveRecords(fileFirstSeq(slot), <u64>fileRecords(slot), acked);
    slot = fileNext(slot);
  }
  store<u64>(e + S_DISK_RECORDS, live);
  store<u64>(e + S_READ_SEQ, acked);
  store<u64>(e + S_PENDING, 0);
  return live;
}

// Commits a spill's bookkeeping in one call: the `sectors` oldest RAM sectors of stream `s` are now
// in the file in `slot` (written, its slot taken). Unlinks and frees them, moves their live records
// from the RAM count to the disk count and appends the file to the stream's disk list. Returns the
// live records moved.
export function streamSpillCommit(s: u32, sectors: u32, slot: u32): u64 {
  const acked = streamAckedSeq(s);
  let live: u64 = 0;
  for (let i: u32 = 0; i < sectors; i++) {
    const moved = streamRamHead(s);
    live += liveRecords(sectorFirstSeqGet(moved), <u64>sectorCountGet(moved), acked);
    ramSectorUnlink(s, SECTOR_NULL, moved);
    sectorRelease(moved);
  }
  streamFieldAdd64(s, S_RAM_RECORDS, -(<i64>live));
  diskTailAppend(s, slot, live);
  seqBoundRaise(s, fileFirstSeq(slot) + <u64>fileRecords(slot));
  return live;
}

// Commits a direct write's bookkeeping (tier.mode "direct"): the `sectors` RAM sectors of stream `s`
// after `previous` (SECTOR_NULL: from the head) are now in the file in `slot`. Unlinks and frees
// them, moves their live records from the RAM count to the disk count and puts the file on the
// stream's disk list in sequence order. Returns the live records moved.
export function streamDirectCommit(s: u32, previous: u32, sectors: u32, slot: u32): u64 {
  const acked = streamAckedSeq(s);
  let live: u64 = 0;
  for (let i: u32 = 0; i < sectors; i++) {
    const moved = previous == SECTOR_NULL ? streamRamHead(s) : sectorNextGet(previous);
    assert(moved != SECTOR_NULL, "direct write ran past the stream's sectors");
    live += liveRecords(sectorFirstSeqGet(moved), <u64>sectorCountGet(moved), acked);
    ramSectorUnlink(s, previous, moved);
    sectorRelease(moved);
  }
  streamFieldAdd64(s, S_RAM_RECORDS, -(<i64>live));
  diskTailAppend(s, slot, live);
  seqBoundRaise(s, fileFirstSeq(slot) + <u64>fileRecords(slot));
  return live;
}

// Drops every disk file of stream `s` from its list (forced cleanup) and recounts what stays pending.
// Returns the number of live records that were on disk.
function diskListClear(s: u32): u64 {
  const e = streamEntry(s);
  const lost = load<u64>(e + S_DISK_RECORDS);
  store<u32>(e + S_DISK_HEAD, FILE_SLOT_NULL);
  store<u32>(e + S_DISK_TAIL, FILE_SLOT_NULL);
  store<u32>(e + S_DISK_FILES, 0);
  store<u64>(e + S_DISK_RECORDS, 0);
  // Pending records that were on disk are gone: count what stays pending in RAM.
  const acked = load<u64>(e + S_ACKED_SEQ);
  const read = load<u64>(e + S_READ_SEQ);
  let pending: u64 = 0;
  let id = load<u32>(e + S_RAM_HEAD);
  for (let steps: u32 = 0; id != SECTOR_NULL && steps < core().sectorCount; steps++) {
    const first = sectorFirstSeqGet(id);
    const end = first + <u64>sectorCountGet(id);
    const lo = max<u64>(first, acked);
    const hi = min<u64>(end, read);
    if (hi > lo) pending += hi - lo;
    id = sectorNextGet(id);
  }
  store<u64>(e + S_PENDING, pending);
  streamFieldAdd64(s, S_RECORDS_DISCARDED, <i64>lost);
  statAdd(STAT_RECORDS_LIVE, -(<f64>lost));
  return lost;
}

// Forced cleanup: drops every stream's disk files from its list (diskListClear). Returns the live
// records that were on disk.
export function streamsDiskListsClear(): u64 {
  let lost: u64 = 0;
  for (let s: u32 = 0; s < core().streamCount; s++) lost += diskListClear(s);
  return lost;
}

// ---- Query -----------------------------------------------------------------------------------------------

// Writes the stream's counters into the query block.
export function streamQuery(s: i32): i32 {
  if (!streamValid(s)) return E_STREAM_UNKNOWN;
  const stream = <u32>s;
  const ram = streamRamRecords(stream);
  const disk = streamDiskRecords(stream);
  const pending = streamPending(stream);
  queryPut(QUERY_RECORDS_TOTAL, <f64>(ram + disk));
  queryPut(QUERY_RECORDS_PENDING, <f64>pending);
  queryPut(QUERY_RECORDS_NEW, <f64>(ram + disk - pending));
  queryPut(QUERY_RECORDS_RAM, <f64>ram);
  queryPut(QUERY_RECORDS_DISK, <f64>disk);
  queryPut(QUERY_SEQ_NEXT, <f64>streamNextSeq(stream));
  queryPut(QUERY_SEQ_ACKED, <f64>streamAckedSeq(stream));
  queryPut(QUERY_SEQ_READ, <f64>streamReadSeq(stream));
  queryPut(QUERY_SECTORS_RAM, <f64>streamRamSectors(stream));
  queryPut(QUERY_FILES_DISK, <f64>streamDiskFiles(stream));
  queryPut(QUERY_RECORD_TYPE, <f64>streamRecordType(stream));
  queryPut(QUERY_DATA_TYPE, <f64>streamDataType(stream));
  queryPut(QUERY_SAMPLE_RATE_MS, <f64>streamSampleRateMs(stream));
  queryPut(QUERY_SOURCE, <f64>streamSource(stream));
  queryPut(QUERY_SENSOR, <f64>streamSensor(stream));
  queryPut(QUERY_RECORDS_DISCARDED, <f64>streamRecordsDiscarded(stream));
  return OK;
}

// @ts-ignore: decorator
@inline
function queryPut(index: i32, value: f64): void {
  store<f64>(core().queryPtr + ((<usize>index) << 3), value);
}

// ---- Reset -----------------------------------------------------------------------------------------------

// Removes every record of stream `s`, pending ones included (MM2's sensor reset, the original's
// reset_csd_entry): RAM sectors are freed, files are handed to cleanup, and the records are counted
// as discarded, not acknowledged. It runs the ACK's path over every live record, so the new
// position is persisted first when files are involved (E_ACK_PERSIST if that fails, nothing
// changed) and boot recovery cannot bring the records back. The stream stays configured and its
// sequence numbers go on. Returns the records removed or an error code.
export function streamReset(s: i32): f64 {
  if (!streamValid(s)) return <f64>E_STREAM_UNKNOWN;
  const stream = <u32>s;
  const e = streamEntry(stream);
  const live = streamRamRecords(stream) + streamDiskRecords(stream);
  if (live == 0) return 0;
  const readSeq = load<u64>(e + S_READ_SEQ);
  const pending = load<u64>(e + S_PENDING);
  const hint = load<u32>(e + S_READ_HINT);
  // Everything live becomes pending, then one ACK takes it all.
  store<u64>(e + S_READ_SEQ, streamNextSeq(stream));
  store<u64>(e + S_PENDING, live);
  const status = streamAck(s, <f64>live);
  if (status != OK) {
    store<u64>(e + S_READ_SEQ, readSeq);
    store<u64>(e + S_PENDING, pending);
    store<u32>(e + S_READ_HINT, hint);
    return <f64>status;
  }
  store<u32>(e + S_READ_HINT, SECTOR_NULL);
  statAdd(STAT_RECORDS_ACKED, -(<f64>live));
  statAdd(STAT_RECORDS_DISCARDED, <f64>live);
  streamFieldAdd64(stream, S_RECORDS_DISCARDED, <i64>live);
  return <f64>live;
}
