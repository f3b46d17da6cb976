// What a simulator run is given and what it returns: the fault profiles, the streams and actions of
// a workload, the options of a run and its counters.

import {
  type Board,
  type CleanupPolicy,
  type DiskFullPolicy,
  type TierMode,
  loadBoard,
  withOverrides,
} from "../boards.js";
import type { DataType, RecordType } from "../core/device.js";
import type { FaultKind, FaultRates } from "../hal/faulty.js";

export interface FaultProfile {
  name: string;
  /** Per-operation fault rates while a device runs, in parts per million (FAULT_RATE_SCALE). */
  rates: Partial<FaultRates>;
  /** Also inject I/O errors while a device boots (recovery). */
  bootFaults: boolean;
  /** The workload may make the disk full for a while (ENOSPC). */
  diskFull: boolean;
  /** The workload may cut the power (at a step, or at a random HAL operation inside a step). */
  crashes: boolean;
  /**
   * Between device lives, a valid `.imx` file may be moved into another bucket directory (now and
   * then under a name with a leading zero), as an operator or a restore from a backup would:
   * boot recovery must move it back and deliver every record of it.
   */
  movesFiles?: boolean;
  /** Sabotage for testing the simulator itself: positions-file renames silently do nothing. */
  lyingPositions?: boolean;
  /**
   * The storage is a filesystem of this share of the board's disk quota (a MemoryHal capacity),
   * smaller than the quota: the disk tier must stop at the filesystem's real free space (SPEC.md
   * 4.1), not at ENOSPC, and lose nothing uncounted.
   */
  filesystemQuotaPercent?: number;
}

export const FAULT_PROFILES: Readonly<Record<string, FaultProfile>> = {
  /** No faults and no power cuts: the model checks alone. */
  none: { name: "none", rates: {}, bootFaults: false, diskFull: false, crashes: false },
  /** Power cuts and graceful restarts, a perfect disk otherwise. */
  crashes: { name: "crashes", rates: {}, bootFaults: false, diskFull: false, crashes: true },
  /** I/O errors on every kind of operation, torn and zero-filled writes, disk full, power cuts. */
  default: {
    name: "default",
    rates: {
      read: 10_000,
      write: 10_000,
      tornWrite: 10_000,
      zeroTail: 5_000,
      syncFile: 10_000,
      // Directory fsync faults have a profile of their own ("syncdir").
      rename: 10_000,
      remove: 30_000,
    },
    bootFaults: false,
    diskFull: true,
    crashes: true,
  },
  /** Write-path errors during spills (write, torn write, fsync, rename) and disk full; no power cuts. */
  "write-errors": {
    name: "write-errors",
    rates: { write: 40_000, tornWrite: 40_000, syncFile: 40_000, rename: 40_000 },
    bootFaults: false,
    diskFull: true,
    crashes: false,
  },
  /** Delete errors during cleanup (EIO, EBUSY, EACCES), plus power cuts. */
  "delete-errors": {
    name: "delete-errors",
    rates: { remove: 300_000 },
    bootFaults: false,
    diskFull: false,
    crashes: true,
  },
  /** Disk-full windows and read errors. */
  "disk-full": { name: "disk-full", rates: { read: 20_000 }, bootFaults: false, diskFull: true, crashes: true },
  /**
   * Sabotage, to show the simulator catches a broken store: the disk silently drops appends to the
   * ACK log (and renames onto it or the positions file), so acknowledged records come back after a
   * restart. Every seed should fail.
   */
  "lying-positions": {
    name: "lying-positions",
    rates: {},
    bootFaults: false,
    diskFull: false,
    crashes: true,
    lyingPositions: true,
  },
  /**
   * Directory fsync failures. A write whose directory fsync fails after the rename counts as done
   * (test/crash/known-bugs.test.ts, A and B) and the fsync is retried before the next write; a
   * power cut inside that window can lose the newest positions file, so acknowledged records may
   * come back (SPEC.md 6.3, a documented limit). Seeds that cut the power there fail.
   */
  syncdir: { name: "syncdir", rates: { syncDir: 150_000 }, bootFaults: false, diskFull: false, crashes: true },
  /**
   * I/O errors while booting too: recovery must not mistake them for corruption (finds bugs C and
   * D of test/crash/known-bugs.test.ts).
   */
  boot: {
    name: "boot",
    rates: { read: 20_000, remove: 30_000, write: 10_000, rename: 10_000, meta: 5_000 },
    bootFaults: true,
    diskFull: false,
    crashes: true,
  },
  /**
   * Files moved into another bucket directory between lives, with the boot profile's I/O errors
   * and power cuts: boot recovery moves them back (SPEC.md 6.4), crash-safely, under faults.
   */
  "moved-files": {
    name: "moved-files",
    rates: { read: 20_000, remove: 30_000, write: 10_000, rename: 10_000, meta: 5_000 },
    bootFaults: true,
    diskFull: false,
    crashes: true,
    movesFiles: true,
  },
  /**
   * A filesystem smaller than the quota (60% of it), with power cuts, graceful restarts and a few
   * write errors: spills stop at the filesystem's free space less the margin, flushes never take
   * more than it can, and nothing acknowledged comes back or goes uncounted.
   */
  "small-filesystem": {
    name: "small-filesystem",
    rates: { write: 5_000, rename: 5_000 },
    bootFaults: false,
    diskFull: false,
    crashes: true,
    filesystemQuotaPercent: 60,
  },
};

