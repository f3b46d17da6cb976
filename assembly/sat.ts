// The sector allocation table (SAT) and the RAM sector pool.
//
// One 16-byte SAT entry per RAM sector (SPEC.md, "SAT entry"):
//
//   0        4        6        8                16
//   | next   | owner  | count  | firstSeq       |
//   | u32    | u16    | u16    | u64            |
//
// `owner` is a stream index, OWNER_RAW for a sector allocated through the raw sector API, or
// OWNER_FREE. `next` links a stream's sectors oldest to newest, and free sectors into a free list,
// so allocation and free are O(1) and never scan the pool. `count` is the number of records
// written into the sector and `firstSeq` the sequence number of its first record.

import {
  E_OFFSET_INVALID,
  E_OUT_OF_SECTORS,
  E_SECTOR_INVALID,
  E_SECTOR_LINKED,
  E_SECTOR_NOT_ALLOCATED,
  E_SECTOR_OWNED,
  EVENT_USAGE_STEP,
  LOG_INFO,
  OK,
  SECTOR_NULL,
  STAT_ALLOCATIONS,
  STAT_ALLOCATION_FAILURES,
  STAT_FREES,
  STAT_SECTORS_FREE,
  STAT_SECTORS_TOTAL,
  STAT_SECTORS_USED,
  STAT_SECTORS_USED_PEAK,
  SUBSYSTEM_SAT,
  STREAM_NULL,
  SAT_ENTRY_BYTES,
} from "./abi";
import { halLog } from "./hal";
import { statAdd, statGet, statSet } from "./stats";
import { core } from "./state";

export const OWNER_FREE: u32 = STREAM_NULL;
export const OWNER_RAW: u32 = STREAM_NULL - 1;

// The entry as a typed view; the offsets above are read from it, and its size is the ABI's.
// @ts-ignore: decorator
@unmanaged
class SatEntry {
  next!: u32;
  owner!: u16;
  count!: u16;
  firstSeq!: u64;
}
if (offsetof<SatEntry>() != SAT_ENTRY_BYTES) ERROR("SatEntry size differs from SAT_ENTRY_BYTES");

const SAT_NEXT: usize = offsetof<SatEntry>("next");
const SAT_OWNER: usize = offsetof<SatEntry>("owner");
const SAT_COUNT: usize = offsetof<SatEntry>("count");
const SAT_FIRST_SEQ: usize = offsetof<SatEntry>("firstSeq");
// The drawing above, checked.
if (SAT_NEXT != 0 || SAT_OWNER != 4 || SAT_COUNT != 6 || SAT_FIRST_SEQ != 8) {
  ERROR("SAT entry drawing is out of date");
}

// @ts-ignore: decorator
@inline
function entry(id: u32): usize {
  return core().satPtr + <usize>id * <usize>SAT_ENTRY_BYTES;
}

// @ts-ignore: decorator
@inline
export function sectorData(id: u32): usize {
  return core().poolPtr + <usize>id * <usize>core().sectorBytes;
}

// @ts-ignore: decorator
@inline
export function sectorNextGet(id: u32): u32 {
  return load<u32>(entry(id) + SAT_NEXT);
}

// @ts-ignore: decorator
@inline
export function sectorNextSet(id: u32, next: u32): void {
  store<u32>(entry(id) + SAT_NEXT, next);
}

// @ts-ignore: decorator
@inline
export function sectorOwnerGet(id: u32): u32 {
  return <u32>load<u16>(entry(id) + SAT_OWNER);
}

// @ts-ignore: decorator
@inline
export function sectorCountGet(id: u32): u32 {
  return <u32>load<u16>(entry(id) + SAT_COUNT);
}

// @ts-ignore: decorator
@inline
export function sectorCountSet(id: u32, count: u32): void {
  store<u16>(entry(id) + SAT_COUNT, <u16>count);
}

// @ts-ignore: decorator
@inline
export function sectorFirstSeqGet(id: u32): u64 {
  return load<u64>(entry(id) + SAT_FIRST_SEQ);
}

