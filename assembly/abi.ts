// The ABI shared by the wasm core and the host: error codes, enums and layout constants.
//
// This file is the single source of truth. `scripts/gen-abi.mjs` turns every line of the form
// `export const NAME: T = <integer>;` into `host/core/abi.generated.ts`, so the host never retypes
// a number. Error codes are stable: never renumber one, only append.

// ---- ABI version -------------------------------------------------------------------------------
export const ABI_VERSION: i32 = 1;

// ---- Error codes (negative i32, returned across the wasm boundary) ----------------------------
export const OK: i32 = 0;
export const E_INVALID_ARGUMENT: i32 = -1;
export const E_NOT_BOOTED: i32 = -2;
export const E_ALREADY_BOOTED: i32 = -3;
export const E_CONFIG_MAGIC: i32 = -4;
export const E_CONFIG_VERSION: i32 = -5;
export const E_CONFIG_CRC: i32 = -6;
export const E_CONFIG_TRUNCATED: i32 = -7;
export const E_CONFIG_FIELD: i32 = -8;
export const E_LAYOUT_TOO_BIG: i32 = -9;
export const E_MEMORY_TOO_SMALL: i32 = -10;
export const E_STREAM_TABLE_FULL: i32 = -11;
export const E_STREAM_UNKNOWN: i32 = -12;
export const E_STREAM_CONFIG_MISMATCH: i32 = -13;
export const E_RECORD_TYPE_MISMATCH: i32 = -14;
export const E_SECTOR_INVALID: i32 = -15;
export const E_SECTOR_NOT_ALLOCATED: i32 = -16;
export const E_SECTOR_LINKED: i32 = -17;
export const E_OFFSET_INVALID: i32 = -18;
export const E_OUT_OF_SECTORS: i32 = -19;
export const E_ALL_PENDING: i32 = -20;
export const E_ACK_TOO_MANY: i32 = -21;
export const E_NO_DISK_TIER: i32 = -22;
export const E_DISK_QUOTA: i32 = -23;
export const E_HAL_IO: i32 = -24;
export const E_FILE_TABLE_FULL: i32 = -25;
export const E_FILE_CORRUPT: i32 = -26;
export const E_HAL_NO_SPACE: i32 = -27;
export const E_HAL_NOT_FOUND: i32 = -28;
export const E_HAL_BUSY: i32 = -29;
export const E_HAL_PERMISSION: i32 = -30;
export const E_SECTOR_OWNED: i32 = -31;
export const E_TOKEN_UNKNOWN: i32 = -32;
export const E_IMX_MAGIC: i32 = -33;
export const E_IMX_VERSION: i32 = -34;
export const E_IMX_SIZE: i32 = -35;
export const E_IMX_CRC: i32 = -36;
export const E_IMX_COUNTS: i32 = -37;
export const E_IMX_GEOMETRY: i32 = -38;
export const E_IMX_ORDER: i32 = -39;
export const E_RECOVERY_CLOSED: i32 = -40;
export const E_ACK_PERSIST: i32 = -41;
export const E_POSITIONS_CORRUPT: i32 = -42;
export const E_SEQ_RESERVE: i32 = -43;
export const E_DISK_FULL: i32 = -44;
// The smallest (most negative) code in use; the host checks that it knows every code down to it.
export const ERROR_CODE_MIN: i32 = -44;

// ---- Layout sizes and board limits (SPEC.md, "RAM layout") ----------------------------------
export const CORE_STATE_BYTES: u32 = 272;
export const CRC_TABLE_BYTES: u32 = 1024;
// Buffers at least this long have their CRC-32 computed by the host's CRC unit (the "crc32" HAL
// import) instead of the core's table loop: every .imx file and checkpoint, no ACK record.
export const CRC_HOST_BYTES_MIN: u32 = 256;
export const SAT_ENTRY_BYTES: u32 = 16;
export const STREAM_ENTRY_BYTES: u32 = 112;
export const FILE_ENTRY_BYTES: u32 = 40;
export const SECTOR_BYTES_MIN: u32 = 16;
export const SECTOR_BYTES_MAX: u32 = 4096;
export const STREAMS_MAX_LIMIT: u32 = 0xfffe;
export const FILES_MAX_LIMIT: u32 = 0x10000;
export const SECTORS_PER_FILE_MAX_LIMIT: u32 = 4096;
export const BULK_RECORDS_MAX_LIMIT: u32 = 0x100000;

