// The core state block: every value the core keeps between calls, in device RAM (SPEC.md, "Core
// state block"). The module has no mutable globals of its own, so the device is exactly its memory:
// a copy of the first ramBytes bytes is a snapshot a new instance can continue from.
//
// The block sits at a fixed address, statePtr() = align8(__heap_base), right after the module's
// static data, so every access is a load or store at a constant address. It is zero until boot
// (a fresh memory is zero) and boot fills it. CORE_STATE_BYTES bytes, 8-byte fields first:
//
//   Settings decoded from the flashed config image (boot; cleanupPolicy may be overridden later)
//     0 diskQuotaBytes u64        8 ramBytes u32             12 sectorBytes u32
//    16 sectorCount u32          20 streamsMax u32           24 filesMax u32
//    28 sectorsPerFileMax u32    32 spillThresholdPercent u32 36 spillTargetPercent u32
//    40 diskThresholdPercent u32 44 cleanupPolicy i32        48 tickIntervalMs u32
//    52 spillSectorsPerTickMax u32 56 filesWrittenPerTickMax u32 60 filesDeletedPerTickMax u32
//    64 bulkRecordsMax u32       68 deleteRetryBaseMs u32    72 tsdPerSector u32
//    76 evtPerSector u32
//   Region pointers (boot)
//    80 statsPtr    84 queryPtr    88 satPtr      92 streamsPtr  96 filesPtr   100 poolPtr
//   104 bulkPtr    108 writeBufPtr 112 readBufPtr 116 ioBufBytes 120 pathPtr   124 layoutEnd
//   Clock and tier state machine
//   128 clockNowMs f64   136 lastTickMs f64   144 tierState i32   148 spillCursor u32
//   152 flushMovedSectors u32   156 flushProgress i32   160 sectorsBudget u32   164 filesBudget u32
//   Streams, SAT free list, file table, cleanup queue
//   168 streamCount u32  172 satFreeHead u32  176 satFreeCount u32  180 satUsageStep u32
//   184 fileFreeHead u32 188 fileSlotsInUse u32 192 readCacheSlot u32 196 readCacheGeneration u32
//   200 cleanupQueueHead u32 204 cleanupQueueTail u32 208 cleanupQueueLength u32
//   212 cleanupDeletingCount u32
//   Flags (u8 each)
//   216 booted   217 diskTier   218 recoveryOpen   219 flushRequested   220 refusalLogged
//   221 diskFullPolicy u8 (DISK_FULL_*, from the image's flags)   222 ackLogDamaged
//   223 positionsLegacy u8 (POSITIONS_LEGACY_*)
//   Real free space (disk-space.ts)
//   224 diskFreeReadMs f64   232 diskFreeAtReadBytes f64   240 diskUsedAtReadBytes f64
//   248 diskFreeMarginFiles u32 (setting from the image)
//   Per-call budgets
//   252 deletesBudget u32
//   Settings from the image, added later
//   256 deletesInFlightMax u32 (lazy deletions in flight at most)
//   Tick byte budget (setting from the image, resolved at boot) and what is left of it this tick
//   260 bytesWrittenPerTickMax u32   264 bytesBudget u32
//   268 tierDirect u8 (tier.mode "direct", from the image's flags)                    272 end
//
// Every offset drawn above is checked against offsetof below, so the drawing cannot drift.

import { CORE_STATE_BYTES } from "./abi";

