// A Device on a worker thread of its own, for a service that cannot let the device's synchronous
// calls block its event loop: the same methods, each returning a promise. The device runs in
// device-thread.ts; the calls, results, errors, events and log lines cross as messages
// (device-worker-protocol.ts).

import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type Board, type CleanupPolicy, packageRootDir } from "../boards.js";
import type {
  CleanupProgress,
  DataType,
  DeviceCloseOptions,
  DeviceCloseResult,
  DeviceOptions,
  DeviceStats,
  ForcedCleanup,
  GpsConfig,
  GpsPosition,
  RecordType,
  StreamConfig,
  StreamCounts,
  TierState,
  UploadRecord,
} from "./device.js";
import type { DeviceEventName, DeviceListener, DeviceListeners } from "./device-events.js";
import {
  type CallerMessage,
  type DeviceThreadInfo,
  type DeviceThreadOptions,
  type DeviceThreadState,
  type DeviceWorkerMethod,
  ERROR_CLASSES,
  errorRevive,
  type MethodArgs,
  type MethodResult,
  type ThreadMessage,
} from "./device-worker-protocol.js";
import { DeviceClosedError } from "./errors.js";
import type { Logger, LogLevel } from "./log.js";
import type { RecoveryReport } from "./recovery.js";

/**
 * What DeviceWorker.create takes: DeviceOptions without what cannot cross to another thread (a
 * `hal` object; a CoreLogger as `log`). The device opens `storageDir` itself (a NodeFsHal on it), or
 * keeps its disk tier in memory without one.
 */
export interface DeviceWorkerOptions extends Omit<DeviceOptions, "hal" | "log" | "logger" | "on"> {
  /** The log level, as DeviceOptions.log ("off" by default, or "info" with a `logger`). */
  log?: LogLevel;
  /** Where log lines go, as DeviceOptions.logger: called on the caller's thread. By default the thread's stderr. */
  logger?: Logger;
  /** Listeners to add before boot, so that they also see boot recovery's events (quarantines). */
  on?: DeviceListeners;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  /** The caller's stack at the call, appended to an error's. */
  stack: string | undefined;
}

/** The compiled thread script: beside this module in dist/, or dist/ of the package when run from source. */
function threadPath(): string {
  const beside = fileURLToPath(new URL("./device-thread.js", import.meta.url));
  if (existsSync(beside)) return beside;
  const built = join(packageRootDir(), "dist", "host", "core", "device-thread.js");
  if (existsSync(built)) return built;
  throw new Error(`${built} is missing: a DeviceWorker runs the compiled thread; run \`npm run build\` first`);
}

/**
 * A {@link Device} on a worker thread of its own: the same methods, each returning a promise of
 * what the Device method returns, so that a service's event loop never waits for the memory
 * manager (a processMemory tick with its fsyncs, boot recovery, a flush). Calls run on the device
 * one at a time, in the order they were made.
 *
 * An error thrown by the device is rejected on the caller's side as an instance of the same class
 * (CoreError with its `code` and `operation`, StorageError, DeviceClosedError, …) with the same
 * message. Events (`on`) are delivered on the caller's thread before the promise of the call that
 * caused them resolves. `close()` closes the device (flush, lock released) and then ends the
 * thread. While no call is pending the thread does not keep the process alive.
 *
 * The storage lock is the Device's: a DeviceWorker and a Device (or another DeviceWorker, or a
 * `run`) never open one storage, in this process or another.
 *
 * Not forwarded: `readBulkInto` (it fills the caller's arrays; use readBulk), the raw `exports`,
 * `memory` and `hal`, and `Device.restore`. Values cross by structured clone: a method's result is
 * a copy.
 *
 * @example
 * ```js
 * import { DeviceWorker, loadBoard } from "imx-memsim";
 *
 * const device = await DeviceWorker.create({ board: loadBoard("esp32"), storageDir: "/var/lib/imx" });
 * await device.configureStream(0, 7, { type: "evt" });
 * await device.writeEvt(0, 7, 21.5, Date.now());
 * const timer = setInterval(() => void device.processMemory(Date.now()), 100);
 * // ...
 * clearInterval(timer);
 * await device.close();
 * ```
 */
