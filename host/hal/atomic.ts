// Helpers built on the Hal primitives: crash-safe file replacement, durable directory creation and
// a bounded recursive file listing.

import { TMP_SUFFIX } from "../format/imx.js";
import { type Hal, HalError, halListEntries, parentDir, pathJoin } from "./hal.js";

export { halErrorCode, parentDir } from "./hal.js";
/** Suffix of the temporary file writeFileAtomic writes before renaming it into place (SPEC.md 6.1). */
export { TMP_SUFFIX };

/** How many directory levels below its `dir` listFilesRecursive descends. */
export const LIST_DEPTH_MAX = 4;

/**
 * Thrown by writeFileAtomic when the new file is already in place under its final name but the
 * directory fsync after the rename failed (twice): the write is visible, only its durability is
 * in doubt until the directory is synced.
 */
export class DirSyncError extends HalError {
  constructor(
    readonly dir: string,
    cause: HalError,
  ) {
    super(cause.code, "syncDir", dir, "the file is in place; the directory fsync after the rename failed");
    this.name = "DirSyncError";
  }
}

/**
 * Replaces `path` with `data` so that after a crash it holds either the old or the new content:
 * writes `path + ".tmp"`, syncs it, renames it over `path` and syncs the parent directory.
 * On failure before the rename it removes the temporary file (best effort) and rethrows; a
 * directory fsync that fails after the rename is tried once more, then reported as DirSyncError.
 */
export function writeFileAtomic(hal: Hal, path: string, data: Uint8Array): void {
  const tmpPath = path + TMP_SUFFIX;
  try {
    hal.writeFile(tmpPath, data);
    hal.syncFile(tmpPath);
    hal.rename(tmpPath, path);
  } catch (e) {
    try {
      hal.remove(tmpPath);
    } catch {
      // The temporary file may never have been created; the original error is what matters.
    }
    throw e;
  }
  const dir = parentDir(path);
  try {
    hal.syncDir(dir);
  } catch {
    try {
      hal.syncDir(dir);
    } catch (e) {
      throw new DirSyncError(dir, e instanceof HalError ? e : new HalError("EIO", "syncDir", dir));
    }
  }
}

/**
 * Creates `dir` and its missing parents, syncing each new directory's parent so the new entries
 * survive a crash (plain mkdir only creates them).
 */
export function mkdirDurable(hal: Hal, dir: string): void {
  if (dir === "." || hal.isDir(dir)) {
    hal.mkdir(dir);
    return;
  }
  const segments = dir.split("/");
  let prefix = ".";
  for (const segment of segments) {
    const next = pathJoin(prefix, segment);
    if (!hal.isDir(next)) {
      hal.mkdir(next);
      hal.syncDir(prefix);
    }
    prefix = next;
  }
}

/**
 * Paths (relative to the HAL root, e.g. "dir/a/x.imx") of the files under `dir` whose names end
 * with `suffix`, sorted: one listing per directory (Hal.listEntries), no stat per entry. Descends at most LIST_DEPTH_MAX directory levels below `dir`; deeper
 * files are not listed. Throws like Hal.list if `dir` is missing or not a directory.
 */
export function listFilesRecursive(hal: Hal, dir: string, suffix: string): string[] {
  const found: string[] = [];
  const walk = (current: string, depth: number): void => {
    for (const { name, isDir } of halListEntries(hal, current)) {
      const path = pathJoin(current, name);
      if (isDir) {
        if (depth < LIST_DEPTH_MAX) walk(path, depth + 1);
      } else if (name.endsWith(suffix)) {
        found.push(path);
      }
    }
  };
  walk(dir, 0);
  return found.sort();
}
