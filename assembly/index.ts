// The wasm core's only export surface. Every function returns OK, a count, or a negative ABI error
// code (assembly/abi.ts); an invalid argument leaves the device exactly as it was. Values that can
// exceed 32 bits cross the boundary as f64 (exact integers up to 2^53).

import {
  ABI_VERSION,
  BATCH_TIME_BYTES,
  CLEANUP_POLICY_COUNT,
  CONFIG_IMAGE_BYTES,
  E_ALREADY_BOOTED,
  E_INVALID_ARGUMENT,
  E_NO_DISK_TIER,
  E_NOT_BOOTED,
  E_RECORD_TYPE_MISMATCH,
  E_STREAM_UNKNOWN,
  EVENT_BOOTED,
  LOG_INFO,
  OK,
  RECORD_TYPE_EVT,
  RECORD_TYPE_TSD,
  STAT_DISK_USAGE_OFFSET_BYTES,
  STAT_FRAGMENTATION_PERCENT,
  SUBSYSTEM_SAT,
} from "./abi";
import {
  cleanupConfirm as cleanupConfirmCore,
  cleanupForceAll as cleanupForceAllCore,
  cleanupInit,
  cleanupIsComplete,
  cleanupLazyStart as cleanupLazyStartCore,
} from "./cleanup";
import { configLoad, configPolicySet, configPtr } from "./config";
import { crc32Init } from "./crc32";
import { diskSpaceInit, diskSpaceInvalidate, diskSpaceStatsRefresh } from "./disk-space";
import { FILE_FREE, fileFirstSeq, filePathFormat, filesInit, fileState, fileStream } from "./files";
import {
  recoveryAckLog as recoveryAckLogCore,
  recoveryClose as recoveryCloseCore,
  recoveryFile as recoveryFileCore,
  recoveryInit,
  recoveryIsOpen,
  recoveryPositions as recoveryPositionsCore,
} from "./recovery";
import { halLog } from "./hal";
import {
  satFragmentationPercent,
  satInit,
  satUsedCount,
  sectorAllocated,
  sectorAllocRaw,
  sectorFreeRaw,
  sectorLinkRaw,
  sectorNextRead,
  sectorWordRead,
  sectorWordWrite,
} from "./sat";
import { statSet, statsCountersReset, statsReset } from "./stats";
import {
  streamAck as streamAckCore,
  streamAckMany as streamAckManyCore,
  streamAppend,
  streamAppendFill,
  streamAppendNeedsRoom,
  streamQuery as streamQueryCore,
  streamRead,
  streamReset as streamResetCore,
  streamRevert as streamRevertCore,
  streamsDiskListsClear,
} from "./stream";
import {
  streamConfigure as streamConfigureCore,
  streamFind as streamFindCore,
  streamRecordType,
  streamSampleRateMs,
  streamSensor,
  streamSource,
  streamsInit,
  streamValid,
} from "./stream-table";
import {
  flushAllToDisk as flushAllToDiskCore,
  flushCancel as flushCancelCore,
  flushProgressGet,
  machineInit,
  machineState,
  pendingWorkCount as pendingWorkCountCore,
  processMemory as processMemoryCore,
  spillForWrite,
  streamSectorsUsed,
} from "./tier-machine";
import { core } from "./state";

// ---- Boot and layout ------------------------------------------------------------------------------------

export function abiVersion(): i32 {
  return ABI_VERSION;
}

// Where the host writes the flashed config image before calling boot.
export function configImagePtr(): usize {
  return configPtr();
}

export function configImageBytes(): i32 {
  return CONFIG_IMAGE_BYTES;
}

// Validates the config image and lays out device RAM. Called once per instance.
export function boot(imageBytes: i32, nowMs: f64): i32 {
  const c = core();
  if (c.booted) return E_ALREADY_BOOTED;
  crc32Init();
  const status = configLoad(imageBytes);
  if (status != OK) return status;
  statsReset();
  satInit();
  streamsInit();
  filesInit();
  cleanupInit();
  machineInit(nowMs);
  diskSpaceInit();
  recoveryInit();
  c.booted = true;
  halLog(LOG_INFO, SUBSYSTEM_SAT, EVENT_BOOTED, <f64>c.sectorCount, <f64>c.layoutEnd);
  return OK;
}

export function layoutEndOffset(): usize {
  return core().booted ? core().layoutEnd : 0;
}

export function ramBytesConfigured(): u32 {
  return core().booted ? core().ramBytes : 0;
}

export function statsPointer(): usize {
  return core().booted ? core().statsPtr : 0;
}

export function queryPointer(): usize {
  return core().booted ? core().queryPtr : 0;
}

export function bulkPointer(): usize {
  return core().booted ? core().bulkPtr : 0;
}

export function bulkCapacity(): u32 {
  return core().booted ? core().bulkRecordsMax : 0;
}