export class DeviceWorker {
  readonly board: Board;
  /** Bytes of device RAM (board.memory.ramBytes). */
  readonly ramBytes: number;
  readonly hasDiskTier: boolean;
  /** Records one readBulk returns at most. */
  readonly bulkCapacity: number;
  /** Bytes of device RAM the core's layout uses. */
  readonly layoutBytes: number;
  /** What boot recovery found on the storage directory (null without a disk tier). */
  readonly recovery: RecoveryReport | null;

  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<DeviceEventName, Set<DeviceListener<DeviceEventName>>>();
  private readonly logger: Logger | undefined;
  private state: DeviceThreadState;
  private nextId = 1;
  private closing: Promise<DeviceCloseResult> | null = null;
  /** Why no call can be made any more (the thread exited), or null. */
  private gone: Error | null = null;

  private constructor(worker: Worker, board: Board, info: DeviceThreadInfo, options: DeviceWorkerOptions) {
    this.worker = worker;
    this.board = board;
    this.ramBytes = info.ramBytes;
    this.hasDiskTier = info.hasDiskTier;
    this.bulkCapacity = info.bulkCapacity;
    this.layoutBytes = info.layoutBytes;
    this.recovery = info.recovery;
    this.logger = options.logger;
    this.state = { tierState: "idle", utcAvailable: true, utcHeldCount: 0 };
    for (const [name, listener] of Object.entries(options.on ?? {})) {
      this.on(name as DeviceEventName, listener as DeviceListener<DeviceEventName>);
    }
  }

