// The flashed config image and the boot-time RAM layout.
//
// The host writes the board's config image (SPEC.md, "Flashed config image") at `configPtr()` in
// device RAM and calls `boot`. The core validates the image and lays out every region inside
// exactly `ramBytes` (not the page-rounded memory size):
//
//   0            heapBase    config  stats  query  SAT        streams    files      pool          bulk  write read path
//   | static data |..........| 96 B | 8×N B | 8×N B| 16×sectors| 96×streams| 40×files | bytes×sectors| 24×n | io  | io  | 96 B |
//
// Every region starts on an 8-byte boundary. Nothing is allocated after boot.

import {
  CFG_BOARD_NAME, CFG_BULK_RECORDS_MAX, CFG_CLEANUP_POLICY, CFG_CRC32, CFG_DELETE_RETRY_BASE_MS,
  CFG_DISK_QUOTA_BYTES, CFG_DISK_THRESHOLD_PERCENT, CFG_FILES_DELETED_PER_TICK_MAX, CFG_FILES_MAX,
  CFG_FILES_WRITTEN_PER_TICK_MAX, CFG_FLAGS, CFG_FLAG_DISK_TIER, CFG_IMAGE_BYTES, CFG_LAYOUT_VERSION,
  CFG_MAGIC, CFG_RAM_BYTES, CFG_SECTORS_PER_FILE_MAX, CFG_SECTOR_BYTES, CFG_SECTOR_COUNT,
  CFG_SPILL_SECTORS_PER_TICK_MAX, CFG_SPILL_TARGET_PERCENT, CFG_SPILL_THRESHOLD_PERCENT,
  CFG_STREAMS_MAX, CFG_TICK_INTERVAL_MS, CLEANUP_LAZY, CONFIG_IMAGE_BYTES, CONFIG_LAYOUT_VERSION,
  CONFIG_MAGIC, E_CONFIG_CRC, E_CONFIG_FIELD, E_CONFIG_MAGIC, E_CONFIG_TRUNCATED, E_CONFIG_VERSION,
  E_LAYOUT_TOO_BIG, E_MEMORY_TOO_SMALL, IMX_HEADER_BYTES, OK, PATH_BYTES_MAX, SECTOR_NULL, STAT_COUNT,
  BULK_RECORD_BYTES, QUERY_COUNT, SAT_ENTRY_BYTES, STREAM_ENTRY_BYTES, FILE_ENTRY_BYTES, SECTOR_BYTES_MIN,
  SECTOR_BYTES_MAX, STREAMS_MAX_LIMIT, FILES_MAX_LIMIT, SECTORS_PER_FILE_MAX_LIMIT, BULK_RECORDS_MAX_LIMIT,
  POSITIONS_HEADER_BYTES, POSITION_RECORD_BYTES,
} from "./abi";
import { crc32Update } from "./crc32";

export const TSD_HEADER_BYTES: u32 = 8;
export const TSD_RECORD_BYTES: u32 = 4;
export const EVT_RECORD_BYTES: u32 = 12;
const PAGE_BYTES: u64 = 65536;

// ---- Board settings, decoded from the image -----------------------------------------------------
export let ramBytes: u32 = 0;
export let sectorBytes: u32 = 0;
export let sectorCount: u32 = 0;
export let streamsMax: u32 = 0;
export let filesMax: u32 = 0;
export let sectorsPerFileMax: u32 = 0;
export let diskQuotaBytes: u64 = 0;
export let diskTier: bool = false;
export let spillThresholdPercent: u32 = 0;
export let spillTargetPercent: u32 = 0;
export let diskThresholdPercent: u32 = 0;
export let cleanupPolicy: i32 = 0;
export let tickIntervalMs: u32 = 0;
export let spillSectorsPerTickMax: u32 = 0;
export let filesWrittenPerTickMax: u32 = 0;
export let filesDeletedPerTickMax: u32 = 0;
export let bulkRecordsMax: u32 = 0;
export let deleteRetryBaseMs: u32 = 0;
export let tsdPerSector: u32 = 0;
export let evtPerSector: u32 = 0;

