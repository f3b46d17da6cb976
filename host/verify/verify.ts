// `imx-memsim verify`: an fsck for a storage directory. It judges the side files (identity, run
// state, lock) itself and leaves the disk tier to boot recovery, run for real: a Device boots on
// the storage through an OverlayHal, so recovery reads every file, checks every header and CRC
// with the core's own rules, reads the positions file, and quarantines, moves and removes what it
// would at boot, all in the overlay. What it did is the list of findings. Nothing under the
// directory changes: a run may be using the storage meanwhile.
//
// With `repair`, the same Device boots on the storage itself (NodeFsHal), under the storage's
// lock, so the repair is exactly boot recovery: quarantine to corrupted/, files moved into place,
// orphaned temp files, copies and fully acknowledged files removed. Then a second read-only pass
// says what is left.
//
// Bad input (no such directory, not a storage, an unknown board, a storage another live run holds
// when repairing) throws StorageError (exit 2) before anything is changed.

import { accessSync, constants, existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Board, loadBoard } from "../boards.js";
import { Device } from "../core/device.js";
import { type RecoveryReport, RecoveryIoError } from "../core/recovery.js";
import { CORRUPTED_DIR, HISTORY_DIR, IMX_SUFFIX, TMP_SUFFIX } from "../format/imx.js";
import { ACK_LOG_PATH, POSITIONS_PATH } from "../format/positions.js";
import { listFilesRecursive } from "../hal/atomic.js";
import { NodeFsHal } from "../hal/node-fs.js";
import {
  IDENTITY_FILE,
  identityCheck,
  identityRead,
  LOCK_FILE,
  type LockState,
  lockInspect,
  lockTake,
  RUN_STATE_FILE,
  runStateMissingCheck,
  runStateRead,
  StorageError,
  type StorageIdentity,
} from "../run/storage.js";
import * as abi from "../core/abi.generated.js";
import { ackLogFindings } from "./ack-log-findings.js";
import { OverlayHal } from "./overlay-hal.js";

export const VERIFY_FORMAT = "imx-memsim-verify";
export const VERIFY_FORMAT_VERSION = 1;

/** A problem makes the storage unclean (exit 1); a note is said and does not. */
export type FindingSeverity = "problem" | "note";

/** What boot recovery does about a finding (and `--repair` did). */
export type FindingAction = "quarantine" | "move" | "remove";

/** Every finding's code: stable, part of the `--json` output. */
export const FINDING_CODES = [
  "imx.refused",
  "imx.duplicate",
  "imx.misplaced",
  "imx.copy",
  "imx.acknowledged",
  "tmp.orphan",
  "positions.refused",
  "ack-log.header-bad",
  "ack-log.record-corrupt",
  "ack-log.torn-tail",
  "ack-log.stream-unknown",
  "ack-log.ack-beyond-data",
  "io.error",
  "identity.missing",
  "identity.invalid",
  "identity.mismatch",
  "run-state.invalid",
  "run-state.missing",
  "lock.live",
  "lock.stale",
  "cleanup.queued",
  "corrupted.present",
  "file.unknown",
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  code: FindingCode;
  severity: FindingSeverity;
  /** The file, relative to the storage directory ("device-<i>/…" in a fleet). */
  path: string;
  message: string;
  /** What boot recovery does about it, or null when it does nothing. */
  action: FindingAction | null;
  /** Where a quarantined or moved file goes (relative like `path`), or null. */
  to: string | null;
  /** `--repair` did the action. */
  repaired: boolean;
}

/** What boot recovery adopts: the files and records a run would continue from. */
export interface Adopted {
  files: number;
  records: number;
  streams: number;
  /** Records possibly lost with RAM in the last life (recovery's bound). */
  recordsLostRamMax: number;
  /** Acknowledged files recovery hands to cleanup (deleted after boot under the cleanup policy). */
  cleanupQueued: number;
}