  /**
   * Starts a thread and boots a device in it with `options` (as Device.create). Rejects as
   * Device.create throws: CoreError if the core cannot boot, RecoveryIoError if the storage cannot
   * be read, StorageError if another Device, DeviceWorker or run (in any process) holds the
   * storage's lock. Rejects with an Error if the compiled thread script is missing (`npm run build`).
   * The caller's event loop is free during the boot and boot recovery.
   *
   * @example
   * ```js
   * const device = await DeviceWorker.create({
   *   board: loadBoard("esp32"),
   *   storageDir: "/var/lib/imx",
   *   logger: console,
   *   log: "warn",
   *   on: { quarantine: (file) => console.warn(`quarantined ${file.name}`) },
   * });
   * ```
   */
  static create(options: DeviceWorkerOptions): Promise<DeviceWorker> {
    const { logger, on, log, ...rest } = options;
    const data: DeviceThreadOptions = { ...rest, forwardLog: logger !== undefined };
    if (log !== undefined) data.log = log;
    const stack = new Error().stack;
    let worker: Worker;
    try {
      worker = new Worker(threadPath(), { workerData: data });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise((resolve, reject) => {
      let device: DeviceWorker | null = null;
      const early: ThreadMessage[] = [];
      worker.on("message", (message: ThreadMessage) => {
        if (device !== null) {
          device.receive(message);
          return;
        }
        if (message.type === "ready") {
          device = new DeviceWorker(worker, options.board, message.info, { ...options, on: on ?? {} });
          for (const queued of early) device.receive(queued);
          worker.unref();
          resolve(device);
        } else if (message.type === "bootFailed") {
          reject(errorRevive(message.error, stack, ERROR_CLASSES));
        } else if (message.type === "log") {
          logger?.[message.level](message.line);
        } else {
          // Boot recovery's events, delivered once the listeners are in place.
          early.push(message);
        }
      });
      worker.on("error", (error) => {
        if (device === null) reject(error);
        else device.threadGone(error);
      });
      worker.on("exit", (code) => {
        const error = new Error(`the device thread exited (code ${code})`);
        if (device === null) reject(error);
        else device.threadGone(error);
      });
    });
  }

  private receive(message: ThreadMessage): void {
    switch (message.type) {
      case "reply":
      case "throw": {
        const call = this.pending.get(message.id);
        if (call === undefined) return;
        this.pending.delete(message.id);
        if (this.pending.size === 0) this.worker.unref();
        if (message.state !== null) this.state = message.state;
        if (message.type === "reply") call.resolve(message.value);
        else call.reject(errorRevive(message.error, call.stack, ERROR_CLASSES));
        return;
      }
      case "event": {
        const set = this.listeners.get(message.name);
        if (set === undefined) return;
        for (const listener of [...set]) listener(message.payload);
        return;
      }
      case "log":
        this.logger?.[message.level](message.line);
        return;
      default:
        return;
    }
  }

  private threadGone(error: Error): void {
    this.gone ??= error;
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  private send(message: CallerMessage, stack: string | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.gone !== null) {
        reject(this.gone);
        return;
      }
      this.pending.set(message.id, { resolve, reject, stack });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage(message);
    });
  }

  private call<M extends DeviceWorkerMethod>(method: M, args: MethodArgs<M>): Promise<MethodResult<M>> {
    const stack = new Error().stack;
    if (this.closing !== null) return Promise.reject(new DeviceClosedError(method, this.where()));
    return this.send({ type: "call", id: this.nextId++, method, args }, stack) as Promise<MethodResult<M>>;
  }

  private where(): string {
    return `${this.board.name} on a worker thread`;
  }

  // ---- The state as of the last call that returned --------------------------------------------------

  /** The tier state machine's state when the last call returned (Device.tierState). */
  get tierState(): TierState {
    return this.state.tierState;
  }

  /** Whether UTC was known when the last call returned (Device.utcAvailable). */
  get utcAvailable(): boolean {
    return this.state.utcAvailable;
  }

  /** Records held by writeBeforeUtc when the last call returned (Device.utcHeldCount). */
  get utcHeldCount(): number {
    return this.state.utcHeldCount;
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.closing !== null;
  }

  // ---- Events ------------------------------------------------------------------------------------------

  /**
   * As Device.on: calls `listener` for every `event` of the device (spill, discard, eviction,
   * quarantine, cleanupComplete; see DeviceEvents), on the caller's thread, before the promise of
   * the call that caused it resolves. A listener that throws is an uncaught exception (as with an
   * EventEmitter). Returns the DeviceWorker.
   */
  on<E extends DeviceEventName>(event: E, listener: DeviceListener<E>): this {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as DeviceListener<DeviceEventName>);
    return this;
  }

  /** Removes a listener added with on(). Returns the DeviceWorker. */
  off<E extends DeviceEventName>(event: E, listener: DeviceListener<E>): this {
    this.listeners.get(event)?.delete(listener as DeviceListener<DeviceEventName>);
    return this;
  }

  // ---- Close -------------------------------------------------------------------------------------------

  /**
   * As Device.close (flush RAM to the disk tier, wait for lazy deletions, release the storage
   * lock), once the calls made before it have run; then ends the thread. Afterwards every method
   * rejects with DeviceClosedError; close() again returns the same promise. Rejects as Device.close
   * (a failing tick's CoreError, after the lock is released); the thread ends either way.
   */
  close(options: DeviceCloseOptions = {}): Promise<DeviceCloseResult> {
    if (this.closing === null) this.closing = this.closeNow(options);
    return this.closing;
  }

  private async closeNow(options: DeviceCloseOptions): Promise<DeviceCloseResult> {
    const stack = new Error().stack;
    try {
      return (await this.send({ type: "close", id: this.nextId++, options }, stack)) as DeviceCloseResult;
    } finally {
      this.gone ??= new DeviceClosedError("call", this.where());
      await this.worker.terminate();
    }
  }

  // ---- The Device's methods ----------------------------------------------------------------------------

  /** Device.snapshot. */
  snapshot(): Promise<Uint8Array> {
    return this.call("snapshot", []);
  }
  /** Device.setCleanupPolicy. */
  setCleanupPolicy(policy: CleanupPolicy): Promise<void> {
    return this.call("setCleanupPolicy", [policy]);
  }
  /** Device.configureStream: resolves to the stream's index. */
  configureStream(source: number, sensor: number, config: StreamConfig): Promise<number> {
    return this.call("configureStream", [source, sensor, config]);
  }
  /** Device.streamIndex. */
  streamIndex(source: number, sensor: number): Promise<number> {
    return this.call("streamIndex", [source, sensor]);
  }
  /** Device.writeTsd. */
  writeTsd(source: number, sensor: number, value: number, utcMs: number): Promise<void> {
    return this.call("writeTsd", [source, sensor, value, utcMs]);
  }
  /** Device.writeEvt. */
  writeEvt(source: number, sensor: number, value: number, utcMs: number): Promise<void> {
    return this.call("writeEvt", [source, sensor, value, utcMs]);
  }
  /** Device.writeTsdMany: one message for many records (the way to write fast through a thread). */
  writeTsdMany(source: number, sensor: number, values: ArrayLike<number>, firstUtcMs: number): Promise<void> {
    return this.call("writeTsdMany", [source, sensor, values, firstUtcMs]);
  }
  /** Device.writeEvtMany: one message for many records (the way to write fast through a thread). */
  writeEvtMany(source: number, sensor: number, values: ArrayLike<number>, timesMs: ArrayLike<number>): Promise<void> {
    return this.call("writeEvtMany", [source, sensor, values, timesMs]);
  }
  /** Device.readBulk. */
  readBulk(source: number, sensor: number, max: number): Promise<UploadRecord[]> {
    return this.call("readBulk", [source, sensor, max]);
  }
  /** Device.peek. */
  peek(source: number, sensor: number, max: number): Promise<UploadRecord[]> {
    return this.call("peek", [source, sensor, max]);
  }
  /** Device.ack. */
  ack(source: number, sensor: number, count: number): Promise<void> {
    return this.call("ack", [source, sensor, count]);
  }
  /** Device.ackMany. */
  ackMany(entries: ReadonlyArray<{ source: number; sensor: number; count: number }>): Promise<void> {
    return this.call("ackMany", [entries]);
  }
  /** Device.revert. */
  revert(source: number, sensor: number): Promise<void> {
    return this.call("revert", [source, sensor]);
  }
  /** Device.counts. */
  counts(source: number, sensor: number): Promise<StreamCounts> {
    return this.call("counts", [source, sensor]);
  }
  /** Device.streamList. */
  streamList(): Promise<Array<{ source: number; sensor: number; type: RecordType; dataType: DataType }>> {
    return this.call("streamList", []);
  }
  /** Device.processMemory: one tick of the memory manager, off the caller's event loop. */
  processMemory(nowMs: number): Promise<TierState> {
    return this.call("processMemory", [nowMs]);
  }
  /** Device.flushAllToDisk. */
  flushAllToDisk(): Promise<void> {
    return this.call("flushAllToDisk", []);
  }
  /** Device.getFlushProgress. */
  getFlushProgress(): Promise<number> {
    return this.call("getFlushProgress", []);
  }
  /** Device.cancelMemoryFlush. */
  cancelMemoryFlush(): Promise<void> {
    return this.call("cancelMemoryFlush", []);
  }
  /** Device.isCleanupComplete. */
  isCleanupComplete(): Promise<boolean> {
    return this.call("isCleanupComplete", []);
  }
  /** Device.getPendingDiskWriteCount. */
  getPendingDiskWriteCount(): Promise<number> {
    return this.call("getPendingDiskWriteCount", []);
  }
  /** Device.getCleanupProgress. */
  getCleanupProgress(): Promise<CleanupProgress> {
    return this.call("getCleanupProgress", []);
  }
  /** Device.forceCleanupAllDiskFiles. */
  forceCleanupAllDiskFiles(): Promise<ForcedCleanup> {
    return this.call("forceCleanupAllDiskFiles", []);
  }
  /** Device.countDiskFiles. */
  countDiskFiles(): Promise<number> {
    return this.call("countDiskFiles", []);
  }
  /** Device.countRamSectorsWithData. */
  countRamSectorsWithData(): Promise<number> {
    return this.call("countRamSectorsWithData", []);
  }
  /** Device.settle. */
  settle(): Promise<void> {
    return this.call("settle", []);
  }
  /** Device.setDiskUsagePercent. */
  setDiskUsagePercent(percent: number): Promise<void> {
    return this.call("setDiskUsagePercent", [percent]);
  }
  /** Device.sectorAlloc. */
  sectorAlloc(): Promise<number> {
    return this.call("sectorAlloc", []);
  }
  /** Device.sectorFree. */
  sectorFree(id: number): Promise<void> {
    return this.call("sectorFree", [id]);
  }
  /** Device.sectorWrite. */
  sectorWrite(id: number, offsetBytes: number, value: number): Promise<void> {
    return this.call("sectorWrite", [id, offsetBytes, value]);
  }
  /** Device.sectorRead. */
  sectorRead(id: number, offsetBytes: number): Promise<number> {
    return this.call("sectorRead", [id, offsetBytes]);
  }
  /** Device.sectorLink. */
  sectorLink(id: number, next: number): Promise<void> {
    return this.call("sectorLink", [id, next]);
  }
  /** Device.sectorNext. */
  sectorNext(id: number): Promise<number> {
    return this.call("sectorNext", [id]);
  }
  /** Device.stats. */
  stats(): Promise<DeviceStats> {
    return this.call("stats", []);
  }
  /** Device.isSectorAllocated. */
  isSectorAllocated(id: number): Promise<boolean> {
    return this.call("isSectorAllocated", [id]);
  }
  /** Device.resetStatistics. */
  resetStatistics(): Promise<void> {
    return this.call("resetStatistics", []);
  }
  /** Device.peekAt. */
  peekAt(source: number, sensor: number, index: number): Promise<UploadRecord | null> {
    return this.call("peekAt", [source, sensor, index]);
  }
  /** Device.pendingCountBySource. */
  pendingCountBySource(source: number): Promise<number> {
    return this.call("pendingCountBySource", [source]);
  }
  /** Device.setGpsConfig. */
  setGpsConfig(source: number, config: GpsConfig): Promise<void> {
    return this.call("setGpsConfig", [source, config]);
  }
  /** Device.writeEvtWithGps. */
  writeEvtWithGps(source: number, sensor: number, value: number, utcMs: number, position: GpsPosition): Promise<void> {
    return this.call("writeEvtWithGps", [source, sensor, value, utcMs, position]);
  }
  /** Device.setUtcUnavailable. */
  setUtcUnavailable(): Promise<void> {
    return this.call("setUtcUnavailable", []);
  }
  /** Device.writeBeforeUtc. */
  writeBeforeUtc(source: number, sensor: number, value: number, systemMs: number): Promise<void> {
    return this.call("writeBeforeUtc", [source, sensor, value, systemMs]);
  }
  /** Device.setUtcAvailable: resolves to the held records written. */
  setUtcAvailable(utcOffsetMs: number): Promise<number> {
    return this.call("setUtcAvailable", [utcOffsetMs]);
  }
  /** Device.deactivateSensor. */
  deactivateSensor(source: number, sensor: number): Promise<void> {
    return this.call("deactivateSensor", [source, sensor]);
  }
  /** Device.activateSensor. */
  activateSensor(source: number, sensor: number): Promise<void> {
    return this.call("activateSensor", [source, sensor]);
  }
  /** Device.isSensorActive. */
  isSensorActive(source: number, sensor: number): Promise<boolean> {
    return this.call("isSensorActive", [source, sensor]);
  }
  /** Device.resetSensor: resolves to the records removed. */
  resetSensor(source: number, sensor: number): Promise<number> {
    return this.call("resetSensor", [source, sensor]);
  }
}
