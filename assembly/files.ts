// The disk tier's file table: one 40-byte entry per `.imx` file the core knows (SPEC.md, "File
// table entry"), the file names, the `.imx` header, and a one-file read cache.
//
//   0          8        12       14      15        16        20        24      28          32          40
//   | firstSeq | records| stream | state | attempts| sectors | bytes   | next  | generation| retryAtMs |
//   | u64      | u32    | u16    | u8    | u8      | u32     | u32     | u32   | u32       | f64       |
//
// A live file belongs to one stream and holds that stream's records firstSeq … firstSeq+records−1,
// in `sectors` whole RAM-sector images. `next` links a stream's files oldest to newest, the cleanup
// queue, or the free list. retryAtMs serves two states: for a file awaiting deletion it is the
// earliest time of the next attempt; for a live file it is when the file was written (its header's
// created time), the order in which evict-oldest gives files up. File slot f owns disk sector ids sectorCount + f × sectorsPerFileMax + k.

import {
  E_FILE_CORRUPT,
  E_HAL_NOT_FOUND,
  EVENT_FILE_CORRUPT,
  FILE_SLOT_NULL,
  HISTORY_BUCKETS,
  IMX_ACKED_SEQ_OFFSET,
  IMX_CREATED_MS_OFFSET,
  IMX_CRC32_OFFSET,
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
  LOG_ERROR,
  OK,
  STAT_FILE_READS,
  STAT_FILES_CORRUPT,
  SUBSYSTEM_TIER,
  FILE_ENTRY_BYTES,
  STAT_DISK_BYTES_USED,
  STAT_FILES_LIVE,
} from "./abi";
import { crc32Update } from "./crc32";
import { halFileQuarantine, halFileRead, halLog } from "./hal";
import { statAdd } from "./stats";
import { core } from "./state";

export const FILE_FREE: u32 = 0;
export const FILE_LIVE: u32 = 1;
export const FILE_AWAIT_DELETE: u32 = 2;
export const FILE_DELETING: u32 = 3;

// The entry as a typed view; the offsets above are read from it, and its size is the ABI's.
// @ts-ignore: decorator
@unmanaged
class FileEntry {
  firstSeq!: u64;
  records!: u32;
  stream!: u16;
  state!: u8;
  attempts!: u8;
  sectors!: u32;
  bytes!: u32;
  next!: u32;
  generation!: u32;
  retryAtMs!: f64;
}
if (offsetof<FileEntry>() != FILE_ENTRY_BYTES) ERROR("FileEntry size differs from FILE_ENTRY_BYTES");

const F_FIRST_SEQ: usize = offsetof<FileEntry>("firstSeq");
const F_RECORDS: usize = offsetof<FileEntry>("records");
const F_STREAM: usize = offsetof<FileEntry>("stream");
const F_STATE: usize = offsetof<FileEntry>("state");
const F_ATTEMPTS: usize = offsetof<FileEntry>("attempts");
const F_SECTORS: usize = offsetof<FileEntry>("sectors");
const F_BYTES: usize = offsetof<FileEntry>("bytes");
const F_NEXT: usize = offsetof<FileEntry>("next");
const F_GENERATION: usize = offsetof<FileEntry>("generation");
const F_RETRY_AT_MS: usize = offsetof<FileEntry>("retryAtMs");
// The drawing above, checked.
if (
  F_FIRST_SEQ != 0 ||
  F_RECORDS != 8 ||
  F_STREAM != 12 ||
  F_STATE != 14 ||
  F_ATTEMPTS != 15 ||
  F_SECTORS != 16 ||
  F_BYTES != 20 ||
  F_NEXT != 24 ||
  F_GENERATION != 28 ||
  F_RETRY_AT_MS != 32
) {
  ERROR("file table entry drawing is out of date");
}

// @ts-ignore: decorator
@inline
function fileEntry(slot: u32): usize {
  return core().filesPtr + <usize>slot * <usize>FILE_ENTRY_BYTES;
}

