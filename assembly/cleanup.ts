// Cleanup: deleting `.imx` files whose every record has been acknowledged.
//
// A fully acknowledged file leaves its stream and is deleted according to the cleanup policy:
//   immediate — deleted in the ACK path; a failure queues it for retry;
//   batched   — queued; processMemory deletes up to filesDeletedPerTickMax per tick;
//   lazy      — queued; processMemory hands queued files to the host for an asynchronous delete,
//               never more than deletesInFlightMax in flight at once (the tick's file-delete budget
//               bounds synchronous deletions, which these are not); a file is counted as gone only
//               when the host confirms through cleanupConfirm(slot, generation, status).
// Failed deletions are retried with exponential back-off (deleteRetryBaseMs × 2^attempts, capped
// at 2^10); a missing file counts as deleted. The queue is a FIFO linked through the file table.

import {
  CLEANUP_BATCHED,
  CLEANUP_IMMEDIATE,
  CLEANUP_LAZY,
  CLEANUP_POLICY_COUNT,
  DELETE_UNSYNCED,
  E_HAL_NOT_FOUND,
  E_TOKEN_UNKNOWN,
  EVENT_DELETE_FAILED,
  EVENT_FILE_DELETED,
  EVENT_FORCE_CLEANUP,
  FILE_SLOT_NULL,
  LOG_DEBUG,
  LOG_INFO,
  LOG_WARN,
  OK,
  STAT_BYTES_AWAITING_DELETE,
  STAT_BYTES_DELETED,
  STAT_CLEANUP_COMPLETE,
  STAT_DELETE_FAILURES,
  STAT_DISK_BYTES_USED,
  STAT_FILES_AWAITING_DELETE,
  STAT_FILES_DELETED,
  STAT_FILES_DELETING,
  STAT_FILES_LIVE,
  STAT_RECORDS_DISCARDED,
  STAT_RECORDS_DISCARDED_DISK,
  SUBSYSTEM_CLEANUP,
} from "./abi";
import {
  FILE_AWAIT_DELETE,
  FILE_DELETING,
  FILE_FREE,
  fileAttempts,
  fileAttemptsSet,
  fileBytes,
  fileFirstSeq,
  fileGeneration,
  fileNext,
  fileNextSet,
  filePathFormat,
  fileRetryAt,
  fileRetryAtSet,
  fileSlotRelease,
  fileState,
  fileStateSet,
  fileStream,
} from "./files";
import { halFileDelete, halFileDeleteAsync, halFileDeleteDurable, halLog } from "./hal";
import { statAdd, statGet, statSet } from "./stats";
import { streamSensor, streamSource } from "./stream-table";
import { core } from "./state";

const RETRY_SHIFT_MAX: u32 = 10;

export function cleanupInit(): void {
  const c = core();
  c.cleanupQueueHead = FILE_SLOT_NULL;
  c.cleanupQueueTail = FILE_SLOT_NULL;
  c.cleanupQueueLength = 0;
  c.cleanupDeletingCount = 0;
  flagsUpdate();
}

export function cleanupQueueLength(): u32 {
  return core().cleanupQueueLength;
}

export function cleanupDeletingCount(): u32 {
  return core().cleanupDeletingCount;
}

export function cleanupIsComplete(): bool {
  return core().cleanupQueueLength == 0 && core().cleanupDeletingCount == 0;
}

function flagsUpdate(): void {
  statSet(STAT_FILES_AWAITING_DELETE, <f64>core().cleanupQueueLength);
  statSet(STAT_FILES_DELETING, <f64>core().cleanupDeletingCount);
  statSet(STAT_CLEANUP_COMPLETE, cleanupIsComplete() ? 1 : 0);
}

