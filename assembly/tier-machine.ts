// The tier state machine: processMemory(nowMs), called from the device's main loop.
//
// It runs its logic at most once per tickIntervalMs and does a bounded amount of work per call
// (spillSectorsPerTickMax sectors moved, filesWrittenPerTickMax files written,
// bytesWrittenPerTickMax bytes written, filesDeletedPerTickMax files deleted — lazy deletions
// started instead up to deletesInFlightMax in flight —, STEPS_PER_TICK_MAX state visits), so no
// call can stall the loop however much work is queued. States and transitions (SPEC.md, "Tier
// state machine"):
//
//   IDLE             flush requested → FLUSH_ALL; RAM usage ≥ spill threshold → CHECK_USAGE;
//                    a queued deletion is due → CLEANUP_DISK; otherwise stay (end of tick).
//   CHECK_USAGE      usage below threshold → IDLE; under refuse-new, disk over its quota threshold or
//                    file table full → refuse (counted) → IDLE; otherwise → MOVE_TO_DISK (under
//                    evict-oldest a spill makes room itself, disk-full.ts).
//   MOVE_TO_DISK     spill one file per stream, round robin, until usage < spill target (→ IDLE) or
//                    the tick's budget is spent (stay) or nothing is eligible (→ IDLE).
//   CLEANUP_DISK     delete due queued files up to the budget (lazy: start them up to the in-flight
//                    bound) → IDLE.
//   FLUSH_ALL        spill every RAM sector, pending or not, tails included, up to the budget; when RAM
//                    holds no stream data the flush is complete (progress 101) → IDLE.
//   CANCELLING_FLUSH entered by cancelMemoryFlush(); ends the flush → IDLE.

import {
  DISK_FULL_REFUSE_NEW,
  E_DISK_QUOTA,
  E_HAL_NO_SPACE,
  E_FILE_TABLE_FULL,
  E_NO_DISK_TIER,
  EVENT_FLUSH_CANCELLED,
  EVENT_FLUSH_COMPLETE,
  EVENT_SPILL,
  EVENT_SPILL_FAILED,
  EVENT_SPILL_NO_SPACE,
  EVENT_SPILL_REFUSED,
  EVENT_STATE,
  FILE_SLOT_NULL,
  FLUSH_PROGRESS_COMPLETE,
  LOG_DEBUG,
  LOG_ERROR,
  LOG_INFO,
  LOG_WARN,
  OK,
  SECTOR_NULL,
  STAT_BYTES_WRITTEN,
  STAT_DIRECT_SECTORS,
  STAT_DISK_BYTES_USED,
  STAT_FILES_CREATED,
  STAT_FILES_LIVE,
  STAT_FLUSH_PROGRESS,
  STAT_SECTORS_SPILLED,
  STAT_SPILLS,
  STAT_SPILLS_FAILED,
  STAT_SPILLS_NO_SPACE,
  STAT_SPILLS_REFUSED,
  STAT_STATE,
  STAT_TICKS,
  STAT_TICKS_BY_STATE,
  STATE_CANCELLING_FLUSH,
  STATE_CHECK_USAGE,
  STATE_CLEANUP_DISK,
  STATE_FLUSH_ALL,
  STATE_IDLE,
  STATE_MOVE_TO_DISK,
  SUBSYSTEM_FLUSH,
  SUBSYSTEM_TIER,
  IMX_HEADER_BYTES,
  STREAM_NULL,
} from "./abi";
import { clockSet } from "./clock";
import { cleanupDeletingCount, cleanupDue, cleanupQueueLength, cleanupTick } from "./cleanup";
import { diskBytesLimit, diskSpaceInvalidate } from "./disk-space";
import { diskBytesUsed, diskRoomMake } from "./disk-full";
import { filePathFormat, fileSlotsFree, fileSlotTake, imxHeaderWrite } from "./files";
import { positionsClosed, positionsClosingBytes, positionsPersist } from "./positions";
import { halFileWrite, halLog } from "./hal";
import { sectorCountGet, sectorData, sectorFirstSeqGet, sectorNextGet, satUsagePercent, satUsedCount } from "./sat";
import { statAdd, statGet, statSet } from "./stats";
import { sectorHasPending, streamDirectCommit, streamSpillCommit } from "./stream";
import {
  recordsPerSector,
  streamAckedSeq,
  streamDataType,
  streamDirty,
  streamRamHead,
  streamRamSectors,
  streamRamTail,
  streamRecordType,
  streamSampleRateMs,
  streamSensor,
  streamSource,
} from "./stream-table";
import { core } from "./state";