// @ts-ignore: decorator
@inline
export function fileFirstSeq(slot: u32): u64 {
  return load<u64>(fileEntry(slot) + F_FIRST_SEQ);
}
// @ts-ignore: decorator
@inline
export function fileRecords(slot: u32): u32 {
  return load<u32>(fileEntry(slot) + F_RECORDS);
}
// @ts-ignore: decorator
@inline
export function fileStream(slot: u32): u32 {
  return <u32>load<u16>(fileEntry(slot) + F_STREAM);
}
// @ts-ignore: decorator
@inline
export function fileState(slot: u32): u32 {
  return <u32>load<u8>(fileEntry(slot) + F_STATE);
}
// @ts-ignore: decorator
@inline
export function fileStateSet(slot: u32, state: u32): void {
  store<u8>(fileEntry(slot) + F_STATE, <u8>state);
}
// @ts-ignore: decorator
@inline
export function fileAttempts(slot: u32): u32 {
  return <u32>load<u8>(fileEntry(slot) + F_ATTEMPTS);
}
// @ts-ignore: decorator
@inline
export function fileAttemptsSet(slot: u32, attempts: u32): void {
  store<u8>(fileEntry(slot) + F_ATTEMPTS, <u8>min<u32>(attempts, 255));
}
// @ts-ignore: decorator
@inline
export function fileSectors(slot: u32): u32 {
  return load<u32>(fileEntry(slot) + F_SECTORS);
}
// @ts-ignore: decorator
@inline
export function fileBytes(slot: u32): u32 {
  return load<u32>(fileEntry(slot) + F_BYTES);
}
// @ts-ignore: decorator
@inline
export function fileNext(slot: u32): u32 {
  return load<u32>(fileEntry(slot) + F_NEXT);
}
// @ts-ignore: decorator
@inline
export function fileNextSet(slot: u32, next: u32): void {
  store<u32>(fileEntry(slot) + F_NEXT, next);
}
// @ts-ignore: decorator
@inline
export function fileGeneration(slot: u32): u32 {
  return load<u32>(fileEntry(slot) + F_GENERATION);
}
// @ts-ignore: decorator
@inline
export function fileRetryAt(slot: u32): f64 {
  return load<f64>(fileEntry(slot) + F_RETRY_AT_MS);
}
// @ts-ignore: decorator
@inline
export function fileRetryAtSet(slot: u32, atMs: f64): void {
  store<f64>(fileEntry(slot) + F_RETRY_AT_MS, atMs);
}

// @ts-ignore: decorator
@inline
export function fileCreatedMs(slot: u32): f64 {
  assert(load<u8>(fileEntry(slot) + F_STATE) == <u8>FILE_LIVE, "creation time of a file that is not live");
  return load<f64>(fileEntry(slot) + F_RETRY_AT_MS);
}

export function filesInit(): void {
  const c = core();
  for (let slot: u32 = 0; slot < c.filesMax; slot++) {
    const e = fileEntry(slot);
    memory.fill(e, 0, <usize>FILE_ENTRY_BYTES);
    store<u32>(e + F_NEXT, slot + 1 < c.filesMax ? slot + 1 : FILE_SLOT_NULL);
  }
  c.fileFreeHead = c.filesMax > 0 ? 0 : FILE_SLOT_NULL;
  c.fileSlotsInUse = 0;
  c.readCacheSlot = FILE_SLOT_NULL;
}

export function fileSlotsFree(): u32 {
  return core().filesMax - core().fileSlotsInUse;
}

export function fileSlotsInUse(): u32 {
  return core().fileSlotsInUse;
}

// Claims a slot for a new live file; FILE_SLOT_NULL when the table is full.
export function fileSlotTake(stream: u32, firstSeq: u64, records: u32, sectors: u32, bytes: u32, createdMs: f64): u32 {
  const c = core();
  const slot = c.fileFreeHead;
  if (slot == FILE_SLOT_NULL) return FILE_SLOT_NULL;
  const e = fileEntry(slot);
  assert(load<u8>(e + F_STATE) == <u8>FILE_FREE, "file free list holds a used slot");
  c.fileFreeHead = load<u32>(e + F_NEXT);
  c.fileSlotsInUse++;
  store<u64>(e + F_FIRST_SEQ, firstSeq);
  store<u32>(e + F_RECORDS, records);
  store<u16>(e + F_STREAM, <u16>stream);
  store<u8>(e + F_STATE, <u8>FILE_LIVE);
  store<u8>(e + F_ATTEMPTS, 0);
  store<u32>(e + F_SECTORS, sectors);
  store<u32>(e + F_BYTES, bytes);
  store<u32>(e + F_NEXT, FILE_SLOT_NULL);
  store<u32>(e + F_GENERATION, load<u32>(e + F_GENERATION) + 1);
  store<f64>(e + F_RETRY_AT_MS, createdMs); // a live file's creation time (see the drawing)
  return slot;
}

