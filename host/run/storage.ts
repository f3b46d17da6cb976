// What `imx-memsim run` keeps at the root of a storage directory, beside the core's history/:
//
//   imx-memsim.json       identity, written once on first use: the board, its sector geometry and
//                         the on-disk format versions. Checked before a Device is created (which
//                         would run boot recovery and quarantine files it cannot read), so a
//                         directory written by another board or another format is refused
//                         untouched (exit 2).
//   imx-memsim-run.json   the run's state: seed, workload, the simulated clock (checkpointed every
//                         simulated hour and at a graceful stop), and each stream's map from the
//                         device's sequence numbers to the upload log's (see device-run.ts).
//   imx-memsim.lock       the process using the directory (a run, or a Device of a library user):
//                         its pid, that process's start time and the boot (host/hal/storage-lock.ts).
//
// storagePreflight only reads. The files are written atomically (temp, fsync, rename, fsync).

import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import type { Board } from "../boards.js";
import { HISTORY_DIR, IMX_FORMAT_VERSION, IMX_HEADER_BYTES, IMX_SUFFIX, imxHeaderRead } from "../format/imx.js";
import {
  POSITIONS_COUNT_MAX,
  POSITIONS_FORMAT_VERSION,
  POSITIONS_PATH,
  positionRecordRead,
  positionsFileBytes,
  positionsHeaderRead,
} from "../format/positions.js";
import { listFilesRecursive, writeFileAtomic } from "../hal/atomic.js";
import type { Hal } from "../hal/hal.js";
import { NodeFsHal } from "../hal/node-fs.js";
import { StorageError } from "../hal/storage-lock.js";

export const IDENTITY_FILE = "imx-memsim.json";
export const RUN_STATE_FILE = "imx-memsim-run.json";
export const STORAGE_FORMAT = "imx-memsim-storage";
export const STORAGE_FORMAT_VERSION = 1;
export const RUN_STATE_FORMAT = "imx-memsim-run";
export const RUN_STATE_FORMAT_VERSION = 1;

export { StorageError };

export type StorageKind = "device" | "fleet";

const identitySchema = z.object({
  format: z.literal(STORAGE_FORMAT),
  version: z.number().int().min(1),
  kind: z.enum(["device", "fleet"]),
  board: z.string(),
  sectorBytes: z.number().int(),
  sectorCount: z.number().int(),
  sectorsPerFileMax: z.number().int().nullable(),
  imxFormatVersion: z.number().int(),
  positionsFormatVersion: z.number().int(),
  devices: z.number().int().optional(),
  createdBy: z.string(),
  createdUtc: z.string(),
});
export type StorageIdentity = z.output<typeof identitySchema>;

const runStateSchema = z.object({
  format: z.literal(RUN_STATE_FORMAT),
  version: z.literal(RUN_STATE_FORMAT_VERSION),
  seed: z.number().int(),
  runStartUtcMs: z.number().int(),
  clockUtcMs: z.number().int(),
  checkpointEveryMs: z.number().int().min(1),
  cleanStop: z.boolean(),
  lives: z.number().int().min(1),
  workload: z.array(z.record(z.string(), z.unknown())),
  /** Per stream "source/sensor": [[fromDeviceSeq, offset], …], latest last. */
  seqOffsets: z.record(z.string(), z.array(z.tuple([z.number().int(), z.number().int()]))),
  /**
   * The storage's own id (a random UUID), named in the side file of the upload log it writes.
   * Absent in a run state written by 0.1.0: the next life adds one.
   */
  storageId: z.string().min(1).optional(),
  /**
   * Written by a graceful stop (cleanStop): the records its flush left in RAM, lost at power off
   * (0 when the flush completed). Absent in other checkpoints and in run states older than this field.
   */
  ramRecordsLostAtStop: z.number().int().min(0).optional(),
});
export type RunState = z.output<typeof runStateSchema>;

export function identityFor(board: Board, kind: StorageKind, version: string, devices?: number): StorageIdentity {
  return {
    format: STORAGE_FORMAT,
    version: STORAGE_FORMAT_VERSION,
    kind,
    board: board.name,
    sectorBytes: board.memory.sectorBytes,
    sectorCount: board.memory.sectorCount,
    sectorsPerFileMax: board.disk?.sectorsPerFileMax ?? null,
    imxFormatVersion: IMX_FORMAT_VERSION,
    positionsFormatVersion: POSITIONS_FORMAT_VERSION,
    ...(devices === undefined ? {} : { devices }),
    createdBy: `imx-memsim ${version}`,
    createdUtc: new Date().toISOString(),
  };
}

export interface StoragePlan {
  dir: string;
  kind: StorageKind;
  exists: boolean;
  identity: StorageIdentity | null;
  runState: RunState | null;
  hasHistory: boolean;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new StorageError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new StorageError(
      `${path}: ${what} is not valid JSON (${(error as Error).message}); the directory was not changed`,
    );
  }
}

