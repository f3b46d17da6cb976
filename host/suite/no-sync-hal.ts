// A Hal wrapper that makes syncFile and syncDir no-ops (counted) and passes everything else through,
// except that a rename over an existing file first removes that file: ext4 (auto_da_alloc) flushes
// the new file's data when a rename replaces one, an implicit sync that costs ~0.5 ms per positions
// file write on the CI machine (an unlink and a plain rename cost ~0.15 ms). Without syncs nothing
// is crash-safe anyway; within the process the result is the same file.
//
// The test job checks the memory manager's logic and its real files — that spills write them and
// cleanup deletes them — not power-loss durability, which test/crash covers with the in-memory
// HAL's crash model. On the project's ext4 CI machine one fsync'd atomic write costs ~6.6 ms, so an
// iteration (about ten writes) would take ~70 ms and 100,000 iterations hours; without the syncs
// an iteration takes about a millisecond. `imx-memsim test --fsync` runs with real syncs.

import { type Hal, type HalDirEntry, halListEntries } from "../hal/hal.js";
import { HalWrapper } from "../hal/hal-wrapper.js";

/** A count of skipped syncs that several NoSyncHal wrappers can share. */
export interface SyncCounter {
  skipped: number;
}

export class NoSyncHal extends HalWrapper {
  constructor(
    inner: Hal,
    /** syncFile + syncDir calls skipped. */
    readonly counter: SyncCounter = { skipped: 0 },
  ) {
    super(inner, `no-sync(${inner.kind})`);
  }

  override syncFile(_path: string): void {
    this.counter.skipped++;
  }
  override rename(from: string, to: string): void {
    // Asked first: most renames (every new .imx file) replace nothing, and a failed unlink costs
    // two error objects with their stacks, ~20 µs, where the question costs one stat.
    if (this.inner.exists(to)) {
      try {
        this.inner.remove(to);
        this.counter.skipped++;
      } catch {
        // A directory (EINVAL), which rename itself deals with, or gone since (ENOENT).
      }
    }
    this.inner.rename(from, to);
  }
  /** Passed through (neither list nor isDir changes here), so listings need no stat per entry. */
  listEntries(dir: string): HalDirEntry[] {
    return halListEntries(this.inner, dir);
  }
  override syncDir(_dir: string): void {
    this.counter.skipped++;
  }
}