function queuePush(slot: u32): void {
  const c = core();
  fileStateSet(slot, FILE_AWAIT_DELETE);
  fileNextSet(slot, FILE_SLOT_NULL);
  if (c.cleanupQueueTail == FILE_SLOT_NULL) {
    c.cleanupQueueHead = slot;
  } else {
    fileNextSet(c.cleanupQueueTail, slot);
  }
  c.cleanupQueueTail = slot;
  c.cleanupQueueLength++;
  statAdd(STAT_BYTES_AWAITING_DELETE, <f64>fileBytes(slot));
}

function queuePop(): u32 {
  const c = core();
  const slot = c.cleanupQueueHead;
  assert(slot != FILE_SLOT_NULL, "cleanup queue is empty");
  c.cleanupQueueHead = fileNext(slot);
  if (c.cleanupQueueHead == FILE_SLOT_NULL) c.cleanupQueueTail = FILE_SLOT_NULL;
  fileNextSet(slot, FILE_SLOT_NULL);
  c.cleanupQueueLength--;
  statAdd(STAT_BYTES_AWAITING_DELETE, -(<f64>fileBytes(slot)));
  return slot;
}

function slotPath(slot: u32): i32 {
  const s = fileStream(slot);
  return filePathFormat(streamSource(s), streamSensor(s), fileFirstSeq(slot));
}

// Every policy of the table in abi.ts has its branch in cleanupEnqueue and cleanupStep.
if (CLEANUP_POLICY_COUNT != 3) ERROR("a cleanup policy was added to abi.ts: give it its branches in cleanup.ts");

// A file that has left its stream, fully acknowledged: delete it by the policy.
export function cleanupEnqueue(slot: u32): void {
  const policy = core().cleanupPolicy;
  if (policy == CLEANUP_IMMEDIATE) {
    deleteNow(slot);
  } else if (policy == CLEANUP_BATCHED) {
    // A live file's retryAtMs held its creation time (files.ts): in the queue it is due at once.
    fileRetryAtSet(slot, 0);
    queuePush(slot);
  } else if (policy == CLEANUP_LAZY) {
    // Started from processMemory (cleanupTick), bounded in flight: never inside the ACK.
    fileRetryAtSet(slot, 0);
    queuePush(slot);
  } else {
    assert(false, "unknown cleanup policy");
  }
  flagsUpdate();
}

function deleteNow(slot: u32): void {
  const status = halFileDelete(core().pathPtr, slotPath(slot));
  if (status == OK || status == E_HAL_NOT_FOUND) {
    cleanupFileGone(slot);
  } else {
    deleteFailed(slot, status);
  }
}

function deleteStart(slot: u32): void {
  const status = halFileDeleteAsync(core().pathPtr, slotPath(slot), slot, fileGeneration(slot));
  if (status == OK) {
    fileStateSet(slot, FILE_DELETING);
    core().cleanupDeletingCount++;
  } else {
    deleteFailed(slot, status);
  }
}

// A file the core knew is gone from the disk: its slot is free again and the disk bytes are counted back.
export function cleanupFileGone(slot: u32): void {
  const bytes = <f64>fileBytes(slot);
  statAdd(STAT_FILES_DELETED, 1);
  statAdd(STAT_BYTES_DELETED, bytes);
  statAdd(STAT_DISK_BYTES_USED, -bytes);
  statAdd(STAT_FILES_LIVE, -1);
  halLog(LOG_DEBUG, SUBSYSTEM_CLEANUP, EVENT_FILE_DELETED, <f64>slot, bytes);
  fileSlotRelease(slot);
}

function deleteFailed(slot: u32, status: i32): void {
  const attempts = fileAttempts(slot) + 1;
  fileAttemptsSet(slot, attempts);
  const shift = min<u32>(attempts - 1, RETRY_SHIFT_MAX);
  fileRetryAtSet(slot, core().clockNowMs + <f64>core().deleteRetryBaseMs * <f64>(1 << shift));
  statAdd(STAT_DELETE_FAILURES, 1);
  halLog(LOG_WARN, SUBSYSTEM_CLEANUP, EVENT_DELETE_FAILED, <f64>slot, <f64>status);
  queuePush(slot);
}