// ---- Null ids ----------------------------------------------------------------------------------
export const SECTOR_NULL: u32 = 0xffffffff;
export const FILE_SLOT_NULL: u32 = 0xffffffff;
export const STREAM_NULL: u32 = 0xffff;

// ---- Record types, fixed per stream (enum RecordType) -------------------------------------------
export const RECORD_TYPE_TSD: i32 = 1; // "tsd"
export const RECORD_TYPE_EVT: i32 = 2; // "evt"

// ---- Value data types, how the host reads a 32-bit word (enum DataType) -------------------------
export const DATA_TYPE_UINT32: i32 = 0; // "uint32"
export const DATA_TYPE_INT32: i32 = 1; // "int32"
export const DATA_TYPE_FLOAT32: i32 = 2; // "float32"
export const DATA_TYPE_COUNT: i32 = 3;

// ---- Cleanup policies, implemented in cleanup.ts (enum CleanupPolicy) ---------------------------
// Adding one: a line here (and the count), and its branch in cleanup.ts.
export const CLEANUP_IMMEDIATE: i32 = 0; // "immediate"
export const CLEANUP_BATCHED: i32 = 1; // "batched"
export const CLEANUP_LAZY: i32 = 2; // "lazy"
export const CLEANUP_POLICY_COUNT: i32 = 3;

// ---- What the disk tier does when it is full (enum DiskFullPolicy) ------------------------------
// Carried in bits 1-2 of the config image's flags (CFG_FLAG_DISK_FULL_*); SPEC.md section 4.
export const DISK_FULL_EVICT_OLDEST: i32 = 0; // "evict-oldest"
export const DISK_FULL_REFUSE_NEW: i32 = 1; // "refuse-new"
export const DISK_FULL_POLICY_COUNT: i32 = 2;

// ---- Tier state machine states (enum TierState) ------------------------------------------------
export const STATE_IDLE: i32 = 0; // "idle"
export const STATE_CHECK_USAGE: i32 = 1; // "check-usage"
export const STATE_MOVE_TO_DISK: i32 = 2; // "move-to-disk"
export const STATE_CLEANUP_DISK: i32 = 3; // "cleanup-disk"
export const STATE_FLUSH_ALL: i32 = 4; // "flush-all"
export const STATE_CANCELLING_FLUSH: i32 = 5; // "cancelling-flush"
export const STATE_COUNT: i32 = 6;

// ---- Flush progress ----------------------------------------------------------------------------
export const FLUSH_PROGRESS_COMPLETE: i32 = 101;

// ---- Log levels; the core emits numeric events and the host formats them (enum CoreLogLevel) ----
export const LOG_ERROR: i32 = 1; // "error"
export const LOG_WARN: i32 = 2; // "warn"
export const LOG_INFO: i32 = 3; // "info"
export const LOG_DEBUG: i32 = 4; // "debug"

// ---- Log subsystems (enum LogSubsystem) --------------------------------------------------------

export const SUBSYSTEM_SAT: i32 = 1; // "sat"
export const SUBSYSTEM_STREAM: i32 = 2; // "stream"
export const SUBSYSTEM_TIER: i32 = 3; // "tier"
export const SUBSYSTEM_CLEANUP: i32 = 4; // "cleanup"
export const SUBSYSTEM_FLUSH: i32 = 5; // "flush"
export const SUBSYSTEM_RECOVERY: i32 = 6; // "recovery"

// ---- Log events ---------------------------------------------------------------------------------

