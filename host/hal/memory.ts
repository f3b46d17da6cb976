// An in-memory Hal with the same semantics and error codes as NodeFsHal on Linux, plus a simple
// durability model so tests can simulate a power cut with crash() and restart from what survived.
//
// Durability model (POSIX minimum, stricter than ext4's journal):
// - Files are inodes. Each keeps its current content and its durable content (null = never synced).
//   writeFile and appendFile change only the current content; syncFile copies current -> durable.
// - Directories are inodes with two entry tables: the current one and the durable one. mkdir,
//   writeFile and appendFile (when they create), rename, remove and removeTree change only the current table;
//   syncDir(dir) copies dir's current table -> durable. The root directory itself always exists.
//   So a new directory survives only once its parent has been synced (see mkdirDurable).
// - crash() rebuilds the tree from the durable tables, starting at the root:
//   - an entry that was created, renamed or removed since its directory's last syncDir reverts
//     (a created file disappears, a removed one comes back, a rename is undone in each directory
//     not synced since: rename a/x -> b/x with only b synced leaves x in both a and b);
//   - a surviving file gets its last synced content; a file whose entry is durable but whose
//     content was never synced survives empty (0 bytes), like a delayed-allocation filesystem;
//   - a directory that the durable tables reach twice (only after renaming directories without
//     syncing both parents) is kept at its first position in a depth-first walk in name order.
//   After crash() everything left is durable.
//
// Capacity model (optional, for "a filesystem smaller than the quota" and "a disk another process
// filled"): with `capacityBytes` set, the bytes of the visible files count against it (directories
// and names are free). A writeFile that would pass it creates or truncates the file, lands the
// bytes that still fit and throws ENOSPC, as a real filesystem does; freeBytes() is what is left.
// remove, removeTree and a rename over a file give the bytes back; crash() recounts what survived.

import {
  type Hal,
  HalCounters,
  type HalDirEntry,
  HalError,
  type HalStats,
  pathJoin,
  relativePathCheck,
} from "./hal.js";

interface FileNode {
  readonly kind: "file";
  /** Current content; never mutated in place, so it can be shared with durableData and clones. */
  data: Uint8Array;
  /** Content as of the last syncFile; null if never synced. */
  durableData: Uint8Array | null;
}

interface DirNode {
  readonly kind: "dir";
  readonly children: Map<string, MemoryNode>;
  /** Entry table as of the last syncDir of this directory. */
  durableChildren: Map<string, MemoryNode>;
}

type MemoryNode = FileNode | DirNode;

/** The visible tree of a MemoryHal: every directory (not ".") and file path, sorted, with copied contents. */
export interface MemorySnapshot {
  readonly dirs: string[];
  readonly files: Map<string, Uint8Array>;
}

const EMPTY = new Uint8Array(0);

function dirNew(): DirNode {
  return { kind: "dir", children: new Map(), durableChildren: new Map() };
}

/** What a MemoryHal takes. */
export interface MemoryHalOptions {
  /** The filesystem's size in bytes (see the capacity model above); null or absent for unlimited. */
  capacityBytes?: number | null;
}

/** Bytes of every file under `dir`, however deep (the tree is finite and has no cycles). */
function treeBytes(dir: DirNode): number {
  let total = 0;
  for (const child of dir.children.values()) total += child.kind === "file" ? child.data.byteLength : treeBytes(child);
  return total;
}

export class MemoryHal implements Hal {
  readonly kind = "memory";
  private root: DirNode = dirNew();
  private readonly counters = new HalCounters();
  private capacity: number | null;
  /** Bytes of the visible files (kept up to date by every call that changes one). */
  private used = 0;

  constructor(options: MemoryHalOptions = {}) {
    this.capacity = MemoryHal.capacityChecked(options.capacityBytes ?? null);
  }

  private static capacityChecked(bytes: number | null): number | null {
    if (bytes !== null && !(Number.isSafeInteger(bytes) && bytes >= 0)) {
      throw new RangeError(`MemoryHal: capacityBytes must be a non-negative integer or null (got ${bytes})`);
    }
    return bytes;
  }

  /** The filesystem's size in bytes, or null for unlimited. */
  get capacityBytes(): number | null {
    return this.capacity;
  }

  /** Resizes the filesystem (smaller than what is used leaves no room, nothing is removed). */
  set capacityBytes(bytes: number | null) {
    this.capacity = MemoryHal.capacityChecked(bytes);
  }

  /** Bytes the visible files hold (what counts against capacityBytes). */
  usedBytes(): number {
    return this.used;
  }