export interface SimStreamSpec {
  source: number;
  sensor: number;
  type: RecordType;
  dataType: DataType;
  /** TSD only. */
  sampleRateMs: number;
}

export type SimAction =
  | { kind: "configure"; stream: number }
  | { kind: "write"; stream: number; count: number }
  | { kind: "read"; stream: number; max: number }
  | { kind: "ack"; stream: number; count: number | "all" }
  | { kind: "upload"; stream: number; max: number }
  | { kind: "revert"; stream: number }
  | { kind: "tick"; count: number }
  | { kind: "flush"; ticks: number }
  | { kind: "cancel" }
  | { kind: "clock"; deltaMs: number }
  | { kind: "settle" }
  | { kind: "restart" }
  | { kind: "crash" }
  | { kind: "arm-crash"; inOps: number }
  | { kind: "disk-full"; roomBytes: number | null }
  | { kind: "policy"; policy: CleanupPolicy }
  /** A graceful stop; before the next boot the `pick`-th valid file moves into another bucket. */
  | { kind: "misplace"; pick: number }
  /**
   * A graceful stop; before the next boot the ACK log is replaced by the positions file the first
   * release would have left (a v1 storage), which the next life upgrades (SPEC.md 6.5).
   */
  | { kind: "downgrade" };

export interface SimOptions {
  /** A board name, a path to a board file, or a Board (default "tiny"). */
  board?: string | Board;
  /** Steps of random workload (default 300); ignored with `script`. */
  steps?: number;
  /** The cleanup policy (default: drawn from the seed). */
  policy?: CleanupPolicy;
  /** The disk-full policy (default: the board's). */
  diskFull?: DiskFullPolicy;
  /** The tier mode (default: the board's): "direct" runs MM2's direct tiered allocation. */
  tierMode?: TierMode;
  /** A profile name from FAULT_PROFILES or a profile (default "default"). */
  faults?: string | FaultProfile;
  /** On average one step in this many is followed by a shadow power cut check (0 = never; default 6). */
  shadowCrashOneIn?: number;
  /** Run these actions instead of a random workload. */
  script?: readonly SimAction[];
  /** The streams (default: drawn from the seed). Actions name streams by index in this list. */
  streams?: readonly SimStreamSpec[];
  /**
   * Cut the power at this HAL operation (1-based), counted over the whole run from the first
   * boot on (boots and recoveries included); at most one such cut per run.
   */
  crashAtOp?: number | null;
  /** After the workload, write to every stream, flush, and drain everything (default: true for scripts). */
  finalCheck?: boolean;
  /** Lines of the step trace kept for a failure message (default 40). */
  traceLines?: number;
  /** Called with each trace line as it happens. */
  onTrace?: (line: string) => void;
}