export const EVENT_BOOTED: i32 = 1;
export const EVENT_USAGE_STEP: i32 = 2;
export const EVENT_DISCARD: i32 = 3;
export const EVENT_SPILL: i32 = 4;
export const EVENT_SPILL_REFUSED: i32 = 5;
export const EVENT_SPILL_FAILED: i32 = 6;
export const EVENT_FILE_DELETED: i32 = 7;
export const EVENT_DELETE_FAILED: i32 = 8;
export const EVENT_STATE: i32 = 9;
export const EVENT_FLUSH_COMPLETE: i32 = 10;
export const EVENT_FLUSH_CANCELLED: i32 = 11;
export const EVENT_FORCE_CLEANUP: i32 = 12;
export const EVENT_FILE_CORRUPT: i32 = 13;
// 14 is retired (it was never emitted); codes are not reused.
export const EVENT_RECOVERY_DONE: i32 = 15;
export const EVENT_ACK_PERSIST_FAILED: i32 = 16;
export const EVENT_FILE_DISCARDED: i32 = 17;
export const EVENT_WRITE_REFUSED: i32 = 18;
export const EVENT_SPILL_NO_SPACE: i32 = 19;

// ---- Real free space (assembly/disk-space.ts; SPEC.md section 4.1) ----------------------------
// The least device time between two reads of the filesystem's free bytes (the tick interval when
// that is longer).
export const DISK_FREE_READ_INTERVAL_MS: u32 = 1000;

// ---- Flashed config image (SPEC.md, "Flashed config image") -----------------------------------
export const CONFIG_MAGIC: u32 = 0x43584d49; // "IMXC" little-endian
export const CONFIG_LAYOUT_VERSION: i32 = 2;
export const CONFIG_IMAGE_BYTES: i32 = 108;
export const CONFIG_BOARD_NAME_BYTES: i32 = 24;
// Field offsets inside the image.
export const CFG_MAGIC: i32 = 0;
export const CFG_LAYOUT_VERSION: i32 = 4;
export const CFG_IMAGE_BYTES: i32 = 6;
export const CFG_RAM_BYTES: i32 = 8;
export const CFG_SECTOR_BYTES: i32 = 12;
export const CFG_FLAGS: i32 = 14;
export const CFG_SECTOR_COUNT: i32 = 16;
export const CFG_STREAMS_MAX: i32 = 20;
export const CFG_FILES_MAX: i32 = 24;
export const CFG_SECTORS_PER_FILE_MAX: i32 = 28;
export const CFG_DISK_QUOTA_BYTES: i32 = 32;
export const CFG_SPILL_THRESHOLD_PERCENT: i32 = 40;
export const CFG_SPILL_TARGET_PERCENT: i32 = 41;
export const CFG_DISK_THRESHOLD_PERCENT: i32 = 42;
export const CFG_CLEANUP_POLICY: i32 = 43;
export const CFG_TICK_INTERVAL_MS: i32 = 44;
export const CFG_SPILL_SECTORS_PER_TICK_MAX: i32 = 48;
export const CFG_FILES_WRITTEN_PER_TICK_MAX: i32 = 52;
export const CFG_FILES_DELETED_PER_TICK_MAX: i32 = 56;
export const CFG_BULK_RECORDS_MAX: i32 = 60;
export const CFG_DELETE_RETRY_BASE_MS: i32 = 64;
export const CFG_BOARD_NAME: i32 = 68;
export const CFG_DISK_FREE_MARGIN_FILES: i32 = 92;
export const CFG_DELETES_IN_FLIGHT_MAX: i32 = 96;
export const CFG_BYTES_WRITTEN_PER_TICK_MAX: i32 = 100;
export const CFG_CRC32: i32 = 104;
// Flag bits in CFG_FLAGS: bit 0 the disk tier; bits 1-2 the disk-full policy code (DISK_FULL_*); bit 3 the tier mode.
export const CFG_FLAG_DISK_TIER: i32 = 1;
export const CFG_FLAG_DISK_FULL_SHIFT: i32 = 1;
export const CFG_FLAG_DISK_FULL_MASK: i32 = 6;
// Bit 3: tier.mode "direct" (direct tiered allocation, SPEC.md 4.2); clear: "spill".
export const CFG_FLAG_TIER_DIRECT: i32 = 8;
// Layout 1 (images flashed by 0.1.0), still read: the same fields up to the board name, no
// diskFreeMarginFiles (the margin is DISK_FREE_MARGIN_FILES_DEFAULT with a disk tier, else 0), the
// CRC of bytes 0-91 at CFG_DISK_FREE_MARGIN_FILES, and no disk-full bits in the flags (evict-oldest).
export const CONFIG_LAYOUT_VERSION_1: i32 = 1;
export const CONFIG_IMAGE_BYTES_1: i32 = 96;
export const CFG_CRC32_1: i32 = 92;
// disk.freeMarginFiles when a board leaves it out, and the margin of a layout-1 image's disk tier.
export const DISK_FREE_MARGIN_FILES_DEFAULT: u32 = 2;
// tier.deletesInFlightMax when a board leaves it out, and the bound of a layout-1 image: the lazy
// policy's deletions in flight at once (cleanup.ts; SPEC.md 7.3).
export const DELETES_IN_FLIGHT_MAX_DEFAULT: u32 = 64;
// tier.bytesWrittenPerTickMax of 0 (the default, and a layout-1 image's): the bytes of the largest
// file one tick can spill, IMX_HEADER_BYTES + min(spillSectorsPerTickMax, sectorsPerFileMax) ×
// sectorBytes (config.ts bytesPerTickDerived).
export const BYTES_WRITTEN_PER_TICK_DERIVED: u32 = 0;

