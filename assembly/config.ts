// The flashed config image and the boot-time RAM layout.
//
// The host writes the board's config image (SPEC.md, "Flashed config image") at `configPtr()` in
// device RAM and calls `boot`. The core validates the image and lays out every region inside
// exactly `ramBytes` (not the page-rounded memory size):
//
//   0 static data | state block 272 B | CRC table 1 KiB | config image 108 B | stats 8 × STAT_COUNT
//   | query 8 × QUERY_COUNT | SAT 16 × sectors | streams 112 × streamsMax | files 40 × filesMax
//   | pool sectorBytes × sectors | bulk 24 × bulkRecordsMax | write buffer | read buffer | path 96 B | end
//
// The state block (assembly/state.ts) and the CRC table sit at fixed addresses after the static
// data; the config image follows them, and boot places every other region after it. Every region
// starts on an 8-byte boundary. Nothing is allocated after boot. The decoded settings and the region
// pointers are kept in the state block.

import {
  CFG_BOARD_NAME,
  BYTES_WRITTEN_PER_TICK_DERIVED,
  CFG_BULK_RECORDS_MAX,
  CFG_BYTES_WRITTEN_PER_TICK_MAX,
  CFG_CLEANUP_POLICY,
  CFG_CRC32,
  CFG_CRC32_1,
  CFG_DELETE_RETRY_BASE_MS,
  CFG_DELETES_IN_FLIGHT_MAX,
  CFG_DISK_FREE_MARGIN_FILES,
  CFG_DISK_QUOTA_BYTES,
  CFG_DISK_THRESHOLD_PERCENT,
  CFG_FILES_DELETED_PER_TICK_MAX,
  CFG_FILES_MAX,
  CFG_FILES_WRITTEN_PER_TICK_MAX,
  CFG_FLAGS,
  CFG_FLAG_DISK_FULL_MASK,
  CFG_FLAG_DISK_FULL_SHIFT,
  CFG_FLAG_DISK_TIER,
  CFG_IMAGE_BYTES,
  CFG_LAYOUT_VERSION,
  CFG_MAGIC,
  CFG_RAM_BYTES,
  CFG_SECTORS_PER_FILE_MAX,
  CFG_SECTOR_BYTES,
  CFG_SECTOR_COUNT,
  CFG_SPILL_SECTORS_PER_TICK_MAX,
  CFG_SPILL_TARGET_PERCENT,
  CFG_SPILL_THRESHOLD_PERCENT,
  CFG_STREAMS_MAX,
  CFG_TICK_INTERVAL_MS,
  CLEANUP_POLICY_COUNT,
  CONFIG_IMAGE_BYTES,
  CONFIG_IMAGE_BYTES_1,
  CONFIG_LAYOUT_VERSION,
  CONFIG_LAYOUT_VERSION_1,
  DISK_FREE_MARGIN_FILES_DEFAULT,
  DELETES_IN_FLIGHT_MAX_DEFAULT,
  DISK_FULL_POLICY_COUNT,
  CFG_FLAG_TIER_DIRECT,
  CONFIG_MAGIC,
  E_CONFIG_CRC,
  E_CONFIG_FIELD,
  E_CONFIG_MAGIC,
  E_CONFIG_TRUNCATED,
  E_CONFIG_VERSION,
  E_LAYOUT_TOO_BIG,
  E_MEMORY_TOO_SMALL,
  IMX_HEADER_BYTES,
  OK,
  PATH_BYTES_MAX,
  SECTOR_NULL,
  STAT_COUNT,
  BULK_RECORD_BYTES,
  QUERY_COUNT,
  SAT_ENTRY_BYTES,
  STREAM_ENTRY_BYTES,
  FILE_ENTRY_BYTES,
  SECTOR_BYTES_MIN,
  SECTOR_BYTES_MAX,
  STREAMS_MAX_LIMIT,
  FILES_MAX_LIMIT,
  SECTORS_PER_FILE_MAX_LIMIT,
  BULK_RECORDS_MAX_LIMIT,
  POSITIONS_HEADER_BYTES,
  POSITION_RECORD_BYTES,
  CRC_TABLE_BYTES,
} from "./abi";
import { crc32Update, crcTablePtr } from "./crc32";
import { core } from "./state";

