// Boot recovery: a new device on an existing storage directory adopts what a previous run left on
// disk. Right after boot, the host reads the positions file and then every `.imx` file (sorted by
// stream and first sequence number) into the read buffer and hands each to the core, then closes
// recovery. A file that fails validation is refused with a specific code and the host quarantines
// it; the rest of the store stays usable.
//
// After recovery every stream continues after the highest sequence number seen (in a file or in
// the positions file), nothing is pending, and records below the persisted ACK position are never
// delivered again: a file whose every record is below it is handed back for deletion.

import {
  ACK_RECORD_ACKED_SEQ_OFFSET,
  ACK_RECORD_BYTES,
  ACK_RECORD_DATA_TYPE_OFFSET,
  ACK_RECORD_NEXT_SEQ_OFFSET,
  ACK_RECORD_RECORD_TYPE_OFFSET,
  ACK_RECORD_SAMPLE_RATE_OFFSET,
  ACK_RECORD_SENSOR_OFFSET,
  ACK_RECORD_SEQ_OFFSET,
  ACK_RECORD_SEQ_RESERVED_OFFSET,
  ACK_RECORD_SOURCE_OFFSET,
  DATA_TYPE_COUNT,
  E_INVALID_ARGUMENT,
  E_FILE_TABLE_FULL,
  E_IMX_COUNTS,
  E_IMX_CRC,
  E_IMX_GEOMETRY,
  E_IMX_MAGIC,
  E_IMX_ORDER,
  E_IMX_SIZE,
  E_IMX_VERSION,
  E_RECOVERY_CLOSED,
  E_STREAM_CONFIG_MISMATCH,
  EVENT_RECOVERY_DONE,
  FILE_SLOT_NULL,
  IMX_ACKED_SEQ_OFFSET,
  IMX_CRC32_OFFSET,
  IMX_CREATED_MS_OFFSET,
  IMX_DATA_TYPE_OFFSET,
  IMX_FIRST_SEQ_OFFSET,
  IMX_FORMAT_VERSION,
  IMX_HEADER_BYTES,
  IMX_HEADER_BYTES_OFFSET,
  IMX_MAGIC,
  IMX_MAGIC_OFFSET,
  IMX_PAYLOAD_BYTES_OFFSET,
  IMX_RECORD_COUNT_OFFSET,
  IMX_RECORD_TYPE_OFFSET,
  IMX_SAMPLE_RATE_OFFSET,
  IMX_SECTOR_BYTES_OFFSET,
  IMX_SECTOR_COUNT_OFFSET,
  IMX_SENSOR_OFFSET,
  IMX_SOURCE_OFFSET,
  IMX_VERSION_OFFSET,
  LOG_INFO,
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
  POSITIONS_HEADER_BYTES,
  POSITIONS_FORMAT_VERSION,
  POSITIONS_MAGIC,
  POSITIONS_MAGIC_OFFSET,
  POSITIONS_RECORD_BYTES_OFFSET,
  POSITIONS_VERSION_OFFSET,
  RECORD_TYPE_EVT,
  RECORD_TYPE_TSD,
  RECOVERY_FILE_ACKED,
  SECTOR_NULL,
  STAT_ACK_LOG_BYTES,
  STAT_ACK_RECORDS,
  STAT_DISK_BYTES_USED,
  STAT_FILES_LIVE,
  STAT_RECORDS_LIVE,
  STAT_RECORDS_LOST_RAM,
  STAT_RECORDS_LOST_RAM_MAX,
  STAT_RECOVERY_FILES_ACKED,
  STAT_RECOVERY_FILES_KEPT,
  STAT_RECOVERY_RECORDS,
  SUBSYSTEM_RECOVERY,
  E_POSITIONS_CORRUPT,
} from "./abi";
import { crc32Update } from "./crc32";
import { fileCacheDrop, fileFirstSeq, fileRecords, fileSlotTake } from "./files";
import { halLog } from "./hal";
import { ackLogDamagedSet, ackRecordValid, positionsLegacyFound, positionsValid, seqRamRecordsMax } from "./positions";
import { statAdd, statGet, statSet } from "./stats";
import { diskListRecount, diskTailAppend } from "./stream";
import {
  recordsPerSector,
  streamAckedSeq,
  streamAckedSeqSet,
  streamConfigure,
  streamDirty,
  streamDirtySet,
  streamDiskTail,
  streamNextSeq,
  streamNextSeqSet,
  streamRamHead,
  streamSeqReserved,
  streamSeqReservedSet,
} from "./stream-table";
import { core, POSITIONS_LEGACY_FOUND, POSITIONS_LEGACY_REPLACED } from "./state";