// The host's answer to a lazy delete.
export function cleanupConfirm(slot: u32, generation: u32, status: i32): i32 {
  if (slot >= core().filesMax || fileState(slot) != FILE_DELETING || fileGeneration(slot) != generation) {
    return E_TOKEN_UNKNOWN;
  }
  core().cleanupDeletingCount--;
  if (status == OK || status == E_HAL_NOT_FOUND) {
    cleanupFileGone(slot);
  } else {
    deleteFailed(slot, status);
  }
  flagsUpdate();
  return OK;
}

// Deletes the file in `slot` now and durably, whatever the policy (a file the disk tier gives up
// unacknowledged to make room: a power cut must not bring it back). Returns OK (deleted, or already
// missing) or the HAL's error, counted as a failed delete; the caller then releases the slot
// (cleanupFileGone) or leaves the file where it is.
export function cleanupFileDelete(slot: u32): i32 {
  const status = halFileDeleteDurable(core().pathPtr, slotPath(slot));
  // Removed with its directory sync owed: the host retries that sync before its next write.
  if (status == OK || status == E_HAL_NOT_FOUND || status == DELETE_UNSYNCED) return OK;
  statAdd(STAT_DELETE_FAILURES, 1);
  halLog(LOG_WARN, SUBSYSTEM_CLEANUP, EVENT_DELETE_FAILED, <f64>slot, <f64>status);
  return status;
}

// A whole-file ACK (SPEC.md 6.5): deletes the file in `slot`, which the ACK being made durable
// erases entirely, now and durably (removal, then an fsync of its directory). Returns OK (removed
// and synced, or already missing: the deletion is the ACK's durable point), DELETE_UNSYNCED
// (removed, the directory sync failed: the ACK needs its record) or the HAL's error (nothing
// changed: the ACK needs its record, and the file goes to cleanup as usual).
export function cleanupFileDeleteForAck(slot: u32): i32 {
  const status = halFileDeleteDurable(core().pathPtr, slotPath(slot));
  if (status == OK || status == E_HAL_NOT_FOUND) return OK;
  if (status == DELETE_UNSYNCED) return DELETE_UNSYNCED;
  statAdd(STAT_DELETE_FAILURES, 1);
  halLog(LOG_WARN, SUBSYSTEM_CLEANUP, EVENT_DELETE_FAILED, <f64>slot, <f64>status);
  return status;
}

// Deletes the first file of the cleanup queue now, whatever the policy and its retry time, to make
// room on the disk. Returns true when it was deleted (a failure queues it again, as any failed
// delete); false when the queue is empty or the delete failed.
export function cleanupQueueHeadDelete(): bool {
  const c = core();
  if (c.cleanupQueueLength == 0) return false;
  const slot = queuePop();
  const status = halFileDelete(c.pathPtr, slotPath(slot));
  const deleted = status == OK || status == E_HAL_NOT_FOUND;
  if (deleted) {
    cleanupFileGone(slot);
  } else {
    deleteFailed(slot, status);
  }
  flagsUpdate();
  return deleted;
}

// Deletes (or, lazily, starts deleting) up to `budget` queued files whose retry time has come.
// Visits each queued file at most once. Returns how many deletions it attempted.
export function cleanupStep(budget: u32): u32 {
  const c = core();
  let attempted: u32 = 0;
  const visits = c.cleanupQueueLength;
  for (let v: u32 = 0; v < visits && attempted < budget; v++) {
    const slot = queuePop();
    if (fileRetryAt(slot) > c.clockNowMs) {
      queuePush(slot);
      continue;
    }
    attempted++;
    // Queued files are retries (immediate), the batch (batched) or retries of lazy deletions.
    if (c.cleanupPolicy == CLEANUP_LAZY) {
      deleteStart(slot);
    } else {
      deleteNow(slot);
    }
  }
  flagsUpdate();
  return attempted;
}