const STEPS_PER_TICK_MAX: i32 = 8;

export function machineInit(nowMs: f64): void {
  const c = core();
  c.tierState = STATE_IDLE;
  c.lastTickMs = NaN;
  c.spillCursor = 0;
  c.flushRequested = false;
  c.flushMovedSectors = 0;
  c.flushProgress = 0;
  c.refusalLogged = false;
  clockSet(nowMs);
  statSet(STAT_STATE, <f64>c.tierState);
}

export function machineState(): i32 {
  return core().tierState;
}

function stateSet(next: i32): void {
  const c = core();
  if (next == c.tierState) return;
  halLog(LOG_DEBUG, SUBSYSTEM_TIER, EVENT_STATE, <f64>c.tierState, <f64>next);
  c.tierState = next;
  statSet(STAT_STATE, <f64>c.tierState);
}

// RAM sectors that hold stream data (what a flush must move).
export function streamSectorsUsed(): u32 {
  let total: u32 = 0;
  for (let s: u32 = 0; s < core().streamCount; s++) total += streamRamSectors(s);
  return total;
}

// ---- Spill -----------------------------------------------------------------------------------------------

// Moves up to `sectorsMax` of stream `s`'s oldest RAM sectors into one `.imx` file. Returns the
// number of sectors moved (0 when the stream has nothing eligible) or an error code; on error RAM
// is unchanged. Outside a flush, a stream whose oldest sector holds pending records is skipped and
// its newest (still filling) sector stays in RAM. A disk without room for the file is handled by
// the disk-full policy (disk-full.ts): evict-oldest deletes old files first, refuse-new refuses.
function spillOne(s: u32, flushing: bool, sectorsMax: u32): i32 {
  const c = core();
  const head = streamRamHead(s);
  if (head == SECTOR_NULL) return 0;
  if (!flushing && sectorHasPending(s, head)) return 0;
  const recordType = streamRecordType(s);
  const perSector = recordsPerSector(recordType);
  const tail = streamRamTail(s);
  const payload = c.writeBufPtr + <usize>IMX_HEADER_BYTES;
  let k: u32 = 0;
  let expected: u64 = sectorFirstSeqGet(head);
  let id = head;
  while (id != SECTOR_NULL && k < sectorsMax) {
    if (!flushing && id == tail) break;
    const first = sectorFirstSeqGet(id);
    const count = sectorCountGet(id);
    // A file holds consecutive sequence numbers: stop at a gap left by a discard.
    if (first != expected) break;
    memory.copy(payload + <usize>k * <usize>c.sectorBytes, sectorData(id), <usize>c.sectorBytes);
    k++;
    expected = first + <u64>count;
    if (count < perSector) break; // a partly filled sector ends the file
    id = sectorNextGet(id);
  }
  if (k == 0) return 0;
  const slot = fileFromPayload(s, k, sectorFirstSeqGet(head), <u32>(expected - sectorFirstSeqGet(head)), flushing);
  if (slot < 0) return slot;
  streamSpillCommit(s, k, <u32>slot);
  statAdd(STAT_SPILLS, 1);
  statAdd(STAT_SECTORS_SPILLED, <f64>k);
  halLog(LOG_DEBUG, SUBSYSTEM_TIER, EVENT_SPILL, <f64>s, <f64>k);
  return <i32>k;
}