export const TSD_HEADER_BYTES: u32 = 8;
export const TSD_RECORD_BYTES: u32 = 4;
export const EVT_RECORD_BYTES: u32 = 12;
const PAGE_BYTES: u64 = 65536;

function align8(value: usize): usize {
  return (value + 7) & ~(<usize>7);
}

// The tick byte budget of a board that leaves it at 0: the bytes of the largest file one tick can
// spill, so by default a tick writes about one full file however many files its count allows.
export function bytesPerTickDerived(spillPerTick: u32, perFile: u32, sectorSize: u32): u32 {
  const bytes = <u64>IMX_HEADER_BYTES + <u64>min<u32>(spillPerTick, perFile) * <u64>sectorSize;
  return <u32>min<u64>(bytes, <u64>u32.MAX_VALUE);
}

// Where the host places the config image before boot: after the state block and the CRC table.
export function configPtr(): usize {
  return crcTablePtr() + <usize>CRC_TABLE_BYTES;
}

// Validates the image at configPtr() (layout 2, or the 96-byte layout 1 of 0.1.0 with the default
// disk margin and lazy in-flight bound) and lays out RAM. Returns OK or a specific error; on error
// nothing is laid out and the core stays unbooted.
export function configLoad(imageBytes: i32): i32 {
  const image = configPtr();
  // The shortest layout (1) is read up to its version field before the length is known.
  if (imageBytes < CONFIG_IMAGE_BYTES_1) return E_CONFIG_TRUNCATED;
  if (load<u32>(image + CFG_MAGIC) != CONFIG_MAGIC) return E_CONFIG_MAGIC;
  const version = <i32>load<u16>(image + CFG_LAYOUT_VERSION);
  if (version != CONFIG_LAYOUT_VERSION && version != CONFIG_LAYOUT_VERSION_1) return E_CONFIG_VERSION;
  const layout1 = version == CONFIG_LAYOUT_VERSION_1;
  const size = layout1 ? CONFIG_IMAGE_BYTES_1 : CONFIG_IMAGE_BYTES;
  const crcAt = layout1 ? CFG_CRC32_1 : CFG_CRC32;
  if (imageBytes < size) return E_CONFIG_TRUNCATED;
  if (<i32>load<u16>(image + CFG_IMAGE_BYTES) != size) return E_CONFIG_TRUNCATED;
  if (crc32Update(0, image, <usize>crcAt) != load<u32>(image + crcAt)) return E_CONFIG_CRC;

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
  // Layout 1 had no margin field: its disk tier keeps the default margin.
  const marginFiles = layout1
    ? disk
      ? DISK_FREE_MARGIN_FILES_DEFAULT
      : 0
    : load<u32>(image + CFG_DISK_FREE_MARGIN_FILES);
  // Nor a bound on lazy deletions in flight: the default.
  const inFlightMax = layout1 ? DELETES_IN_FLIGHT_MAX_DEFAULT : load<u32>(image + CFG_DELETES_IN_FLIGHT_MAX);
  // Layout 1 had no tick byte budget: the default derived from the board.
  const bytesPerTick = layout1 ? BYTES_WRITTEN_PER_TICK_DERIVED : load<u32>(image + CFG_BYTES_WRITTEN_PER_TICK_MAX);
  const diskFull = (flags & CFG_FLAG_DISK_FULL_MASK) >> CFG_FLAG_DISK_FULL_SHIFT;

  if (sectorSize < SECTOR_BYTES_MIN || sectorSize > SECTOR_BYTES_MAX || (sectorSize & 3) != 0) return E_CONFIG_FIELD;
  if (sectors == 0 || sectors >= SECTOR_NULL) return E_CONFIG_FIELD;
  if (streams == 0 || streams > STREAMS_MAX_LIMIT) return E_CONFIG_FIELD;
  if (bulk == 0 || bulk > BULK_RECORDS_MAX_LIMIT) return E_CONFIG_FIELD;
  if (spillThreshold == 0 || spillThreshold > 100 || spillTarget >= spillThreshold) return E_CONFIG_FIELD;
  if (policy < 0 || policy >= CLEANUP_POLICY_COUNT) return E_CONFIG_FIELD;
  if (inFlightMax == 0) return E_CONFIG_FIELD;
  const flagsKnown = layout1 ? CFG_FLAG_DISK_TIER : CFG_FLAG_DISK_TIER | CFG_FLAG_DISK_FULL_MASK | CFG_FLAG_TIER_DIRECT;
  if ((flags & ~flagsKnown) != 0) return E_CONFIG_FIELD;
  if (diskFull >= DISK_FULL_POLICY_COUNT) return E_CONFIG_FIELD;
  if (disk) {
    if (files == 0 || files > FILES_MAX_LIMIT) return E_CONFIG_FIELD;
    if (perFile == 0 || perFile > SECTORS_PER_FILE_MAX_LIMIT) return E_CONFIG_FIELD;
    if (quota == 0 || diskThreshold == 0 || diskThreshold > 100) return E_CONFIG_FIELD;
    if (spillPerTick == 0 || writesPerTick == 0 || deletesPerTick == 0) return E_CONFIG_FIELD;
    // An explicit byte budget holds at least the smallest spill file (a header and one sector).
    if (bytesPerTick != BYTES_WRITTEN_PER_TICK_DERIVED && bytesPerTick < <u32>IMX_HEADER_BYTES + sectorSize) {
      return E_CONFIG_FIELD;
    }
    // Disk sector ids run from sectorCount to sectorCount + files × perFile − 1 and must stay below the null id.
    if (<u64>sectors + <u64>files * <u64>perFile >= <u64>SECTOR_NULL) return E_CONFIG_FIELD;
  } else if (files != 0 || perFile != 0 || quota != 0 || marginFiles != 0) {
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

  const c = core();
  c.ramBytes = ram;
  c.sectorBytes = sectorSize;
  c.sectorCount = sectors;
  c.streamsMax = streams;
  c.filesMax = files;
  c.sectorsPerFileMax = perFile;
  c.diskQuotaBytes = quota;
  c.diskTier = disk;
  c.spillThresholdPercent = spillThreshold;
  c.spillTargetPercent = spillTarget;
  c.diskThresholdPercent = diskThreshold;
  c.cleanupPolicy = policy;
  c.diskFullPolicy = <u8>diskFull;
  c.tierDirect = disk && (flags & CFG_FLAG_TIER_DIRECT) != 0;
  c.tickIntervalMs = tick;
  c.spillSectorsPerTickMax = spillPerTick;
  c.filesWrittenPerTickMax = writesPerTick;
  c.filesDeletedPerTickMax = deletesPerTick;
  c.bulkRecordsMax = bulk;
  c.deleteRetryBaseMs = retryBase;
  c.diskFreeMarginFiles = marginFiles;
  c.deletesInFlightMax = inFlightMax;
  c.bytesWrittenPerTickMax =
    bytesPerTick != BYTES_WRITTEN_PER_TICK_DERIVED
      ? bytesPerTick
      : bytesPerTickDerived(spillPerTick, perFile, sectorSize);
  c.tsdPerSector = (sectorSize - TSD_HEADER_BYTES) / TSD_RECORD_BYTES;
  c.evtPerSector = sectorSize / EVT_RECORD_BYTES;

  c.statsPtr = <usize>stats;
  c.queryPtr = <usize>query;
  c.satPtr = <usize>sat;
  c.streamsPtr = <usize>streamTable;
  c.filesPtr = <usize>fileTable;
  c.poolPtr = <usize>pool;
  c.bulkPtr = <usize>bulkOut;
  c.writeBufPtr = <usize>writeBuf;
  c.readBufPtr = <usize>readBuf;
  c.ioBufBytes = <u32>ioBytes;
  c.pathPtr = <usize>path;
  c.layoutEnd = <usize>cursor;
  return OK;
}

function align8u64(value: u64): u64 {
  return (value + 7) & ~(<u64>7);
}

// Overrides the cleanup policy after boot (the CLI's --policy); the image stays as flashed.
export function configPolicySet(policy: i32): void {
  core().cleanupPolicy = policy;
}

// The board name bytes, for the host's diagnostics.
export function configBoardNamePtr(): usize {
  return configPtr() + <usize>CFG_BOARD_NAME;
}