// @ts-ignore: decorator
@unmanaged
export class CoreState {
  // ---- Settings from the flashed config image
  diskQuotaBytes!: u64;
  ramBytes!: u32;
  sectorBytes!: u32;
  sectorCount!: u32;
  streamsMax!: u32;
  filesMax!: u32;
  sectorsPerFileMax!: u32;
  spillThresholdPercent!: u32;
  spillTargetPercent!: u32;
  diskThresholdPercent!: u32;
  cleanupPolicy!: i32;
  tickIntervalMs!: u32;
  spillSectorsPerTickMax!: u32;
  filesWrittenPerTickMax!: u32;
  filesDeletedPerTickMax!: u32;
  bulkRecordsMax!: u32;
  deleteRetryBaseMs!: u32;
  tsdPerSector!: u32;
  evtPerSector!: u32;
  // ---- Region pointers
  statsPtr!: usize;
  queryPtr!: usize;
  satPtr!: usize;
  streamsPtr!: usize;
  filesPtr!: usize;
  poolPtr!: usize;
  bulkPtr!: usize;
  writeBufPtr!: usize;
  readBufPtr!: usize;
  ioBufBytes!: u32;
  pathPtr!: usize;
  layoutEnd!: usize;
  // ---- Clock and tier state machine
  // The last nowMs the host passed in (boot or processMemory): the core has no clock of its own.
  clockNowMs!: f64;
  // When the last tick ran; NaN before the first.
  lastTickMs!: f64;
  tierState!: i32;
  // The stream the next spill looks at first (round robin).
  spillCursor!: u32;
  flushMovedSectors!: u32;
  flushProgress!: i32;
  // What is left of the running tick's spill budget.
  sectorsBudget!: u32;
  filesBudget!: u32;
  // ---- Streams, SAT free list, file table, cleanup queue
  streamCount!: u32;
  satFreeHead!: u32;
  satFreeCount!: u32;
  // RAM usage in 10% steps, as last logged.
  satUsageStep!: u32;
  fileFreeHead!: u32;
  fileSlotsInUse!: u32;
  // The file whose validated image is in the read buffer (FILE_SLOT_NULL for none) and its generation.
  readCacheSlot!: u32;
  readCacheGeneration!: u32;
  cleanupQueueHead!: u32;
  cleanupQueueTail!: u32;
  cleanupQueueLength!: u32;
  cleanupDeletingCount!: u32;
  // ---- Flags
  booted!: bool;
  diskTier!: bool;
  recoveryOpen!: bool;
  flushRequested!: bool;
  // A refused spill was logged; the next successful spill clears it.
  refusalLogged!: bool;
  // What the disk tier does when a spill finds it full: DISK_FULL_EVICT_OLDEST or DISK_FULL_REFUSE_NEW.
  diskFullPolicy!: u8;
  // The ACK log may end in part of a record (torn tail, failed append): no appends until a snapshot
  // replaces it (assembly/positions.ts).
  ackLogDamaged!: bool;
  // A positions file of the first format was read at boot: POSITIONS_LEGACY_*.
  positionsLegacy!: u8;
  // ---- Real free space (assembly/disk-space.ts)
  // When the filesystem's free bytes were last read (device time); NaN forces a read at the next check.
  diskFreeReadMs!: f64;
  // What that read said (Infinity: no limit known), and the disk usage (bytes + offset) plus the ACK
  // log's bytes at the time.
  diskFreeAtReadBytes!: f64;
  diskUsedAtReadBytes!: f64;
  // Files' worth of bytes (I/O buffer sizes) kept free on the filesystem, from the config image.
  diskFreeMarginFiles!: u32;
  // ---- Per-call budgets
  // Deletions left to the running tick (or write) for cleanup and evictions.
  deletesBudget!: u32;
  // ---- Settings from the image, added later
  // Lazy deletions in flight at most (cleanup.ts): the lazy policy starts no more than this.
  deletesInFlightMax!: u32;
  // ---- Tick byte budget
  // Bytes one tick may write to files (spill files and the flush's closing ACK-log record), from the
  // config image (0 there: the default derived at boot, config.ts bytesPerTickDerived).
  bytesWrittenPerTickMax!: u32;
  // What is left of it to the running tick.
  bytesBudget!: u32;
  // tier.mode "direct" (direct tiered allocation, SPEC.md 4.2), from the image's flags.
  tierDirect!: bool;
}

// CoreState.positionsLegacy: no positions file of the first format; one was read at boot and its
// streams are not yet in an ACK-log snapshot; a snapshot replaced it and it is still to be deleted.
export const POSITIONS_LEGACY_NONE: u8 = 0;
export const POSITIONS_LEGACY_FOUND: u8 = 1;
export const POSITIONS_LEGACY_REPLACED: u8 = 2;

// Where the state block lives: a constant address, so accesses fold to loads at fixed offsets.
// @ts-ignore: decorator
@inline
export function statePtr(): usize {
  return (__heap_base + 7) & ~(<usize>7);
}