// Writes the `k` sector images already copied after the header in the write buffer as one `.imx`
// file of stream `s` (first record `firstSeq`, `records` records) and takes its file slot. Returns
// the slot, or an error code with nothing changed: the disk-full policy could not make room
// (disk-full.ts), or the HAL failed (a filesystem fuller than the count: under evict-oldest, old
// files worth this file's bytes are deleted for one more try).
function fileFromPayload(s: u32, k: u32, firstSeq: u64, records: u32, flushing: bool): i32 {
  const c = core();
  const recordType = streamRecordType(s);
  const bytes = <u32>IMX_HEADER_BYTES + k * c.sectorBytes;
  const limit = diskBytesLimit(flushing);
  if (!diskRoomMake(<f64>bytes, limit)) {
    return spillRefused(fileSlotsFree() == 0 ? E_FILE_TABLE_FULL : E_DISK_QUOTA);
  }

  const source = streamSource(s);
  const sensor = streamSensor(s);
  const acked = streamAckedSeq(s);
  imxHeaderWrite(
    c.writeBufPtr,
    source,
    sensor,
    recordType,
    streamDataType(s),
    streamSampleRateMs(s),
    k,
    firstSeq,
    records,
    acked,
    c.clockNowMs,
  );
  let status = halFileWrite(c.pathPtr, filePathFormat(source, sensor, firstSeq), c.writeBufPtr, <i32>bytes);
  if (status == E_HAL_NO_SPACE) {
    // The filesystem is fuller than the disk tier's count says. The data stays in RAM; under
    // evict-oldest, deleting old files worth this file's bytes frees room for one more try.
    statAdd(STAT_SPILLS_NO_SPACE, 1);
    halLog(LOG_WARN, SUBSYSTEM_TIER, EVENT_SPILL_NO_SPACE, <f64>s, diskBytesUsed());
    diskSpaceInvalidate(); // the next limit check asks the filesystem again
    const usedBefore = diskBytesUsed();
    if (diskRoomMake(<f64>bytes, usedBefore) && diskBytesUsed() < usedBefore) {
      status = halFileWrite(c.pathPtr, filePathFormat(source, sensor, firstSeq), c.writeBufPtr, <i32>bytes);
    }
  }
  if (status != OK) {
    statAdd(STAT_SPILLS_FAILED, 1);
    halLog(LOG_ERROR, SUBSYSTEM_TIER, EVENT_SPILL_FAILED, <f64>s, <f64>status);
    return status;
  }
  const slot = fileSlotTake(s, firstSeq, records, k, bytes, c.clockNowMs);
  assert(slot != FILE_SLOT_NULL, "file slot vanished");
  statAdd(STAT_FILES_CREATED, 1);
  statAdd(STAT_FILES_LIVE, 1);
  statAdd(STAT_BYTES_WRITTEN, <f64>bytes);
  statAdd(STAT_DISK_BYTES_USED, <f64>bytes);
  c.refusalLogged = false;
  return <i32>slot;
}

// ---- Direct tiered allocation (tier.mode "direct", SPEC.md 4.2) ----------------------------------

// Writes up to `sectorsMax` of stream `s`'s newest sectors into one `.imx` file: the last run of
// full, non-pending sectors with consecutive sequence numbers, the tail included when it is full
// (a partly filled tail is still filling and stays). These are the sectors allocated at or above
// the threshold: in direct mode the data below it stays in RAM until it is uploaded or a shutdown
// flushes it. Returns the sectors written (0 when none is eligible) or an error code; on error RAM
// is unchanged.
function directOne(s: u32, sectorsMax: u32): i32 {
  const c = core();
  const head = streamRamHead(s);
  if (head == SECTOR_NULL || sectorsMax == 0) return 0;
  const perSector = recordsPerSector(streamRecordType(s));
  // Pass 1: the last run of full, non-pending, consecutive sectors, ending at the tail or, when the
  // tail is still filling, at the sector before it.
  const n = streamRamSectors(s);
  let runStart: u32 = 0;
  let runEnd: u32 = 0; // the run is sectors runStart … runEnd − 1
  let expected: u64 = sectorFirstSeqGet(head);
  let id = head;
  for (let i: u32 = 0; id != SECTOR_NULL && i < n; i++) {
    const first = sectorFirstSeqGet(id);
    const count = sectorCountGet(id);
    if (<u32>count < perSector || sectorHasPending(s, id)) {
      if (i == n - 1) break;
      runStart = i + 1;
      runEnd = i + 1;
    } else {
      if (first != expected && i > runStart) runStart = i;
      runEnd = i + 1;
    }
    expected = first + <u64>count;
    id = sectorNextGet(id);
  }
  if (runEnd <= runStart) return 0;
  const k = min<u32>(sectorsMax, runEnd - runStart);
  const start = runEnd - k;
  // Pass 2: copy sectors start … start + k − 1, remembering the one before them.
  const payload = c.writeBufPtr + <usize>IMX_HEADER_BYTES;
  let previous = SECTOR_NULL;
  id = head;
  for (let i: u32 = 0; i < start; i++) {
    previous = id;
    id = sectorNextGet(id);
  }
  const first = id;
  let at = id;
  for (let i: u32 = 0; i < k; i++) {
    memory.copy(payload + <usize>i * <usize>c.sectorBytes, sectorData(at), <usize>c.sectorBytes);
    at = sectorNextGet(at);
  }
  const firstSeq = sectorFirstSeqGet(first);
  const slot = fileFromPayload(s, k, firstSeq, k * perSector, false);
  if (slot < 0) return slot;
  streamDirectCommit(s, previous, k, <u32>slot);
  statAdd(STAT_DIRECT_SECTORS, <f64>k);
  halLog(LOG_DEBUG, SUBSYSTEM_TIER, EVENT_SPILL, <f64>s, <f64>k);
  return <i32>k;
}