function writableCheck(dir: string, shown: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new StorageError(`storage ${shown} is not a directory`);
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      throw new StorageError(
        `storage ${shown} is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    }
    return;
  }
  // It will be created: its nearest existing ancestor must be a writable directory.
  let parent = dirname(dir);
  for (let depth = 0; depth < 64 && !existsSync(parent); depth++) parent = dirname(parent);
  if (!statSync(parent).isDirectory())
    throw new StorageError(`storage ${shown} cannot be created: ${parent} is not a directory`);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new StorageError(
      `storage ${shown} cannot be created in ${parent} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** Refuses (StorageError) an identity that another board, another kind or another format wrote. */
export function identityCheck(identity: StorageIdentity, board: Board, kind: StorageKind, shown: string): void {
  if (identity.version > STORAGE_FORMAT_VERSION) {
    throw new StorageError(
      `storage ${shown} was written by ${identity.createdBy} with storage format version ${identity.version}; ` +
        `this imx-memsim reads version ${STORAGE_FORMAT_VERSION}`,
    );
  }
  if (identity.kind !== kind) {
    throw new StorageError(
      identity.kind === "fleet"
        ? `storage ${shown} holds a fleet (${identity.devices ?? "?"} devices in device-<i>/); run it with --devices, or use another --storage for one device`
        : `storage ${shown} holds one device's storage; a fleet (--devices) needs a directory of its own`,
    );
  }
  if (identity.board !== board.name) {
    throw new StorageError(
      `storage ${shown} was written by board ${identity.board}, not ${board.name}: use --board ${identity.board}, or another --storage`,
    );
  }
  const geometry = (sectorBytes: number, perFile: number | null) =>
    `${sectorBytes}-byte sectors, ${perFile === null ? "no disk tier" : `up to ${perFile} sectors a file`}`;
  const perFile = board.disk?.sectorsPerFileMax ?? null;
  if (identity.sectorBytes !== board.memory.sectorBytes || identity.sectorsPerFileMax !== perFile) {
    throw new StorageError(
      `storage ${shown} was written by board ${identity.board} with ${geometry(identity.sectorBytes, identity.sectorsPerFileMax)}; ` +
        `board ${board.name} now has ${geometry(board.memory.sectorBytes, perFile)}`,
    );
  }
  if (
    identity.imxFormatVersion !== IMX_FORMAT_VERSION ||
    identity.positionsFormatVersion !== POSITIONS_FORMAT_VERSION
  ) {
    throw new StorageError(
      `storage ${shown} holds .imx format v${identity.imxFormatVersion} and positions format v${identity.positionsFormatVersion}; ` +
        `this imx-memsim reads .imx v${IMX_FORMAT_VERSION} and positions v${POSITIONS_FORMAT_VERSION}`,
    );
  }
}

/** A stream's settings as the storage records them (positions file or an .imx header). */
export interface StoredStream {
  source: number;
  sensor: number;
  recordType: number;
  dataType: number;
  sampleRateMs: number;
  /** The file that says so. */
  from: string;
}

/**
 * Reads what history/ holds (read only): checks every .imx header against the board's format and
 * geometry (when `board` is given), and returns the stream settings found in headers and in the
 * positions file. Files with a wrong magic or cut short are left to boot recovery.
 */
export function historyStreamsRead(dir: string, board: Board | null, shown: string): Map<string, StoredStream> {
  const streams = new Map<string, StoredStream>();
  if (!existsSync(join(dir, HISTORY_DIR))) return streams;
  const hal = new NodeFsHal(dir);
  const readAt = (path: string, bytes: number): Buffer => {
    const buffer = Buffer.alloc(bytes);
    const fd = openSync(join(dir, path), "r");
    try {
      return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0));
    } finally {
      closeSync(fd);
    }
  };
  for (const path of listFilesRecursive(hal, HISTORY_DIR, IMX_SUFFIX)) {
    const header = imxHeaderRead(readAt(path, IMX_HEADER_BYTES));
    if (header === null) continue;
    if (board !== null) {
      if (header.version !== IMX_FORMAT_VERSION) {
        throw new StorageError(
          `storage ${shown}: ${path} is .imx format v${header.version}; this imx-memsim reads v${IMX_FORMAT_VERSION}`,
        );
      }
      const perFile = board.disk?.sectorsPerFileMax ?? 0;
      if (header.sectorBytes !== board.memory.sectorBytes || header.sectorCount > perFile) {
        throw new StorageError(
          `storage ${shown}: ${path} was written by another board (${header.sectorBytes}-byte sectors, ${header.sectorCount} in the file); ` +
            `board ${board.name} has ${board.memory.sectorBytes}-byte sectors and up to ${perFile} a file`,
        );
      }
    }
    const { source, sensor, recordType, dataType, sampleRateMs } = header;
    streams.set(`${source}/${sensor}`, { source, sensor, recordType, dataType, sampleRateMs, from: path });
  }
  if (existsSync(join(dir, POSITIONS_PATH))) {
    const data = readAt(POSITIONS_PATH, positionsFileBytes(POSITIONS_COUNT_MAX + 1));
    const header = positionsHeaderRead(data);
    if (header !== null) {
      if (board !== null && header.version !== POSITIONS_FORMAT_VERSION) {
        throw new StorageError(
          `storage ${shown}: ${POSITIONS_PATH} is positions format v${header.version}; this imx-memsim reads v${POSITIONS_FORMAT_VERSION}`,
        );
      }
      for (let i = 0; i < header.count; i++) {
        if (positionsFileBytes(i + 1) > data.length) break; // cut short: recovery quarantines it
        const { source, sensor, recordType, dataType, sampleRateMs } = positionRecordRead(data, i);
        streams.set(`${source}/${sensor}`, {
          source,
          sensor,
          recordType,
          dataType,
          sampleRateMs,
          from: POSITIONS_PATH,
        });
      }
    }
  }
  return streams;
}

