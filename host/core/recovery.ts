// Boot recovery on the host side: scan the storage directory a previous run left, remove
// half-written temp files, move every valid `.imx` file found under another name (another bucket
// directory, a leading zero, other numbers than its header's) to the name the core gives it, hand
// the positions file and every `.imx` file (in stream and sequence order) to the core, quarantine
// what it refuses in `corrupted/`, delete files it reports fully acknowledged, and report what
// happened. The core reads a file only under its own name (SPEC.md 6.1), so after recovery every
// file it knows is where it will look.
//
// A move is crash-safe (SPEC.md 6.4): rename, fsync the target directory, then fsync the source
// directory. A power cut before the target's fsync leaves the file where it was (or in place); one
// after it leaves it in place, and perhaps also still at its old name: the next boot finds that
// byte-identical copy and removes it. All of it happens before the core reads or acknowledges
// anything, so no record is delivered twice after an ACK.

import {
  HISTORY_DIR,
  IMX_HEADER_BYTES,
  IMX_SUFFIX,
  imxCheck,
  imxHeaderRead,
  imxPathFormat,
  imxPathParse,
  TMP_SUFFIX,
} from "../format/imx.js";
import { ACK_LOG_PATH, ACK_RECORD_BYTES, ackLogScan, POSITIONS_PATH } from "../format/positions.js";
import { listFilesRecursive, mkdirDurable, parentDir } from "../hal/atomic.js";
import { type Hal, HalError } from "../hal/hal.js";
import * as abi from "./abi.generated.js";
import type { CoreExports } from "./core-exports.generated.js";
import { errorCodeName } from "./errors.js";
import { type QuarantinedFile, quarantineMove } from "./quarantine.js";

/** What boot recovery found and did on a storage directory (device.recovery). */
export interface RecoveryReport {
  /** Time the recovery took, ms (it blocks Device.create). */
  durationMs: number;
  /** File reads (a file moved into place is read again there). */
  filesRead: number;
  filesKept: number;
  filesQuarantined: number;
  filesDeleted: number;
  /** Valid files found under another name and moved to the core's name for them (see `moved`). */
  filesMoved: number;
  /** Byte-identical copies of a file in place (a move a power cut interrupted), removed. */
  copiesRemoved: number;
  tempFilesRemoved: number;
  positionsRecovered: boolean;
  streamsRecovered: number;
  recordsRecovered: number;
  /**
   * Records the previous run is known for certain to have lost with RAM. A completed flush leaves
   * RAM empty and says so in the positions file; after a power cut nothing is certain: see recordsLostRamMax.
   */
  recordsLostRam: number;
  /**
   * At most this many records were lost with RAM: for each stream the previous run did not close,
   * the numbers between its data on disk and where numbering resumes, capped by what RAM could hold.
   */
  recordsLostRamMax: number;
  /** Valid records read from the ACK log (history/acks.imxa). */
  ackRecordsRecovered: number;
  quarantined: QuarantinedFile[];
  moved: MovedFile[];
  /** Every file recovery removed, and why (the counts above count them too). */
  removed: RemovedFile[];
}

/**
 * A file boot recovery removed: a temp file of a write that never reached its rename, a file whose
 * records were all acknowledged, or a byte-identical copy of the file in place at `of`.
 */
export interface RemovedFile {
  path: string;
  why: "temp" | "acknowledged" | "copy";
  of: string | null;
}

/** A valid `.imx` file recovery moved from where it was found to the core's name for its header. */
export interface MovedFile {
  from: string;
  to: string;
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
    action: "read" | "move" = "read",
  ) {
    super(
      `boot recovery cannot ${action} ${path}: ${cause instanceof Error ? cause.message : String(cause)}; ` +
        (action === "read" ? "nothing was changed for it" : "its records are not lost") +
        ", boot again to retry",
    );
    this.name = "RecoveryIoError";
  }
}