function spillRefused(reason: i32): i32 {
  statAdd(STAT_SPILLS_REFUSED, 1);
  if (!core().refusalLogged) {
    core().refusalLogged = true;
    halLog(LOG_WARN, SUBSYSTEM_TIER, EVENT_SPILL_REFUSED, <f64>reason, statGet(STAT_DISK_BYTES_USED));
  }
  return reason;
}

// The sectors a spill file may hold within what is left of the tick's byte budget (0: not even a
// file of one sector fits).
function sectorsInByteBudget(): u32 {
  const c = core();
  if (c.bytesBudget < <u32>IMX_HEADER_BYTES + c.sectorBytes) return 0;
  return (c.bytesBudget - <u32>IMX_HEADER_BYTES) / c.sectorBytes;
}

// Whether the tick's write budget (files, sectors, bytes) is spent.
function writeBudgetSpent(): bool {
  const c = core();
  return c.filesBudget == 0 || c.sectorsBudget == 0 || sectorsInByteBudget() == 0;
}

// Spills round robin across streams within the tick's budget. `flushing` moves everything;
// otherwise it stops once usage is below the spill target. Returns OK, or the reason it stopped
// early (quota, file table, a HAL error).
function moveToDisk(flushing: bool): i32 {
  const c = core();
  let idle: u32 = 0;
  const direct = c.tierDirect && !flushing;
  // Direct mode gathers a batch (up to 1% of RAM) above the threshold into each file, so RAM peaks
  // below threshold + 1% and files are not one sector each.
  if (direct && satUsedCount() < thresholdSectors() + directBatchSectors()) return OK;
  while (!writeBudgetSpent() && idle < c.streamCount) {
    if (!flushing && satUsagePercent() < tierGoalPercent()) return OK;
    const s = c.spillCursor;
    c.spillCursor = c.spillCursor + 1 < c.streamCount ? c.spillCursor + 1 : 0;
    const sectorsMax = min<u32>(min<u32>(c.sectorsPerFileMax, c.sectorsBudget), sectorsInByteBudget());
    // Direct mode writes only what lies above the threshold (and at least one sector).
    const excess = satUsedCount() > thresholdSectors() ? satUsedCount() - thresholdSectors() : 1;
    const moved = direct ? directOne(s, min<u32>(sectorsMax, excess)) : spillOne(s, flushing, sectorsMax);
    if (moved < 0) return moved;
    if (moved == 0) {
      idle++;
      continue;
    }
    idle = 0;
    c.filesBudget--;
    c.sectorsBudget -= <u32>moved;
    c.bytesBudget -= <u32>IMX_HEADER_BYTES + <u32>moved * c.sectorBytes;
    if (flushing) c.flushMovedSectors += <u32>moved;
  }
  return OK;
}

// RAM sectors in use at which usage (rounded down) reaches the spill threshold.
function thresholdSectors(): u32 {
  const c = core();
  return <u32>((<u64>c.sectorCount * <u64>c.spillThresholdPercent + 99) / 100);
}

// Direct mode's batch: the sectors above the threshold one file gathers, under 1% of RAM less the
// sector a write may add before the tick and the threshold's rounding (at least 1, at most a
// file's worth), so RAM peaks below threshold + 1%.
function directBatchSectors(): u32 {
  const c = core();
  const percent = c.sectorCount / 100;
  return min<u32>(c.sectorsPerFileMax, percent > 2 ? percent - 2 : 1);
}

// The usage a spill brings RAM below: the spill target, or in direct mode the threshold itself
// (RAM holds at the threshold; the sectors above it go to disk).
function tierGoalPercent(): u32 {
  const c = core();
  return c.tierDirect ? c.spillThresholdPercent : c.spillTargetPercent;
}

