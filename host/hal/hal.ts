// The disk-tier HAL: the filesystem primitives the core uses to keep `.imx` files under one
// storage root, the error type every implementation throws, and the shared call counters.

/** What went wrong in a HAL operation: the POSIX error codes the disk tier tells apart. */
export type HalErrorCode = "ENOENT" | "ENOSPC" | "EIO" | "EACCES" | "EBUSY" | "EEXIST" | "ENOTDIR" | "EINVAL";

/** A failed HAL operation: `code` says what went wrong, `op` is the Hal method and `path` the relative path. */
export class HalError extends Error {
  constructor(
    readonly code: HalErrorCode,
    readonly op: string,
    readonly path: string,
    message?: string,
  ) {
    super(`${code}: ${op} '${path}'${message === undefined || message === "" ? "" : `: ${message}`}`);
    this.name = "HalError";
  }
}

/** The Hal methods, as counted in `HalStats.calls`. */
export type HalOp =
  | "mkdir"
  | "writeFile"
  | "appendFile"
  | "syncFile"
  | "rename"
  | "syncDir"
  | "readFile"
  | "readFileInto"
  | "fileSize"
  | "remove"
  | "removeAsync"
  | "list"
  | "isDir"
  | "exists"
  | "removeTree"
  | "freeBytes";

export const HAL_OPS: readonly HalOp[] = [
  "mkdir",
  "writeFile",
  "appendFile",
  "syncFile",
  "rename",
  "syncDir",
  "readFile",
  "readFileInto",
  "fileSize",
  "remove",
  "removeAsync",
  "list",
  "isDir",
  "exists",
  "removeTree",
  "freeBytes",
];

/**
 * Counters since the HAL was made. `calls` counts every call, failed ones included.
 * `bytesWritten` counts bytes passed to successful writeFile and appendFile calls, `bytesRead` bytes returned by
 * readFile/readFileInto, `filesCreated` writeFile/appendFile calls that created a new file (not overwrites),
 * `filesRemoved` successful remove/removeAsync calls (not removeTree, not files replaced by rename),
 * `syncs` successful syncFile + syncDir calls.
 */
export interface HalStats {
  readonly calls: Readonly<Record<HalOp, number>>;
  readonly bytesWritten: number;
  readonly bytesRead: number;
  readonly filesCreated: number;
  readonly filesRemoved: number;
  readonly syncs: number;
}

/**
 * Filesystem primitives over one storage root. Paths are relative, '/'-separated, never absolute,
 * never containing '..' (rejected with EINVAL); "." names the root itself. Every method either
 * succeeds or throws HalError.
 */
export interface Hal {
  /** "node-fs" | "memory" | ... */
  readonly kind: string;
  /** Creates `dir` and its missing parents; fine if it exists (EEXIST if it is a file). */
  mkdir(dir: string): void;
  /** Creates or truncates `path` and writes all of `data`; the parent dir must exist (ENOENT). */
  writeFile(path: string, data: Uint8Array): void;
  /**
   * Appends all of `data` to `path`, creating it (empty) first if missing; the parent dir must exist
   * (ENOENT). Like writeFile, the new bytes are durable only after syncFile, and a new file's entry
   * only after syncDir of its directory.
   */
  appendFile(path: string, data: Uint8Array): void;
  /** Makes the file's content durable (ENOENT if missing, EINVAL if a directory). */
  syncFile(path: string): void;
  /** Atomically moves `from` to `to`, replacing `to` if it is a file (or an empty directory when `from` is one). */
  rename(from: string, to: string): void;
  /** Makes the directory's entry list (creates, renames, removals in it) durable. */
  syncDir(dir: string): void;
  /** The whole file. */
  readFile(path: string): Uint8Array;
  /** Reads up to into.length bytes from the start of the file; returns the bytes read. */
  readFileInto(path: string, into: Uint8Array): number;
  /** The file's size in bytes; ENOENT if missing. */
  fileSize(path: string): number;
  /** Unlinks a file; ENOENT if missing, EINVAL if a directory. */
  remove(path: string): void;
  /** Same as remove, off the main loop; rejects with HalError. */
  removeAsync(path: string): Promise<void>;
  /** Names (files and dirs) directly in `dir`, sorted; ENOENT if missing, ENOTDIR if a file. */
  list(dir: string): string[];
  /**
   * The entries directly in `dir`, sorted by name, each saying whether it is a directory — one
   * listing instead of list() and an isDir() per name. Optional: halListEntries() falls back to
   * list() + isDir() for a Hal without it (a wrapper that changes list or isDir must not forward it).
   */
  listEntries?(dir: string): HalDirEntry[];
  /** False if missing. */
  isDir(path: string): boolean;
  /** Whether a file or directory is at `path`. */
  exists(path: string): boolean;
  /** rm -rf of a directory or file; fine if missing; "." is refused (EINVAL). */
  removeTree(dir: string): void;
  /**
   * Bytes the filesystem under the storage root can still take (what an unprivileged writer may
   * use); Infinity when the filesystem has no known limit. A query that fails throws HalError.
   */
  freeBytes(): number;
  /** The calls made so far, by method, and the bytes read and written. */
  stats(): HalStats;
}