// ---- .imx file format v1 (SPEC.md, ".imx file") -----------------------------------------------
export const IMX_MAGIC: u32 = 0x31584d49; // "IMX1" little-endian
export const IMX_FORMAT_VERSION: i32 = 1;
export const IMX_HEADER_BYTES: i32 = 64;
export const IMX_MAGIC_OFFSET: i32 = 0;
export const IMX_VERSION_OFFSET: i32 = 4;
export const IMX_HEADER_BYTES_OFFSET: i32 = 6;
export const IMX_SOURCE_OFFSET: i32 = 8;
export const IMX_SENSOR_OFFSET: i32 = 12;
export const IMX_RECORD_TYPE_OFFSET: i32 = 16;
export const IMX_DATA_TYPE_OFFSET: i32 = 17;
export const IMX_SECTOR_BYTES_OFFSET: i32 = 18;
export const IMX_SAMPLE_RATE_OFFSET: i32 = 20;
export const IMX_SECTOR_COUNT_OFFSET: i32 = 24;
export const IMX_FIRST_SEQ_OFFSET: i32 = 28;
export const IMX_RECORD_COUNT_OFFSET: i32 = 36;
export const IMX_ACKED_SEQ_OFFSET: i32 = 40;
export const IMX_CREATED_MS_OFFSET: i32 = 48;
export const IMX_PAYLOAD_BYTES_OFFSET: i32 = 56;
export const IMX_CRC32_OFFSET: i32 = 60;

// ---- Positions file (SPEC.md, "Positions file") ----------------------------------------------
export const POSITIONS_MAGIC: u32 = 0x50584d49; // "IMXP" little-endian
export const POSITIONS_FORMAT_VERSION: i32 = 1;
export const POSITIONS_HEADER_BYTES: i32 = 16;
export const POSITIONS_MAGIC_OFFSET: i32 = 0;
export const POSITIONS_VERSION_OFFSET: i32 = 4;
export const POSITIONS_RECORD_BYTES_OFFSET: i32 = 6;
export const POSITIONS_COUNT_OFFSET: i32 = 8;
export const POSITIONS_CRC32_OFFSET: i32 = 12;
export const POSITION_RECORD_BYTES: i32 = 40;
export const POSITION_SOURCE_OFFSET: i32 = 0;
export const POSITION_SENSOR_OFFSET: i32 = 4;
export const POSITION_ACKED_SEQ_OFFSET: i32 = 8;
export const POSITION_NEXT_SEQ_OFFSET: i32 = 16;
export const POSITION_RECORD_TYPE_OFFSET: i32 = 24;
export const POSITION_DATA_TYPE_OFFSET: i32 = 25;
export const POSITION_SAMPLE_RATE_OFFSET: i32 = 28;
export const POSITION_SEQ_RESERVED_OFFSET: i32 = 32;
export const RECOVERY_FILE_ACKED: i32 = 1;
// fileDeleteDurable's answer when the file is removed but its directory's fsync failed (the host
// retries it before its next write): a power cut before then could bring the file back.
export const DELETE_UNSYNCED: i32 = 1;

