// The core's "hal" imports, built over a Hal. Paths and data are read straight out of device RAM.
// Nothing here throws into wasm: every HalError becomes a negative ABI code.

import { crc32 } from "node:zlib";
import { type Hal, HalError, type HalErrorCode } from "../hal/hal.js";
import { DirSyncError, mkdirDurable, parentDir, TMP_SUFFIX, writeFileAtomic } from "../hal/atomic.js";
import { HISTORY_BUCKETS, HISTORY_DIR } from "../format/imx.js";
import * as abi from "./abi.generated.js";
import type { CoreLogger } from "./log.js";
import { type QuarantinedFile, quarantineMove } from "./quarantine.js";

export function halStatus(code: HalErrorCode): number {
  switch (code) {
    case "ENOENT":
      return abi.E_HAL_NOT_FOUND;
    case "ENOSPC":
      return abi.E_HAL_NO_SPACE;
    case "EACCES":
      return abi.E_HAL_PERMISSION;
    case "EBUSY":
      return abi.E_HAL_BUSY;
    default:
      return abi.E_HAL_IO;
  }
}

function statusOf(e: unknown): number {
  if (e instanceof HalError) return halStatus(e.code);
  return abi.E_HAL_IO;
}

/** What the filesystem answered, as the core's status; counts the answers that said "no space". */
function statusCounted(bridge: { noSpaceErrors: number }, e: unknown): number {
  const status = statusOf(e);
  if (status === abi.E_HAL_NO_SPACE) bridge.noSpaceErrors++;
  return status;
}

/** A bounded record of latencies (ms): the last `capacity` samples, plus a running maximum. */
/** A bucket directory of `.imx` files: history/<0–9>. */
const BUCKET_DIR = /^history\/\d$/;

export class LatencyRecorder {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  private total = 0;
  private sorted: Float64Array | null = null;
  count = 0;
  maxMs = 0;

  constructor(capacity = 8192) {
    this.samples = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.sorted = null;
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    this.count++;
    this.total += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  meanMs(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }

  /** The q-quantile (0..1) of the retained samples, nearest rank (sorted once per new sample set). */
  quantileMs(q: number): number {
    if (this.filled === 0) return 0;
    if (this.sorted === null) this.sorted = this.samples.slice(0, this.filled).sort();
    const rank = Math.min(this.sorted.length - 1, Math.max(0, Math.ceil(q * this.sorted.length) - 1));
    return this.sorted[rank] ?? 0;
  }

  reset(): void {
    this.sorted = null;
    this.next = 0;
    this.filled = 0;
    this.total = 0;
    this.count = 0;
    this.maxMs = 0;
  }
}

export interface BridgeHooks {
  /** Called when an asynchronous (lazy) delete settles. */
  confirmDelete(slot: number, generation: number, status: number): void;
}

/** The state behind the imports: where paths live, latency records, deletions in flight. */
export class HalBridge {
  readonly deleteLatency = new LatencyRecorder();
  readonly writeLatency = new LatencyRecorder();
  private readonly inFlight = new Set<Promise<void>>();
  /** Wall time during which a lazy deletion was in flight (ms, since lazyBusySinceMs when it still is). */
  private lazyBusyMs = 0;
  private lazyBusySinceMs: number | null = null;
  /** Lazy deletions that completed (successfully) during that time. */
  private lazyCompleted = 0;
  private readonly knownDirs = new Set<string>();
  /** Files appended to (or written) by this bridge: known to exist, durably. */
  private readonly appendTargets = new Set<string>();
  private readonly leftoverTemps = new Set<string>();
  private readonly unsyncedDirs = new Set<string>();
  /** Directory fsyncs that failed after a rename (the file was in place, not yet durable). */
  dirSyncFailures = 0;
  /** HAL calls of the core's that the filesystem refused for want of room (ENOSPC). */
  noSpaceErrors = 0;
  /** Files the core found corrupt while reading, and where they went. */
  readonly quarantined: QuarantinedFile[] = [];
  /** Sees every core log event, whatever the log level (the device's events: device-events.ts). */
  eventTap: ((event: number, a: number, b: number) => void) | null = null;
  private memory: WebAssembly.Memory | undefined;
  hooks: BridgeHooks | undefined;

  constructor(
    readonly hal: Hal,
    private readonly logger: CoreLogger,
  ) {}

  attach(memory: WebAssembly.Memory): void {
    this.memory = memory;
  }

  private path(ptr: number, length: number): string {
    return Buffer.from(this.bytes(ptr, length)).toString("latin1");
  }