/** One entry of Hal.listEntries: a name in the directory and whether it is a directory itself. */
export interface HalDirEntry {
  readonly name: string;
  readonly isDir: boolean;
}

/** `hal.listEntries(dir)`, or list() with an isDir() per name when the Hal has no listEntries. */
export function halListEntries(hal: Hal, dir: string): HalDirEntry[] {
  if (hal.listEntries !== undefined) return hal.listEntries(dir);
  return hal.list(dir).map((name) => ({ name, isDir: hal.isDir(pathJoin(dir, name)) }));
}

/** Mutable counters behind `Hal.stats()`, shared by the implementations. */
export class HalCounters {
  readonly calls: Record<HalOp, number> = {
    mkdir: 0,
    writeFile: 0,
    appendFile: 0,
    syncFile: 0,
    rename: 0,
    syncDir: 0,
    readFile: 0,
    readFileInto: 0,
    fileSize: 0,
    remove: 0,
    removeAsync: 0,
    list: 0,
    isDir: 0,
    exists: 0,
    removeTree: 0,
    freeBytes: 0,
  };
  bytesWritten = 0;
  bytesRead = 0;
  filesCreated = 0;
  filesRemoved = 0;
  syncs = 0;

  snapshot(): HalStats {
    return {
      calls: { ...this.calls },
      bytesWritten: this.bytesWritten,
      bytesRead: this.bytesRead,
      filesCreated: this.filesCreated,
      filesRemoved: this.filesRemoved,
      syncs: this.syncs,
    };
  }
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const NUL = 0;

/**
 * Throws EINVAL unless `path` is "." or a relative path of non-empty '/'-separated segments with no
 * "." or ".." segment, no backslash and no NUL. Does not touch the filesystem.
 */
export function relativePathCheck(op: string, path: string): void {
  const length = path.length;
  if (length === 0) throw new HalError("EINVAL", op, path, "empty path");
  if (length === 1 && path.charCodeAt(0) === DOT) return;
  let start = 0;
  for (let i = 0; i <= length; i++) {
    const c = i === length ? SLASH : path.charCodeAt(i);
    if (c === SLASH) {
      const segmentLength = i - start;
      if (segmentLength === 0) {
        throw new HalError("EINVAL", op, path, start === 0 ? "absolute path" : "empty path segment");
      }
      if (
        path.charCodeAt(start) === DOT &&
        (segmentLength === 1 || (segmentLength === 2 && path.charCodeAt(start + 1) === DOT))
      ) {
        throw new HalError("EINVAL", op, path, "'.' or '..' segment");
      }
      start = i + 1;
    } else if (c === BACKSLASH || c === NUL) {
      throw new HalError("EINVAL", op, path, "backslash or NUL in path");
    }
  }
}

/** The directory holding `path`: "a/b/c" -> "a/b", "c" -> ".". */
export function parentDir(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "." : path.slice(0, slash);
}

/** `dir` joined with `name`, treating "." as the root. */
export function pathJoin(dir: string, name: string): string {
  return dir === "." ? name : `${dir}/${name}`;
}

const NODE_CODE_MAP: Readonly<Record<string, HalErrorCode>> = {
  ENOENT: "ENOENT",
  ENOSPC: "ENOSPC",
  EDQUOT: "ENOSPC",
  EIO: "EIO",
  EACCES: "EACCES",
  EPERM: "EACCES",
  EROFS: "EACCES",
  EBUSY: "EBUSY",
  EEXIST: "EEXIST",
  ENOTEMPTY: "EEXIST",
  ENOTDIR: "ENOTDIR",
  EISDIR: "EINVAL",
  EINVAL: "EINVAL",
  ENAMETOOLONG: "EINVAL",
};

/**
 * The HalErrorCode for an error: a HalError keeps its code, a Node errno error is mapped
 * (EDQUOT -> ENOSPC, EPERM/EROFS -> EACCES, ENOTEMPTY -> EEXIST, EISDIR/ENAMETOOLONG -> EINVAL),
 * anything else is EIO.
 */
export function halErrorCode(e: unknown): HalErrorCode {
  if (e instanceof HalError) return e.code;
  if (typeof e === "object" && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return NODE_CODE_MAP[code] ?? "EIO";
  }
  return "EIO";
}

/** `e` as a HalError for `op` on `path` (a HalError is returned as is; the original is kept as `cause`). */
export function halErrorFrom(e: unknown, op: string, path: string): HalError {
  if (e instanceof HalError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const error = new HalError(halErrorCode(e), op, path, message);
  error.cause = e;
  return error;
}
