// The statistics block: STAT_COUNT f64 counters in device RAM (exact integers up to 2^53), read by
// the host as a Float64Array. Indexes are the STAT_* constants in abi.ts.

import {
  STAT_ACK_PERSISTS,
  STAT_ALLOCATION_FAILURES,
  STAT_ALLOCATIONS,
  STAT_BYTES_DELETED,
  STAT_BYTES_WRITTEN,
  STAT_COUNT,
  STAT_DELETE_FAILURES,
  STAT_FILE_READS,
  STAT_FILES_CORRUPT,
  STAT_FILES_CREATED,
  STAT_FILES_DELETED,
  STAT_FILES_DISCARDED,
  STAT_FREES,
  STAT_RECORDS_ACKED,
  STAT_RECORDS_DISCARDED,
  STAT_RECORDS_DISCARDED_DISK,
  STAT_RECORDS_DISCARDED_FILES,
  STAT_RECORDS_READ,
  STAT_RECORDS_REFUSED,
  STAT_RECORDS_WRITTEN,
  STAT_SECTORS_DISCARDED,
  STAT_SECTORS_SPILLED,
  STAT_SECTORS_USED,
  STAT_SECTORS_USED_PEAK,
  STAT_SPILLS,
  STAT_SPILLS_FAILED,
  STAT_SPILLS_NO_SPACE,
  STAT_SPILLS_REFUSED,
  STAT_TICKS,
  STAT_TICKS_BY_STATE,
  STATE_COUNT,
} from "./abi";
import { core } from "./state";

// @ts-ignore: decorator
@inline
export function statGet(index: i32): f64 {
  return load<f64>(core().statsPtr + ((<usize>index) << 3));
}

// @ts-ignore: decorator
@inline
export function statSet(index: i32, value: f64): void {
  store<f64>(core().statsPtr + ((<usize>index) << 3), value);
}

// @ts-ignore: decorator
@inline
export function statAdd(index: i32, delta: f64): void {
  const ptr = core().statsPtr + ((<usize>index) << 3);
  store<f64>(ptr, load<f64>(ptr) + delta);
}

export function statsReset(): void {
  memory.fill(core().statsPtr, 0, (<usize>STAT_COUNT) << 3);
}

// Resets the counters of events (allocations, frees, records written/read/acknowledged/discarded,
// spills, files, bytes, ticks, ...) to 0 and the peak to the sectors in use now: MM2's statistics
// reset. Gauges (sectors used and free, files live, disk bytes, the cleanup queue, state, flush
// progress, the usage offset, the disk limit) and what boot recovery reported stay: they describe
// the device now, not what happened since.
export function statsCountersReset(): void {
  statSet(STAT_ALLOCATIONS, 0);
  statSet(STAT_FREES, 0);
  statSet(STAT_ALLOCATION_FAILURES, 0);
  statSet(STAT_RECORDS_WRITTEN, 0);
  statSet(STAT_RECORDS_READ, 0);
  statSet(STAT_RECORDS_ACKED, 0);
  statSet(STAT_RECORDS_DISCARDED, 0);
  statSet(STAT_SECTORS_DISCARDED, 0);
  statSet(STAT_SECTORS_SPILLED, 0);
  statSet(STAT_SPILLS, 0);
  statSet(STAT_SPILLS_REFUSED, 0);
  statSet(STAT_SPILLS_FAILED, 0);
  statSet(STAT_FILES_CREATED, 0);
  statSet(STAT_FILES_DELETED, 0);
  statSet(STAT_BYTES_WRITTEN, 0);
  statSet(STAT_BYTES_DELETED, 0);
  statSet(STAT_DELETE_FAILURES, 0);
  statSet(STAT_TICKS, 0);
  for (let i: i32 = 0; i < STATE_COUNT; i++) statSet(STAT_TICKS_BY_STATE + i, 0);
  statSet(STAT_FILE_READS, 0);
  statSet(STAT_FILES_CORRUPT, 0);
  statSet(STAT_RECORDS_DISCARDED_DISK, 0);
  statSet(STAT_ACK_PERSISTS, 0);
  statSet(STAT_RECORDS_REFUSED, 0);
  statSet(STAT_FILES_DISCARDED, 0);
  statSet(STAT_RECORDS_DISCARDED_FILES, 0);
  statSet(STAT_SPILLS_NO_SPACE, 0);
  statSet(STAT_SECTORS_USED_PEAK, statGet(STAT_SECTORS_USED));
}
