// A copy-on-write Hal over a storage that must not change: reads go to the storage (through the
// read-only part of its Hal), every write, rename and removal lands in an overlay kept in memory.
// `imx-memsim verify` runs boot recovery itself on it, so it sees what recovery would do without a
// byte of the storage changing: the base is typed so that no mutating call can reach it.
//
// It holds what recovery does (files written, renamed and removed; directories created). It is not
// a general Hal: it does not rename directories, which recovery never does.

import { type Hal, HalCounters, HalError, type HalStats, parentDir, pathJoin, relativePathCheck } from "../hal/hal.js";

/** The calls of a Hal that change nothing. */
export type HalReader = Pick<Hal, "readFile" | "readFileInto" | "fileSize" | "list" | "isDir" | "exists" | "freeBytes">;

/** A file's content in the overlay, or DELETED where the base's file is gone. */
const DELETED = null;

export class OverlayHal implements Hal {
  readonly kind = "overlay";
  private readonly counters = new HalCounters();
  /** Files written, renamed or removed: their content now, or DELETED. */
  private readonly files = new Map<string, Uint8Array | null>();
  /** Directories created in the overlay. */
  private readonly dirs = new Set<string>();

  constructor(private readonly base: HalReader) {}

  private fileGet(op: string, path: string): Uint8Array | null | undefined {
    relativePathCheck(op, path);
    return this.files.get(path);
  }

  /** Throws unless `dir` is a directory: ENOTDIR when it or a directory above it is a file, else ENOENT. */
  private dirCheck(op: string, dir: string): void {
    if (this.isDirQuiet(dir)) return;
    throw new HalError(this.throughFile(dir) ? "ENOTDIR" : "ENOENT", op, dir);
  }

  /** Whether `path` or a directory above it is a file. */
  private throughFile(path: string): boolean {
    for (let at = path; at !== "."; at = parentDir(at)) {
      if (this.existsQuiet(at) && !this.isDirQuiet(at)) return true;
    }
    return false;
  }

  private isDirQuiet(path: string): boolean {
    if (path === "." || this.dirs.has(path)) return true;
    if (this.files.has(path)) return false;
    return this.base.isDir(path);
  }

  private existsQuiet(path: string): boolean {
    if (this.dirs.has(path)) return true;
    const file = this.files.get(path);
    if (file !== undefined) return file !== DELETED;
    return this.base.exists(path);
  }

  private contentOf(op: string, path: string): Uint8Array {
    const file = this.fileGet(op, path);
    if (file === DELETED) throw new HalError(this.throughFile(parentDir(path)) ? "ENOTDIR" : "ENOENT", op, path);
    if (file !== undefined) return file;
    if (this.dirs.has(path)) throw new HalError("EINVAL", op, path, "a directory");
    if (this.throughFile(parentDir(path))) throw new HalError("ENOTDIR", op, path);
    return this.base.readFile(path);
  }

  mkdir(dir: string): void {
    this.counters.calls.mkdir++;
    relativePathCheck("mkdir", dir);
    if (dir === ".") return;
    let prefix = ".";
    for (const segment of dir.split("/")) {
      prefix = pathJoin(prefix, segment);
      if (this.isDirQuiet(prefix)) continue;
      if (this.existsQuiet(prefix)) throw new HalError(prefix === dir ? "EEXIST" : "ENOTDIR", "mkdir", dir);
      this.dirs.add(prefix);
    }
  }

  writeFile(path: string, data: Uint8Array): void {
    this.counters.calls.writeFile++;
    this.fileGet("writeFile", path);
    this.dirCheck("writeFile", parentDir(path));
    if (this.isDirQuiet(path)) throw new HalError("EINVAL", "writeFile", path, "a directory");
    if (!this.existsQuiet(path)) this.counters.filesCreated++;
    this.files.set(path, data.slice());
    this.counters.bytesWritten += data.byteLength;
  }

  appendFile(path: string, data: Uint8Array): void {
    this.counters.calls.appendFile++;
    this.fileGet("appendFile", path);
    this.dirCheck("appendFile", parentDir(path));
    const exists = this.existsQuiet(path);
    if (!exists) this.counters.filesCreated++;
    const before = exists ? this.contentOf("appendFile", path) : new Uint8Array(0);
    const after = new Uint8Array(before.byteLength + data.byteLength);
    after.set(before);
    after.set(data, before.byteLength);
    this.files.set(path, after);
    this.counters.bytesWritten += data.byteLength;
  }