// Brings the derived statistics (fragmentation, the disk limit and free bytes) up to date; the rest are kept live.
export function statsRefresh(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  statSet(STAT_FRAGMENTATION_PERCENT, <f64>satFragmentationPercent());
  diskSpaceStatsRefresh();
  return OK;
}

// ---- Raw sector API ------------------------------------------------------------------------------------

export function sectorAlloc(): f64 {
  if (!core().booted) return E_NOT_BOOTED;
  return <f64>sectorAllocRaw();
}

export function sectorFree(id: u32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return sectorFreeRaw(id);
}

export function sectorWrite(id: u32, offsetBytes: u32, value: u32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return sectorWordWrite(id, offsetBytes, value);
}

export function sectorRead(id: u32, offsetBytes: u32): f64 {
  if (!core().booted) return E_NOT_BOOTED;
  return <f64>sectorWordRead(id, offsetBytes);
}

export function sectorLink(id: u32, next: u32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return sectorLinkRaw(id, next);
}

export function sectorNext(id: u32): f64 {
  if (!core().booted) return E_NOT_BOOTED;
  return <f64>sectorNextRead(id);
}

export function ramSectorsWithData(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return <i32>satUsedCount();
}

export function streamSectorsWithData(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return <i32>streamSectorsUsed();
}

// ---- Streams --------------------------------------------------------------------------------------------

export function streamConfigure(source: u32, sensor: u32, recordType: i32, dataType: i32, sampleRateMs: u32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return streamConfigureCore(source, sensor, recordType, dataType, sampleRateMs);
}

// Streams configured so far (recovery configures the ones it finds on disk).
export function streamsConfigured(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return <i32>core().streamCount;
}

export function streamFind(source: u32, sensor: u32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return streamFindCore(source, sensor);
}

export function streamWriteTsd(stream: i32, value: u32, utcMs: f64): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  // RAM full: spill before anything is discarded or refused.
  if (streamAppendNeedsRoom(stream, RECORD_TYPE_TSD, utcMs)) spillForWrite();
  return streamAppend(stream, RECORD_TYPE_TSD, value, utcMs);
}

export function streamWriteEvt(stream: i32, value: u32, utcMs: f64): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  if (streamAppendNeedsRoom(stream, RECORD_TYPE_EVT, utcMs)) spillForWrite();
  return streamAppend(stream, RECORD_TYPE_EVT, value, utcMs);
}

// Appends `count` records (at most bulkRecordsMax) of one stream from the bulk buffer: values as
// u32 words after bulkRecordsMax EVT times (f64; the batch layout in abi.ts). TSD record i is timed
// firstUtcMs + i × the stream's sample rate (a batch whose first or last time is invalid is refused
// whole); EVT records take their own times. Records join the RAM tail sector in one step per sector;
// one that needs a new sector goes the way of streamWriteTsd/Evt (a spill first when RAM is full).
// Returns how many were appended: `count`, or fewer when the next one failed (a call from there
// returns its error code); an error code when the first one fails.
export function streamWriteMany(stream: i32, recordType: i32, count: i32, firstUtcMs: f64): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  if (!streamValid(stream)) return E_STREAM_UNKNOWN;
  if (streamRecordType(<u32>stream) != recordType) return E_RECORD_TYPE_MISMATCH;
  if (count < 0 || <u32>count > core().bulkRecordsMax) return E_INVALID_ARGUMENT;
  if (count == 0) return 0;
  const s = <u32>stream;
  const times = core().bulkPtr;
  const values = times + <usize>core().bulkRecordsMax * <usize>BATCH_TIME_BYTES;
  const rateMs = <f64>streamSampleRateMs(s);
  if (recordType == RECORD_TYPE_TSD) {
    const lastUtcMs = firstUtcMs + <f64>(count - 1) * rateMs;
    if (!(firstUtcMs >= 0) || firstUtcMs != Math.floor(firstUtcMs) || !(lastUtcMs <= 9007199254740991)) {
      return E_INVALID_ARGUMENT;
    }
  }
  let done = 0;
  while (done < count) {
    done += streamAppendFill(s, recordType, values, times, done, count);
    if (done == count) break;
    const value = load<u32>(values + ((<usize>done) << 2));
    const utcMs =
      recordType == RECORD_TYPE_TSD ? firstUtcMs + <f64>done * rateMs : load<f64>(times + ((<usize>done) << 3));
    if (streamAppendNeedsRoom(stream, recordType, utcMs)) spillForWrite();
    const status = streamAppend(stream, recordType, value, utcMs);
    if (status != OK) return done > 0 ? done : status;
    done++;
  }
  return done;
}

export function streamReadBulk(stream: i32, max: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  return streamRead(stream, max, true);
}

export function streamPeek(stream: i32, max: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  return streamRead(stream, max, false);
}

export function streamAck(stream: i32, count: f64): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  return streamAckCore(stream, count);
}