  /** The node at `path`, or undefined if it or a parent is missing; ENOTDIR if a parent is a file. */
  private find(op: string, path: string): MemoryNode | undefined {
    if (path === ".") return this.root;
    let node: MemoryNode = this.root;
    for (const segment of path.split("/")) {
      if (node.kind !== "dir") throw new HalError("ENOTDIR", op, path, "not a directory");
      const child: MemoryNode | undefined = node.children.get(segment);
      if (child === undefined) return undefined;
      node = child;
    }
    return node;
  }

  /** find() that treats a file parent as missing. */
  private findQuiet(path: string): MemoryNode | undefined {
    try {
      return this.find("", path);
    } catch {
      return undefined;
    }
  }

  /** The existing directory holding `path` (not "."), and the last segment; ENOENT/ENOTDIR otherwise. */
  private parentOf(op: string, path: string): { parent: DirNode; name: string } {
    const segments = path.split("/");
    const name = segments.pop() as string;
    let node: MemoryNode = this.root;
    for (const segment of segments) {
      if (node.kind !== "dir") throw new HalError("ENOTDIR", op, path, "not a directory");
      const child: MemoryNode | undefined = node.children.get(segment);
      if (child === undefined) throw new HalError("ENOENT", op, path, "no such file or directory");
      node = child;
    }
    if (node.kind !== "dir") throw new HalError("ENOTDIR", op, path, "not a directory");
    return { parent: node, name };
  }

  /** The existing file at `path`; ENOENT if missing, EINVAL if a directory. */
  private fileAt(op: string, path: string): FileNode {
    const node = this.find(op, path);
    if (node === undefined) throw new HalError("ENOENT", op, path, "no such file or directory");
    if (node.kind !== "file") throw new HalError("EINVAL", op, path, "is a directory");
    return node;
  }

  /** The existing directory at `path`; ENOENT if missing, ENOTDIR if a file. */
  private dirAt(op: string, path: string): DirNode {
    const node = this.find(op, path);
    if (node === undefined) throw new HalError("ENOENT", op, path, "no such file or directory");
    if (node.kind !== "dir") throw new HalError("ENOTDIR", op, path, "not a directory");
    return node;
  }

