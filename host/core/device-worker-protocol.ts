// The messages between a DeviceWorker (the caller's thread) and its device thread
// (device-thread.ts), and how an error crosses between them.
//
//   caller → thread   { type: "call", id, method, args }     one Device method, run in order
//                     { type: "close", id, options }         device.close(options), then the thread ends
//   thread → caller   { type: "ready", info }                the device booted
//                     { type: "bootFailed", error }          Device.create threw
//                     { type: "reply", id, value, state }    the call returned (or its promise resolved)
//                     { type: "throw", id, error, state }    the call threw (or its promise rejected)
//                     { type: "event", name, payload }       a device event, before the reply of its call
//                     { type: "log", level, line }           a line for the caller's logger
//
// Structured clone carries every value; an error is sent as its class name, message, stack and own
// properties, and rebuilt on the caller's side as an instance of the same class (errorRevive).

import { UsageError, UserError } from "../base/user-error.js";
import { BoardError } from "../boards.js";
import { ConfigImageError } from "../config-image.js";
import { DirSyncError } from "../hal/atomic.js";
import { HalError } from "../hal/hal.js";
import { StorageError } from "../hal/storage-lock.js";
import type * as abi from "./abi.generated.js";
import { SnapshotError } from "./boot.js";
import type { Device, DeviceCloseOptions, DeviceEventName, DeviceEvents, DeviceOptions } from "./device.js";
import { CoreAssertionError, CoreError, DeviceClosedError } from "./errors.js";
import type { LogLevel } from "./log.js";
import { type RecoveryReport, RecoveryIoError } from "./recovery.js";

/** The Device methods a DeviceWorker forwards (each returns a promise of what the Device returns). */
export const DEVICE_WORKER_METHODS = [
  "snapshot",
  "setCleanupPolicy",
  "configureStream",
  "streamIndex",
  "writeTsd",
  "writeEvt",
  "writeTsdMany",
  "writeEvtMany",
  "readBulk",
  "peek",
  "ack",
  "ackMany",
  "revert",
  "counts",
  "streamList",
  "processMemory",
  "flushAllToDisk",
  "getFlushProgress",
  "cancelMemoryFlush",
  "isCleanupComplete",
  "getPendingDiskWriteCount",
  "getCleanupProgress",
  "forceCleanupAllDiskFiles",
  "countDiskFiles",
  "countRamSectorsWithData",
  "settle",
  "setDiskUsagePercent",
  "sectorAlloc",
  "sectorFree",
  "sectorWrite",
  "sectorRead",
  "sectorLink",
  "sectorNext",
  "stats",
  "isSectorAllocated",
  "resetStatistics",
  "peekAt",
  "pendingCountBySource",
  "setGpsConfig",
  "writeEvtWithGps",
  "setUtcUnavailable",
  "writeBeforeUtc",
  "setUtcAvailable",
  "deactivateSensor",
  "activateSensor",
  "isSensorActive",
  "resetSensor",
] as const satisfies ReadonlyArray<keyof Device>;

export type DeviceWorkerMethod = (typeof DEVICE_WORKER_METHODS)[number];

export type MethodArgs<M extends DeviceWorkerMethod> = Device[M] extends (...args: infer A) => unknown ? A : never;
export type MethodResult<M extends DeviceWorkerMethod> = Device[M] extends (...args: never[]) => infer R
  ? Awaited<R>
  : never;

/** A DeviceWorker's forwarded methods: each as the Device's, returning a promise (checked by the tests). */
export type DeviceWorkerForwarded = { [M in DeviceWorkerMethod]: (...args: MethodArgs<M>) => Promise<MethodResult<M>> };

/** What Device.create is given in the thread: DeviceOptions without what cannot cross a thread. */
export interface DeviceThreadOptions extends Omit<DeviceOptions, "hal" | "log" | "logger" | "on"> {
  log?: LogLevel;
  /** The caller has a logger: lines are sent to it ("log" messages) instead of the thread's stderr. */
  forwardLog: boolean;
}