// A write found RAM full (streamAppendNeedsRoom): spill one file now, before anything is discarded
// or refused. The stream with the most RAM sectors whose oldest sector is neither pending nor its
// still-filling newest one gives up to sectorsPerFileMax sectors, under the same rules as a spill
// from the tick; the disk-full policy may delete up to filesDeletedPerTickMax files to make room.
// Returns the sectors moved (0 when nothing was eligible) or why the spill failed.
export function spillForWrite(): i32 {
  const c = core();
  if (!c.diskTier) return 0;
  let chosen = STREAM_NONE;
  let chosenSectors: u32 = 0;
  for (let s: u32 = 0; s < c.streamCount; s++) {
    const sectors = streamRamSectors(s);
    if (sectors <= chosenSectors) continue;
    const head = streamRamHead(s);
    if (head == streamRamTail(s) || sectorHasPending(s, head)) continue;
    chosen = s;
    chosenSectors = sectors;
  }
  if (chosen == STREAM_NONE) return 0;
  c.deletesBudget = c.filesDeletedPerTickMax;
  // Direct mode: the newest sectors go to disk, as they would have at the next tick.
  if (c.tierDirect) return directOne(chosen, c.sectorsPerFileMax);
  return spillOne(chosen, false, c.sectorsPerFileMax);
}

const STREAM_NONE: u32 = 0xffffffff;

// ---- Flush -----------------------------------------------------------------------------------------------

export function flushAllToDisk(): i32 {
  const c = core();
  if (!c.diskTier) return E_NO_DISK_TIER;
  if (!c.flushRequested) {
    c.flushRequested = true;
    c.flushMovedSectors = 0;
    c.flushProgress = 0;
  }
  if (c.tierState == STATE_CANCELLING_FLUSH) stateSet(STATE_IDLE);
  statSet(STAT_FLUSH_PROGRESS, <f64>flushProgressGet());
  return OK;
}

// Whether a stream's position changed since the positions file was last written (disk tier only).
function streamsDirty(): bool {
  if (!core().diskTier) return false;
  for (let s: u32 = 0; s < core().streamCount; s++) if (streamDirty(s)) return true;
  return false;
}

// 0-100 while a flush is under way; 101 when RAM holds no stream data and every stream's position
// is on disk (safe to power off) — for a requested flush, with every stream's exact next number.
export function flushProgressGet(): i32 {
  const c = core();
  const remaining = streamSectorsUsed();
  if (remaining == 0 && !streamsDirty() && (!c.flushRequested || positionsClosed())) return FLUSH_PROGRESS_COMPLETE;
  if (!c.flushRequested) return 0;
  const total = c.flushMovedSectors + remaining;
  const progress = total == 0 ? 100 : <i32>((<u64>c.flushMovedSectors * 100) / <u64>total);
  if (progress > c.flushProgress) c.flushProgress = min<i32>(progress, 100);
  return c.flushProgress;
}

export function flushCancel(): i32 {
  if (!core().flushRequested) return OK;
  stateSet(STATE_CANCELLING_FLUSH);
  return OK;
}

export function flushIsRequested(): bool {
  return core().flushRequested;
}

// ---- Pending work -------------------------------------------------------------------------------------

// All outstanding work: RAM sectors still to move to disk (every stream sector during a flush;
// otherwise those above the spill target while usage is at or over the threshold), files awaiting
// deletion and deletions in flight.
export function pendingWorkCount(): u32 {
  const c = core();
  let sectors: u32 = 0;
  if (c.flushRequested) {
    sectors = streamSectorsUsed();
  } else if (c.diskTier && satUsagePercent() >= c.spillThresholdPercent) {
    const target = <u32>((<u64>c.sectorCount * <u64>tierGoalPercent()) / 100);
    const used = satUsedCount();
    sectors = used > target ? used - target : 0;
  }
  return sectors + cleanupQueueLength() + cleanupDeletingCount();
}

// ---- The tick ------------------------------------------------------------------------------------------