const SEQ_MAX: u64 = 9007199254740991; // 2^53 − 1: sequence numbers cross the boundary as f64

export function recoveryInit(): void {
  core().recoveryOpen = true;
}

export function recoveryIsOpen(): bool {
  return core().recoveryOpen;
}

// Closes recovery; called by the host before the device is used (or by the first write).
//
// A stream whose positions record is closed (seqReserved = nextSeq: a flush completed, RAM was
// empty) continues exactly at its next number and lost nothing with RAM. Any other stream was cut
// off with records possibly in RAM: nothing is known to be lost for certain, numbering resumes
// above everything the previous life may have handed out (its reservation, and what RAM could hold
// above its data on disk), and the records possibly lost are counted as a bound.
export function recoveryClose(): void {
  const c = core();
  if (!c.recoveryOpen) return;
  c.recoveryOpen = false;
  let lost: u64 = 0;
  let lostMax: u64 = 0;
  let recovered: u64 = 0;
  for (let s: u32 = 0; s < c.streamCount; s++) {
    // A later file's header may have shown that earlier files were acknowledged: hand them to cleanup.
    recovered += diskListRecount(s);
    const tail = streamDiskTail(s);
    const diskEnd = tail == FILE_SLOT_NULL ? 0 : fileFirstSeq(tail) + <u64>fileRecords(tail);
    const known = max<u64>(diskEnd, streamAckedSeq(s));
    const next = max<u64>(streamNextSeq(s), diskEnd);
    // During recovery the dirty flag marks a stream whose positions record was closed (see
    // recoveryPositions). A damaged ACK log may have lost a later record of any stream (one that
    // reserved numbers past a closing record), so then no stream counts as closed (SPEC.md 6.5).
    const closed = streamDirty(s) && !c.ackLogDamaged;
    // A stream nothing durable speaks of (configured by the host before the first write) starts afresh.
    const unknown = next == 0 && streamSeqReserved(s) == 0 && known == 0;
    let resume = next;
    if (!closed && !unknown) {
      const ramMax = seqRamRecordsMax(s);
      resume = max<u64>(max<u64>(next, streamSeqReserved(s)), known + ramMax);
      lostMax += min<u64>(resume - known, ramMax);
    }
    streamNextSeqSet(s, resume);
    streamSeqReservedSet(s, resume);
    streamDirtySet(s, true);
  }
  // All streams together cannot have held more than every RAM sector full.
  lostMax = min<u64>(lostMax, <u64>c.sectorCount * <u64>max<u32>(c.tsdPerSector, c.evtPerSector));
  // Nothing is ever known to be lost for certain: a closed stream had an empty RAM, and an unclosed
  // one may have had its RAM acknowledged since the positions file was written.
  statAdd(STAT_RECORDS_LOST_RAM, <f64>lost);
  statAdd(STAT_RECORDS_LOST_RAM_MAX, <f64>lostMax);
  statAdd(STAT_RECORDS_LIVE, <f64>recovered);
  statAdd(STAT_RECOVERY_RECORDS, <f64>recovered);
  halLog(LOG_INFO, SUBSYSTEM_RECOVERY, EVENT_RECOVERY_DONE, <f64>c.streamCount, <f64>lostMax);
}

function typesValid(recordType: i32, dataType: i32, sampleRateMs: u32): bool {
  if (dataType < 0 || dataType >= DATA_TYPE_COUNT) return false;
  if (recordType == RECORD_TYPE_TSD) return sampleRateMs > 0;
  if (recordType == RECORD_TYPE_EVT) return sampleRateMs == 0;
  return false;
}

