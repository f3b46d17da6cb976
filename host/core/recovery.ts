// Boot recovery on the host side: scan the storage directory a previous run left, remove
// half-written temp files, hand the positions file and every `.imx` file (in stream and sequence
// order) to the core, quarantine what it refuses in `corrupted/`, delete files it reports fully
// acknowledged, and report what happened.

import {
  HISTORY_DIR,
  IMX_HEADER_BYTES,
  IMX_SUFFIX,
  imxHeaderRead,
  imxPathFormat,
  imxPathParse,
  TMP_SUFFIX,
} from "../format/imx.js";
import { POSITIONS_PATH } from "../format/positions.js";
import { listFilesRecursive } from "../hal/atomic.js";
import { type Hal, HalError } from "../hal/hal.js";
import * as abi from "./abi.generated.js";
import type { CoreExports } from "./core-exports.generated.js";
import { errorCodeName } from "./errors.js";
import { type QuarantinedFile, quarantineMove } from "./quarantine.js";

export interface RecoveryReport {
  durationMs: number;
  filesRead: number;
  filesKept: number;
  filesQuarantined: number;
  filesDeleted: number;
  tempFilesRemoved: number;
  positionsRecovered: boolean;
  streamsRecovered: number;
  recordsRecovered: number;
  /** Records the previous run had numbered but not yet written to disk or acknowledged: lost with RAM. */
  recordsLostRam: number;
  quarantined: QuarantinedFile[];
}

interface ImxEntry {
  path: string;
  source: number;
  sensor: number;
  firstSeq: number;
}

function quarantine(hal: Hal, path: string, reason: string, report: RecoveryReport, log: (line: string) => void): void {
  const movedTo = quarantineMove(hal, path);
  report.filesQuarantined++;
  report.quarantined.push({ path, movedTo, reason });
  log(`[imx:recovery] quarantined ${path}: ${reason}${movedTo ? ` (moved to ${movedTo})` : " (could not move it)"}`);
}

/**
 * Boot recovery could not read the storage (an I/O error that persisted after a retry). The boot
 * is refused and nothing has been quarantined or deleted for it: a later boot can try again.
 */
export class RecoveryIoError extends Error {
  constructor(
    readonly path: string,
    override readonly cause: unknown,
  ) {
    super(
      `boot recovery cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}; nothing was changed for it, boot again to retry`,
    );
    this.name = "RecoveryIoError";
  }
}

/** Runs `op`, once more after an I/O error; a second I/O error becomes RecoveryIoError. */
function retried<T>(path: string, op: () => T): T {
  try {
    return op();
  } catch {
    try {
      return op();
    } catch (e) {
      throw new RecoveryIoError(path, e);
    }
  }
}

/**
 * Reads `path` into the core's I/O buffer; returns its length, null if it vanished, or the reason
 * its content cannot be a file this board wrote. I/O errors throw RecoveryIoError.
 */
function load(hal: Hal, core: CoreExports, memory: WebAssembly.Memory, path: string): number | string | null {
  const capacity = core.ioBufferBytes();
  try {
    const size = retried(path, () => hal.fileSize(path));
    if (size > capacity) return `file is ${size} bytes, larger than any file this board writes (${capacity})`;
    return retried(path, () => hal.readFileInto(path, new Uint8Array(memory.buffer, core.ioBufferPtr(), capacity)));
  } catch (e) {
    if (e instanceof RecoveryIoError && e.cause instanceof HalError && e.cause.code === "ENOENT") return null;
    throw e;
  }
}

