// A Hal that passes every call to the Hal it wraps. Wrappers that change a few operations (skip
// syncs, inject faults) extend it and override only those.

import type { Hal, HalStats } from "./hal.js";

export class HalWrapper implements Hal {
  constructor(
    readonly inner: Hal,
    readonly kind: string,
  ) {}

  mkdir(dir: string): void {
    this.inner.mkdir(dir);
  }
  writeFile(path: string, data: Uint8Array): void {
    this.inner.writeFile(path, data);
  }
  appendFile(path: string, data: Uint8Array): void {
    this.inner.appendFile(path, data);
  }
  syncFile(path: string): void {
    this.inner.syncFile(path);
  }
  rename(from: string, to: string): void {
    this.inner.rename(from, to);
  }
  syncDir(dir: string): void {
    this.inner.syncDir(dir);
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
  freeBytes(): number {
    return this.inner.freeBytes();
  }
  stats(): HalStats {
    return this.inner.stats();
  }
}
