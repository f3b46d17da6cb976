// The tier state machine: processMemory(nowMs), called from the device's main loop.
//
// It runs its logic at most once per tickIntervalMs and does a bounded amount of work per call
// (spillSectorsPerTickMax sectors moved, filesWrittenPerTickMax files written,
// filesDeletedPerTickMax files deleted, STEPS_PER_TICK_MAX state visits), so no call can stall the
// loop however much work is queued. States and transitions (SPEC.md, "Tier state machine"):
//
//   IDLE             flush requested → FLUSH_ALL; RAM usage ≥ spill threshold → CHECK_USAGE;
//                    a queued deletion is due → CLEANUP_DISK; otherwise stay (end of tick).
//   CHECK_USAGE      usage below threshold → IDLE; disk over its quota threshold or file table full →
//                    refuse (counted) → IDLE; otherwise → MOVE_TO_DISK.
//   MOVE_TO_DISK     spill one file per stream, round robin, until usage < spill target (→ IDLE) or
//                    the tick's budget is spent (stay) or nothing is eligible (→ IDLE).
//   CLEANUP_DISK     delete due queued files up to the budget → IDLE.
//   FLUSH_ALL        spill every RAM sector, pending or not, tails included, up to the budget; when RAM
//                    holds no stream data the flush is complete (progress 101) → IDLE.
//   CANCELLING_FLUSH entered by cancelMemoryFlush(); ends the flush → IDLE.

import {
  E_DISK_QUOTA, E_FILE_TABLE_FULL, E_NO_DISK_TIER, EVENT_FLUSH_CANCELLED, EVENT_FLUSH_COMPLETE, EVENT_SPILL,
  EVENT_SPILL_FAILED, EVENT_SPILL_REFUSED, EVENT_STATE, FILE_SLOT_NULL, FLUSH_PROGRESS_COMPLETE, LOG_DEBUG,
  LOG_ERROR, LOG_INFO, LOG_WARN, OK, SECTOR_NULL, STAT_BYTES_WRITTEN, STAT_DISK_BYTES_USED,
  STAT_DISK_USAGE_OFFSET_BYTES, STAT_FILES_CREATED, STAT_FILES_LIVE, STAT_FLUSH_PROGRESS, STAT_SECTORS_SPILLED,
  STAT_SPILLS, STAT_SPILLS_FAILED, STAT_SPILLS_REFUSED, STAT_STATE, STAT_TICKS, STAT_TICKS_BY_STATE,
  STATE_CANCELLING_FLUSH, STATE_CHECK_USAGE, STATE_CLEANUP_DISK, STATE_FLUSH_ALL, STATE_IDLE,
  STATE_MOVE_TO_DISK, SUBSYSTEM_FLUSH, SUBSYSTEM_TIER, IMX_HEADER_BYTES, STREAM_NULL,
} from "./abi";
import { clockNowMs, clockSet } from "./clock";
import { cleanupDeletingCount, cleanupHasDueWork, cleanupQueueLength, cleanupStep } from "./cleanup";
import {
  diskQuotaBytes, diskThresholdPercent, diskTier, filesDeletedPerTickMax, filesWrittenPerTickMax, pathPtr,
  sectorBytes, sectorCount, sectorsPerFileMax, spillSectorsPerTickMax, spillTargetPercent,
  spillThresholdPercent, tickIntervalMs, writeBufPtr,
} from "./config";
import { filePathFormat, fileSlotsFree, fileSlotTake, imxHeaderWrite } from "./files";
import { positionsPersist } from "./positions";
import { halFileWrite, halLog } from "./hal";
import {
  sectorCountGet, sectorData, sectorFirstSeqGet, sectorNextGet, sectorRelease, satUsagePercent, satUsedCount,
} from "./sat";
import { statAdd, statGet, statSet } from "./stats";
import {
  diskTailAppend, liveRecords, ramSectorUnlink, recordsMovedToDisk, recordsPerSector, sectorHasPending,
  streamAckedSeq, streamCount, streamDataType, streamDirty, streamRamHead, streamRamSectors, streamRamTail, streamRecordType,
  streamSampleRateMs, streamSensor, streamSource,
} from "./stream";

const STEPS_PER_TICK_MAX: i32 = 8;

let state: i32 = STATE_IDLE;
let lastTickMs: f64 = NaN;
let spillCursor: u32 = 0;
let flushRequested: bool = false;
let flushMovedSectors: u32 = 0;
let flushProgress: i32 = 0;
let refusalLogged: bool = false;
let sectorsBudget: u32 = 0;
let filesBudget: u32 = 0;

