// The Hal over a real directory, with synchronous node:fs calls (removeAsync uses fs.promises).
// Kept lean because it sits on the benchmark path: one syscall sequence per operation, no stats
// unless the operation needs one, and paths are only checked, never normalised.

import fs from "node:fs";
import nodePath from "node:path";
import {
  type Hal,
  HalCounters,
  type HalDirEntry,
  HalError,
  type HalOp,
  type HalStats,
  halErrorFrom,
  relativePathCheck,
} from "./hal.js";

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = fs.constants;
const FLAGS_CREATE_NEW = O_WRONLY | O_CREAT | O_EXCL;
const FLAGS_TRUNCATE = O_WRONLY | O_CREAT | O_TRUNC;
const FLAGS_CREATE_NEW_APPEND = O_WRONLY | O_CREAT | O_EXCL | O_APPEND;
const FLAGS_APPEND = O_WRONLY | O_APPEND;
/** O_DIRECTORY makes syncDir of a file fail with ENOTDIR; it is undefined on Windows. */
const { O_DIRECTORY } = fs.constants as { O_DIRECTORY?: number };
const FLAGS_DIR = O_RDONLY | (O_DIRECTORY ?? 0);
const FILE_MODE = 0o666;
/** Errors from platforms that cannot open or fsync a directory; syncDir treats them as success. */
const DIR_SYNC_UNSUPPORTED = new Set(["EINVAL", "EISDIR", "EPERM", "ENOTSUP", "EBADF"]);