  syncFile(path: string): void {
    this.counters.calls.syncFile++;
    relativePathCheck("syncFile", path);
    if (this.isDirQuiet(path)) throw new HalError("EINVAL", "syncFile", path, "a directory");
    if (!this.existsQuiet(path)) throw new HalError("ENOENT", "syncFile", path);
    this.counters.syncs++;
  }

  rename(from: string, to: string): void {
    this.counters.calls.rename++;
    relativePathCheck("rename", to);
    if (this.isDirQuiet(from)) throw new HalError("EINVAL", "rename", from, "the overlay does not move directories");
    const data = this.contentOf("rename", from);
    if (from === to) return;
    this.dirCheck("rename", parentDir(to));
    this.files.set(to, data);
    this.files.set(from, DELETED);
  }

  syncDir(dir: string): void {
    this.counters.calls.syncDir++;
    relativePathCheck("syncDir", dir);
    this.dirCheck("syncDir", dir);
    this.counters.syncs++;
  }

  readFile(path: string): Uint8Array {
    this.counters.calls.readFile++;
    const data = this.contentOf("readFile", path);
    this.counters.bytesRead += data.byteLength;
    return data.slice();
  }

  readFileInto(path: string, into: Uint8Array): number {
    this.counters.calls.readFileInto++;
    const file = this.fileGet("readFileInto", path);
    if (file === undefined && !this.dirs.has(path)) {
      const read = this.base.readFileInto(path, into);
      this.counters.bytesRead += read;
      return read;
    }
    const data = this.contentOf("readFileInto", path);
    const read = Math.min(data.byteLength, into.byteLength);
    into.set(data.subarray(0, read));
    this.counters.bytesRead += read;
    return read;
  }

  fileSize(path: string): number {
    this.counters.calls.fileSize++;
    const file = this.fileGet("fileSize", path);
    if (file === undefined && !this.dirs.has(path)) return this.base.fileSize(path);
    return this.contentOf("fileSize", path).byteLength;
  }

  remove(path: string): void {
    this.counters.calls.remove++;
    this.removeQuiet("remove", path);
  }

  private removeQuiet(op: string, path: string): void {
    relativePathCheck(op, path);
    if (this.isDirQuiet(path)) throw new HalError("EINVAL", op, path, "a directory");
    if (!this.existsQuiet(path)) throw new HalError(this.throughFile(parentDir(path)) ? "ENOTDIR" : "ENOENT", op, path);
    this.files.set(path, DELETED);
    this.counters.filesRemoved++;
  }

  removeAsync(path: string): Promise<void> {
    this.counters.calls.removeAsync++;
    try {
      this.removeQuiet("removeAsync", path);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new HalError("EIO", "removeAsync", path));
    }
  }

  list(dir: string): string[] {
    this.counters.calls.list++;
    return this.listQuiet(dir);
  }

  private listQuiet(dir: string): string[] {
    relativePathCheck("list", dir);
    this.dirCheck("list", dir);
    const names = new Set(this.dirs.has(dir) ? [] : this.base.list(dir));
    const prefix = dir === "." ? "" : `${dir}/`;
    const child = (path: string): string | null => {
      if (!path.startsWith(prefix)) return null;
      const rest = path.slice(prefix.length);
      return rest === "" || rest.includes("/") ? null : rest;
    };
    for (const [path, data] of this.files) {
      const name = child(path);
      if (name === null) continue;
      if (data === DELETED) names.delete(name);
      else names.add(name);
    }
    for (const path of this.dirs) {
      const name = child(path);
      if (name !== null) names.add(name);
    }
    return [...names].sort();
  }

  isDir(path: string): boolean {
    this.counters.calls.isDir++;
    relativePathCheck("isDir", path);
    return this.isDirQuiet(path);
  }

  exists(path: string): boolean {
    this.counters.calls.exists++;
    relativePathCheck("exists", path);
    return this.existsQuiet(path);
  }

  removeTree(dir: string): void {
    this.counters.calls.removeTree++;
    this.removeTreeQuiet(dir);
  }

  private removeTreeQuiet(dir: string): void {
    relativePathCheck("removeTree", dir);
    if (dir === ".") throw new HalError("EINVAL", "removeTree", dir, "the root");
    if (!this.existsQuiet(dir)) return;
    if (!this.isDirQuiet(dir)) {
      this.files.set(dir, DELETED);
      return;
    }
    for (const name of this.listQuiet(dir)) this.removeTreeQuiet(pathJoin(dir, name));
    // An emptied directory of the base stays listed by the base; verify never removes one.
    this.dirs.delete(dir);
  }

  freeBytes(): number {
    this.counters.calls.freeBytes++;
    return this.base.freeBytes();
  }

  stats(): HalStats {
    return this.counters.snapshot();
  }
}