export function machineInit(nowMs: f64): void {
  state = STATE_IDLE;
  lastTickMs = NaN;
  spillCursor = 0;
  flushRequested = false;
  flushMovedSectors = 0;
  flushProgress = 0;
  refusalLogged = false;
  clockSet(nowMs);
  statSet(STAT_STATE, <f64>state);
}

export function machineState(): i32 {
  return state;
}

function stateSet(next: i32): void {
  if (next == state) return;
  halLog(LOG_DEBUG, SUBSYSTEM_TIER, EVENT_STATE, <f64>state, <f64>next);
  state = next;
  statSet(STAT_STATE, <f64>state);
}

// RAM sectors that hold stream data (what a flush must move).
export function streamSectorsUsed(): u32 {
  let total: u32 = 0;
  for (let s: u32 = 0; s < streamCount; s++) total += streamRamSectors(s);
  return total;
}

// ---- Spill -----------------------------------------------------------------------------------------------

function diskBytesLimit(flushing: bool): f64 {
  // A normal spill stops at the disk threshold; a flush (shutdown) may use the whole quota.
  const quota = <f64>diskQuotaBytes;
  return flushing ? quota : Math.floor((quota * <f64>diskThresholdPercent) / 100);
}

// Moves up to sectorsPerFileMax of stream `s`'s oldest RAM sectors into one `.imx` file. Returns the
// number of sectors moved (0 when the stream has nothing eligible) or an error code; on error RAM
// is unchanged. Outside a flush, a stream whose oldest sector holds pending records is skipped and
// its newest (still filling) sector stays in RAM.
function spillOne(s: u32, flushing: bool): i32 {
  const head = streamRamHead(s);
  if (head == SECTOR_NULL) return 0;
  if (!flushing && sectorHasPending(s, head)) return 0;
  const recordType = streamRecordType(s);
  const perSector = recordsPerSector(recordType);
  const tail = streamRamTail(s);
  const sectorsMax = min<u32>(sectorsPerFileMax, sectorsBudget);
  const payload = writeBufPtr + <usize>IMX_HEADER_BYTES;
  let k: u32 = 0;
  let expected: u64 = sectorFirstSeqGet(head);
  let id = head;
  while (id != SECTOR_NULL && k < sectorsMax) {
    if (!flushing && id == tail) break;
    const first = sectorFirstSeqGet(id);
    const count = sectorCountGet(id);
    // A file holds consecutive sequence numbers: stop at a gap left by a discard.
    if (first != expected) break;
    memory.copy(payload + <usize>k * <usize>sectorBytes, sectorData(id), <usize>sectorBytes);
    k++;
    expected = first + <u64>count;
    if (count < perSector) break; // a partly filled sector ends the file
    id = sectorNextGet(id);
  }
  if (k == 0) return 0;

  const bytes = <u32>IMX_HEADER_BYTES + k * sectorBytes;
  const used = statGet(STAT_DISK_BYTES_USED) + statGet(STAT_DISK_USAGE_OFFSET_BYTES);
  if (used + <f64>bytes > diskBytesLimit(flushing)) return spillRefused(E_DISK_QUOTA);
  if (fileSlotsFree() == 0) return spillRefused(E_FILE_TABLE_FULL);

  const firstSeq = sectorFirstSeqGet(head);
  const records = <u32>(expected - firstSeq);
  const source = streamSource(s);
  const sensor = streamSensor(s);
  const acked = streamAckedSeq(s);
  imxHeaderWrite(writeBufPtr, source, sensor, recordType, streamDataType(s), streamSampleRateMs(s), k, firstSeq,
    records, acked, clockNowMs);
  const status = halFileWrite(pathPtr, filePathFormat(source, sensor, firstSeq), writeBufPtr, <i32>bytes);
  if (status != OK) {
    statAdd(STAT_SPILLS_FAILED, 1);
    halLog(LOG_ERROR, SUBSYSTEM_TIER, EVENT_SPILL_FAILED, <f64>s, <f64>status);
    return status;
  }
  const slot = fileSlotTake(s, firstSeq, records, k, bytes);
  assert(slot != FILE_SLOT_NULL, "file slot vanished");

  // Unlink each sector from its stream, then free it.
  let live: u64 = 0;
  for (let i: u32 = 0; i < k; i++) {
    const moved = streamRamHead(s);
    live += liveRecords(sectorFirstSeqGet(moved), <u64>sectorCountGet(moved), acked);
    ramSectorUnlink(s, SECTOR_NULL, moved);
    sectorRelease(moved);
  }
  recordsMovedToDisk(s, live);
  diskTailAppend(s, slot, live);

  statAdd(STAT_SPILLS, 1);
  statAdd(STAT_SECTORS_SPILLED, <f64>k);
  statAdd(STAT_FILES_CREATED, 1);
  statAdd(STAT_FILES_LIVE, 1);
  statAdd(STAT_BYTES_WRITTEN, <f64>bytes);
  statAdd(STAT_DISK_BYTES_USED, <f64>bytes);
  halLog(LOG_DEBUG, SUBSYSTEM_TIER, EVENT_SPILL, <f64>s, <f64>k);
  refusalLogged = false;
  return <i32>k;
}