// ---- ACK log (SPEC.md 6.5): positions appended one record at a time, compacted into a snapshot
export const ACK_LOG_MAGIC: u32 = 0x41584d49; // "IMXA" little-endian
export const ACK_LOG_FORMAT_VERSION: i32 = 1;
export const ACK_RECORD_BYTES: i32 = 56;
export const ACK_RECORD_MAGIC_OFFSET: i32 = 0;
export const ACK_RECORD_VERSION_OFFSET: i32 = 4;
export const ACK_RECORD_RECORD_TYPE_OFFSET: i32 = 5;
export const ACK_RECORD_DATA_TYPE_OFFSET: i32 = 6;
export const ACK_RECORD_SOURCE_OFFSET: i32 = 8;
export const ACK_RECORD_SENSOR_OFFSET: i32 = 12;
export const ACK_RECORD_SAMPLE_RATE_OFFSET: i32 = 16;
export const ACK_RECORD_SEQ_OFFSET: i32 = 20;
export const ACK_RECORD_ACKED_SEQ_OFFSET: i32 = 24;
export const ACK_RECORD_NEXT_SEQ_OFFSET: i32 = 32;
export const ACK_RECORD_SEQ_RESERVED_OFFSET: i32 = 40;
export const ACK_RECORD_CRC32_OFFSET: i32 = 52;
// The log is compacted into a snapshot (one record per stream) once it passes this many times the
// snapshot's size (and at least ACK_LOG_RECORDS_MIN records): a compaction's cost spread over the
// ACKs it replaces stays a few bytes each.
export const ACK_LOG_COMPACT_FACTOR: i32 = 8;
export const ACK_LOG_RECORDS_MIN: i32 = 16;

// ---- ackMany entry (SPEC.md 7.2): the ACKs of several streams, written by the host into the bulk
// buffer; the core uses the rest of each entry as scratch while it makes them durable.
export const ACK_MANY_ENTRY_BYTES: i32 = 24;
export const ACK_MANY_STREAM_OFFSET: i32 = 0; // u32 stream index (streamFind)
export const ACK_MANY_FLAGS_OFFSET: i32 = 4; // u32, core scratch: 1 when the ACK erases disk records
export const ACK_MANY_COUNT_OFFSET: i32 = 8; // f64 records to acknowledge (the first `count` pending)
export const ACK_MANY_ACKED_OFFSET: i32 = 16; // u64, core scratch: the ACK position after it

// ---- Bulk read output record (SPEC.md, "Bulk read buffer") ------------------------------------
export const BULK_RECORD_BYTES: i32 = 24;
export const BULK_SEQ_LO: i32 = 0;
export const BULK_SEQ_HI: i32 = 4;
export const BULK_VALUE: i32 = 8;
export const BULK_FLAGS: i32 = 12;
export const BULK_UTC_MS: i32 = 16;
export const BULK_FLAG_DISK: i32 = 1;

// ---- Batched write input (SPEC.md, "Batched writes"): the bulk buffer holds up to bulkRecordsMax
// records of one stream, EVT times first (f64 × bulkRecordsMax), then the values (u32 words).
export const BATCH_TIME_BYTES: i32 = 8;
export const BATCH_VALUE_BYTES: i32 = 4;

// ---- File names --------------------------------------------------------------------------------
export const PATH_BYTES_MAX: i32 = 96;
export const HISTORY_BUCKETS: i32 = 10;