// The positions file of the first format, `length` bytes in the read buffer: configures every
// stream it names and sets its ACK position and next sequence number. Returns the number of
// streams or an error.
export function recoveryPositions(length: i32): i32 {
  if (!core().recoveryOpen) return E_RECOVERY_CLOSED;
  fileCacheDrop();
  const count = positionsApply(length);
  // The first metadata write puts every stream into a checkpoint in the ACK log, and a later one
  // deletes the positions file (SPEC.md 6.5).
  if (count >= 0) positionsLegacyFound();
  return count;
}

// A positions file or an ACK-log checkpoint (the same layout), `length` bytes in the read buffer.
function positionsApply(length: i32): i32 {
  const buf = core().readBufPtr;
  const count = positionsValid(buf, length);
  if (count < 0) return E_POSITIONS_CORRUPT;
  // Validate every record before changing anything.
  for (let i = 0; i < count; i++) {
    const record = buf + <usize>POSITIONS_HEADER_BYTES + <usize>i * <usize>POSITION_RECORD_BYTES;
    const acked = load<u64>(record + POSITION_ACKED_SEQ_OFFSET);
    const next = load<u64>(record + POSITION_NEXT_SEQ_OFFSET);
    if (
      !typesValid(
        <i32>load<u8>(record + POSITION_RECORD_TYPE_OFFSET),
        <i32>load<u8>(record + POSITION_DATA_TYPE_OFFSET),
        load<u32>(record + POSITION_SAMPLE_RATE_OFFSET),
      )
    )
      return E_POSITIONS_CORRUPT;
    const reserved = load<u64>(record + POSITION_SEQ_RESERVED_OFFSET);
    if (acked > next || next > SEQ_MAX || reserved > SEQ_MAX) return E_POSITIONS_CORRUPT;
  }
  for (let i = 0; i < count; i++) {
    const record = buf + <usize>POSITIONS_HEADER_BYTES + <usize>i * <usize>POSITION_RECORD_BYTES;
    const s = streamConfigure(
      load<u32>(record + POSITION_SOURCE_OFFSET),
      load<u32>(record + POSITION_SENSOR_OFFSET),
      <i32>load<u8>(record + POSITION_RECORD_TYPE_OFFSET),
      <i32>load<u8>(record + POSITION_DATA_TYPE_OFFSET),
      load<u32>(record + POSITION_SAMPLE_RATE_OFFSET),
    );
    if (s < 0) return s;
    const stream = <u32>s;
    streamAckedSeqSet(stream, max<u64>(streamAckedSeq(stream), load<u64>(record + POSITION_ACKED_SEQ_OFFSET)));
    streamNextSeqSet(stream, max<u64>(streamNextSeq(stream), load<u64>(record + POSITION_NEXT_SEQ_OFFSET)));
    // Until recovery closes, seqReserved holds where numbering must resume (see recoveryClose), and
    // the dirty flag says the record was closed: seqReserved = nextSeq, written by a completed flush.
    const reserved = load<u64>(record + POSITION_SEQ_RESERVED_OFFSET);
    streamSeqReservedSet(stream, max<u64>(streamSeqReserved(stream), reserved));
    streamDirtySet(stream, reserved == load<u64>(record + POSITION_NEXT_SEQ_OFFSET));
  }
  return count;
}