export function fileSlotRelease(slot: u32): void {
  const c = core();
  const e = fileEntry(slot);
  assert(load<u8>(e + F_STATE) != <u8>FILE_FREE, "file slot released twice");
  if (c.readCacheSlot == slot) c.readCacheSlot = FILE_SLOT_NULL;
  store<u8>(e + F_STATE, <u8>FILE_FREE);
  store<u32>(e + F_RECORDS, 0);
  store<u32>(e + F_SECTORS, 0);
  store<u32>(e + F_BYTES, 0);
  store<u32>(e + F_NEXT, c.fileFreeHead);
  c.fileFreeHead = slot;
  c.fileSlotsInUse--;
}

// ---- File names ------------------------------------------------------------------------------------
// history/<bucket>/<source>_<sensor>_<firstSeq, 20 digits>.imx, bucket = mix(source, sensor, firstSeq) % 10.

export function fileBucket(source: u32, sensor: u32, firstSeq: u64): u32 {
  let h: u64 = <u64>source * 0x9e3779b97f4a7c15;
  h ^= <u64>sensor + 0x632be59bd9b4e019 + (h << 6) + (h >> 2);
  h ^= firstSeq + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  return <u32>(h % <u64>HISTORY_BUCKETS);
}

// Writes the file's path at pathPtr and returns its length in bytes.
export function filePathFormat(source: u32, sensor: u32, firstSeq: u64): i32 {
  let p = core().pathPtr;
  p = asciiPut(p, "history/");
  p = decimalPut(p, <u64>fileBucket(source, sensor, firstSeq), 1);
  store<u8>(p++, 0x2f); // '/'
  p = decimalPut(p, <u64>source, 1);
  store<u8>(p++, 0x5f); // '_'
  p = decimalPut(p, <u64>sensor, 1);
  store<u8>(p++, 0x5f);
  p = decimalPut(p, firstSeq, 20);
  p = asciiPut(p, ".imx");
  return <i32>(p - core().pathPtr);
}

export function asciiPut(p: usize, text: string): usize {
  for (let i = 0; i < text.length; i++) store<u8>(p++, <u8>text.charCodeAt(i));
  return p;
}

// Writes `value` in decimal, zero-padded to at least `digitsMin` digits.
export function decimalPut(p: usize, value: u64, digitsMin: i32): usize {
  let digits = 1;
  let scan = value;
  while (scan >= 10) {
    scan /= 10;
    digits++;
  }
  if (digits < digitsMin) digits = digitsMin;
  let v = value;
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(p + <usize>i, <u8>(0x30 + <u32>(v % 10)));
    v /= 10;
  }
  return p + <usize>digits;
}

// ---- .imx header -----------------------------------------------------------------------------------

export function imxHeaderWrite(
  buf: usize,
  source: u32,
  sensor: u32,
  recordType: i32,
  dataType: i32,
  sampleRateMs: u32,
  sectors: u32,
  firstSeq: u64,
  records: u32,
  ackedSeq: u64,
  createdMs: f64,
): u32 {
  const payloadBytes = sectors * core().sectorBytes;
  memory.fill(buf, 0, <usize>IMX_HEADER_BYTES);
  store<u32>(buf + IMX_MAGIC_OFFSET, IMX_MAGIC);
  store<u16>(buf + IMX_VERSION_OFFSET, <u16>IMX_FORMAT_VERSION);
  store<u16>(buf + IMX_HEADER_BYTES_OFFSET, <u16>IMX_HEADER_BYTES);
  store<u32>(buf + IMX_SOURCE_OFFSET, source);
  store<u32>(buf + IMX_SENSOR_OFFSET, sensor);
  store<u8>(buf + IMX_RECORD_TYPE_OFFSET, <u8>recordType);
  store<u8>(buf + IMX_DATA_TYPE_OFFSET, <u8>dataType);
  store<u16>(buf + IMX_SECTOR_BYTES_OFFSET, <u16>core().sectorBytes);
  store<u32>(buf + IMX_SAMPLE_RATE_OFFSET, sampleRateMs);
  store<u32>(buf + IMX_SECTOR_COUNT_OFFSET, sectors);
  store<u64>(buf + IMX_FIRST_SEQ_OFFSET, firstSeq);
  store<u32>(buf + IMX_RECORD_COUNT_OFFSET, records);
  store<u64>(buf + IMX_ACKED_SEQ_OFFSET, ackedSeq);
  store<u64>(buf + IMX_CREATED_MS_OFFSET, <u64>max<f64>(createdMs, 0));
  store<u32>(buf + IMX_PAYLOAD_BYTES_OFFSET, payloadBytes);
  let crc = crc32Update(0, buf, <usize>IMX_CRC32_OFFSET);
  crc = crc32Update(crc, buf + <usize>IMX_HEADER_BYTES, <usize>payloadBytes);
  store<u32>(buf + IMX_CRC32_OFFSET, crc);
  return <u32>IMX_HEADER_BYTES + payloadBytes;
}

