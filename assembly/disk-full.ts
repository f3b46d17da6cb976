// What the disk tier does when a spill finds it full (SPEC.md section 4, "Disk full").
//
// A spill needs room when its file would take the disk past its limit (diskBytesLimit), when the
// file table is full, or when the HAL's write found the filesystem full (E_HAL_NO_SPACE).
//
//   evict-oldest  the disk tier makes room by deleting whole files, oldest first:
//                 1. files in the cleanup queue (every record acknowledged, the deletion still to
//                    come), in queue order: nothing is lost;
//                 2. then the file created first (createdMs, ties to the lower stream index) among
//                    each stream's oldest file that holds no pending record and is not the stream's
//                    newest file on disk. Its live records are discarded, counted per stream.
//                 Each deletion is synchronous (hal.fileDelete) and spends one of deletesBudget, the
//                 deletions left to this tick or write; a file whose deletion fails stays. If even
//                 every such file would not make room, nothing is deleted.
//   refuse-new    nothing is deleted: the spill is refused and the oldest data stays.

import {
  DISK_FULL_EVICT_OLDEST,
  EVENT_FILE_DISCARDED,
  FILE_SLOT_NULL,
  LOG_WARN,
  OK,
  STAT_BYTES_AWAITING_DELETE,
  STAT_DISK_BYTES_USED,
  STAT_DISK_USAGE_OFFSET_BYTES,
  STAT_FILES_DISCARDED,
  SUBSYSTEM_TIER,
} from "./abi";
import { cleanupFileDelete, cleanupFileGone, cleanupQueueHeadDelete, cleanupQueueLength } from "./cleanup";
import { fileBytes, fileCreatedMs, fileNext, fileSlotsFree } from "./files";
import { halLog } from "./hal";
import { statAdd, statGet } from "./stats";
import { diskFileDiscarded, diskFileOldestFree, fileHasPending } from "./stream";
import { streamDiskHead, streamDiskTail } from "./stream-table";
import { core } from "./state";

// Bytes of the disk tier counted against its limit.
export function diskBytesUsed(): f64 {
  return statGet(STAT_DISK_BYTES_USED) + statGet(STAT_DISK_USAGE_OFFSET_BYTES);
}

function roomThere(bytes: f64, limit: f64): bool {
  return diskBytesUsed() + bytes <= limit && fileSlotsFree() > 0;
}

// Makes room for a file of `bytes` under `limit` by the disk-full policy, within deletesBudget.
// Returns whether the room is there now.
export function diskRoomMake(bytes: f64, limit: f64): bool {
  const c = core();
  if (roomThere(bytes, limit)) return true;
  if (<i32>c.diskFullPolicy != DISK_FULL_EVICT_OLDEST) return false;
  if (!roomPossible(bytes, limit)) return false;
  for (let steps: u32 = 0; steps < c.filesMax && c.deletesBudget > 0 && !roomThere(bytes, limit); steps++) {
    c.deletesBudget--;
    if (cleanupQueueLength() > 0) {
      if (!cleanupQueueHeadDelete()) return false;
    } else if (!oldestFileDiscard()) {
      return false;
    }
  }
  return roomThere(bytes, limit);
}

// Whether deleting every file evict-oldest may delete (the cleanup queue, and every stream's files
// after its pending ones but its newest) would make room. Changes nothing.
function roomPossible(bytes: f64, limit: f64): bool {
  const c = core();
  let freeable = statGet(STAT_BYTES_AWAITING_DELETE);
  let files = cleanupQueueLength();
  for (let s: u32 = 0; s < c.streamCount; s++) {
    const tail = streamDiskTail(s);
    let slot = streamDiskHead(s);
    for (let steps: u32 = 0; slot != FILE_SLOT_NULL && slot != tail && steps <= 0xffff; steps++) {
      if (!fileHasPending(s, slot)) {
        freeable += <f64>fileBytes(slot);
        files++;
      }
      slot = fileNext(slot);
    }
  }
  return diskBytesUsed() - freeable + bytes <= limit && fileSlotsFree() + files > 0;
}

// Deletes the oldest unacknowledged file evict-oldest may delete. Returns false when there is none
// or its deletion failed.
function oldestFileDiscard(): bool {
  const c = core();
  let victim = FILE_SLOT_NULL;
  let victimStream: u32 = 0;
  for (let s: u32 = 0; s < c.streamCount; s++) {
    const slot = diskFileOldestFree(s);
    if (slot == FILE_SLOT_NULL) continue;
    if (victim == FILE_SLOT_NULL || fileCreatedMs(slot) < fileCreatedMs(victim)) {
      victim = slot;
      victimStream = s;
    }
  }
  if (victim == FILE_SLOT_NULL) return false;
  if (cleanupFileDelete(victim) != OK) return false;
  const live = diskFileDiscarded(victimStream, victim);
  cleanupFileGone(victim);
  statAdd(STAT_FILES_DISCARDED, 1);
  halLog(LOG_WARN, SUBSYSTEM_TIER, EVENT_FILE_DISCARDED, <f64>victimStream, <f64>live);
  return true;
}