export function recoverStorage(
  hal: Hal,
  core: CoreExports,
  memory: WebAssembly.Memory,
  log: (line: string) => void,
): RecoveryReport {
  const started = performance.now();
  const report: RecoveryReport = {
    durationMs: 0,
    filesRead: 0,
    filesKept: 0,
    filesQuarantined: 0,
    filesDeleted: 0,
    tempFilesRemoved: 0,
    positionsRecovered: false,
    streamsRecovered: 0,
    recordsRecovered: 0,
    recordsLostRam: 0,
    quarantined: [],
  };
  const paths = retried(`${HISTORY_DIR}/`, () =>
    hal.isDir(HISTORY_DIR) ? listFilesRecursive(hal, HISTORY_DIR, "") : [],
  );
  const imx: ImxEntry[] = [];
  let positions = false;
  for (const path of paths) {
    if (path.endsWith(TMP_SUFFIX)) {
      // A write that never reached its rename: the file it was to become never existed.
      try {
        hal.remove(path);
        report.tempFilesRemoved++;
      } catch (e) {
        // Harmless where it is (recovery never reads a temp file); a later write of that name replaces it.
        log(`[imx:recovery] could not remove temp file ${path}: ${(e as Error).message}`);
      }
      continue;
    }
    if (path === POSITIONS_PATH) {
      positions = true;
      continue;
    }
    const name = imxPathParse(path);
    if (name) {
      imx.push({ path, source: name.source, sensor: name.sensor, firstSeq: name.firstSeq });
    } else if (path.endsWith(IMX_SUFFIX)) {
      quarantine(hal, path, "name is not history/<bucket>/<source>_<sensor>_<20-digit first seq>.imx", report, log);
    }
  }

  const positionsLength = positions ? load(hal, core, memory, POSITIONS_PATH) : null;
  if (positionsLength !== null) {
    const length = positionsLength;
    report.filesRead++;
    const status = typeof length === "string" ? length : core.recoveryPositions(length);
    if (typeof status === "string") quarantine(hal, POSITIONS_PATH, status, report, log);
    else if (status < 0) quarantine(hal, POSITIONS_PATH, `refused: ${errorCodeName(status)}`, report, log);
    else report.positionsRecovered = true;
  }

  imx.sort((a, b) => a.source - b.source || a.sensor - b.sensor || a.firstSeq - b.firstSeq);
  for (const entry of imx) {
    const length = load(hal, core, memory, entry.path);
    if (length === null) continue; // vanished since the listing
    report.filesRead++;
    if (typeof length === "string") {
      quarantine(hal, entry.path, length, report, log);
      continue;
    }
    // The name must say what the header says, or the file is not where the core would look for it.
    const header = imxHeaderRead(new Uint8Array(memory.buffer, core.ioBufferPtr(), Math.min(length, IMX_HEADER_BYTES)));
    if (header !== null) {
      const nameMatches =
        header.source === entry.source && header.sensor === entry.sensor && header.firstSeq === entry.firstSeq;
      if (!nameMatches) {
        quarantine(hal, entry.path, "name does not match the header's stream and first sequence number", report, log);
        continue;
      }
      // Same numbers, other spelling (another bucket, leading zeros): the core would read another path.
      const canonical = imxPathFormat(header.source, header.sensor, header.firstSeq);
      if (entry.path !== canonical) {
        quarantine(hal, entry.path, `name is not the core's name for its header, ${canonical}`, report, log);
        continue;
      }
    }
    const status = core.recoveryFile(length);
    if (status === abi.OK) {
      report.filesKept++;
    } else if (status === abi.RECOVERY_FILE_ACKED) {
      try {
        hal.remove(entry.path);
        report.filesDeleted++;
      } catch (e) {
        log(`[imx:recovery] could not delete acknowledged file ${entry.path}: ${(e as Error).message}`);
      }
    } else {
      quarantine(hal, entry.path, `refused: ${errorCodeName(status)}`, report, log);
    }
  }

  const lostBefore = statAt(core, memory, abi.STAT_RECORDS_LOST_RAM);
  core.recoveryClose();
  report.recordsLostRam = statAt(core, memory, abi.STAT_RECORDS_LOST_RAM) - lostBefore;
  report.recordsRecovered = statAt(core, memory, abi.STAT_RECOVERY_RECORDS);
  report.streamsRecovered = core.streamsConfigured();
  report.durationMs = performance.now() - started;
  return report;
}

function statAt(core: CoreExports, memory: WebAssembly.Memory, index: number): number {
  return new Float64Array(memory.buffer, core.statsPointer(), abi.STAT_COUNT)[index] ?? 0;
}