// ---- Read cache --------------------------------------------------------------------------------------

// A live file that failed validation when read: the host moves it to corrupted/ (or leaves it if
// it cannot), and the slot is released. The caller has already taken it off its stream.
export function fileQuarantine(slot: u32, source: u32, sensor: u32): void {
  halFileQuarantine(core().pathPtr, filePathFormat(source, sensor, fileFirstSeq(slot)));
  statAdd(STAT_DISK_BYTES_USED, -(<f64>fileBytes(slot)));
  statAdd(STAT_FILES_LIVE, -1);
  fileSlotRelease(slot);
}

// Forgets the cached file (the read buffer is about to hold something else).
export function fileCacheDrop(): void {
  core().readCacheSlot = FILE_SLOT_NULL;
}

// Makes sure the file in `slot` is in the read buffer, validated. Returns OK or an error code.
export function fileLoad(slot: u32, source: u32, sensor: u32): i32 {
  const c = core();
  if (c.readCacheSlot == slot && c.readCacheGeneration == fileGeneration(slot)) return OK;
  c.readCacheSlot = FILE_SLOT_NULL;
  const pathLength = filePathFormat(source, sensor, fileFirstSeq(slot));
  const expected = fileBytes(slot);
  const got = halFileRead(c.pathPtr, pathLength, c.readBufPtr, <i32>c.ioBufBytes);
  statAdd(STAT_FILE_READS, 1);
  // A file the core wrote that is gone is counted and reported as corrupt (the log event carries
  // E_HAL_NOT_FOUND, telling it from a damaged one); other failures pass through, changing nothing.
  if (got == E_HAL_NOT_FOUND) {
    statAdd(STAT_FILES_CORRUPT, 1);
    halLog(LOG_ERROR, SUBSYSTEM_TIER, EVENT_FILE_CORRUPT, <f64>slot, <f64>got);
    return E_FILE_CORRUPT;
  }
  if (got < 0) return got;
  const buf = c.readBufPtr;
  let valid =
    <u32>got == expected &&
    load<u32>(buf + IMX_MAGIC_OFFSET) == IMX_MAGIC &&
    <i32>load<u16>(buf + IMX_VERSION_OFFSET) == IMX_FORMAT_VERSION &&
    load<u64>(buf + IMX_FIRST_SEQ_OFFSET) == fileFirstSeq(slot) &&
    load<u32>(buf + IMX_RECORD_COUNT_OFFSET) == fileRecords(slot) &&
    load<u32>(buf + IMX_SECTOR_COUNT_OFFSET) == fileSectors(slot);
  if (valid) {
    let crc = crc32Update(0, buf, <usize>IMX_CRC32_OFFSET);
    crc = crc32Update(crc, buf + <usize>IMX_HEADER_BYTES, <usize>(expected - <u32>IMX_HEADER_BYTES));
    valid = crc == load<u32>(buf + IMX_CRC32_OFFSET);
  }
  if (!valid) {
    statAdd(STAT_FILES_CORRUPT, 1);
    halLog(LOG_ERROR, SUBSYSTEM_TIER, EVENT_FILE_CORRUPT, <f64>slot, <f64>got);
    return E_FILE_CORRUPT;
  }
  c.readCacheSlot = slot;
  c.readCacheGeneration = fileGeneration(slot);
  return OK;
}

// Address of sector image `k` of the cached file.
// @ts-ignore: decorator
@inline
export function cachedSectorData(k: u32): usize {
  return core().readBufPtr + <usize>IMX_HEADER_BYTES + <usize>k * <usize>core().sectorBytes;
}