// The core state block.
// @ts-ignore: decorator
@inline
export function core(): CoreState {
  return changetype<CoreState>(statePtr());
}

// ---- The drawing above, checked at compile time -------------------------------------------------
if (offsetof<CoreState>("diskQuotaBytes") != 0) ERROR("CoreState.diskQuotaBytes moved");
if (offsetof<CoreState>("ramBytes") != 8) ERROR("CoreState.ramBytes moved");
if (offsetof<CoreState>("sectorBytes") != 12) ERROR("CoreState.sectorBytes moved");
if (offsetof<CoreState>("sectorCount") != 16) ERROR("CoreState.sectorCount moved");
if (offsetof<CoreState>("streamsMax") != 20) ERROR("CoreState.streamsMax moved");
if (offsetof<CoreState>("filesMax") != 24) ERROR("CoreState.filesMax moved");
if (offsetof<CoreState>("sectorsPerFileMax") != 28) ERROR("CoreState.sectorsPerFileMax moved");
if (offsetof<CoreState>("spillThresholdPercent") != 32) ERROR("CoreState.spillThresholdPercent moved");
if (offsetof<CoreState>("spillTargetPercent") != 36) ERROR("CoreState.spillTargetPercent moved");
if (offsetof<CoreState>("diskThresholdPercent") != 40) ERROR("CoreState.diskThresholdPercent moved");
if (offsetof<CoreState>("cleanupPolicy") != 44) ERROR("CoreState.cleanupPolicy moved");
if (offsetof<CoreState>("tickIntervalMs") != 48) ERROR("CoreState.tickIntervalMs moved");
if (offsetof<CoreState>("spillSectorsPerTickMax") != 52) ERROR("CoreState.spillSectorsPerTickMax moved");
if (offsetof<CoreState>("filesWrittenPerTickMax") != 56) ERROR("CoreState.filesWrittenPerTickMax moved");
if (offsetof<CoreState>("filesDeletedPerTickMax") != 60) ERROR("CoreState.filesDeletedPerTickMax moved");
if (offsetof<CoreState>("bulkRecordsMax") != 64) ERROR("CoreState.bulkRecordsMax moved");
if (offsetof<CoreState>("deleteRetryBaseMs") != 68) ERROR("CoreState.deleteRetryBaseMs moved");
if (offsetof<CoreState>("tsdPerSector") != 72) ERROR("CoreState.tsdPerSector moved");
if (offsetof<CoreState>("evtPerSector") != 76) ERROR("CoreState.evtPerSector moved");
if (offsetof<CoreState>("statsPtr") != 80) ERROR("CoreState.statsPtr moved");
if (offsetof<CoreState>("queryPtr") != 84) ERROR("CoreState.queryPtr moved");
if (offsetof<CoreState>("satPtr") != 88) ERROR("CoreState.satPtr moved");
if (offsetof<CoreState>("streamsPtr") != 92) ERROR("CoreState.streamsPtr moved");
if (offsetof<CoreState>("filesPtr") != 96) ERROR("CoreState.filesPtr moved");
if (offsetof<CoreState>("poolPtr") != 100) ERROR("CoreState.poolPtr moved");
if (offsetof<CoreState>("bulkPtr") != 104) ERROR("CoreState.bulkPtr moved");
if (offsetof<CoreState>("writeBufPtr") != 108) ERROR("CoreState.writeBufPtr moved");
if (offsetof<CoreState>("readBufPtr") != 112) ERROR("CoreState.readBufPtr moved");
if (offsetof<CoreState>("ioBufBytes") != 116) ERROR("CoreState.ioBufBytes moved");
if (offsetof<CoreState>("pathPtr") != 120) ERROR("CoreState.pathPtr moved");
if (offsetof<CoreState>("layoutEnd") != 124) ERROR("CoreState.layoutEnd moved");
if (offsetof<CoreState>("clockNowMs") != 128) ERROR("CoreState.clockNowMs moved");
if (offsetof<CoreState>("lastTickMs") != 136) ERROR("CoreState.lastTickMs moved");
if (offsetof<CoreState>("tierState") != 144) ERROR("CoreState.tierState moved");
if (offsetof<CoreState>("spillCursor") != 148) ERROR("CoreState.spillCursor moved");
if (offsetof<CoreState>("flushMovedSectors") != 152) ERROR("CoreState.flushMovedSectors moved");
if (offsetof<CoreState>("flushProgress") != 156) ERROR("CoreState.flushProgress moved");
if (offsetof<CoreState>("sectorsBudget") != 160) ERROR("CoreState.sectorsBudget moved");
if (offsetof<CoreState>("filesBudget") != 164) ERROR("CoreState.filesBudget moved");
if (offsetof<CoreState>("streamCount") != 168) ERROR("CoreState.streamCount moved");
if (offsetof<CoreState>("satFreeHead") != 172) ERROR("CoreState.satFreeHead moved");
if (offsetof<CoreState>("satFreeCount") != 176) ERROR("CoreState.satFreeCount moved");
if (offsetof<CoreState>("satUsageStep") != 180) ERROR("CoreState.satUsageStep moved");
if (offsetof<CoreState>("fileFreeHead") != 184) ERROR("CoreState.fileFreeHead moved");
if (offsetof<CoreState>("fileSlotsInUse") != 188) ERROR("CoreState.fileSlotsInUse moved");
if (offsetof<CoreState>("readCacheSlot") != 192) ERROR("CoreState.readCacheSlot moved");
if (offsetof<CoreState>("readCacheGeneration") != 196) ERROR("CoreState.readCacheGeneration moved");
if (offsetof<CoreState>("cleanupQueueHead") != 200) ERROR("CoreState.cleanupQueueHead moved");
if (offsetof<CoreState>("cleanupQueueTail") != 204) ERROR("CoreState.cleanupQueueTail moved");
if (offsetof<CoreState>("cleanupQueueLength") != 208) ERROR("CoreState.cleanupQueueLength moved");
if (offsetof<CoreState>("cleanupDeletingCount") != 212) ERROR("CoreState.cleanupDeletingCount moved");
if (offsetof<CoreState>("booted") != 216) ERROR("CoreState.booted moved");
if (offsetof<CoreState>("diskTier") != 217) ERROR("CoreState.diskTier moved");
if (offsetof<CoreState>("recoveryOpen") != 218) ERROR("CoreState.recoveryOpen moved");
if (offsetof<CoreState>("flushRequested") != 219) ERROR("CoreState.flushRequested moved");
if (offsetof<CoreState>("refusalLogged") != 220) ERROR("CoreState.refusalLogged moved");
if (offsetof<CoreState>("diskFullPolicy") != 221) ERROR("CoreState.diskFullPolicy moved");
if (offsetof<CoreState>("ackLogDamaged") != 222) ERROR("CoreState.ackLogDamaged moved");
if (offsetof<CoreState>("positionsLegacy") != 223) ERROR("CoreState.positionsLegacy moved");
if (offsetof<CoreState>("diskFreeReadMs") != 224) ERROR("CoreState.diskFreeReadMs moved");
if (offsetof<CoreState>("diskFreeAtReadBytes") != 232) ERROR("CoreState.diskFreeAtReadBytes moved");
if (offsetof<CoreState>("diskUsedAtReadBytes") != 240) ERROR("CoreState.diskUsedAtReadBytes moved");
if (offsetof<CoreState>("diskFreeMarginFiles") != 248) ERROR("CoreState.diskFreeMarginFiles moved");
if (offsetof<CoreState>("deletesBudget") != 252) ERROR("CoreState.deletesBudget moved");
if (offsetof<CoreState>("deletesInFlightMax") != 256) ERROR("CoreState.deletesInFlightMax moved");
if (offsetof<CoreState>("bytesWrittenPerTickMax") != 260) ERROR("CoreState.bytesWrittenPerTickMax moved");
if (offsetof<CoreState>("bytesBudget") != 264) ERROR("CoreState.bytesBudget moved");
if (offsetof<CoreState>("tierDirect") != 268) ERROR("CoreState.tierDirect moved");
// The block's size, rounded up to the 8-byte region alignment, is the ABI's CORE_STATE_BYTES.
if (((offsetof<CoreState>() + 7) & ~7) != CORE_STATE_BYTES) ERROR("CoreState size differs from CORE_STATE_BYTES");