// A piece of the ACK log (SPEC.md 6.5), `length` bytes in the read buffer: its checkpoint (first,
// alone), or whole records from the start of the log, after the checkpoint or from where the
// previous piece ended. Each valid record configures its stream
// if needed and sets its position: ackedSeq and nextSeq to at least the recorded values, and the
// reservation and closed-ness to the record's own (records come in the order they were written, so
// the last one for a stream is its latest word). An invalid record is skipped; bytes after the last
// whole record (a torn append) are ignored. Either marks the log damaged: the next metadata write
// replaces it with a snapshot before appending, so nothing is ever appended after damage. Returns the number of records (or checkpoint streams)
// applied, or E_POSITIONS_CORRUPT for a checkpoint that fails its checks.
export function recoveryAckLog(length: i32): i32 {
  const c = core();
  if (!c.recoveryOpen) return E_RECOVERY_CLOSED;
  fileCacheDrop();
  if (length < 0) return E_INVALID_ARGUMENT;
  const buf = c.readBufPtr;
  if (statGet(STAT_ACK_LOG_BYTES) == 0 && ackLogCheckpointAt(buf, length)) {
    // The log's checkpoint, passed alone as its first piece. It covers every stream, so a positions
    // file of the first format read before it is already replaced.
    const count = positionsApply(length);
    if (count < 0) return count;
    if (c.positionsLegacy == POSITIONS_LEGACY_FOUND) c.positionsLegacy = POSITIONS_LEGACY_REPLACED;
    statAdd(STAT_ACK_LOG_BYTES, <f64>length);
    return count;
  }
  const records = length / ACK_RECORD_BYTES;
  let applied = 0;
  let damaged = length % ACK_RECORD_BYTES != 0;
  for (let i = 0; i < records; i++) {
    const at = buf + <usize>i * <usize>ACK_RECORD_BYTES;
    const rate = load<u32>(at + ACK_RECORD_SAMPLE_RATE_OFFSET);
    const recordType = <i32>load<u8>(at + ACK_RECORD_RECORD_TYPE_OFFSET);
    const dataType = <i32>load<u8>(at + ACK_RECORD_DATA_TYPE_OFFSET);
    if (!ackRecordValid(at) || !typesValid(recordType, dataType, rate)) {
      damaged = true;
      continue;
    }
    const source = load<u32>(at + ACK_RECORD_SOURCE_OFFSET);
    const sensor = load<u32>(at + ACK_RECORD_SENSOR_OFFSET);
    const s = streamConfigure(source, sensor, recordType, dataType, rate);
    if (s < 0) {
      damaged = true;
      continue;
    }
    const stream = <u32>s;
    const next = load<u64>(at + ACK_RECORD_NEXT_SEQ_OFFSET);
    const reserved = load<u64>(at + ACK_RECORD_SEQ_RESERVED_OFFSET);
    streamAckedSeqSet(stream, max<u64>(streamAckedSeq(stream), load<u64>(at + ACK_RECORD_ACKED_SEQ_OFFSET)));
    streamNextSeqSet(stream, max<u64>(streamNextSeq(stream), next));
    streamSeqReservedSet(stream, reserved);
    streamDirtySet(stream, reserved == next);
    const recordSeq = <f64>load<u32>(at + ACK_RECORD_SEQ_OFFSET);
    if (recordSeq + 1 > statGet(STAT_ACK_RECORDS)) statSet(STAT_ACK_RECORDS, recordSeq + 1);
    applied++;
  }
  statAdd(STAT_ACK_LOG_BYTES, <f64>length);
  if (damaged) ackLogDamagedSet();
  return applied;
}

// Whether the log's first `length` bytes at `buf` start with a checkpoint (SPEC.md 6.5): the
// positions magic, or the positions header's version and record size at offsets 4 and 6, which no
// ACK record has (its u16 at 4 is version | recordType << 8, recordType ≥ 1). Either alone says
// so, so one flipped bit cannot make a checkpoint pass for records.
function ackLogCheckpointAt(buf: usize, length: i32): bool {
  if (length >= 4 && load<u32>(buf + POSITIONS_MAGIC_OFFSET) == POSITIONS_MAGIC) return true;
  return (
    length >= POSITIONS_HEADER_BYTES &&
    <i32>load<u16>(buf + POSITIONS_VERSION_OFFSET) == POSITIONS_FORMAT_VERSION &&
    <i32>load<u16>(buf + POSITIONS_RECORD_BYTES_OFFSET) == POSITION_RECORD_BYTES
  );
}