  private bytes(ptr: number, length: number): Uint8Array {
    if (!this.memory) throw new Error("HAL bridge used before the memory was attached");
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  private ensureParent(path: string): void {
    const slash = path.lastIndexOf("/");
    if (slash <= 0) return;
    const dir = path.slice(0, slash);
    if (this.knownDirs.has(dir)) return;
    if (BUCKET_DIR.test(dir)) {
      this.bucketsMake();
      return;
    }
    mkdirDurable(this.hal, dir);
    this.knownDirs.add(dir);
  }

  /**
   * The first file into a bucket directory makes every missing one (SPEC.md 6.1), with one
   * directory sync of history/ for them all: a new bucket then never costs a sync of its own.
   */
  private bucketsMake(): void {
    mkdirDurable(this.hal, HISTORY_DIR);
    let made = false;
    for (let bucket = 0; bucket < HISTORY_BUCKETS; bucket++) {
      const dir = `${HISTORY_DIR}/${bucket}`;
      if (!this.hal.isDir(dir)) {
        this.hal.mkdir(dir);
        made = true;
      }
    }
    if (made) this.hal.syncDir(HISTORY_DIR);
    this.knownDirs.add(HISTORY_DIR);
    for (let bucket = 0; bucket < HISTORY_BUCKETS; bucket++) this.knownDirs.add(`${HISTORY_DIR}/${bucket}`);
  }

  private existsQuietly(path: string): boolean {
    try {
      return this.hal.exists(path);
    } catch {
      return false;
    }
  }

  /** Retries the fsync of directories whose sync failed after a rename; returns how many still are not synced. */
  syncDirsRetry(): number {
    for (const dir of [...this.unsyncedDirs]) {
      try {
        this.hal.syncDir(dir);
        this.unsyncedDirs.delete(dir);
      } catch {
        // Still failing: tried again before the next write.
      }
    }
    return this.unsyncedDirs.size;
  }

  /** Removes temp files that failed writes left behind; returns how many are still there. */
  sweepTemps(): number {
    for (const temp of [...this.leftoverTemps]) {
      try {
        this.hal.remove(temp);
        this.leftoverTemps.delete(temp);
      } catch (e) {
        if (e instanceof HalError && e.code === "ENOENT") this.leftoverTemps.delete(temp);
      }
    }
    return this.leftoverTemps.size;
  }

  /** Forget which directories exist (after something outside the core removed them). */
  forgetDirs(): void {
    this.knownDirs.clear();
  }

  /**
   * Work the bridge holds that device RAM does not record, or null when there is none: lazy
   * deletions in flight, temp files of failed writes still to remove, directory syncs still owed.
   * A snapshot taken meanwhile would lose it. (Its caches and latency samples are rebuilt.)
   */
  outstandingWork(): string | null {
    if (this.inFlight.size > 0) return `${this.inFlight.size} lazy deletions in flight`;
    if (this.leftoverTemps.size > 0) return `${this.leftoverTemps.size} temp files of failed writes to remove`;
    if (this.unsyncedDirs.size > 0) return `${this.unsyncedDirs.size} directory syncs owed`;
    return null;
  }

  /** Deletions started by the lazy policy that have not settled yet. */
  pendingDeletes(): number {
    return this.inFlight.size;
  }

  /**
   * What one lazy deletion costs, ms: the wall time during which any was in flight over the number
   * that completed in it (deletions overlap, so this is the time per file at the concurrency they
   * ran at, not one deletion's latency); null before the first has completed.
   */
  lazyPerFileMs(): number | null {
    if (this.lazyCompleted === 0) return null;
    const running = this.lazyBusySinceMs === null ? 0 : performance.now() - this.lazyBusySinceMs;
    return (this.lazyBusyMs + running) / this.lazyCompleted;
  }

  /**
   * Waits until every lazy deletion in flight has settled (and been confirmed to the core), and
   * retries the directory syncs still owed: a next life's bridge does not know of them, so a
   * graceful stop that leaves one could let a power cut later bring back a file deleted durably.
   */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    if (this.unsyncedDirs.size > 0) this.syncDirsRetry();
  }