export function processMemory(nowMs: f64): i32 {
  const c = core();
  clockSet(nowMs);
  // Run at most once per tick interval; a clock that went backwards starts a new interval.
  const last = c.lastTickMs;
  if (last == last && nowMs >= last && nowMs - last < <f64>c.tickIntervalMs) return c.tierState;
  c.lastTickMs = nowMs;
  statAdd(STAT_TICKS, 1);
  c.sectorsBudget = c.spillSectorsPerTickMax;
  c.filesBudget = c.filesWrittenPerTickMax;
  c.deletesBudget = c.filesDeletedPerTickMax;
  c.bytesBudget = c.bytesWrittenPerTickMax;

  const refuseNew = <i32>c.diskFullPolicy == DISK_FULL_REFUSE_NEW;
  let spillTried = false;
  let cleanupTried = false;
  for (let step = 0; step < STEPS_PER_TICK_MAX; step++) {
    statAdd(STAT_TICKS_BY_STATE + c.tierState, 1);
    if (c.tierState == STATE_IDLE) {
      if (c.flushRequested) {
        stateSet(STATE_FLUSH_ALL);
      } else if (!spillTried && c.diskTier && satUsagePercent() >= c.spillThresholdPercent) {
        stateSet(STATE_CHECK_USAGE);
      } else if (!cleanupTried && cleanupDue(c.deletesBudget)) {
        stateSet(STATE_CLEANUP_DISK);
      } else {
        break;
      }
    } else if (c.tierState == STATE_CHECK_USAGE) {
      spillTried = true;
      if (satUsagePercent() < c.spillThresholdPercent) {
        stateSet(STATE_IDLE);
      } else if (refuseNew && diskBytesUsed() >= diskBytesLimit(false)) {
        spillRefused(E_DISK_QUOTA);
        stateSet(STATE_IDLE);
      } else if (refuseNew && fileSlotsFree() == 0) {
        spillRefused(E_FILE_TABLE_FULL);
        stateSet(STATE_IDLE);
      } else {
        stateSet(STATE_MOVE_TO_DISK);
      }
    } else if (c.tierState == STATE_MOVE_TO_DISK) {
      spillTried = true;
      const status = moveToDisk(false);
      const budgetSpent = writeBudgetSpent();
      // Budget spent with work left: stay and go on next tick. Otherwise the spill is done, was
      // refused or failed, or nothing more is eligible (pending or still filling): back to IDLE.
      if (status == OK && budgetSpent && satUsagePercent() >= tierGoalPercent()) {
        // Deletions keep going during a long spill too: acknowledged files waiting in the queue
        // still count against the disk quota, so starving them ends in refused spills and discards.
        c.deletesBudget -= cleanupTick(c.deletesBudget);
        break;
      }
      stateSet(STATE_IDLE);
    } else if (c.tierState == STATE_CLEANUP_DISK) {
      cleanupTried = true;
      c.deletesBudget -= cleanupTick(c.deletesBudget);
      stateSet(STATE_IDLE);
    } else if (c.tierState == STATE_FLUSH_ALL) {
      if (!c.flushRequested) {
        stateSet(STATE_IDLE);
        continue;
      }
      moveToDisk(true);
      // Once RAM is empty, make every stream's position and exact next number durable (a closing
      // write) before calling the flush complete: the next life continues with no gap. A write that
      // only closes numbering does not wait for the tick's file budget, or writes that go on between
      // ticks (each spilled with that budget) would keep the flush from ever completing.
      // Its records count against the byte budget: they go when they fit what is left, or in a tick
      // that has written nothing yet (a closing write larger than the whole budget goes alone).
      const dirty = streamsDirty();
      if (streamSectorsUsed() == 0 && (dirty || !positionsClosed())) {
        const bytes = positionsClosingBytes();
        const fits = c.filesBudget > 0 && (bytes <= c.bytesBudget || c.bytesBudget == c.bytesWrittenPerTickMax);
        if (fits || !dirty) {
          if (fits) {
            c.filesBudget--;
            c.bytesBudget -= min<u32>(bytes, c.bytesBudget);
          }
          positionsPersist(STREAM_NULL, 0, true);
        }
      }
      if (streamSectorsUsed() == 0 && !streamsDirty() && positionsClosed()) {
        c.flushRequested = false;
        c.flushProgress = FLUSH_PROGRESS_COMPLETE;
        halLog(LOG_INFO, SUBSYSTEM_FLUSH, EVENT_FLUSH_COMPLETE, <f64>c.flushMovedSectors, 0);
        stateSet(STATE_IDLE);
        continue;
      }
      // Deletions keep going during a long flush.
      c.deletesBudget -= cleanupTick(c.deletesBudget);
      break;
    } else if (c.tierState == STATE_CANCELLING_FLUSH) {
      c.flushRequested = false;
      halLog(LOG_INFO, SUBSYSTEM_FLUSH, EVENT_FLUSH_CANCELLED, <f64>c.flushMovedSectors, 0);
      stateSet(STATE_IDLE);
    } else {
      assert(false, "unknown tier c.tierState");
    }
  }
  statSet(STAT_FLUSH_PROGRESS, <f64>flushProgressGet());
  return c.tierState;
}