/** What does not change after boot, sent once with "ready". */
export interface DeviceThreadInfo {
  ramBytes: number;
  hasDiskTier: boolean;
  bulkCapacity: number;
  layoutBytes: number;
  recovery: RecoveryReport | null;
}

/** The getters that change, sent with every reply (as they were when the call returned). */
export interface DeviceThreadState {
  tierState: abi.TierState;
  utcAvailable: boolean;
  utcHeldCount: number;
}

export type CallerMessage =
  | { type: "call"; id: number; method: DeviceWorkerMethod; args: unknown[] }
  | { type: "close"; id: number; options: DeviceCloseOptions };

type EventMessage = { [E in DeviceEventName]: { type: "event"; name: E; payload: DeviceEvents[E] } }[DeviceEventName];

export type ThreadMessage =
  | { type: "ready"; info: DeviceThreadInfo }
  | { type: "bootFailed"; error: SentError }
  | { type: "reply"; id: number; value: unknown; state: DeviceThreadState | null }
  | { type: "throw"; id: number; error: SentError; state: DeviceThreadState | null }
  | EventMessage
  | { type: "log"; level: abi.CoreLogLevel; line: string };

/** An error as it crosses the thread boundary. */
export interface SentError {
  name: string;
  message: string;
  stack: string | undefined;
  /** Own properties that structured clone can carry (code, operation, path, issues, …). */
  props: Record<string, unknown>;
  cause?: SentError | { value: unknown };
}

/** Error classes rebuilt by name on the caller's side (the exported ones and the built-ins). */
export const ERROR_CLASSES: Record<string, new (...args: never[]) => Error> = {
  BoardError,
  ConfigImageError,
  CoreAssertionError,
  CoreError,
  DeviceClosedError,
  DirSyncError,
  Error,
  EvalError,
  HalError,
  RangeError,
  RecoveryIoError,
  ReferenceError,
  SnapshotError,
  StorageError,
  SyntaxError,
  TypeError,
  UsageError,
  UserError,
};

/** Depth of `cause` chains sent along (a bound on a loop over caller-made objects). */
const CAUSE_DEPTH_MAX = 4;

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** `error` (anything thrown) as it is sent to the other thread. */
export function errorSend(error: unknown, depth = 0): SentError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), stack: undefined, props: {} };
  const props: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
    if (cloneable(value)) props[key] = value;
  }
  const sent: SentError = { name: error.name, message: error.message, stack: error.stack, props };
  if (error.cause !== undefined && depth < CAUSE_DEPTH_MAX) {
    sent.cause =
      error.cause instanceof Error
        ? errorSend(error.cause, depth + 1)
        : { value: cloneable(error.cause) ? error.cause : Object.prototype.toString.call(error.cause) };
  }
  return sent;
}

/**
 * The error `sent` rebuilt as an instance of its class (an Error when the class is not one of the
 * package's or a built-in), with its message, its own properties and a stack that shows the
 * thread's frames, then the caller's (`callerStack`).
 */
export function errorRevive(
  sent: SentError,
  callerStack: string | undefined,
  classes: Record<string, new (...args: never[]) => Error>,
): Error {
  const Class = classes[sent.name] ?? Error;
  // A real Error object (with its stack machinery) whose prototype is the class's, without running
  // the class's constructor (whose arguments are not known here).
  const error: Error = Reflect.construct(Error, [sent.message], Class);
  Object.defineProperty(error, "name", { value: sent.name, writable: true, enumerable: true, configurable: true });
  for (const [key, value] of Object.entries(sent.props)) {
    Object.defineProperty(error, key, { value, writable: true, enumerable: true, configurable: true });
  }
  if (sent.cause !== undefined) {
    const cause = "value" in sent.cause ? sent.cause.value : errorRevive(sent.cause, undefined, classes);
    Object.defineProperty(error, "cause", { value: cause, writable: true, enumerable: false, configurable: true });
  }
  const callerFrames = callerStack?.split("\n").slice(1).join("\n");
  const stack = sent.stack ?? `${sent.name}: ${sent.message}`;
  error.stack =
    callerFrames === undefined || callerFrames === ""
      ? stack
      : `${stack}\n    --- in the device thread, called from:\n${callerFrames}`;
  return error;
}