  mkdir(dir: string): void {
    this.counters.calls.mkdir++;
    relativePathCheck("mkdir", dir);
    if (dir === ".") return;
    const segments = dir.split("/");
    let node: DirNode = this.root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string;
      let child = node.children.get(segment);
      if (child === undefined) {
        child = dirNew();
        node.children.set(segment, child);
      } else if (child.kind !== "dir") {
        const last = i === segments.length - 1;
        throw new HalError(last ? "EEXIST" : "ENOTDIR", "mkdir", dir, last ? "file exists" : "not a directory");
      }
      node = child;
    }
  }

  writeFile(path: string, data: Uint8Array): void {
    this.counters.calls.writeFile++;
    relativePathCheck("writeFile", path);
    if (path === ".") throw new HalError("EINVAL", "writeFile", path, "is a directory");
    const { parent, name } = this.parentOf("writeFile", path);
    const existing = parent.children.get(name);
    if (existing !== undefined && existing.kind === "dir") {
      throw new HalError("EINVAL", "writeFile", path, "is a directory");
    }
    const oldBytes = existing === undefined ? 0 : existing.data.byteLength;
    const room = this.capacity === null ? Infinity : Math.max(0, this.capacity - (this.used - oldBytes));
    const full = data.byteLength > room;
    const copy = full ? data.slice(0, room) : data.slice();
    if (existing === undefined) {
      parent.children.set(name, { kind: "file", data: copy, durableData: null });
      this.counters.filesCreated++;
    } else {
      existing.data = copy;
    }
    this.used += copy.byteLength - oldBytes;
    if (full) throw new HalError("ENOSPC", "writeFile", path, "no space left on device");
    this.counters.bytesWritten += copy.byteLength;
  }

  appendFile(path: string, data: Uint8Array): void {
    this.counters.calls.appendFile++;
    relativePathCheck("appendFile", path);
    if (path === ".") throw new HalError("EINVAL", "appendFile", path, "is a directory");
    const { parent, name } = this.parentOf("appendFile", path);
    const existing = parent.children.get(name);
    if (existing !== undefined && existing.kind === "dir") {
      throw new HalError("EINVAL", "appendFile", path, "is a directory");
    }
    const room = this.capacity === null ? Infinity : Math.max(0, this.capacity - this.used);
    const full = data.byteLength > room;
    const landed = full ? data.subarray(0, room) : data;
    if (existing === undefined) {
      parent.children.set(name, { kind: "file", data: landed.slice(), durableData: null });
      this.counters.filesCreated++;
    } else {
      // A new array: the old content may be shared with durableData and clones.
      const grown = new Uint8Array(existing.data.byteLength + landed.byteLength);
      grown.set(existing.data, 0);
      grown.set(landed, existing.data.byteLength);
      existing.data = grown;
    }
    this.used += landed.byteLength;
    if (full) throw new HalError("ENOSPC", "appendFile", path, "no space left on device");
    this.counters.bytesWritten += landed.byteLength;
  }

  syncFile(path: string): void {
    this.counters.calls.syncFile++;
    relativePathCheck("syncFile", path);
    const file = this.fileAt("syncFile", path);
    file.durableData = file.data;
    this.counters.syncs++;
  }

  rename(from: string, to: string): void {
    this.counters.calls.rename++;
    relativePathCheck("rename", from);
    relativePathCheck("rename", to);
    if (from === ".") throw new HalError("EINVAL", "rename", from, "cannot rename the root");
    if (to === ".") throw new HalError("EINVAL", "rename", to, "cannot rename onto the root");
    const source = this.parentOf("rename", from);
    const target = this.parentOf("rename", to);
    const node = source.parent.children.get(source.name);
    if (node === undefined) throw new HalError("ENOENT", "rename", from, "no such file or directory");
    if (to.startsWith(from + "/")) {
      throw new HalError("EINVAL", "rename", from, "cannot move a directory into itself");
    }
    if (from.startsWith(to + "/")) {
      throw new HalError("EEXIST", "rename", from, "target directory not empty");
    }
    const replaced = target.parent.children.get(target.name);
    if (replaced === node) return;
    if (replaced !== undefined) {
      if (node.kind === "dir" && replaced.kind === "file") {
        throw new HalError("ENOTDIR", "rename", from, "target is not a directory");
      }
      if (node.kind === "file" && replaced.kind === "dir") {
        throw new HalError("EINVAL", "rename", from, "target is a directory");
      }
      if (replaced.kind === "dir" && replaced.children.size > 0) {
        throw new HalError("EEXIST", "rename", from, "target directory not empty");
      }
    }
    source.parent.children.delete(source.name);
    target.parent.children.set(target.name, node);
    if (replaced !== undefined && replaced.kind === "file") this.used -= replaced.data.byteLength;
  }

  syncDir(dir: string): void {
    this.counters.calls.syncDir++;
    relativePathCheck("syncDir", dir);
    const node = this.dirAt("syncDir", dir);
    node.durableChildren = new Map(node.children);
    this.counters.syncs++;
  }

  readFile(path: string): Uint8Array {
    this.counters.calls.readFile++;
    relativePathCheck("readFile", path);
    const data = this.fileAt("readFile", path).data.slice();
    this.counters.bytesRead += data.byteLength;
    return data;
  }

  readFileInto(path: string, into: Uint8Array): number {
    this.counters.calls.readFileInto++;
    relativePathCheck("readFileInto", path);
    const data = this.fileAt("readFileInto", path).data;
    const count = Math.min(data.byteLength, into.byteLength);
    into.set(count === data.byteLength ? data : data.subarray(0, count));
    this.counters.bytesRead += count;
    return count;
  }

  fileSize(path: string): number {
    this.counters.calls.fileSize++;
    relativePathCheck("fileSize", path);
    return this.fileAt("fileSize", path).data.byteLength;
  }

  private unlink(op: string, path: string): void {
    relativePathCheck(op, path);
    if (path === ".") throw new HalError("EINVAL", op, path, "is a directory");
    const { parent, name } = this.parentOf(op, path);
    const node = parent.children.get(name);
    if (node === undefined) throw new HalError("ENOENT", op, path, "no such file or directory");
    if (node.kind === "dir") throw new HalError("EINVAL", op, path, "is a directory");
    parent.children.delete(name);
    this.used -= node.data.byteLength;
    this.counters.filesRemoved++;
  }

  remove(path: string): void {
    this.counters.calls.remove++;
    this.unlink("remove", path);
  }

  async removeAsync(path: string): Promise<void> {
    this.counters.calls.removeAsync++;
    // Like the node-fs version, the file is still there when the call returns.
    await Promise.resolve();
    this.unlink("removeAsync", path);
  }

  list(dir: string): string[] {
    this.counters.calls.list++;
    relativePathCheck("list", dir);
    return [...this.dirAt("list", dir).children.keys()].sort();
  }

  /** list() with each entry's kind (counted as a list call). */
  listEntries(dir: string): HalDirEntry[] {
    this.counters.calls.list++;
    relativePathCheck("list", dir);
    const entries: HalDirEntry[] = [];
    for (const [name, node] of this.dirAt("list", dir).children) entries.push({ name, isDir: node.kind === "dir" });
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  isDir(path: string): boolean {
    this.counters.calls.isDir++;
    relativePathCheck("isDir", path);
    return this.findQuiet(path)?.kind === "dir";
  }

  exists(path: string): boolean {
    this.counters.calls.exists++;
    relativePathCheck("exists", path);
    return this.findQuiet(path) !== undefined;
  }

  removeTree(dir: string): void {
    this.counters.calls.removeTree++;
    relativePathCheck("removeTree", dir);
    if (dir === ".") throw new HalError("EINVAL", "removeTree", dir, "cannot remove the root");
    let located: { parent: DirNode; name: string };
    try {
      located = this.parentOf("removeTree", dir);
    } catch (e) {
      if (e instanceof HalError && e.code === "ENOENT") return;
      throw e;
    }
    const node = located.parent.children.get(located.name);
    if (node === undefined) return;
    located.parent.children.delete(located.name);
    this.used -= node.kind === "file" ? node.data.byteLength : treeBytes(node);
  }

  /** What is left of capacityBytes; Infinity without a capacity. */
  freeBytes(): number {
    this.counters.calls.freeBytes++;
    return this.capacity === null ? Infinity : Math.max(0, this.capacity - this.used);
  }

  stats(): HalStats {
    return this.counters.snapshot();
  }

  /** Simulates a power cut: keeps only what was made durable (see the model at the top of the file). */
  crash(): void {
    const seen = new Set<DirNode>();
    const rebuild = (dir: DirNode): DirNode => {
      seen.add(dir);
      const out = dirNew();
      const names = [...dir.durableChildren.keys()].sort();
      for (const name of names) {
        const child = dir.durableChildren.get(name) as MemoryNode;
        let survivor: MemoryNode;
        if (child.kind === "file") {
          const data = child.durableData ?? EMPTY;
          survivor = { kind: "file", data, durableData: data };
        } else {
          if (seen.has(child)) continue;
          survivor = rebuild(child);
        }
        out.children.set(name, survivor);
      }
      out.durableChildren = new Map(out.children);
      return out;
    };
    this.root = rebuild(this.root);
    this.used = treeBytes(this.root);
  }

  /**
   * True if `path` would come through crash() unchanged: every entry on the way to it has been
   * synced into its directory and, for a file, its current content has been synced.
   */
  isDurable(path: string): boolean {
    relativePathCheck("isDurable", path);
    if (path === ".") return true;
    let node: MemoryNode = this.root;
    for (const segment of path.split("/")) {
      if (node.kind !== "dir") return false;
      const child: MemoryNode | undefined = node.children.get(segment);
      if (child === undefined || node.durableChildren.get(segment) !== child) return false;
      node = child;
    }
    return node.kind === "dir" || node.durableData === node.data;
  }

  /** A deep copy of the whole state, durability included, with fresh stats. */
  clone(): MemoryHal {
    const copies = new Map<MemoryNode, MemoryNode>();
    const copy = (node: MemoryNode): MemoryNode => {
      const existing = copies.get(node);
      if (existing !== undefined) return existing;
      if (node.kind === "file") {
        const file: FileNode = { kind: "file", data: node.data, durableData: node.durableData };
        copies.set(node, file);
        return file;
      }
      const dir = dirNew();
      copies.set(node, dir);
      for (const [name, child] of node.children) dir.children.set(name, copy(child));
      for (const [name, child] of node.durableChildren) dir.durableChildren.set(name, copy(child));
      return dir;
    };
    const hal = new MemoryHal({ capacityBytes: this.capacity });
    hal.root = copy(this.root) as DirNode;
    hal.used = this.used;
    return hal;
  }

  /** The visible directories and files, with copies of their contents. */
  snapshot(): MemorySnapshot {
    const dirs: string[] = [];
    const files = new Map<string, Uint8Array>();
    const walk = (dir: DirNode, prefix: string): void => {
      for (const name of [...dir.children.keys()].sort()) {
        const child = dir.children.get(name) as MemoryNode;
        const path = pathJoin(prefix, name);
        if (child.kind === "dir") {
          dirs.push(path);
          walk(child, path);
        } else {
          files.set(path, child.data.slice());
        }
      }
    };
    walk(this.root, ".");
    return { dirs: dirs.sort(), files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
  }
}
