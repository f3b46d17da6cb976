// The public entry of imx-memsim as a library (built to dist/host/index.js): a simulated device
// (Device, booted from a board file with loadBoard), the bounded cleanup step between iterations
// (ensureCleanupComplete), the flush drain and the graceful stop (flushDrain, shutdownFlush), the
// disk-tier HALs, the error classes a caller may catch, and the types of what they take and
// return. Everything else under host/ is internal and may change without notice.
//
//   import { Device, ensureCleanupComplete, loadBoard } from "imx-memsim";
//   const device = Device.create({ board: loadBoard("fc1-imx6"), storageDir: "/var/lib/imx" });

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
  type CleanupProgress,
  type DataType,
  Device,
  type DeviceOptions,
  type DeviceStats,
  type ForcedCleanup,
  type RecordType,
  type RestoreOptions,
  SnapshotError,
  type StreamConfig,
  type StreamCounts,
  type TierState,
  type UploadRecord,
} from "./core/device.js";
export {
  ENSURE_CLEANUP_TICKS_MAX,
  ensureCleanupComplete,
  type EnsureCleanupOptions,
  type EnsureCleanupResult,
} from "./core/ensure-cleanup.js";
export { CoreAssertionError, CoreError, errorCodeName } from "./core/errors.js";
export {
  FLUSH_PROGRESS_COMPLETE,
  flushDrain,
  SHUTDOWN_DEADLINE_MS_DEFAULT,
  shutdownFlush,
  type ShutdownFlushOptions,
  type ShutdownFlushResult,
} from "./core/flush.js";
export { CoreLogger, type LogLevel, type LogSink } from "./core/log.js";
export type { QuarantinedFile } from "./core/quarantine.js";
export { type RecoveryReport, RecoveryIoError } from "./core/recovery.js";
export { type Hal, HalError, type HalErrorCode, type HalStats } from "./hal/hal.js";
export { MemoryHal } from "./hal/memory.js";
export { NodeFsHal } from "./hal/node-fs.js";
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