  imports(): Record<string, (...args: number[]) => unknown> {
    return {
      fileWrite: (pathPtr: number, pathLength: number, dataPtr: number, dataLength: number): number => {
        const path = this.path(pathPtr, pathLength);
        if (this.leftoverTemps.size > 0) this.sweepTemps();
        if (this.unsyncedDirs.size > 0) this.syncDirsRetry();
        try {
          const started = performance.now();
          this.ensureParent(path);
          writeFileAtomic(this.hal, path, this.bytes(dataPtr, dataLength));
          this.writeLatency.record(performance.now() - started);
          return abi.OK;
        } catch (e) {
          if (e instanceof DirSyncError) {
            // The file is in place under its final name: the write is done, only not yet durable.
            // Reporting a failure would make the core redo or refuse what is already visible.
            this.unsyncedDirs.add(e.dir);
            this.dirSyncFailures++;
            this.logger.line(
              `[imx:tier] ${path}: directory fsync failed after the rename; retrying before the next write`,
            );
            return abi.OK;
          }
          this.knownDirs.clear();
          // writeFileAtomic removes its temp file on failure, but that removal can fail too.
          if (this.existsQuietly(path + TMP_SUFFIX)) this.leftoverTemps.add(path + TMP_SUFFIX);
          return statusCounted(this, e);
        }
      },
      fileAppend: (pathPtr: number, pathLength: number, dataPtr: number, dataLength: number): number => {
        const path = this.path(pathPtr, pathLength);
        try {
          const started = performance.now();
          this.ensureParent(path);
          // An append is durable only if the file's own directory entry is: a directory sync owed
          // since a rename there (a compaction's) is retried first, and the append refused while
          // it still fails, or a power cut could bring back the old file without this record.
          const dir = parentDir(path);
          if (this.unsyncedDirs.has(dir) && (this.syncDirsRetry(), this.unsyncedDirs.has(dir))) {
            throw new HalError("EIO", "syncDir", dir, "a directory sync owed since a rename still fails");
          }
          // A file this bridge has appended to or written is known to exist durably: no lookup.
          // Otherwise a previous life may have renamed it into place (a compaction) and stopped
          // before its directory sync went through: its directory is synced once before the first
          // append, so the records go into the file a power cut keeps.
          const known = this.appendTargets.has(path);
          const created = !known && !this.hal.exists(path);
          if (!known && !created) this.hal.syncDir(dir);
          this.hal.appendFile(path, this.bytes(dataPtr, dataLength));
          this.hal.syncFile(path);
          if (created) {
            try {
              this.hal.syncDir(dir);
            } catch (e) {
              this.unsyncedDirs.add(dir);
              this.dirSyncFailures++;
              throw e;
            }
          }
          this.appendTargets.add(path);
          this.writeLatency.record(performance.now() - started);
          return abi.OK;
        } catch (e) {
          this.appendTargets.delete(path);
          this.knownDirs.clear();
          return statusOf(e);
        }
      },
      fileRead: (pathPtr: number, pathLength: number, dataPtr: number, capacity: number): number => {
        try {
          return this.hal.readFileInto(this.path(pathPtr, pathLength), this.bytes(dataPtr, capacity));
        } catch (e) {
          return statusCounted(this, e);
        }
      },
      fileDelete: (pathPtr: number, pathLength: number): number => {
        const started = performance.now();
        try {
          this.hal.remove(this.path(pathPtr, pathLength));
          this.deleteLatency.record(performance.now() - started);
          return abi.OK;
        } catch (e) {
          return statusCounted(this, e);
        }
      },
      fileDeleteDurable: (pathPtr: number, pathLength: number): number => {
        const path = this.path(pathPtr, pathLength);
        const started = performance.now();
        try {
          this.hal.remove(path);
        } catch (e) {
          return statusOf(e);
        }
        this.deleteLatency.record(performance.now() - started);
        // The file is gone; until its directory is synced a power cut could bring it back.
        const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")));
        try {
          this.hal.syncDir(dir === "" ? "." : dir);
        } catch {
          // Retried before the next write; the core is told the deletion is not durable yet.
          this.unsyncedDirs.add(dir === "" ? "." : dir);
          this.dirSyncFailures++;
          return abi.DELETE_UNSYNCED;
        }
        return abi.OK;
      },
      fileDeleteAsync: (pathPtr: number, pathLength: number, slot: number, generation: number): number => {
        const path = this.path(pathPtr, pathLength);
        const started = performance.now();
        const done = (status: number): void => {
          this.inFlight.delete(promise);
          const now = performance.now();
          if (status === abi.OK) {
            this.deleteLatency.record(now - started);
            this.lazyCompleted++;
          }
          if (this.inFlight.size === 0 && this.lazyBusySinceMs !== null) {
            this.lazyBusyMs += now - this.lazyBusySinceMs;
            this.lazyBusySinceMs = null;
          }
          this.hooks?.confirmDelete(slot, generation, status);
        };
        if (this.inFlight.size === 0) this.lazyBusySinceMs = started;
        const promise: Promise<void> = this.hal.removeAsync(path).then(
          () => done(abi.OK),
          (e: unknown) => done(statusCounted(this, e)),
        );
        this.inFlight.add(promise);
        return abi.OK;
      },
      fileQuarantine: (pathPtr: number, pathLength: number): number => {
        const path = this.path(pathPtr, pathLength);
        const movedTo = quarantineMove(this.hal, path);
        this.logger.line(
          `[imx:tier] ${path} failed validation when read; ${movedTo ? `moved to ${movedTo}` : "left in place"}`,
        );
        this.quarantined.push({ path, movedTo, reason: "failed validation when read" });
        return movedTo ? abi.OK : abi.E_HAL_IO;
      },
      diskFree: (): number => {
        try {
          const free = this.hal.freeBytes();
          return free >= 0 ? free : abi.E_HAL_IO;
        } catch (e) {
          return statusOf(e);
        }
      },
      // The platform's CRC unit (assembly/hal.ts halCrc32): zlib's CRC-32 over device RAM.
      crc32: (crc: number, ptr: number, length: number): number => crc32(this.bytes(ptr, length), crc >>> 0),
      log: (level: number, subsystem: number, event: number, a: number, b: number): void => {
        this.eventTap?.(event, a, b);
        this.logger.event(level, subsystem, event, a, b);
      },
    };
  }
}
