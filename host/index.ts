/**
 * imx-memsim as a library: a simulated device ({@link Device}, booted from a board file with
 * {@link loadBoard}) whose records wait in its RAM and disk tier until an {@link Outbox} has sent
 * them; the bounded cleanup step between iterations ({@link ensureCleanupComplete}); the flush
 * drain and the graceful stop ({@link flushDrain}, {@link shutdownFlush}); the disk-tier HALs; the
 * error classes a caller may catch; {@link DeviceWorker}, the device on a worker thread for a service
 * that cannot block its event loop (Device says what blocks, and for how long); and the types of
 * what they take and return. Everything else
 * under `host/` is internal and may change without notice (CHANGELOG.md, semantic versioning).
 *
 * @example
 * ```js
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Device, ensureCleanupComplete, loadBoard, Outbox } from "imx-memsim";
 *
 * // A device with the esp32 board's RAM and a disk tier in a directory of its own.
 * const storageDir = mkdtempSync(join(tmpdir(), "imx-"));
 * const device = Device.create({ board: loadBoard("esp32"), storageDir });
 * device.configureStream(0, 1001, { type: "tsd", dataType: "float32", sampleRateMs: 1000 });
 *
 * // The application's main loop writes samples and ticks the memory manager (bounded work per call).
 * const startMs = Date.now();
 * for (let i = 0; i < 300; i++) device.writeTsd(0, 1001, 20 + i / 10, startMs + i * 1000);
 * device.processMemory(Date.now());
 *
 * // Upload: a resolved send ACKs its batch, a rejected one reverts it for the next drain.
 * const received = [];
 * const outbox = new Outbox(device, { packetRecords: 64 });
 * await outbox.drain(async (batch) => {
 *   received.push(...batch.records); // here: await fetch(...), an MQTT publish, ...
 * });
 *
 * await ensureCleanupComplete(device, { nowMs: Date.now() });
 * console.log(received.length, device.counts(0, 1001).total, device.countDiskFiles()); // 300 0 0
 * ```
 *
 * @packageDocumentation
 */

export { UsageError, UserError } from "./base/user-error.js";
export {
  type Board,
  type BoardDisk,
  BoardError,
  type BoardIssue,
  type BoardMemory,
  type BoardOverrides,
  type BoardTier,
  CLEANUP_POLICIES,
  type CleanupPolicy,
  DEFAULT_BOARD_NAME,
  isCleanupPolicy,
  listBoards,
  loadBoard,
  withOverrides,
} from "./boards.js";
export { ConfigImageError } from "./config-image.js";
export {
  type BulkRecords,
  type CleanupProgress,
  type DataType,
  Device,
  type DeviceCloseOptions,
  type DeviceCloseResult,
  type DeviceEventName,
  type DeviceEvents,
  type DeviceListener,
  type DeviceListeners,
  type DeviceOptions,
  type DeviceStats,
  type DiscardReason,
  type ForcedCleanup,
  type GpsConfig,
  type GpsPosition,
  type RecordType,
  type RestoreOptions,
  SnapshotError,
  type StreamConfig,
  type StreamCounts,
  type TierState,
  type UploadRecord,
} from "./core/device.js";
export { DeviceWorker, type DeviceWorkerOptions } from "./core/device-worker.js";
export {
  ENSURE_CLEANUP_TICKS_MAX,
  ensureCleanupComplete,
  type EnsureCleanupOptions,
  type EnsureCleanupResult,
} from "./core/ensure-cleanup.js";
export { CoreAssertionError, CoreError, DeviceClosedError, errorCodeName } from "./core/errors.js";
export {
  FLUSH_PROGRESS_COMPLETE,
  flushDrain,
  type FlushProgressSource,
  SHUTDOWN_DEADLINE_MS_DEFAULT,
  shutdownFlush,
  type ShutdownFlushOptions,
  type ShutdownFlushResult,
} from "./core/flush.js";
export { CoreLogger, type CoreLogLevel, type Logger, type LogLevel, type LogSink } from "./core/log.js";
export type { CoreBuild } from "./core/wasm.js";
export type { QuarantinedFile } from "./core/quarantine.js";
export { type MovedFile, type RecoveryReport, RecoveryIoError, type RemovedFile } from "./core/recovery.js";
export { type Hal, type HalDirEntry, HalError, type HalErrorCode, type HalOp, type HalStats } from "./hal/hal.js";
export { MemoryHal, type MemoryHalOptions, type MemorySnapshot } from "./hal/memory.js";
export { NodeFsHal } from "./hal/node-fs.js";
export { LOCK_FILE, StorageError } from "./hal/storage-lock.js";
export {
  type DrainOptions,
  type DrainResult,
  Outbox,
  type OutboxBatch,
  type OutboxOptions,
  type OutboxSendContext,
  type OutboxSender,
  type OutboxStream,
} from "./core/outbox.js";
