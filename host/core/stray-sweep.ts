// The stray-file sweep of forced cleanup: `.imx` and temp files in the storage directory that the
// core does not know (left by an older run, or by a spill the power cut short) are removed, so
// that forced cleanup leaves the directory holding only what the core still has queued.

import { HISTORY_DIR, IMX_SUFFIX, TMP_SUFFIX } from "../format/imx.js";
import { listFilesRecursive } from "../hal/atomic.js";
import type { Hal } from "../hal/hal.js";

/** Removes every `.imx` and temp file under history/ whose path is not in `known`; returns how many it removed. */
export function straysRemove(hal: Hal, known: ReadonlySet<string>): number {
  if (!hal.isDir(HISTORY_DIR)) return 0;
  let strays = 0;
  for (const path of listFilesRecursive(hal, HISTORY_DIR, "")) {
    if ((!path.endsWith(IMX_SUFFIX) && !path.endsWith(TMP_SUFFIX)) || known.has(path)) continue;
    try {
      hal.remove(path);
      strays++;
    } catch {
      // Counted by the HAL; a file that cannot be removed stays visible in diskFilesCount().
    }
  }
  return strays;
}

/** `.imx` files in the storage directory, counted from the directory itself. */
export function diskFilesCount(hal: Hal): number {
  if (!hal.isDir(HISTORY_DIR)) return 0;
  return listFilesRecursive(hal, HISTORY_DIR, IMX_SUFFIX).length;
}
