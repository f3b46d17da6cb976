// What one device of `imx-memsim run` is asked to do (RunSettings) and the check made before
// anything changes (devicePreflight): the storage directory, its run state and history, the
// workload and the upload log are read, and bad input throws a user error (exit 2).

import type { Board, CleanupPolicy } from "../boards.js";
import * as abi from "../core/abi.generated.js";
import type { LogLevel } from "../core/log.js";
import { HOUR_MS } from "./duration.js";
import type { OutageSpec } from "./outage-schedule.js";
import { type PacketLogContents, packetLogRead } from "./packet-log.js";
import {
  historyStreamsRead,
  lockCheck,
  runStateMissingCheck,
  StorageError,
  type StoragePlan,
  storagePreflight,
} from "./storage.js";
import type { UplinkSettings } from "./uplink.js";
import { streamKey, type UploadLogContents, UploadLogError, uploadLogTailRead } from "./upload-log.js";
import { defaultWorkload, type StreamSpec, type Workload, WorkloadError, workloadKey } from "./workload.js";

export const RUN_START_UTC_MS_DEFAULT = Date.UTC(2025, 0, 10);
export const CHECKPOINT_EVERY_MS = HOUR_MS;
export const SEED_DEFAULT = 1;
/** Tick interval for a board whose processMemory has none (it works on every call). */
export const TICK_MS_FALLBACK = 100;
/** A drain that has not emptied the device after this much simulated time gives up. */
export const DRAIN_MS_MAX = 30 * 24 * HOUR_MS;

export interface RunSettings {
  board: Board;
  policy: CleanupPolicy | null;
  storageDir: string;
  uploadLogPath: string | null;
  /** The packets file (imatrix messages acknowledged); absent or null for none. */
  packetsPath?: string | null;
  tracePath: string | null;
  traceEveryMs: number;
  /** null: the stored seed, or SEED_DEFAULT. */
  seed: number | null;
  /** null: the stored start, or RUN_START_UTC_MS_DEFAULT. */
  startUtcMs: number | null;
  /** Total simulated time since the storage's first run; null runs until stopped. */
  durationMs: number | null;
  drain: boolean;
  /** null: the stored workload, or the default one. */
  workload: Workload | null;
  uplink: UplinkSettings;
  outages: OutageSpec[];
  /** null: the board's main-loop interval. */
  tickMs: number | null;
  shutdownDeadlineMs: number;
  checkpointEveryMs: number;
  logLevel: LogLevel;
  /** The device's number in a fleet, or null for a single device. */
  device: number | null;
  version: string;
}

export interface DevicePreflight {
  plan: StoragePlan;
  uploadLog: UploadLogContents | null;
  packetLog: PacketLogContents | null;
  workload: Workload;
  seed: number;
  runStartMs: number;
  resumed: boolean;
  /** Lines to print before the run (a stale lock taken over). */
  warnings: string[];
}

