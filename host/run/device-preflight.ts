// What one device of `imx-memsim run` is asked to do (RunSettings) and the check made before
// anything changes (devicePreflight): the storage directory, its run state and history, the
// workload and the upload log are read, and bad input throws a user error (exit 2).

import type { Board, CleanupPolicy } from "../boards.js";
import * as abi from "../core/abi.generated.js";
import type { LogLevel } from "../core/log.js";
import { HOUR_MS } from "./duration.js";
import type { OutageSpec } from "./outage-schedule.js";
import { type PacketLogContents, packetLogRead } from "./packet-log.js";
import { historyStreamsRead, lockCheck, StorageError, type StoragePlan, storagePreflight } from "./storage.js";
import type { UplinkSettings } from "./uplink.js";
import { streamKey, type UploadLogContents, uploadLogRead } from "./upload-log.js";
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
}

/** Everything `run` checks before it changes anything. Throws a user error (exit 2) for bad input. */
export function devicePreflight(settings: RunSettings, options: { lock?: boolean } = {}): DevicePreflight {
  const { board } = settings;
  const plan = storagePreflight(settings.storageDir, board, "device");
  if (options.lock !== false && plan.exists) lockCheck(plan.dir, settings.storageDir);
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
  if (workload.streams.length > board.memory.streamsMax) {
    throw new WorkloadError(
      `${workload.origin}: ${workload.streams.length} streams, but board ${board.name} has room for ${board.memory.streamsMax}`,
    );
  }
  const uploadLog = settings.uploadLogPath === null ? null : uploadLogRead(settings.uploadLogPath);
  const packetsPath = settings.packetsPath ?? null;
  const packetLog = packetsPath === null ? null : packetLogRead(packetsPath);
  return { plan, uploadLog, packetLog, workload, seed, runStartMs, resumed: state !== null };
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