// ---- Statistics block (f64 counters in device RAM; SPEC.md, "Statistics block") ---------------
export const STAT_SECTORS_TOTAL: i32 = 0;
export const STAT_SECTORS_FREE: i32 = 1;
export const STAT_SECTORS_USED: i32 = 2;
export const STAT_SECTORS_USED_PEAK: i32 = 3;
export const STAT_ALLOCATIONS: i32 = 4;
export const STAT_FREES: i32 = 5;
export const STAT_ALLOCATION_FAILURES: i32 = 6;
export const STAT_FRAGMENTATION_PERCENT: i32 = 7;
export const STAT_RECORDS_WRITTEN: i32 = 8;
export const STAT_RECORDS_READ: i32 = 9;
export const STAT_RECORDS_ACKED: i32 = 10;
export const STAT_RECORDS_DISCARDED: i32 = 11;
export const STAT_SECTORS_DISCARDED: i32 = 12;
export const STAT_SECTORS_SPILLED: i32 = 13;
export const STAT_SPILLS: i32 = 14;
export const STAT_SPILLS_REFUSED: i32 = 15;
export const STAT_SPILLS_FAILED: i32 = 16;
export const STAT_FILES_CREATED: i32 = 17;
export const STAT_FILES_DELETED: i32 = 18;
export const STAT_BYTES_WRITTEN: i32 = 19;
export const STAT_BYTES_DELETED: i32 = 20;
export const STAT_DELETE_FAILURES: i32 = 21;
export const STAT_FILES_LIVE: i32 = 22;
export const STAT_DISK_BYTES_USED: i32 = 23;
export const STAT_FILES_AWAITING_DELETE: i32 = 24;
export const STAT_FILES_DELETING: i32 = 25;
export const STAT_BYTES_AWAITING_DELETE: i32 = 26;
export const STAT_CLEANUP_COMPLETE: i32 = 27;
export const STAT_STATE: i32 = 28;
export const STAT_TICKS: i32 = 29;
export const STAT_TICKS_BY_STATE: i32 = 30; // STATE_COUNT slots: 30..35
export const STAT_FILE_READS: i32 = 36;
export const STAT_FILES_CORRUPT: i32 = 37;
export const STAT_RECORDS_DISCARDED_DISK: i32 = 38;
export const STAT_FLUSH_PROGRESS: i32 = 39;
export const STAT_DISK_USAGE_OFFSET_BYTES: i32 = 40;
export const STAT_RECORDS_LIVE: i32 = 41;
export const STAT_RECOVERY_FILES_KEPT: i32 = 42;
export const STAT_RECOVERY_FILES_ACKED: i32 = 43;
export const STAT_RECOVERY_RECORDS: i32 = 44;
export const STAT_RECORDS_LOST_RAM: i32 = 45;
export const STAT_ACK_PERSISTS: i32 = 46;
export const STAT_DISK_BYTES_LIMIT: i32 = 47;
export const STAT_DISK_FREE_BYTES: i32 = 48;
export const STAT_RECORDS_LOST_RAM_MAX: i32 = 49;
export const STAT_RECORDS_REFUSED: i32 = 50;
export const STAT_FILES_DISCARDED: i32 = 51;
export const STAT_RECORDS_DISCARDED_FILES: i32 = 52;
export const STAT_SPILLS_NO_SPACE: i32 = 53;
export const STAT_ACK_LOG_BYTES: i32 = 54;
export const STAT_ACK_RECORDS: i32 = 55;
export const STAT_ACK_LOG_COMPACTIONS: i32 = 56;
// Sectors of direct tiered allocation written to disk (tier.mode "direct", SPEC.md 4.2).
export const STAT_DIRECT_SECTORS: i32 = 57;
export const STAT_COUNT: i32 = 58;

// ---- Stream query block (f64 values written by streamQuery) -----------------------------------
export const QUERY_RECORDS_TOTAL: i32 = 0;
export const QUERY_RECORDS_PENDING: i32 = 1;
export const QUERY_RECORDS_NEW: i32 = 2;
export const QUERY_RECORDS_RAM: i32 = 3;
export const QUERY_RECORDS_DISK: i32 = 4;
export const QUERY_SEQ_NEXT: i32 = 5;
export const QUERY_SEQ_ACKED: i32 = 6;
export const QUERY_SEQ_READ: i32 = 7;
export const QUERY_SECTORS_RAM: i32 = 8;
export const QUERY_FILES_DISK: i32 = 9;
export const QUERY_RECORD_TYPE: i32 = 10;
export const QUERY_DATA_TYPE: i32 = 11;
export const QUERY_SAMPLE_RATE_MS: i32 = 12;
export const QUERY_SOURCE: i32 = 13;
export const QUERY_SENSOR: i32 = 14;
export const QUERY_RECORDS_DISCARDED: i32 = 15;
export const QUERY_COUNT: i32 = 16;