// ---- Region pointers -----------------------------------------------------------------------------
export let statsPtr: usize = 0;
export let satPtr: usize = 0;
export let streamsPtr: usize = 0;
export let filesPtr: usize = 0;
export let poolPtr: usize = 0;
export let bulkPtr: usize = 0;
export let queryPtr: usize = 0;
export let writeBufPtr: usize = 0;
export let readBufPtr: usize = 0;
export let ioBufBytes: u32 = 0;
export let pathPtr: usize = 0;
export let layoutEnd: usize = 0;

function align8(value: usize): usize {
  return (value + 7) & ~(<usize>7);
}

// Where the host places the config image before boot.
export function configPtr(): usize {
  return align8(__heap_base);
}

// Validates the image at configPtr() and lays out RAM. Returns OK or a specific error; on error
// nothing is laid out and the core stays unbooted.
export function configLoad(imageBytes: i32): i32 {
  const image = configPtr();
  if (imageBytes < CONFIG_IMAGE_BYTES) return E_CONFIG_TRUNCATED;
  if (load<u32>(image + CFG_MAGIC) != CONFIG_MAGIC) return E_CONFIG_MAGIC;
  if (<i32>load<u16>(image + CFG_LAYOUT_VERSION) != CONFIG_LAYOUT_VERSION) return E_CONFIG_VERSION;
  if (<i32>load<u16>(image + CFG_IMAGE_BYTES) != CONFIG_IMAGE_BYTES) return E_CONFIG_TRUNCATED;
  if (crc32Update(0, image, <usize>CFG_CRC32) != load<u32>(image + CFG_CRC32)) return E_CONFIG_CRC;

  const ram = load<u32>(image + CFG_RAM_BYTES);
  const sectorSize = <u32>load<u16>(image + CFG_SECTOR_BYTES);
  const flags = <i32>load<u16>(image + CFG_FLAGS);
  const sectors = load<u32>(image + CFG_SECTOR_COUNT);
  const streams = load<u32>(image + CFG_STREAMS_MAX);
  const files = load<u32>(image + CFG_FILES_MAX);
  const perFile = load<u32>(image + CFG_SECTORS_PER_FILE_MAX);
  const quota = load<u64>(image + CFG_DISK_QUOTA_BYTES);
  const spillThreshold = <u32>load<u8>(image + CFG_SPILL_THRESHOLD_PERCENT);
  const spillTarget = <u32>load<u8>(image + CFG_SPILL_TARGET_PERCENT);
  const diskThreshold = <u32>load<u8>(image + CFG_DISK_THRESHOLD_PERCENT);
  const policy = <i32>load<u8>(image + CFG_CLEANUP_POLICY);
  const tick = load<u32>(image + CFG_TICK_INTERVAL_MS);
  const spillPerTick = load<u32>(image + CFG_SPILL_SECTORS_PER_TICK_MAX);
  const writesPerTick = load<u32>(image + CFG_FILES_WRITTEN_PER_TICK_MAX);
  const deletesPerTick = load<u32>(image + CFG_FILES_DELETED_PER_TICK_MAX);
  const bulk = load<u32>(image + CFG_BULK_RECORDS_MAX);
  const retryBase = load<u32>(image + CFG_DELETE_RETRY_BASE_MS);
  const disk = (flags & CFG_FLAG_DISK_TIER) != 0;

  if (sectorSize < SECTOR_BYTES_MIN || sectorSize > SECTOR_BYTES_MAX || (sectorSize & 3) != 0) return E_CONFIG_FIELD;
  if (sectors == 0 || sectors >= SECTOR_NULL) return E_CONFIG_FIELD;
  if (streams == 0 || streams > STREAMS_MAX_LIMIT) return E_CONFIG_FIELD;
  if (bulk == 0 || bulk > BULK_RECORDS_MAX_LIMIT) return E_CONFIG_FIELD;
  if (spillThreshold == 0 || spillThreshold > 100 || spillTarget >= spillThreshold) return E_CONFIG_FIELD;
  if (policy < 0 || policy > CLEANUP_LAZY) return E_CONFIG_FIELD;
  if ((flags & ~CFG_FLAG_DISK_TIER) != 0) return E_CONFIG_FIELD;
  if (disk) {
    if (files == 0 || files > FILES_MAX_LIMIT) return E_CONFIG_FIELD;
    if (perFile == 0 || perFile > SECTORS_PER_FILE_MAX_LIMIT) return E_CONFIG_FIELD;
    if (quota == 0 || diskThreshold == 0 || diskThreshold > 100) return E_CONFIG_FIELD;
    if (spillPerTick == 0 || writesPerTick == 0 || deletesPerTick == 0) return E_CONFIG_FIELD;
    // Disk sector ids run from sectorCount to sectorCount + files × perFile − 1 and must stay below the null id.
    if (<u64>sectors + <u64>files * <u64>perFile >= <u64>SECTOR_NULL) return E_CONFIG_FIELD;
  } else if (files != 0 || perFile != 0 || quota != 0) {
    return E_CONFIG_FIELD;
  }

  // Lay out the regions in 64-bit arithmetic so no board can wrap the sum.
  // Each I/O buffer holds one whole `.imx` file or the positions file, whichever is larger.
  const imxBytes: u64 = <u64>IMX_HEADER_BYTES + <u64>perFile * <u64>sectorSize;
  const positionsFileBytes: u64 = <u64>POSITIONS_HEADER_BYTES + <u64>streams * <u64>POSITION_RECORD_BYTES;
  const ioBytes: u64 = disk ? max<u64>(imxBytes, positionsFileBytes) : 0;
  let cursor: u64 = <u64>align8(image + <usize>CONFIG_IMAGE_BYTES);
  const stats = cursor;
  cursor = align8u64(cursor + <u64>STAT_COUNT * 8);
  const query = cursor;
  cursor = align8u64(cursor + <u64>QUERY_COUNT * 8);
  const sat = cursor;
  cursor = align8u64(cursor + <u64>sectors * SAT_ENTRY_BYTES);
  const streamTable = cursor;
  cursor = align8u64(cursor + <u64>streams * STREAM_ENTRY_BYTES);
  const fileTable = cursor;
  cursor = align8u64(cursor + <u64>files * FILE_ENTRY_BYTES);
  const pool = cursor;
  cursor = align8u64(cursor + <u64>sectors * <u64>sectorSize);
  const bulkOut = cursor;
  cursor = align8u64(cursor + <u64>bulk * <u64>BULK_RECORD_BYTES);
  const writeBuf = cursor;
  cursor = align8u64(cursor + ioBytes);
  const readBuf = cursor;
  cursor = align8u64(cursor + ioBytes);
  const path = cursor;
  cursor = align8u64(cursor + <u64>PATH_BYTES_MAX);

  if (cursor > <u64>ram) return E_LAYOUT_TOO_BIG;
  if (<u64>ram > <u64>memory.size() * PAGE_BYTES) return E_MEMORY_TOO_SMALL;

  ramBytes = ram;
  sectorBytes = sectorSize;
  sectorCount = sectors;
  streamsMax = streams;
  filesMax = files;
  sectorsPerFileMax = perFile;
  diskQuotaBytes = quota;
  diskTier = disk;
  spillThresholdPercent = spillThreshold;
  spillTargetPercent = spillTarget;
  diskThresholdPercent = diskThreshold;
  cleanupPolicy = policy;
  tickIntervalMs = tick;
  spillSectorsPerTickMax = spillPerTick;
  filesWrittenPerTickMax = writesPerTick;
  filesDeletedPerTickMax = deletesPerTick;
  bulkRecordsMax = bulk;
  deleteRetryBaseMs = retryBase;
  tsdPerSector = (sectorSize - TSD_HEADER_BYTES) / TSD_RECORD_BYTES;
  evtPerSector = sectorSize / EVT_RECORD_BYTES;

  statsPtr = <usize>stats;
  queryPtr = <usize>query;
  satPtr = <usize>sat;
  streamsPtr = <usize>streamTable;
  filesPtr = <usize>fileTable;
  poolPtr = <usize>pool;
  bulkPtr = <usize>bulkOut;
  writeBufPtr = <usize>writeBuf;
  readBufPtr = <usize>readBuf;
  ioBufBytes = <u32>ioBytes;
  pathPtr = <usize>path;
  layoutEnd = <usize>cursor;
  return OK;
}

function align8u64(value: u64): u64 {
  return (value + 7) & ~(<u64>7);
}

// Overrides the cleanup policy after boot (the CLI's --policy); the image stays as flashed.
export function configPolicySet(policy: i32): void {
  cleanupPolicy = policy;
}

// The board name bytes, for the host's diagnostics.
export function configBoardNamePtr(): usize {
  return configPtr() + <usize>CFG_BOARD_NAME;
}