/**
 * Group commit: the ACKs of `n` streams, ACK_MANY_ENTRY_BYTES entries the host wrote at the bulk
 * buffer (u32 stream index, f64 count), made durable by one ACK-log write and then applied; if the
 * write fails none is applied (E_ACK_PERSIST).
 */
export function streamAckMany(n: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  return streamAckManyCore(n);
}

export function streamRevert(stream: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return streamRevertCore(stream);
}

export function streamQuery(stream: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return streamQueryCore(stream);
}

// ---- Tiering, flush and cleanup -----------------------------------------------------------------------

export function processMemory(nowMs: f64): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  if (!(nowMs >= 0)) return E_INVALID_ARGUMENT;
  return processMemoryCore(nowMs);
}

export function tierState(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return machineState();
}

export function flushAllToDisk(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  return flushAllToDiskCore();
}

export function flushProgress(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return flushProgressGet();
}

export function flushCancel(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return flushCancelCore();
}

export function cleanupComplete(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return cleanupIsComplete() ? 1 : 0;
}

export function cleanupConfirm(slot: u32, generation: u32, status: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return cleanupConfirmCore(slot, generation, status);
}

// Under the lazy policy, starts the due queued deletions that deletesInFlightMax allows now;
// returns how many it started (0 under the other policies).
export function cleanupLazyStart(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return <i32>cleanupLazyStartCore();
}

export function cleanupForceAll(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  // Every stream lets go of its files first, so each stays consistent while they are deleted.
  return cleanupForceAllCore(streamsDiskListsClear());
}

export function pendingWorkCount(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return <i32>pendingWorkCountCore();
}

// Writes the path of the file in `slot` at the path buffer and returns its length, or −1 for a free
// slot (the host's forced cleanup uses it to tell the core's files from strays).
export function filePathOfSlot(slot: u32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (slot >= core().filesMax || fileState(slot) == FILE_FREE) return -1;
  const s = fileStream(slot);
  return filePathFormat(streamSource(s), streamSensor(s), fileFirstSeq(slot));
}

export function pathBufferPtr(): usize {
  return core().booted ? core().pathPtr : 0;
}

export function filesMaxConfigured(): u32 {
  return core().booted ? core().filesMax : 0;
}

// The cleanup policy in force (CLEANUP_*): the flashed one, or the one cleanupPolicySet set.
export function cleanupPolicy(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return core().cleanupPolicy;
}

export function cleanupPolicySet(policy: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (policy < 0 || policy >= CLEANUP_POLICY_COUNT) return E_INVALID_ARGUMENT;
  configPolicySet(policy);
  return OK;
}

// Makes the disk tier behave as if `bytes` of its quota were already used (the test's --disk-usage).
export function diskUsageOffsetSet(bytes: f64): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (!core().diskTier) return E_INVALID_ARGUMENT;
  if (!(bytes >= 0) || bytes > 9007199254740991) return E_INVALID_ARGUMENT;
  statSet(STAT_DISK_USAGE_OFFSET_BYTES, Math.floor(bytes));
  diskSpaceInvalidate();
  return OK;
}

// ---- Boot recovery --------------------------------------------------------------------------------------

// The buffer the host fills with a file's bytes before recoveryPositions / recoveryFile.
export function ioBufferPtr(): usize {
  const c = core();
  return c.booted && c.diskTier ? c.readBufPtr : 0;
}

export function ioBufferBytes(): u32 {
  const c = core();
  return c.booted && c.diskTier ? c.ioBufBytes : 0;
}

export function recoveryPositions(length: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (!core().diskTier) return E_NO_DISK_TIER;
  return recoveryPositionsCore(length);
}

export function recoveryAckLog(length: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (!core().diskTier) return E_NO_DISK_TIER;
  return recoveryAckLogCore(length);
}

export function recoveryFile(length: i32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  if (!core().diskTier) return E_NO_DISK_TIER;
  return recoveryFileCore(length);
}

// Ends recovery: counts records lost from RAM and makes every stream continue after the highest
// sequence number seen. Writes and reads end recovery by themselves.
export function recoveryClose(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  recoveryCloseCore();
  return OK;
}

// ---- MM2 calls ---------------------------------------------------------------------------------------

// 1 if RAM sector `id` is allocated, 0 if it is free (the original's is_sector_allocated).
export function sectorIsAllocated(id: u32): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  return sectorAllocated(id);
}

// Resets the event counters and the peak; the gauges stay (MM2's statistics reset).
export function statsCountersResetNow(): i32 {
  if (!core().booted) return E_NOT_BOOTED;
  statsCountersReset();
  return OK;
}

// Removes every record of a stream, pending ones included, counted as discarded (MM2's sensor
// reset); the stream stays configured. Returns the records removed.
export function streamReset(stream: i32): f64 {
  if (!core().booted) return E_NOT_BOOTED;
  if (recoveryIsOpen()) recoveryCloseCore();
  return streamResetCore(stream);
}