export interface SimResult {
  seed: number;
  board: string;
  policy: CleanupPolicy;
  faults: string;
  steps: number;
  /** Power cuts: at a step, at an armed HAL operation, or when a graceful stop could not finish its flush. */
  crashes: number;
  /** Graceful restarts (flush reached 101, then a new device on the same storage). */
  restarts: number;
  shadowChecks: number;
  /** HAL operations over every device life, checks excluded. */
  halOps: number;
  /** HAL operations from the first boot to the end of the workload (before the final check). */
  workloadOps: number;
  faultsInjected: number;
  faultsByKind: Record<FaultKind, number>;
  bootRetries: number;
  recordsWritten: number;
  recordsDelivered: number;
  recordsAcked: number;
  /** Records the model saw vanish at power cuts (RAM contents, by design). */
  recordsLostRam: number;
  /** What the recovered devices reported as lost with RAM (recovery.recordsLostRam). */
  recordsLostRamReported: number;
  /** Records the device discarded while running (RAM full), as seen by reads. */
  recordsDiscarded: number;
  /** Records in files the FaultyHal damaged, gone with them. */
  recordsDamaged: number;
  /** Discarded records that came back after a restart (a copy had reached a file). */
  recordsResurrected: number;
  filesQuarantined: number;
  /** Files the "misplace" fault moved into another bucket between lives. */
  filesMisplaced: number;
  /** Files boot recovery moved to the core's name for them. */
  filesMovedBack: number;
  /** The most bytes the storage's filesystem held after any step (what counts against its capacity). */
  filesystemBytesPeak: number;
}

export function profileOf(faults: string | FaultProfile | undefined): FaultProfile {
  if (faults === undefined) return FAULT_PROFILES["default"] as FaultProfile;
  if (typeof faults !== "string") return faults;
  const profile = FAULT_PROFILES[faults];
  if (!profile) throw new Error(`unknown fault profile '${faults}' (known: ${Object.keys(FAULT_PROFILES).join(", ")})`);
  return profile;
}

export function boardOf(board: string | Board | undefined, diskFull?: DiskFullPolicy, tierMode?: TierMode): Board {
  const loaded = board === undefined ? loadBoard("tiny") : typeof board === "string" ? loadBoard(board) : board;
  return diskFull === undefined && tierMode === undefined
    ? loaded
    : withOverrides(loaded, { diskFullPolicy: diskFull, tierMode });
}

/** A result with every counter at 0. */
export function resultNew(seed: number, board: Board, policy: CleanupPolicy, profile: FaultProfile): SimResult {
  return {
    seed,
    board: board.name,
    policy,
    faults: profile.name,
    steps: 0,
    crashes: 0,
    restarts: 0,
    shadowChecks: 0,
    halOps: 0,
    workloadOps: 0,
    faultsInjected: 0,
    faultsByKind: { "io-error": 0, enospc: 0, "torn-write": 0, "zero-tail": 0, crash: 0 },
    bootRetries: 0,
    recordsWritten: 0,
    recordsDelivered: 0,
    recordsAcked: 0,
    recordsLostRam: 0,
    recordsLostRamReported: 0,
    recordsDiscarded: 0,
    recordsDamaged: 0,
    recordsResurrected: 0,
    filesQuarantined: 0,
    filesMisplaced: 0,
    filesMovedBack: 0,
    filesystemBytesPeak: 0,
  };
}

export function actionDescribe(action: SimAction): string {
  const { kind, ...rest } = action;
  const args = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`);
  return args.length === 0 ? kind : `${kind} ${args.join(" ")}`;
}