function errnoCode(e: unknown): string | undefined {
  if (typeof e === "object" && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

export class NodeFsHal implements Hal {
  readonly kind = "node-fs";
  /** Absolute path of the storage root. */
  readonly rootDir: string;
  private readonly counters = new HalCounters();
  private readonly rootPrefix: string;

  constructor(rootDir: string) {
    this.rootDir = nodePath.resolve(rootDir);
    this.rootPrefix = this.rootDir.endsWith(nodePath.sep) ? this.rootDir : this.rootDir + "/";
  }

  /** Absolute path for a checked relative one. */
  private full(op: string, path: string): string {
    relativePathCheck(op, path);
    return path === "." ? this.rootDir : this.rootPrefix + path;
  }

  mkdir(dir: string): void {
    this.counters.calls.mkdir++;
    const full = this.full("mkdir", dir);
    try {
      fs.mkdirSync(full, { recursive: true });
    } catch (e) {
      throw halErrorFrom(e, "mkdir", dir);
    }
  }

  writeFile(path: string, data: Uint8Array): void {
    this.counters.calls.writeFile++;
    this.writeOpen("writeFile", path, data, FLAGS_CREATE_NEW, FLAGS_TRUNCATE);
  }

  appendFile(path: string, data: Uint8Array): void {
    this.counters.calls.appendFile++;
    // Appends mostly go to a file that exists (the ACK log): open it as such first, so the common
    // case costs one open and no EEXIST error thrown and caught.
    this.writeOpen("appendFile", path, data, FLAGS_CREATE_NEW_APPEND, FLAGS_APPEND, true);
  }

  // Opens `path` with `createFlags` (a new file) or, when it exists, `existingFlags`, writes all of
  // `data` and closes it; counts the bytes and a file created. With `existingFirst` it tries
  // `existingFlags` first and creates the file only when that finds none.
  private writeOpen(
    op: HalOp,
    path: string,
    data: Uint8Array,
    createFlags: number,
    existingFlags: number,
    existingFirst = false,
  ): void {
    const counters = this.counters;
    const full = this.full(op, path);
    let fd: number | undefined;
    let created = true;
    if (existingFirst) {
      try {
        fd = fs.openSync(full, existingFlags, FILE_MODE);
        created = false;
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw halErrorFrom(e, op, path);
      }
    }
    if (fd === undefined) {
      try {
        fd = fs.openSync(full, createFlags, FILE_MODE);
      } catch (e) {
        if (errnoCode(e) !== "EEXIST") throw halErrorFrom(e, op, path);
        created = false;
        try {
          fd = fs.openSync(full, existingFlags, FILE_MODE);
        } catch (e2) {
          throw halErrorFrom(e2, op, path);
        }
      }
    }
    try {
      const length = data.byteLength;
      let offset = 0;
      while (offset < length) offset += fs.writeSync(fd, data, offset, length - offset);
    } catch (e) {
      closeQuietly(fd);
      throw halErrorFrom(e, op, path);
    }
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw halErrorFrom(e, op, path);
    }
    counters.bytesWritten += data.byteLength;
    if (created) counters.filesCreated++;
  }

  syncFile(path: string): void {
    this.counters.calls.syncFile++;
    const full = this.full("syncFile", path);
    // Opened read-write: Windows refuses to flush a read-only handle, and a directory fails with EISDIR.
    let fd: number;
    try {
      fd = fs.openSync(full, "r+");
    } catch (e) {
      throw halErrorFrom(e, "syncFile", path);
    }
    try {
      fs.fsyncSync(fd);
    } catch (e) {
      closeQuietly(fd);
      throw halErrorFrom(e, "syncFile", path);
    }
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw halErrorFrom(e, "syncFile", path);
    }
    this.counters.syncs++;
  }

  rename(from: string, to: string): void {
    this.counters.calls.rename++;
    const fullFrom = this.full("rename", from);
    const fullTo = this.full("rename", to);
    if (from === ".") throw new HalError("EINVAL", "rename", from, "cannot rename the root");
    if (to === ".") throw new HalError("EINVAL", "rename", to, "cannot rename onto the root");
    try {
      fs.renameSync(fullFrom, fullTo);
    } catch (e) {
      throw halErrorFrom(e, "rename", from);
    }
  }

  syncDir(dir: string): void {
    this.counters.calls.syncDir++;
    const full = this.full("syncDir", dir);
    let fd: number;
    try {
      fd = fs.openSync(full, FLAGS_DIR);
    } catch (e) {
      const code = errnoCode(e);
      if (O_DIRECTORY === undefined && code !== undefined && DIR_SYNC_UNSUPPORTED.has(code)) {
        this.counters.syncs++;
        return;
      }
      throw halErrorFrom(e, "syncDir", dir);
    }
    try {
      fs.fsyncSync(fd);
    } catch (e) {
      const code = errnoCode(e);
      if (code === undefined || !DIR_SYNC_UNSUPPORTED.has(code)) {
        closeQuietly(fd);
        throw halErrorFrom(e, "syncDir", dir);
      }
    }
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw halErrorFrom(e, "syncDir", dir);
    }
    this.counters.syncs++;
  }

  readFile(path: string): Uint8Array {
    this.counters.calls.readFile++;
    const full = this.full("readFile", path);
    let buffer: Buffer;
    try {
      buffer = fs.readFileSync(full);
    } catch (e) {
      throw halErrorFrom(e, "readFile", path);
    }
    this.counters.bytesRead += buffer.byteLength;
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  readFileInto(path: string, into: Uint8Array): number {
    this.counters.calls.readFileInto++;
    const full = this.full("readFileInto", path);
    let fd: number;
    try {
      fd = fs.openSync(full, O_RDONLY);
    } catch (e) {
      throw halErrorFrom(e, "readFileInto", path);
    }
    let total = 0;
    try {
      const length = into.byteLength;
      if (length === 0) {
        // No read happens, so check explicitly that this is not a directory.
        if (fs.fstatSync(fd).isDirectory()) throw new HalError("EINVAL", "readFileInto", path, "is a directory");
      }
      while (total < length) {
        const count = fs.readSync(fd, into, total, length - total, null);
        if (count === 0) break;
        total += count;
      }
    } catch (e) {
      closeQuietly(fd);
      throw halErrorFrom(e, "readFileInto", path);
    }
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw halErrorFrom(e, "readFileInto", path);
    }
    this.counters.bytesRead += total;
    return total;
  }

  fileSize(path: string): number {
    this.counters.calls.fileSize++;
    const full = this.full("fileSize", path);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(full);
    } catch (e) {
      throw halErrorFrom(e, "fileSize", path);
    }
    if (stat.isDirectory()) throw new HalError("EINVAL", "fileSize", path, "is a directory");
    return stat.size;
  }

  remove(path: string): void {
    this.counters.calls.remove++;
    const full = this.full("remove", path);
    try {
      fs.unlinkSync(full);
    } catch (e) {
      throw unlinkError(e, full, "remove", path);
    }
    this.counters.filesRemoved++;
  }

  async removeAsync(path: string): Promise<void> {
    this.counters.calls.removeAsync++;
    const full = this.full("removeAsync", path);
    try {
      await fs.promises.unlink(full);
    } catch (e) {
      throw unlinkError(e, full, "removeAsync", path);
    }
    this.counters.filesRemoved++;
  }

  list(dir: string): string[] {
    this.counters.calls.list++;
    const full = this.full("list", dir);
    try {
      return fs.readdirSync(full).sort();
    } catch (e) {
      throw halErrorFrom(e, "list", dir);
    }
  }

  /**
   * readdir with file types (counted as a list call): no stat per entry, except for a symbolic
   * link, which is followed like isDir follows it.
   */
  listEntries(dir: string): HalDirEntry[] {
    this.counters.calls.list++;
    const full = this.full("list", dir);
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(full, { withFileTypes: true });
    } catch (e) {
      throw halErrorFrom(e, "list", dir);
    }
    const entries: HalDirEntry[] = dirents.map((d) => ({
      name: d.name,
      isDir: d.isSymbolicLink() ? this.isDir(dir === "." ? d.name : `${dir}/${d.name}`) : d.isDirectory(),
    }));
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  isDir(path: string): boolean {
    this.counters.calls.isDir++;
    const full = this.full("isDir", path);
    try {
      const stat = fs.statSync(full, { throwIfNoEntry: false });
      return stat !== undefined && stat.isDirectory();
    } catch (e) {
      if (errnoCode(e) === "ENOTDIR") return false;
      throw halErrorFrom(e, "isDir", path);
    }
  }

  exists(path: string): boolean {
    this.counters.calls.exists++;
    return fs.existsSync(this.full("exists", path));
  }

  removeTree(dir: string): void {
    this.counters.calls.removeTree++;
    const full = this.full("removeTree", dir);
    if (dir === ".") throw new HalError("EINVAL", "removeTree", dir, "cannot remove the root");
    try {
      fs.rmSync(full, { recursive: true, force: true });
    } catch (e) {
      throw halErrorFrom(e, "removeTree", dir);
    }
  }

  /**
   * statfs(2) of the filesystem holding the storage root: available blocks × block size. Before the
   * root exists, the filesystem of its nearest existing ancestor (where it will be created).
   */
  freeBytes(): number {
    this.counters.calls.freeBytes++;
    let dir = this.rootDir;
    // Each step goes one directory up, so the walk ends at the filesystem root at the latest.
    for (;;) {
      try {
        const stat = fs.statfsSync(dir);
        return stat.bavail * stat.bsize;
      } catch (e) {
        const parent = nodePath.dirname(dir);
        if (errnoCode(e) !== "ENOENT" || parent === dir) throw halErrorFrom(e, "freeBytes", ".");
        dir = parent;
      }
    }
  }

  stats(): HalStats {
    return this.counters.snapshot();
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // The operation already failed; its error is the one reported.
  }
}

/** unlink of a directory fails with EISDIR on Linux but EPERM on macOS; both become EINVAL. */
function unlinkError(e: unknown, full: string, op: string, path: string): HalError {
  if (errnoCode(e) === "EPERM") {
    try {
      if (fs.statSync(full).isDirectory()) return new HalError("EINVAL", op, path, "is a directory");
    } catch {
      // Fall through to the plain mapping.
    }
  }
  return halErrorFrom(e, op, path);
}