/**
 * Refuses a storage this command ran (it has an identity) whose history holds records but whose
 * run state is gone: starting it as a new life would put its clock back at the start.
 */
export function runStateMissingCheck(plan: StoragePlan, shown: string): void {
  if (plan.kind !== "device" || plan.runState !== null || plan.identity === null || !historyHoldsData(plan.dir)) return;
  throw new StorageError(
    `storage ${shown} holds records but its run state ${RUN_STATE_FILE} is missing: restore it (from a backup of the ` +
      `directory), or remove ${IDENTITY_FILE} too to adopt the records as a storage this command did not run ` +
      `(its clock restarts at --start and its lives at 1); the directory was not changed`,
  );
}

/** Whether history/ holds an .imx file or the positions file (not just the empty directory). */
function historyHoldsData(dir: string): boolean {
  if (!existsSync(join(dir, HISTORY_DIR))) return false;
  if (existsSync(join(dir, POSITIONS_PATH))) return true;
  return listFilesRecursive(new NodeFsHal(dir), HISTORY_DIR, IMX_SUFFIX).length > 0;
}

/** The identity file at `path`, checked against its schema; StorageError when it cannot be read or is not one. */
export function identityRead(path: string): StorageIdentity {
  const parsed = identitySchema.safeParse(readJson(path, "the storage identity"));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StorageError(
      `${path}: not an imx-memsim storage identity (${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"})`,
    );
  }
  return parsed.data;
}

/** The run state at `path`, checked against its schema; StorageError when it cannot be read or is not one. */
export function runStateRead(path: string): RunState {
  const parsed = runStateSchema.safeParse(readJson(path, "the run state"));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`;
    throw new StorageError(
      `${path}: not a run state this imx-memsim can read (${where}); the directory was not changed`,
    );
  }
  return parsed.data;
}

/** Checks a storage directory for `board` without changing anything. */
export function storagePreflight(dirArg: string, board: Board, kind: StorageKind): StoragePlan {
  const dir = resolve(dirArg);
  const shown = dirArg;
  writableCheck(dir, shown);
  const plan: StoragePlan = { dir, kind, exists: existsSync(dir), identity: null, runState: null, hasHistory: false };
  if (!plan.exists) return plan;
  const identityPath = join(dir, IDENTITY_FILE);
  if (existsSync(identityPath)) {
    const identity = identityRead(identityPath);
    identityCheck(identity, board, kind, shown);
    plan.identity = identity;
  } else if (kind === "fleet" && readdirSync(dir).some((name) => name === HISTORY_DIR)) {
    throw new StorageError(
      `storage ${shown} holds one device's storage (history/); a fleet (--devices) needs a directory of its own`,
    );
  }
  plan.hasHistory = existsSync(join(dir, HISTORY_DIR));
  if (kind === "device" && plan.identity === null && plan.hasHistory) {
    if (board.disk === null)
      throw new StorageError(`storage ${shown} holds a disk tier (history/), but board ${board.name} has none`);
    historyStreamsRead(dir, board, shown);
  }
  const statePath = join(dir, RUN_STATE_FILE);
  if (kind === "device" && existsSync(statePath)) plan.runState = runStateRead(statePath);
  return plan;
}

function jsonBytes(value: unknown): Uint8Array {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, "utf8");
}

/**
 * Writes `name` at the storage root atomically; creates the directory if needed. `hal` (rooted at
 * the storage) is the one the write goes through: NodeFsHal by default, a fault-injecting one in tests.
 */
export function storageFileWrite(dir: string, name: string, value: unknown, hal: Hal = new NodeFsHal(dir)): void {
  if (!existsSync(dir)) {
    hal.mkdir(".");
    const parent = new NodeFsHal(dirname(dir));
    parent.syncDir(".");
  }
  writeFileAtomic(hal, name, jsonBytes(value));
}

export function runStateWrite(dir: string, state: RunState, hal?: Hal): void {
  storageFileWrite(dir, RUN_STATE_FILE, state, hal);
}

// ---- Lock and a full filesystem --------------------------------------------------------------------
//
// The lock (imx-memsim.lock) is taken by Device.create too, so it lives below the core, in
// host/hal/storage-lock.ts; the commands here keep importing it from this module.

export {
  errorText,
  isSpaceError,
  LOCK_FILE,
  LOCK_FORMAT,
  LOCK_FORMAT_VERSION,
  lockCheck,
  type LockHandle,
  lockInspect,
  type LockState,
  lockTake,
  processStartTicks,
} from "../hal/storage-lock.js";