export function satInit(): void {
  const c = core();
  for (let id: u32 = 0; id < c.sectorCount; id++) {
    const e = entry(id);
    store<u32>(e + SAT_NEXT, id + 1 < c.sectorCount ? id + 1 : SECTOR_NULL);
    store<u16>(e + SAT_OWNER, <u16>OWNER_FREE);
    store<u16>(e + SAT_COUNT, 0);
    store<u64>(e + SAT_FIRST_SEQ, 0);
  }
  c.satFreeHead = 0;
  c.satFreeCount = c.sectorCount;
  c.satUsageStep = 0;
  memory.fill(c.poolPtr, 0, <usize>c.sectorCount * <usize>c.sectorBytes);
  statSet(STAT_SECTORS_TOTAL, <f64>c.sectorCount);
  statSet(STAT_SECTORS_FREE, <f64>c.sectorCount);
  statSet(STAT_SECTORS_USED, 0);
}

export function satFreeCount(): u32 {
  return core().satFreeCount;
}

export function satUsedCount(): u32 {
  return core().sectorCount - core().satFreeCount;
}

// Usage in percent, rounded down.
export function satUsagePercent(): u32 {
  const c = core();
  return <u32>((<u64>(c.sectorCount - c.satFreeCount) * 100) / <u64>c.sectorCount);
}

// Takes a sector off the free list for `owner`; returns SECTOR_NULL when the pool is empty
// (the caller decides whether that is a failure to count).
export function sectorTake(owner: u32, firstSeq: u64): u32 {
  const c = core();
  const id = c.satFreeHead;
  if (id == SECTOR_NULL) return SECTOR_NULL;
  const e = entry(id);
  assert(load<u16>(e + SAT_OWNER) == <u16>OWNER_FREE, "free list holds an allocated sector");
  c.satFreeHead = load<u32>(e + SAT_NEXT);
  c.satFreeCount--;
  store<u32>(e + SAT_NEXT, SECTOR_NULL);
  store<u16>(e + SAT_OWNER, <u16>owner);
  store<u16>(e + SAT_COUNT, 0);
  store<u64>(e + SAT_FIRST_SEQ, firstSeq);
  statAdd(STAT_ALLOCATIONS, 1);
  usageChanged();
  return id;
}

// Returns a sector to the free list. The caller has already unlinked it from its stream.
export function sectorRelease(id: u32): void {
  const c = core();
  const e = entry(id);
  assert(load<u16>(e + SAT_OWNER) != <u16>OWNER_FREE, "sector released twice");
  memory.fill(sectorData(id), 0, <usize>c.sectorBytes);
  store<u16>(e + SAT_OWNER, <u16>OWNER_FREE);
  store<u16>(e + SAT_COUNT, 0);
  store<u64>(e + SAT_FIRST_SEQ, 0);
  store<u32>(e + SAT_NEXT, c.satFreeHead);
  c.satFreeHead = id;
  c.satFreeCount++;
  statAdd(STAT_FREES, 1);
  usageChanged();
}

export function satAllocationFailed(): void {
  statAdd(STAT_ALLOCATION_FAILURES, 1);
}

function usageChanged(): void {
  const c = core();
  const used = c.sectorCount - c.satFreeCount;
  statSet(STAT_SECTORS_FREE, <f64>c.satFreeCount);
  statSet(STAT_SECTORS_USED, <f64>used);
  if (<f64>used > statGet(STAT_SECTORS_USED_PEAK)) statSet(STAT_SECTORS_USED_PEAK, <f64>used);
  const step = <u32>((<u64>used * 10) / <u64>c.sectorCount);
  if (step != c.satUsageStep) {
    c.satUsageStep = step;
    halLog(LOG_INFO, SUBSYSTEM_SAT, EVENT_USAGE_STEP, <f64>(step * 10), <f64>used);
  }
}

