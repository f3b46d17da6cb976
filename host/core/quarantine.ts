// Quarantine: a file the core refuses (at boot recovery, or on a read while running) is moved to
// `corrupted/` rather than deleted, so that no data is destroyed and the next boot does not meet
// it again.

import { CORRUPTED_DIR, corruptedPathOf } from "../format/imx.js";
import { mkdirDurable, parentDir } from "../hal/atomic.js";
import type { Hal } from "../hal/hal.js";

/** A file refused (at boot recovery or on a read) and moved to `corrupted/` (the quarantine event's payload). */
export interface QuarantinedFile {
  /** Its path, relative to the storage directory. */
  path: string;
  /** Where it went under `corrupted/`, or null if it could not be moved. */
  movedTo: string | null;
  /** Why it was refused (the core's error code and what it means). */
  reason: string;
}

/** Moves `path` to corrupted/ (a numeric suffix when the name is taken); returns where, or null if it could not. */
export function quarantineMove(hal: Hal, path: string): string | null {
  try {
    mkdirDurable(hal, CORRUPTED_DIR);
    let target = corruptedPathOf(path);
    for (let n = 1; hal.exists(target) && n < 1000; n++) target = corruptedPathOf(path, n);
    hal.rename(path, target);
    // Both directory entries must be durable, or a power cut brings the file back to be quarantined again.
    hal.syncDir(CORRUPTED_DIR);
    hal.syncDir(parentDir(path));
    return target;
  } catch {
    // Could not move it: leave it in place (it is refused again next boot) rather than delete data.
    return null;
  }
}