/** Runs `op`, once more after an I/O error; a second I/O error becomes RecoveryIoError. */
function retried<T>(path: string, op: () => T, action: "read" | "move" = "read"): T {
  try {
    return op();
  } catch {
    try {
      return op();
    } catch (e) {
      throw new RecoveryIoError(path, e, action);
    }
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof RecoveryIoError && e.cause instanceof HalError && e.cause.code === "ENOENT";
}

/**
 * Reads `path` into the core's I/O buffer; returns its length, null if it vanished, or the reason
 * its content cannot be a file this board wrote. I/O errors throw RecoveryIoError.
 */
function load(hal: Hal, core: CoreExports, memory: WebAssembly.Memory, path: string): number | string | null {
  const capacity = core.ioBufferBytes();
  try {
    // One read into the buffer, no stat first: only a file that fills the buffer is looked at again.
    const length = retried(path, () =>
      hal.readFileInto(path, new Uint8Array(memory.buffer, core.ioBufferPtr(), capacity)),
    );
    if (length < capacity) return length;
    const size = retried(path, () => hal.fileSize(path));
    if (size > capacity) return `file is ${size} bytes, larger than any file this board writes (${capacity})`;
    return length;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** The whole file, or null if it is missing; I/O errors throw RecoveryIoError. */
function readWhole(hal: Hal, path: string): Uint8Array | null {
  try {
    return retried(path, () => hal.readFile(path));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Orders entries as the core must be given them: by stream, then first sequence number. */
function entryCompare(a: ImxEntry, b: ImxEntry): number {
  return a.source - b.source || a.sensor - b.sensor || a.firstSeq - b.firstSeq;
}

/** How many files in place a move may push on to their own names (a chain of swapped names). */
const MOVE_CHAIN_MAX = 4;

/**
 * Places `data`, a valid `.imx` file found at `path`, which is not the core's name for its header
 * (`target`). If `target` is free the file is moved there. If it is taken by a byte-identical copy
 * (a move a power cut interrupted), `path` is removed. If it is taken by a file that fails the
 * format's checks, that one is quarantined and this one takes its place. If it is taken by a valid
 * file that is itself under another file's name, that one moves on to its own name first. If it is
 * taken by a valid file of that very name, the file in place is kept and this one quarantined.
 * Every file moved is handed to `enqueue` under its new name. Persistent I/O errors throw
 * RecoveryIoError (nothing is lost: the next boot finds the file again).
 */
function misplacedPlace(
  hal: Hal,
  path: string,
  target: string,
  data: Uint8Array,
  placement: Placement,
  depth = 0,
): void {
  const { report, log } = placement;
  const targetDir = parentDir(target);
  const sourceDir = parentDir(path);
  const inPlace = readWhole(hal, target);
  if (inPlace !== null) {
    if (bytesEqual(inPlace, data)) {
      // The copy in place must be durable before this one goes.
      retried(targetDir, () => hal.syncDir(targetDir), "move");
      retried(path, () => hal.remove(path), "move");
      retried(sourceDir, () => hal.syncDir(sourceDir), "move");
      report.copiesRemoved++;
      report.removed.push({ path, why: "copy", of: target });
      log(`[imx:recovery] removed ${path}: a byte-identical copy of ${target}, which is in place`);
      return;
    }
    const fault = imxCheck(inPlace);
    const header = imxHeaderRead(inPlace);
    if (fault !== null || header === null) {
      quarantine(
        hal,
        target,
        `refused: ${fault ?? "E_IMX_MAGIC"}; a valid file for this name was found at ${path}`,
        report,
        log,
      );
    } else {
      const own = imxPathFormat(header.source, header.sensor, header.firstSeq);
      if (own === target || depth >= MOVE_CHAIN_MAX) {
        quarantine(
          hal,
          path,
          `another valid file is in place at ${target}, the core's name for this one's header; that one is kept`,
          report,
          log,
        );
        return;
      }
      // The file in place is under another file's name: it goes on to its own first.
      misplacedPlace(hal, target, own, inPlace, placement, depth + 1);
    }
    if (hal.exists(target)) return; // could not be moved aside: this one stays where it is, unread
  }
  retried(targetDir, () => mkdirDurable(hal, targetDir), "move");
  retried(path, () => hal.rename(path, target), "move");
  // The new name first: until the target directory is durable, the old name is the one that survives.
  retried(targetDir, () => hal.syncDir(targetDir), "move");
  retried(sourceDir, () => hal.syncDir(sourceDir), "move");
  report.filesMoved++;
  report.moved.push({ from: path, to: target });
  log(`[imx:recovery] moved ${path} to ${target}, the core's name for its header`);
  const moved = imxHeaderRead(data);
  if (moved !== null)
    placement.enqueue({ path: target, source: moved.source, sensor: moved.sensor, firstSeq: moved.firstSeq });
}

/** Where misplacedPlace reports, and how it hands a moved file to the core's queue. */
interface Placement {
  report: RecoveryReport;
  log: (line: string) => void;
  enqueue: (entry: ImxEntry) => void;
}

/**
 * A file under history/ named `*.imx` whose name is not the core's name for it: read, checked with
 * the format's own rules, and placed (misplacedPlace) or quarantined where it is.
 */
function misplacedAdopt(
  hal: Hal,
  core: CoreExports,
  memory: WebAssembly.Memory,
  path: string,
  placement: Placement,
): void {
  const { report, log } = placement;
  const length = load(hal, core, memory, path);
  if (length === null) return;
  report.filesRead++;
  if (typeof length === "string") {
    quarantine(hal, path, length, report, log);
    return;
  }
  const data = new Uint8Array(memory.buffer, core.ioBufferPtr(), length).slice();
  const fault = imxCheck(data);
  const header = imxHeaderRead(data);
  if (fault !== null || header === null) {
    quarantine(hal, path, `refused: ${fault ?? "E_IMX_MAGIC"}`, report, log);
    return;
  }
  misplacedPlace(hal, path, imxPathFormat(header.source, header.sensor, header.firstSeq), data, placement);
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
    filesMoved: 0,
    copiesRemoved: 0,
    tempFilesRemoved: 0,
    positionsRecovered: false,
    streamsRecovered: 0,
    recordsRecovered: 0,
    recordsLostRam: 0,
    recordsLostRamMax: 0,
    ackRecordsRecovered: 0,
    quarantined: [],
    moved: [],
    removed: [],
  };
  const paths = retried(`${HISTORY_DIR}/`, () =>
    hal.isDir(HISTORY_DIR) ? listFilesRecursive(hal, HISTORY_DIR, "") : [],
  );
  const imx: ImxEntry[] = [];
  const misplaced: string[] = [];
  let positions = false;
  let ackLog = false;
  for (const path of paths) {
    if (path.endsWith(TMP_SUFFIX)) {
      // A write that never reached its rename: the file it was to become never existed.
      try {
        hal.remove(path);
        report.tempFilesRemoved++;
        report.removed.push({ path, why: "temp", of: null });
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
    if (path === ACK_LOG_PATH) {
      ackLog = true;
      continue;
    }
    if (!path.endsWith(IMX_SUFFIX)) continue;
    const name = imxPathParse(path);
    if (name && imxPathFormat(name.source, name.sensor, name.firstSeq) === path) {
      imx.push({ path, source: name.source, sensor: name.sensor, firstSeq: name.firstSeq });
    } else {
      misplaced.push(path);
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
  // The ACK log after the positions file (it is newer): its checkpoint alone first, then pieces of
  // whole records that fit the read buffer; a torn tail goes last, and the core ignores it. A
  // checkpoint that fails its checks (it was written whole by a rename, so this is damage, not a
  // power cut) quarantines the log, as a damaged positions file would be.
  const ackLogData = ackLog ? readWhole(hal, ACK_LOG_PATH) : null;
  if (ackLogData !== null) {
    report.filesRead++;
    const scan = ackLogScan(ackLogData);
    const pieces: Uint8Array[] = [];
    if (scan.checkpointBytes > 0) pieces.push(ackLogData.subarray(0, scan.checkpointBytes));
    const piece = Math.max(ACK_RECORD_BYTES, Math.floor(core.ioBufferBytes() / ACK_RECORD_BYTES) * ACK_RECORD_BYTES);
    for (let at = scan.checkpointBytes; at < ackLogData.byteLength; at += piece) {
      pieces.push(ackLogData.subarray(at, Math.min(at + piece, ackLogData.byteLength)));
    }
    let refused: number | null = null;
    for (const chunk of pieces) {
      if (chunk.byteLength > core.ioBufferBytes()) {
        refused = abi.E_POSITIONS_CORRUPT;
        break;
      }
      new Uint8Array(memory.buffer, core.ioBufferPtr(), chunk.byteLength).set(chunk);
      const applied = core.recoveryAckLog(chunk.byteLength);
      if (applied < 0) {
        refused = applied;
        break;
      }
      report.ackRecordsRecovered += applied;
    }
    if (refused !== null) {
      quarantine(hal, ACK_LOG_PATH, `refused: ${errorCodeName(refused)}`, report, log);
    } else if (scan.invalid > 0 || scan.tornBytes > 0) {
      log(
        `[imx:recovery] ${ACK_LOG_PATH}: ${scan.invalid} damaged records skipped, ${scan.tornBytes} bytes of a torn append ignored; the next write replaces the log with a checkpoint`,
      );
    }
  }

  // Files under another name are read once here and, if valid, moved to the core's name for their
  // header before anything is handed to the core: the core reads a file only under that name.
  const listed = new Set(imx.map((e) => e.path));
  const early: Placement = {
    report,
    log,
    enqueue: (entry) => {
      if (listed.has(entry.path)) return;
      listed.add(entry.path);
      imx.push(entry);
    },
  };
  for (const path of misplaced) misplacedAdopt(hal, core, memory, path, early);

  imx.sort(entryCompare);
  const queued = new Set(imx.map((e) => e.path));
  let i = 0;
  const late: Placement = {
    report,
    log,
    // In its turn, or next if that has passed (the core then refuses it if it overlaps: E_IMX_ORDER).
    enqueue: (entry) => {
      if (queued.has(entry.path)) return;
      let at = i + 1;
      while (at < imx.length && entryCompare(imx[at] as ImxEntry, entry) < 0) at++;
      imx.splice(at, 0, entry);
      queued.add(entry.path);
    },
  };
  for (; i < imx.length; i++) {
    const entry = imx[i] as ImxEntry;
    queued.delete(entry.path);
    const length = load(hal, core, memory, entry.path);
    if (length === null) continue; // vanished since the listing
    report.filesRead++;
    if (typeof length === "string") {
      quarantine(hal, entry.path, length, report, log);
      continue;
    }
    // A name of the core's spelling whose numbers are not the header's: the file is another one's
    // name. A valid one is moved to its own name and handed to the core in its turn.
    const header = imxHeaderRead(new Uint8Array(memory.buffer, core.ioBufferPtr(), Math.min(length, IMX_HEADER_BYTES)));
    if (
      header !== null &&
      (header.source !== entry.source || header.sensor !== entry.sensor || header.firstSeq !== entry.firstSeq)
    ) {
      const data = new Uint8Array(memory.buffer, core.ioBufferPtr(), length).slice();
      const fault = imxCheck(data);
      if (fault !== null) {
        quarantine(hal, entry.path, `refused: ${fault}`, report, log);
        continue;
      }
      misplacedPlace(hal, entry.path, imxPathFormat(header.source, header.sensor, header.firstSeq), data, late);
      continue;
    }
    const status = core.recoveryFile(length);
    if (status === abi.OK) {
      report.filesKept++;
    } else if (status === abi.RECOVERY_FILE_ACKED) {
      try {
        hal.remove(entry.path);
        report.filesDeleted++;
        report.removed.push({ path: entry.path, why: "acknowledged", of: null });
      } catch (e) {
        log(`[imx:recovery] could not delete acknowledged file ${entry.path}: ${(e as Error).message}`);
      }
    } else {
      quarantine(hal, entry.path, `refused: ${errorCodeName(status)}`, report, log);
    }
  }

  const lostBefore = statAt(core, memory, abi.STAT_RECORDS_LOST_RAM);
  const lostMaxBefore = statAt(core, memory, abi.STAT_RECORDS_LOST_RAM_MAX);
  core.recoveryClose();
  report.recordsLostRam = statAt(core, memory, abi.STAT_RECORDS_LOST_RAM) - lostBefore;
  report.recordsLostRamMax = statAt(core, memory, abi.STAT_RECORDS_LOST_RAM_MAX) - lostMaxBefore;
  report.recordsRecovered = statAt(core, memory, abi.STAT_RECOVERY_RECORDS);
  report.streamsRecovered = core.streamsConfigured();
  report.durationMs = performance.now() - started;
  return report;
}

function statAt(core: CoreExports, memory: WebAssembly.Memory, index: number): number {
  return new Float64Array(memory.buffer, core.statsPointer(), abi.STAT_COUNT)[index] ?? 0;
}