function spillRefused(reason: i32): i32 {
  statAdd(STAT_SPILLS_REFUSED, 1);
  if (!refusalLogged) {
    refusalLogged = true;
    halLog(LOG_WARN, SUBSYSTEM_TIER, EVENT_SPILL_REFUSED, <f64>reason, statGet(STAT_DISK_BYTES_USED));
  }
  return reason;
}

// Spills round robin across streams within the tick's budget. `flushing` moves everything;
// otherwise it stops once usage is below the spill target. Returns OK, or the reason it stopped
// early (quota, file table, a HAL error).
function moveToDisk(flushing: bool): i32 {
  let idle: u32 = 0;
  while (filesBudget > 0 && sectorsBudget > 0 && idle < streamCount) {
    if (!flushing && satUsagePercent() < spillTargetPercent) return OK;
    const s = spillCursor;
    spillCursor = spillCursor + 1 < streamCount ? spillCursor + 1 : 0;
    const moved = spillOne(s, flushing);
    if (moved < 0) return moved;
    if (moved == 0) {
      idle++;
      continue;
    }
    idle = 0;
    filesBudget--;
    sectorsBudget -= <u32>moved;
    if (flushing) flushMovedSectors += <u32>moved;
  }
  return OK;
}

// ---- Flush -----------------------------------------------------------------------------------------------

export function flushAllToDisk(): i32 {
  if (!diskTier) return E_NO_DISK_TIER;
  if (!flushRequested) {
    flushRequested = true;
    flushMovedSectors = 0;
    flushProgress = 0;
  }
  if (state == STATE_CANCELLING_FLUSH) stateSet(STATE_IDLE);
  statSet(STAT_FLUSH_PROGRESS, <f64>flushProgressGet());
  return OK;
}

// Whether a stream's position changed since the positions file was last written (disk tier only).
function streamsDirty(): bool {
  if (!diskTier) return false;
  for (let s: u32 = 0; s < streamCount; s++) if (streamDirty(s)) return true;
  return false;
}

// 0-100 while a flush is under way; 101 when RAM holds no stream data and every stream's position
// is on disk (safe to power off).
export function flushProgressGet(): i32 {
  const remaining = streamSectorsUsed();
  if (remaining == 0 && !streamsDirty()) return FLUSH_PROGRESS_COMPLETE;
  if (!flushRequested) return 0;
  const total = flushMovedSectors + remaining;
  const progress = total == 0 ? 100 : <i32>((<u64>flushMovedSectors * 100) / <u64>total);
  if (progress > flushProgress) flushProgress = min<i32>(progress, 100);
  return flushProgress;
}

export function flushCancel(): i32 {
  if (!flushRequested) return OK;
  stateSet(STATE_CANCELLING_FLUSH);
  return OK;
}

export function flushIsRequested(): bool {
  return flushRequested;
}

// ---- Pending work -------------------------------------------------------------------------------------

// All outstanding work: RAM sectors still to move to disk (every stream sector during a flush;
// otherwise those above the spill target while usage is at or over the threshold), files awaiting
// deletion and deletions in flight.
export function pendingWorkCount(): u32 {
  let sectors: u32 = 0;
  if (flushRequested) {
    sectors = streamSectorsUsed();
  } else if (diskTier && satUsagePercent() >= spillThresholdPercent) {
    const target = <u32>((<u64>sectorCount * <u64>spillTargetPercent) / 100);
    const used = satUsedCount();
    sectors = used > target ? used - target : 0;
  }
  return sectors + cleanupQueueLength() + cleanupDeletingCount();
}