// One `.imx` file, `length` bytes in the read buffer. Returns OK (adopted), RECOVERY_FILE_ACKED
// (every record already acknowledged: the host deletes it) or the reason it is refused.
export function recoveryFile(length: i32): i32 {
  const c = core();
  if (!c.recoveryOpen) return E_RECOVERY_CLOSED;
  fileCacheDrop();
  const buf = c.readBufPtr;
  if (length < IMX_HEADER_BYTES) return E_IMX_SIZE;
  if (load<u32>(buf + IMX_MAGIC_OFFSET) != IMX_MAGIC) return E_IMX_MAGIC;
  if (<i32>load<u16>(buf + IMX_VERSION_OFFSET) != IMX_FORMAT_VERSION) return E_IMX_VERSION;
  if (<i32>load<u16>(buf + IMX_HEADER_BYTES_OFFSET) != IMX_HEADER_BYTES) return E_IMX_VERSION;
  if (<u32>load<u16>(buf + IMX_SECTOR_BYTES_OFFSET) != c.sectorBytes) return E_IMX_GEOMETRY;
  const sectors = load<u32>(buf + IMX_SECTOR_COUNT_OFFSET);
  if (sectors == 0 || sectors > c.sectorsPerFileMax) return E_IMX_GEOMETRY;
  const payload = sectors * c.sectorBytes;
  if (load<u32>(buf + IMX_PAYLOAD_BYTES_OFFSET) != payload) return E_IMX_SIZE;
  if (<u32>length != <u32>IMX_HEADER_BYTES + payload) return E_IMX_SIZE;
  let crc = crc32Update(0, buf, <usize>IMX_CRC32_OFFSET);
  crc = crc32Update(crc, buf + <usize>IMX_HEADER_BYTES, <usize>payload);
  if (crc != load<u32>(buf + IMX_CRC32_OFFSET)) return E_IMX_CRC;

  const recordType = <i32>load<u8>(buf + IMX_RECORD_TYPE_OFFSET);
  const dataType = <i32>load<u8>(buf + IMX_DATA_TYPE_OFFSET);
  const rate = load<u32>(buf + IMX_SAMPLE_RATE_OFFSET);
  if (!typesValid(recordType, dataType, rate)) return E_IMX_COUNTS;
  const perSector = recordsPerSector(recordType);
  const records = load<u32>(buf + IMX_RECORD_COUNT_OFFSET);
  // Every sector image but the last is full, and the last holds at least one record.
  if (records == 0 || records > sectors * perSector || records <= (sectors - 1) * perSector) return E_IMX_COUNTS;
  const firstSeq = load<u64>(buf + IMX_FIRST_SEQ_OFFSET);
  const headerAcked = load<u64>(buf + IMX_ACKED_SEQ_OFFSET);
  if (firstSeq > SEQ_MAX - <u64>records || headerAcked > firstSeq + <u64>records) return E_IMX_COUNTS;

  const source = load<u32>(buf + IMX_SOURCE_OFFSET);
  const sensor = load<u32>(buf + IMX_SENSOR_OFFSET);
  const s = streamConfigure(source, sensor, recordType, dataType, rate);
  if (s < 0) return s == E_STREAM_CONFIG_MISMATCH ? E_STREAM_CONFIG_MISMATCH : s;
  const stream = <u32>s;
  assert(streamRamHead(stream) == SECTOR_NULL, "recovery after writes");
  const tail = streamDiskTail(stream);
  if (tail != FILE_SLOT_NULL && firstSeq < fileFirstSeq(tail) + <u64>fileRecords(tail)) return E_IMX_ORDER;

  const end = firstSeq + <u64>records;
  const acked = max<u64>(streamAckedSeq(stream), headerAcked);
  if (end <= acked) {
    streamNextSeqSet(stream, max<u64>(streamNextSeq(stream), end));
    statAdd(STAT_RECOVERY_FILES_ACKED, 1);
    return RECOVERY_FILE_ACKED;
  }
  const createdMs = <f64>load<u64>(buf + IMX_CREATED_MS_OFFSET);
  const slot = fileSlotTake(stream, firstSeq, records, sectors, <u32>length, createdMs);
  if (slot == FILE_SLOT_NULL) return E_FILE_TABLE_FULL;
  streamAckedSeqSet(stream, acked);
  diskTailAppend(stream, slot, 0); // live records are counted when recovery closes
  streamNextSeqSet(stream, max<u64>(streamNextSeq(stream), end));
  statAdd(STAT_FILES_LIVE, 1);
  statAdd(STAT_DISK_BYTES_USED, <f64>length);
  statAdd(STAT_RECOVERY_FILES_KEPT, 1);
  return OK;
}