// Lazy deletions that may still be started now: deletesInFlightMax less those in flight.
function lazyStartsLeft(): u32 {
  const c = core();
  return c.cleanupDeletingCount < c.deletesInFlightMax ? c.deletesInFlightMax - c.cleanupDeletingCount : 0;
}

// Whether a tick with `budget` synchronous deletions left has cleanup work it may do now: a queued
// file is due, and (lazy) fewer than deletesInFlightMax deletions are in flight or (otherwise) the
// budget is not spent.
export function cleanupDue(budget: u32): bool {
  const room = core().cleanupPolicy == CLEANUP_LAZY ? lazyStartsLeft() : budget;
  return room > 0 && cleanupHasDueWork();
}

// The tick's cleanup: deletes up to `budget` due queued files, or under the lazy policy starts as
// many as deletesInFlightMax allows (asynchronous: they take nothing of the budget). Returns the
// synchronous deletions it attempted, which the caller takes off the budget (at most `budget`).
export function cleanupTick(budget: u32): u32 {
  if (core().cleanupPolicy == CLEANUP_LAZY) {
    const starts = lazyStartsLeft();
    if (starts > 0 && cleanupHasDueWork()) cleanupStep(starts);
    return 0;
  }
  if (budget == 0 || !cleanupHasDueWork()) return 0;
  return min<u32>(budget, cleanupStep(budget));
}

// Under the lazy policy, starts every due queued deletion the in-flight bound allows now, outside
// the tick (the host's settle()); returns how many it started (0 under the other policies).
export function cleanupLazyStart(): u32 {
  if (core().cleanupPolicy != CLEANUP_LAZY) return 0;
  const starts = lazyStartsLeft();
  return starts > 0 && cleanupHasDueWork() ? cleanupStep(starts) : 0;
}

// Whether a queued file is due for a deletion attempt now.
export function cleanupHasDueWork(): bool {
  const c = core();
  let slot = c.cleanupQueueHead;
  for (let v: u32 = 0; v < c.cleanupQueueLength && slot != FILE_SLOT_NULL; v++) {
    if (fileRetryAt(slot) <= c.clockNowMs) return true;
    slot = fileNext(slot);
  }
  return false;
}

// Deletes every file the core knows, now, bypassing the state machine and the policy. The caller
// has already dropped every file from its stream's list; `lost` live records that were on disk are
// gone and counted as discarded. Returns the number of files that could not be deleted (they stay
// queued for retry).
export function cleanupForceAll(lost: u64): i32 {
  const c = core();
  statAdd(STAT_RECORDS_DISCARDED, <f64>lost);
  statAdd(STAT_RECORDS_DISCARDED_DISK, <f64>lost);
  c.cleanupQueueHead = FILE_SLOT_NULL;
  c.cleanupQueueTail = FILE_SLOT_NULL;
  c.cleanupQueueLength = 0;
  c.cleanupDeletingCount = 0;
  statSet(STAT_BYTES_AWAITING_DELETE, 0);
  let failed: i32 = 0;
  let deleted: u32 = 0;
  for (let slot: u32 = 0; slot < c.filesMax; slot++) {
    if (fileState(slot) == FILE_FREE) continue;
    fileRetryAtSet(slot, 0);
    const status = halFileDelete(c.pathPtr, slotPath(slot));
    if (status == OK || status == E_HAL_NOT_FOUND) {
      cleanupFileGone(slot);
      deleted++;
    } else {
      deleteFailed(slot, status);
      failed++;
    }
  }
  halLog(LOG_INFO, SUBSYSTEM_CLEANUP, EVENT_FORCE_CLEANUP, <f64>deleted, <f64>lost);
  flagsUpdate();
  assert(failed > 0 || statGet(STAT_FILES_LIVE) == 0, "forced cleanup left files");
  return failed;
}