// ---- The tick ------------------------------------------------------------------------------------------

export function processMemory(nowMs: f64): i32 {
  clockSet(nowMs);
  // Run at most once per tick interval; a clock that went backwards starts a new interval.
  if (lastTickMs == lastTickMs && nowMs >= lastTickMs && nowMs - lastTickMs < <f64>tickIntervalMs) return state;
  lastTickMs = nowMs;
  statAdd(STAT_TICKS, 1);
  sectorsBudget = spillSectorsPerTickMax;
  filesBudget = filesWrittenPerTickMax;
  let deleteBudget = filesDeletedPerTickMax;

  let spillTried = false;
  let cleanupTried = false;
  for (let step = 0; step < STEPS_PER_TICK_MAX; step++) {
    statAdd(STAT_TICKS_BY_STATE + state, 1);
    if (state == STATE_IDLE) {
      if (flushRequested) {
        stateSet(STATE_FLUSH_ALL);
      } else if (!spillTried && diskTier && satUsagePercent() >= spillThresholdPercent) {
        stateSet(STATE_CHECK_USAGE);
      } else if (!cleanupTried && deleteBudget > 0 && cleanupHasDueWork()) {
        stateSet(STATE_CLEANUP_DISK);
      } else {
        break;
      }
    } else if (state == STATE_CHECK_USAGE) {
      spillTried = true;
      if (satUsagePercent() < spillThresholdPercent) {
        stateSet(STATE_IDLE);
      } else if (statGet(STAT_DISK_BYTES_USED) + statGet(STAT_DISK_USAGE_OFFSET_BYTES) >= diskBytesLimit(false)) {
        spillRefused(E_DISK_QUOTA);
        stateSet(STATE_IDLE);
      } else if (fileSlotsFree() == 0) {
        spillRefused(E_FILE_TABLE_FULL);
        stateSet(STATE_IDLE);
      } else {
        stateSet(STATE_MOVE_TO_DISK);
      }
    } else if (state == STATE_MOVE_TO_DISK) {
      spillTried = true;
      const status = moveToDisk(false);
      const budgetSpent = filesBudget == 0 || sectorsBudget == 0;
      // Budget spent with work left: stay and go on next tick. Otherwise the spill is done, was
      // refused or failed, or nothing more is eligible (pending or still filling): back to IDLE.
      if (status == OK && budgetSpent && satUsagePercent() >= spillTargetPercent) {
        // Deletions keep going during a long spill too: acknowledged files waiting in the queue
        // still count against the disk quota, so starving them ends in refused spills and discards.
        if (deleteBudget > 0 && cleanupHasDueWork()) {
          deleteBudget -= min<u32>(deleteBudget, cleanupStep(deleteBudget));
        }
        break;
      }
      stateSet(STATE_IDLE);
    } else if (state == STATE_CLEANUP_DISK) {
      cleanupTried = true;
      deleteBudget -= min<u32>(deleteBudget, cleanupStep(deleteBudget));
      stateSet(STATE_IDLE);
    } else if (state == STATE_FLUSH_ALL) {
      if (!flushRequested) {
        stateSet(STATE_IDLE);
        continue;
      }
      moveToDisk(true);
      // Once RAM is empty, make every stream's position durable before calling the flush complete.
      if (streamSectorsUsed() == 0 && streamsDirty() && filesBudget > 0) {
        filesBudget--;
        positionsPersist(STREAM_NULL, 0);
      }
      if (streamSectorsUsed() == 0 && !streamsDirty()) {
        flushRequested = false;
        flushProgress = FLUSH_PROGRESS_COMPLETE;
        halLog(LOG_INFO, SUBSYSTEM_FLUSH, EVENT_FLUSH_COMPLETE, <f64>flushMovedSectors, 0);
        stateSet(STATE_IDLE);
        continue;
      }
      // Deletions keep going during a long flush.
      if (deleteBudget > 0 && cleanupHasDueWork()) deleteBudget -= min<u32>(deleteBudget, cleanupStep(deleteBudget));
      break;
    } else if (state == STATE_CANCELLING_FLUSH) {
      flushRequested = false;
      halLog(LOG_INFO, SUBSYSTEM_FLUSH, EVENT_FLUSH_CANCELLED, <f64>flushMovedSectors, 0);
      stateSet(STATE_IDLE);
    } else {
      assert(false, "unknown tier state");
    }
  }
  statSet(STAT_FLUSH_PROGRESS, <f64>flushProgressGet());
  return state;
}