export interface VerifyReport {
  format: typeof VERIFY_FORMAT;
  version: typeof VERIFY_FORMAT_VERSION;
  /** The directory as given, and its absolute path. */
  storage: string;
  dir: string;
  board: string;
  kind: "device" | "fleet";
  mode: "read-only" | "repair";
  lock: LockState;
  findings: Finding[];
  adopted: Adopted;
  /** After `--repair`: the problems and notes a read-only pass finds in the repaired storage. */
  remaining: Finding[] | null;
  counts: { problems: number; notes: number; repairable: number; repaired: number; remainingProblems: number };
  /** No problem (read-only), or none left after the repair. */
  clean: boolean;
  exitCode: 0 | 1;
}

export interface VerifyOptions {
  repair?: boolean;
  /** The board's name or file, for a storage whose identity file is missing or cannot be read. */
  board?: string | null;
}

interface Target {
  dir: string;
  shown: string;
  board: Board;
  identity: StorageIdentity | null;
  kind: "device" | "fleet";
  devices: number;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function boardLoad(name: string, shown: string): Board {
  try {
    return loadBoard(name);
  } catch (error) {
    throw new StorageError(`storage ${shown}: board ${name}: ${(error as Error).message}`);
  }
}

/** Resolves the directory, its kind and its board; throws StorageError (exit 2) for bad input. */
function targetResolve(dirArg: string, options: VerifyOptions): Target {
  const dir = resolve(dirArg);
  const shown = dirArg;
  if (!existsSync(dir)) throw new StorageError(`storage ${shown} does not exist`);
  if (!isDir(dir)) throw new StorageError(`storage ${shown} is not a directory`);
  const identityPath = join(dir, IDENTITY_FILE);
  const hasIdentity = existsSync(identityPath);
  if (!hasIdentity && !isDir(join(dir, HISTORY_DIR))) {
    throw new StorageError(
      `storage ${shown} is not an imx-memsim storage (it has no ${IDENTITY_FILE} and no history/)`,
    );
  }
  let identity: StorageIdentity | null = null;
  let identityError: string | null = null;
  if (hasIdentity) {
    try {
      identity = identityRead(identityPath);
    } catch (error) {
      identityError = (error as Error).message;
    }
  }
  const boardName = options.board ?? null;
  if (identity !== null && boardName !== null && boardName !== identity.board) {
    throw new StorageError(
      `storage ${shown} was written by board ${identity.board}, not ${boardName}: use --board ${identity.board}, or leave --board out`,
    );
  }
  const name = identity?.board ?? boardName;
  if (name === null) {
    throw new StorageError(
      identityError !== null
        ? `${identityError}; name the storage's board with --board to check the rest`
        : `storage ${shown} has no ${IDENTITY_FILE} to say which board wrote it: name it with --board`,
    );
  }
  const board = boardLoad(name, shown);
  const kind = identity?.kind ?? "device";
  if (kind === "device" && board.disk === null && isDir(join(dir, HISTORY_DIR))) {
    throw new StorageError(`storage ${shown} holds a disk tier (history/), but board ${board.name} has none`);
  }
  return { dir, shown, board, identity, kind, devices: identity?.devices ?? 0 };
}

function finding(
  code: FindingCode,
  severity: FindingSeverity,
  path: string,
  message: string,
  action: FindingAction | null = null,
  to: string | null = null,
): Finding {
  return { code, severity, path, message, action, to, repaired: false };
}

/** The format's and the core's refusal codes, in words. */
const REFUSAL_WORDS: Readonly<Record<string, string>> = {
  E_IMX_SIZE: "its size is not what its header says",
  E_IMX_MAGIC: "it is not an .imx file (bad magic)",
  E_IMX_VERSION: "another format version or header size",
  E_IMX_GEOMETRY: "another board's sector size or file size",
  E_IMX_CRC: "its CRC does not match its bytes",
  E_IMX_COUNTS: "impossible record counts or sequence numbers",
  E_IMX_ORDER: "its records overlap another file's",
  E_POSITIONS_CORRUPT: "it fails its checks",
  E_STREAM_TABLE_FULL: "its stream does not fit the board's stream table",
  E_STREAM_CONFIG_MISMATCH: "its stream's settings differ from the positions file's or another file's",
};

function reasonWords(reason: string): string {
  const code = /^refused: (E_[A-Z_]+)/.exec(reason)?.[1];
  if (code === undefined) return reason;
  const words = REFUSAL_WORDS[code];
  return words === undefined ? code : `${code}: ${words}`;
}

/** Findings for what boot recovery did (in the overlay, or for real when repairing). */
function recoveryFindings(recovery: RecoveryReport, prefix: string, repairing: boolean, live: boolean): Finding[] {
  const out: Finding[] = [];
  const at = (path: string): string => prefix + path;
  for (const q of recovery.quarantined) {
    const to = q.movedTo === null ? null : at(q.movedTo);
    const f =
      q.path === POSITIONS_PATH
        ? finding(
            "positions.refused",
            "problem",
            at(q.path),
            `the positions file is refused (${reasonWords(q.reason)}); without it each stream resumes from its files`,
            "quarantine",
            to,
          )
        : q.path === ACK_LOG_PATH
          ? finding(
              "ack-log.header-bad",
              "problem",
              at(q.path),
              `the ACK log's checkpoint (its header) fails its checks (${reasonWords(q.reason)}); without the log each stream resumes from its files and the positions file, if any`,
              "quarantine",
              to,
            )
          : q.reason.startsWith("another valid file is in place")
            ? finding("imx.duplicate", "problem", at(q.path), q.reason, "quarantine", to)
            : finding("imx.refused", "problem", at(q.path), `damaged (${reasonWords(q.reason)})`, "quarantine", to);
    f.repaired = repairing && to !== null;
    out.push(f);
  }
  for (const m of recovery.moved) {
    const f = finding(
      "imx.misplaced",
      "problem",
      at(m.from),
      "a valid file under another name than the core gives it",
      "move",
      at(m.to),
    );
    f.repaired = repairing;
    out.push(f);
  }
  for (const r of recovery.removed) {
    const inFlight = live ? " (a run is using the storage: this may be its work in progress)" : "";
    const f =
      r.why === "temp"
        ? finding(
            "tmp.orphan",
            live ? "note" : "problem",
            at(r.path),
            `a temp file of a write that never reached its rename${inFlight}`,
            "remove",
          )
        : r.why === "copy"
          ? finding(
              "imx.copy",
              "problem",
              at(r.path),
              `a byte-identical copy of ${at(r.of ?? "?")} (a move cut short)`,
              "remove",
            )
          : finding(
              "imx.acknowledged",
              live ? "note" : "problem",
              at(r.path),
              `every record in it is acknowledged, but it was not deleted${inFlight}`,
              "remove",
            );
    f.repaired = repairing;
    out.push(f);
  }
  return out;
}

/** Files under history/ and corrupted/ that recovery neither reads nor changes. */
function otherFileFindings(dir: string, prefix: string): Finding[] {
  const out: Finding[] = [];
  const hal = new NodeFsHal(dir);
  if (isDir(join(dir, HISTORY_DIR))) {
    for (const path of listFilesRecursive(hal, HISTORY_DIR, "")) {
      if (path.endsWith(IMX_SUFFIX) || path.endsWith(TMP_SUFFIX) || path === POSITIONS_PATH || path === ACK_LOG_PATH)
        continue;
      out.push(finding("file.unknown", "note", prefix + path, "not a file of the storage's; boot recovery leaves it"));
    }
  }
  if (isDir(join(dir, CORRUPTED_DIR))) {
    const quarantined = listFilesRecursive(hal, CORRUPTED_DIR, "").length;
    if (quarantined > 0) {
      out.push(
        finding(
          "corrupted.present",
          "note",
          `${prefix}${CORRUPTED_DIR}/`,
          `${quarantined} file${quarantined === 1 ? "" : "s"} quarantined earlier (kept for inspection; nothing reads them)`,
        ),
      );
    }
  }
  return out;
}

/** Identity and run state of one device's directory. */
function sideFileFindings(dir: string, prefix: string, board: Board, identity: StorageIdentity | null): Finding[] {
  const out: Finding[] = [];
  const identityPath = join(dir, IDENTITY_FILE);
  let id = identity;
  if (id === null && existsSync(identityPath)) {
    try {
      id = identityRead(identityPath);
    } catch (error) {
      out.push(
        finding(
          "identity.invalid",
          "problem",
          prefix + IDENTITY_FILE,
          `${(error as Error).message}; run refuses the storage until it is restored`,
        ),
      );
    }
  } else if (id === null && isDir(join(dir, HISTORY_DIR))) {
    out.push(
      finding(
        "identity.missing",
        "note",
        prefix + IDENTITY_FILE,
        `missing: a storage run did not make (board ${board.name} as given); run writes one on first use`,
      ),
    );
  }
  if (id !== null) {
    try {
      identityCheck(id, board, "device", prefix === "" ? "." : prefix.slice(0, -1));
    } catch (error) {
      out.push(finding("identity.mismatch", "problem", prefix + IDENTITY_FILE, (error as Error).message));
    }
  }
  const statePath = join(dir, RUN_STATE_FILE);
  let runState = null;
  if (existsSync(statePath)) {
    try {
      runState = runStateRead(statePath);
    } catch (error) {
      out.push(finding("run-state.invalid", "problem", prefix + RUN_STATE_FILE, (error as Error).message));
      return out;
    }
  }
  try {
    runStateMissingCheck({ dir, kind: "device", exists: true, identity: id, runState, hasHistory: true }, dir);
  } catch (error) {
    out.push(finding("run-state.missing", "problem", prefix + RUN_STATE_FILE, (error as Error).message));
  }
  return out;
}

interface DeviceResult {
  findings: Finding[];
  adopted: Adopted;
}

/** One device's storage: its side files, then boot recovery on an overlay (or for real when repairing). */
function deviceVerify(
  dir: string,
  prefix: string,
  board: Board,
  identity: StorageIdentity | null,
  repairing: boolean,
  live: boolean,
): DeviceResult {
  const findings = sideFileFindings(dir, prefix, board, identity);
  const adopted: Adopted = { files: 0, records: 0, streams: 0, recordsLostRamMax: 0, cleanupQueued: 0 };
  if (board.disk === null || !isDir(join(dir, HISTORY_DIR))) return { findings, adopted };
  findings.push(...otherFileFindings(dir, prefix));
  const storageHal = new NodeFsHal(dir);
  // The log as it is before recovery (a repair may quarantine it).
  const ackLogData = storageHal.exists(ACK_LOG_PATH) ? storageHal.readFile(ACK_LOG_PATH) : null;
  let device: Device;
  try {
    device = Device.create({ board, hal: repairing ? storageHal : new OverlayHal(storageHal), log: "off" });
  } catch (error) {
    if (!(error instanceof RecoveryIoError)) throw error;
    findings.push(finding("io.error", "problem", prefix + error.path, error.message));
    return { findings, adopted };
  }
  const recovery = device.recovery;
  if (recovery === null) return { findings, adopted };
  findings.push(...recoveryFindings(recovery, prefix, repairing, live));
  if (ackLogData !== null) {
    const streams = device.streamList().map((s) => ({
      source: s.source,
      sensor: s.sensor,
      recordType: s.type === "tsd" ? abi.RECORD_TYPE_TSD : abi.RECORD_TYPE_EVT,
    }));
    for (const f of ackLogFindings(ackLogData, streams)) {
      findings.push(finding(f.code, f.severity, prefix + ACK_LOG_PATH, f.message));
    }
  }
  const queued = device.getCleanupProgress().filesPending;
  if (queued > 0) {
    findings.push(
      finding(
        "cleanup.queued",
        "note",
        `${prefix}${HISTORY_DIR}/`,
        `${queued} acknowledged file${queued === 1 ? "" : "s"} wait${queued === 1 ? "s" : ""} for cleanup; a run deletes them under its cleanup policy`,
      ),
    );
  }
  adopted.files = recovery.filesKept;
  adopted.records = recovery.recordsRecovered;
  adopted.streams = recovery.streamsRecovered;
  adopted.recordsLostRamMax = recovery.recordsLostRamMax;
  adopted.cleanupQueued = queued;
  return { findings, adopted };
}

function lockFinding(lock: LockState, repairing: boolean): Finding | null {
  if (lock.state === "live") {
    return finding(
      "lock.live",
      "note",
      LOCK_FILE,
      `in use by a live imx-memsim run (pid ${lock.pid}): this check read a storage that may be changing`,
    );
  }
  if (lock.state === "stale") {
    const f = finding("lock.stale", "note", LOCK_FILE, `a stale lock (${lock.reason})`, repairing ? "remove" : null);
    f.repaired = repairing;
    return f;
  }
  return null;
}

/** Every device's findings for `target`, one pass. */
function pass(target: Target, repairing: boolean, lock: LockState): DeviceResult {
  const live = lock.state === "live";
  const lockNote = lockFinding(lock, repairing);
  const findings: Finding[] = lockNote === null ? [] : [lockNote];
  const adopted: Adopted = { files: 0, records: 0, streams: 0, recordsLostRamMax: 0, cleanupQueued: 0 };
  const add = (result: DeviceResult): void => {
    findings.push(...result.findings);
    adopted.files += result.adopted.files;
    adopted.records += result.adopted.records;
    adopted.streams += result.adopted.streams;
    adopted.recordsLostRamMax += result.adopted.recordsLostRamMax;
    adopted.cleanupQueued += result.adopted.cleanupQueued;
  };
  if (target.kind === "device") {
    add(deviceVerify(target.dir, "", target.board, target.identity, repairing, live));
  } else {
    for (let i = 0; i < target.devices; i++) {
      const name = `device-${i}`;
      if (!isDir(join(target.dir, name))) continue;
      add(deviceVerify(join(target.dir, name), `${name}/`, target.board, null, repairing, live));
    }
  }
  return { findings, adopted };
}

function problemsOf(findings: readonly Finding[]): number {
  return findings.filter((f) => f.severity === "problem").length;
}

/**
 * Checks (and with `repair`, repairs) the storage at `dirArg`. Throws StorageError (exit 2) for
 * bad input, having changed nothing.
 */
export function storageVerify(dirArg: string, options: VerifyOptions = {}): VerifyReport {
  const repair = options.repair === true;
  const target = targetResolve(dirArg, options);
  let lock = lockInspect(target.dir);
  let result: DeviceResult;
  let remaining: Finding[] | null = null;
  if (repair) {
    if (lock.state === "live") {
      throw new StorageError(
        `storage ${target.shown} is in use by a live imx-memsim run (pid ${lock.pid}); --repair needs it stopped (read-only verify works while it runs)`,
      );
    }
    try {
      accessSync(target.dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new StorageError(
        `storage ${target.shown} is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); --repair cannot change it`,
      );
    }
    const handle = lockTake(target.dir);
    try {
      result = pass(target, true, lock);
      remaining = pass(target, false, { state: "none" }).findings;
    } finally {
      handle.release();
    }
    lock = lockInspect(target.dir);
  } else {
    result = pass(target, false, lock);
  }
  const { findings, adopted } = result;
  const remainingProblems = remaining === null ? problemsOf(findings) : problemsOf(remaining);
  const clean = remainingProblems === 0;
  return {
    format: VERIFY_FORMAT,
    version: VERIFY_FORMAT_VERSION,
    storage: target.shown,
    dir: target.dir,
    board: target.board.name,
    kind: target.kind,
    mode: repair ? "repair" : "read-only",
    lock,
    findings,
    adopted,
    remaining,
    counts: {
      problems: problemsOf(findings),
      notes: findings.length - problemsOf(findings),
      repairable: findings.filter((f) => f.severity === "problem" && f.action !== null).length,
      repaired: findings.filter((f) => f.severity === "problem" && f.repaired).length,
      remainingProblems,
    },
    clean,
    exitCode: clean ? 0 : 1,
  };
}