/** Everything `run` checks before it changes anything. Throws a user error (exit 2) for bad input. */
export function devicePreflight(settings: RunSettings, options: { lock?: boolean } = {}): DevicePreflight {
  const { board } = settings;
  const plan = storagePreflight(settings.storageDir, board, "device");
  const warnings: string[] = [];
  const stale = options.lock !== false && plan.exists ? lockCheck(plan.dir, settings.storageDir) : null;
  if (stale !== null) warnings.push(stale);
  const state = plan.runState;
  let workload = settings.workload ?? defaultWorkload();
  let seed = settings.seed ?? SEED_DEFAULT + (settings.device ?? 0);
  let runStartMs = settings.startUtcMs ?? RUN_START_UTC_MS_DEFAULT;
  if (state !== null) {
    const stored: Workload = { origin: "run state", streams: state.workload as unknown as StreamSpec[] };
    if (settings.workload !== null && workloadKey(settings.workload) !== workloadKey(stored)) {
      throw new StorageError(
        `storage ${settings.storageDir} was run with another workload (${stored.streams.length} streams: ${streamsShow(stored.streams)}); ` +
          `resume it without workload flags or with the same ones, or use another --storage`,
      );
    }
    if (settings.seed !== null && settings.seed !== state.seed) {
      throw new StorageError(
        `storage ${settings.storageDir} was run with --seed ${state.seed}; resume it with that seed (or without --seed)`,
      );
    }
    if (settings.startUtcMs !== null && settings.startUtcMs !== state.runStartUtcMs) {
      throw new StorageError(
        `storage ${settings.storageDir} started at ${new Date(state.runStartUtcMs).toISOString()}; --start applies to a new storage only`,
      );
    }
    workload = stored;
    seed = state.seed;
    runStartMs = state.runStartUtcMs;
  }
  if (state === null && plan.hasHistory) {
    // A storage this command did not run: its streams must have the workload's settings.
    const stored = historyStreamsRead(plan.dir, null, settings.storageDir);
    for (const spec of workload.streams) {
      const found = stored.get(streamKey(spec.source, spec.sensor));
      if (found === undefined) continue;
      const want = {
        recordType: spec.type === "tsd" ? abi.RECORD_TYPE_TSD : abi.RECORD_TYPE_EVT,
        dataType: DATA_TYPE_CODES[spec.dataType],
        sampleRateMs: spec.type === "tsd" ? (spec.sampleRateMs ?? 0) : 0,
      };
      if (
        found.recordType !== want.recordType ||
        found.dataType !== want.dataType ||
        found.sampleRateMs !== want.sampleRateMs
      ) {
        throw new StorageError(
          `storage ${settings.storageDir}: stream ${spec.source}/${spec.sensor} is ` +
            `${streamShow(found.recordType, found.dataType, found.sampleRateMs)} in ${found.from}; ` +
            `the workload has it as ${streamShow(want.recordType, want.dataType, want.sampleRateMs)}`,
        );
      }
    }
  }
  runStateMissingCheck(plan, settings.storageDir);
  if (workload.streams.length > board.memory.streamsMax) {
    throw new WorkloadError(
      `${workload.origin}: ${workload.streams.length} streams, but board ${board.name} has room for ${board.memory.streamsMax}`,
    );
  }
  const known = workload.streams.map((spec) => streamKey(spec.source, spec.sensor));
  const uploadLog = settings.uploadLogPath === null ? null : uploadLogTailRead(settings.uploadLogPath, known);
  if (uploadLog !== null) uploadLogOwnerCheck(uploadLog, plan, known);
  const packetsPath = settings.packetsPath ?? null;
  const packetLog = packetsPath === null ? null : packetLogRead(packetsPath);
  return { plan, uploadLog, packetLog, workload, seed, runStartMs, resumed: state !== null, warnings };
}

/**
 * Refuses an upload log another storage writes. With a side file, it must name this storage's id
 * (kept in its run state). Without one (a log written by 0.1.0, or a new one), the log is this
 * storage's if it is empty, or if the storage has a run state, every stream the log's end holds is
 * one of the storage's, and no record there is newer than the storage's clock can explain (its
 * last checkpoint plus one checkpoint interval). A new storage has delivered nothing: a log with
 * records is another's.
 */
function uploadLogOwnerCheck(log: UploadLogContents, plan: StoragePlan, known: readonly string[]): void {
  const state = plan.runState;
  const shown = `upload log ${log.path}`;
  if (log.owner !== null) {
    if (state?.storageId === log.owner.storageId) return;
    throw new UploadLogError(
      `${shown} is written by another storage (${log.owner.storage}); give this storage an upload log of its own`,
    );
  }
  if (log.streams.size === 0) return;
  if (state === null)
    throw new UploadLogError(
      `${shown} holds ${log.records > 0 ? "records" : "a record"} of another storage (this one is new and has delivered nothing); ` +
        `give this storage an upload log of its own`,
    );
  const knownSet = new Set(known);
  const latestMs = state.clockUtcMs + (state.cleanStop ? 0 : state.checkpointEveryMs);
  for (const [key, stream] of log.streams) {
    if (!knownSet.has(key))
      throw new UploadLogError(
        `${shown} holds stream ${key}, which storage ${plan.dir} does not have: it is another storage's log`,
      );
    let newest = -Infinity;
    for (const record of stream.tail.values()) newest = Math.max(newest, record.utcMs);
    if (newest > latestMs)
      throw new UploadLogError(
        `${shown} holds a record of ${key} at ${new Date(newest).toISOString()}, after storage ${plan.dir} stopped ` +
          `(${new Date(state.clockUtcMs).toISOString()}): it is another storage's log`,
      );
  }
}

const DATA_TYPE_CODES: Record<StreamSpec["dataType"], number> = {
  uint32: abi.DATA_TYPE_UINT32,
  int32: abi.DATA_TYPE_INT32,
  float32: abi.DATA_TYPE_FLOAT32,
};

function streamShow(recordType: number, dataType: number, rateMs: number): string {
  const type = recordType === abi.RECORD_TYPE_TSD ? `TSD every ${rateMs} ms` : "EVT";
  const data = Object.entries(DATA_TYPE_CODES).find(([, code]) => code === dataType)?.[0] ?? `data type ${dataType}`;
  return `${type}, ${data}`;
}

function streamsShow(streams: readonly StreamSpec[]): string {
  const shown = streams.slice(0, 4).map((s) => `${s.source}/${s.sensor} ${s.type}`);
  return shown.join(", ") + (streams.length > 4 ? ", …" : "");
}
