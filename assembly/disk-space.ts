// Real free space: the disk tier's limit is the smaller of what the board's quota allows and what
// the filesystem under the storage root can still take (SPEC.md section 4.1).
//
// The filesystem is asked (the host's `diskFree` import) at a bounded rate, never per record: at
// the first limit check after boot or diskSpaceInvalidate(), and then at most once every
// max(tickIntervalMs, DISK_FREE_READ_INTERVAL_MS) of device time. Device time moves only at boot
// and processMemory, so that is also at most once per tick. A read keeps two figures, the free bytes
// it saw and the disk usage (STAT_DISK_BYTES_USED + STAT_DISK_USAGE_OFFSET_BYTES) at that moment.
// Between reads the core's own spills, deletions and ACK-log writes move what it has on the
// filesystem, so with `fs` = the disk usage (STAT_DISK_BYTES_USED + STAT_DISK_USAGE_OFFSET_BYTES)
// plus the ACK log's bytes (STAT_ACK_LOG_BYTES),
//
//   limit = min(quota limit, fsAtRead + freeAtRead − margin − ackLogBytes)
//
// stays true without a hook on every write: a spill of B bytes raises `used` by B and so uses up B
// of what the read saw free, and so does an ACK record appended. The margin, diskFreeMarginFiles ×
// the I/O buffer size (the largest file the core writes: an .imx file, the positions file or an
// ACK-log snapshot), keeps room for the temp file of an atomic write next to the file it replaces
// and for the ACK log's appends until a compaction (assembly/positions.ts compacts the log early
// when the margin runs low); what other writers take between two reads is seen at the next one.
// The ACK log does not count against the quota, which bounds data.
// A spill whose write still meets E_HAL_NO_SPACE should call diskSpaceInvalidate() so the next
// check reads again.

import {
  DISK_FREE_READ_INTERVAL_MS,
  STAT_ACK_LOG_BYTES,
  STAT_DISK_BYTES_LIMIT,
  STAT_DISK_BYTES_USED,
  STAT_DISK_FREE_BYTES,
  STAT_DISK_USAGE_OFFSET_BYTES,
} from "./abi";
import { halDiskFree } from "./hal";
import { core } from "./state";
import { statGet, statSet } from "./stats";

// Called at boot: nothing known yet, so the first check reads.
export function diskSpaceInit(): void {
  const c = core();
  c.diskFreeReadMs = NaN;
  c.diskFreeAtReadBytes = Infinity;
  c.diskUsedAtReadBytes = 0;
}

// Forces a read of the filesystem's free bytes at the next limit check (a write met ENOSPC, the
// usage offset changed, the device continues from a snapshot).
export function diskSpaceInvalidate(): void {
  core().diskFreeReadMs = NaN;
}

// The disk usage the limits are compared against.
function diskUsedBytes(): f64 {
  return statGet(STAT_DISK_BYTES_USED) + statGet(STAT_DISK_USAGE_OFFSET_BYTES);
}

// What the core has on the filesystem: the disk usage and the ACK log.
function filesystemUsedBytes(): f64 {
  return diskUsedBytes() + statGet(STAT_ACK_LOG_BYTES);
}

// Reads the filesystem's free bytes if a read is due (see the rule at the top).
function diskSpaceRead(): void {
  const c = core();
  if (!c.diskTier) return;
  const now = c.clockNowMs;
  const last = c.diskFreeReadMs;
  const intervalMs = <f64>max<u32>(c.tickIntervalMs, DISK_FREE_READ_INTERVAL_MS);
  // A clock that went backwards makes a read due, as it starts a new tick interval.
  if (last == last && now >= last && now - last < intervalMs) return;
  c.diskFreeReadMs = now;
  diskFiguresRead();
}

// Asks the filesystem and keeps the figures. A failed query (a negative code) keeps the last ones.
function diskFiguresRead(): void {
  const c = core();
  const free = halDiskFree();
  if (!(free >= 0)) return;
  c.diskFreeAtReadBytes = free;
  c.diskUsedAtReadBytes = filesystemUsedBytes();
}

// The limit on disk usage from the figures of the last read, without reading.
function diskBytesLimitKnown(flushing: bool): f64 {
  const c = core();
  // A normal spill stops at the disk threshold; a flush (shutdown) may use the whole quota.
  const quota = <f64>c.diskQuotaBytes;
  const quotaLimit = flushing ? quota : Math.floor((quota * <f64>c.diskThresholdPercent) / 100);
  const marginBytes = <f64>c.diskFreeMarginFiles * <f64>c.ioBufBytes;
  const filesystemLimit = c.diskUsedAtReadBytes + c.diskFreeAtReadBytes - marginBytes - statGet(STAT_ACK_LOG_BYTES);
  return Math.max(0, Math.min(quotaLimit, filesystemLimit));
}

// The one bound spills compare STAT_DISK_BYTES_USED + STAT_DISK_USAGE_OFFSET_BYTES against:
// the quota's (its threshold outside a flush, all of it during one), and never more than the
// filesystem can take less the margin. May read the filesystem's free bytes (at a bounded rate).
export function diskBytesLimit(flushing: bool): f64 {
  diskSpaceRead();
  return diskBytesLimitKnown(flushing);
}

// The filesystem's free bytes as the core reckons them now: the last read less what the core
// added since (Infinity when no limit is known).
export function diskFreeBytesKnown(): f64 {
  const c = core();
  return Math.max(0, c.diskFreeAtReadBytes - (filesystemUsedBytes() - c.diskUsedAtReadBytes));
}

// What an ACK-log append checks (SPEC.md 4.1). It keeps to the figures of the last read and does
// not move the read schedule, which is the spill checks' (at most one read per interval), so a
// full disk the core has read stops spills before any write meets it; the margin the spill limit
// keeps is the metadata's room. Only when nothing has been read since boot or an invalidation
// (diskFreeReadMs NaN) and the log holds more than `compactableBytes` (a checkpoint's worth: less
// cannot be given back by compacting) does it ask once itself, a peek: the figures are kept and
// diskFreeReadMs becomes −Infinity, so the next check still reads and later appends reckon from
// the peek.
export function diskFreeBytesForMetadata(compactableBytes: f64): f64 {
  const c = core();
  if (c.diskTier && c.diskFreeReadMs != c.diskFreeReadMs && statGet(STAT_ACK_LOG_BYTES) > compactableBytes) {
    diskFiguresRead();
    c.diskFreeReadMs = -Infinity;
  }
  return diskFreeBytesKnown();
}

// Brings STAT_DISK_BYTES_LIMIT (the spill limit) and STAT_DISK_FREE_BYTES up to date, without a read.
export function diskSpaceStatsRefresh(): void {
  if (!core().diskTier) return;
  statSet(STAT_DISK_BYTES_LIMIT, diskBytesLimitKnown(false));
  statSet(STAT_DISK_FREE_BYTES, diskFreeBytesKnown());
}
