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

import type { Hal, HalStats } from "../hal/hal.js";

/** A count of skipped syncs that several NoSyncHal wrappers can share. */
export interface SyncCounter {
  skipped: number;
}

export class NoSyncHal implements Hal {
  readonly kind: string;

  constructor(
    readonly inner: Hal,
    /** syncFile + syncDir calls skipped. */
    readonly counter: SyncCounter = { skipped: 0 },
  ) {
    this.kind = `no-sync(${inner.kind})`;
  }

  mkdir(dir: string): void {
    this.inner.mkdir(dir);
  }
  writeFile(path: string, data: Uint8Array): void {
    this.inner.writeFile(path, data);
  }
  syncFile(_path: string): void {
    this.counter.skipped++;
  }
  rename(from: string, to: string): void {
    try {
      this.inner.remove(to);
      this.counter.skipped++;
    } catch {
      // Nothing to replace (ENOENT), or a directory (EINVAL), which rename itself deals with.
    }
    this.inner.rename(from, to);
  }
  syncDir(_dir: string): void {
    this.counter.skipped++;
  }
  readFile(path: string): Uint8Array {
    return this.inner.readFile(path);
  }
  readFileInto(path: string, into: Uint8Array): number {
    return this.inner.readFileInto(path, into);
  }
  fileSize(path: string): number {
    return this.inner.fileSize(path);
  }
  remove(path: string): void {
    this.inner.remove(path);
  }
  removeAsync(path: string): Promise<void> {
    return this.inner.removeAsync(path);
  }
  list(dir: string): string[] {
    return this.inner.list(dir);
  }
  isDir(path: string): boolean {
    return this.inner.isDir(path);
  }
  exists(path: string): boolean {
    return this.inner.exists(path);
  }
  removeTree(dir: string): void {
    this.inner.removeTree(dir);
  }
  stats(): HalStats {
    return this.inner.stats();
  }
}