// Fragmentation 0-100: how far the free sectors are from one contiguous run.
// 0 when they form a single run (or there are fewer than two), 100 when no two are adjacent.
export function satFragmentationPercent(): u32 {
  const c = core();
  if (c.satFreeCount < 2) return 0;
  let runs: u32 = 0;
  let previousFree = false;
  for (let id: u32 = 0; id < c.sectorCount; id++) {
    const free = load<u16>(entry(id) + SAT_OWNER) == <u16>OWNER_FREE;
    if (free && !previousFree) runs++;
    previousFree = free;
  }
  return <u32>((<u64>(runs - 1) * 100) / <u64>(c.satFreeCount - 1));
}

// ---- Raw sector API (the SAT itself, as the original's section 1 tests exercise it) ------------

export function sectorAllocRaw(): i64 {
  const id = sectorTake(OWNER_RAW, 0);
  if (id == SECTOR_NULL) {
    satAllocationFailed();
    return E_OUT_OF_SECTORS;
  }
  return <i64>id;
}

function rawCheck(id: u32): i32 {
  if (id >= core().sectorCount) return E_SECTOR_INVALID;
  const owner = sectorOwnerGet(id);
  if (owner == OWNER_FREE) return E_SECTOR_NOT_ALLOCATED;
  if (owner != OWNER_RAW) return E_SECTOR_OWNED;
  return OK;
}

export function sectorFreeRaw(id: u32): i32 {
  if (id >= core().sectorCount) return E_SECTOR_INVALID;
  const owner = sectorOwnerGet(id);
  if (owner == OWNER_FREE) return E_SECTOR_NOT_ALLOCATED;
  // A sector that belongs to a stream is linked in that stream's chain: only the stream frees it.
  if (owner != OWNER_RAW) return E_SECTOR_LINKED;
  sectorRelease(id);
  return OK;
}

// A word offset inside a sector: aligned and at most sectorBytes − 4. Written without
// `offsetBytes + 4`, which wraps for offsets near 2^32 (0xFFFFFFFC would pass and address the word
// before the sector). sectorBytes >= SECTOR_BYTES_MIN, so the subtraction cannot wrap.
function offsetValid(offsetBytes: u32): bool {
  return (offsetBytes & 3) == 0 && offsetBytes <= core().sectorBytes - 4;
}

export function sectorWordWrite(id: u32, offsetBytes: u32, value: u32): i32 {
  const status = rawCheck(id);
  if (status != OK) return status;
  if (!offsetValid(offsetBytes)) return E_OFFSET_INVALID;
  store<u32>(sectorData(id) + <usize>offsetBytes, value);
  return OK;
}

// Returns the word (0 … 2^32−1) or a negative error code.
export function sectorWordRead(id: u32, offsetBytes: u32): i64 {
  if (id >= core().sectorCount) return E_SECTOR_INVALID;
  if (sectorOwnerGet(id) == OWNER_FREE) return E_SECTOR_NOT_ALLOCATED;
  if (!offsetValid(offsetBytes)) return E_OFFSET_INVALID;
  return <i64>load<u32>(sectorData(id) + <usize>offsetBytes);
}

// Links raw sector `id` to raw sector `next` (or SECTOR_NULL to end the chain).
export function sectorLinkRaw(id: u32, next: u32): i32 {
  const status = rawCheck(id);
  if (status != OK) return status;
  if (next != SECTOR_NULL) {
    const nextStatus = rawCheck(next);
    if (nextStatus != OK) return nextStatus;
    if (next == id) return E_SECTOR_INVALID;
  }
  sectorNextSet(id, next);
  return OK;
}

// Returns the next sector id in an allocated sector's chain (SECTOR_NULL at the end) or an error.
export function sectorNextRead(id: u32): i64 {
  if (id >= core().sectorCount) return E_SECTOR_INVALID;
  if (sectorOwnerGet(id) == OWNER_FREE) return E_SECTOR_NOT_ALLOCATED;
  return <i64>sectorNextGet(id);
}

// 1 if RAM sector `id` is allocated (to a stream or raw), 0 if free, E_SECTOR_INVALID past the
// SAT (the original's is_sector_allocated).
export function sectorAllocated(id: u32): i32 {
  if (id >= core().sectorCount) return E_SECTOR_INVALID;
  return sectorOwnerGet(id) == OWNER_FREE ? 0 : 1;
}
