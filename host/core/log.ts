// Formats the core's numeric log events as text, with a level filter and a prefix per subsystem.
// Logging is off by default.

import * as abi from "./abi.generated.js";

/** A core log level: "error", "warn", "info" or "debug" (the table in assembly/abi.ts). */
export type CoreLogLevel = abi.CoreLogLevel;

/** A log filter: "off", or the least severe core log level (assembly/abi.ts) shown. */
export type LogLevel = "off" | abi.CoreLogLevel;

const LEVEL_VALUES: Record<LogLevel, number> = { off: 0, ...abi.CORE_LOG_LEVEL_CODES };

/** Every log filter, from "off" to the most verbose. */
export const LOG_LEVELS: readonly LogLevel[] = ["off", ...abi.CORE_LOG_LEVEL_NAMES];

/** The tier states by code, from the table in assembly/abi.ts. */
export const STATE_NAMES: readonly abi.TierState[] = abi.TIER_STATE_NAMES;

/** The text of one core log event; an event this build does not know is shown by number. */
export function eventText(event: number, a: number, b: number): string {
  switch (event) {
    case abi.EVENT_BOOTED:
      return `booted: ${a} sectors, layout ends at byte ${b}`;
    case abi.EVENT_USAGE_STEP:
      return `memory usage crossed ${a}% (used: ${b} sectors)`;
    case abi.EVENT_DISCARD:
      return `RAM full: discarded the oldest non-pending sector of stream ${a} (${b} records)`;
    case abi.EVENT_SPILL:
      return `spilled ${b} sectors of stream ${a} to disk`;
    case abi.EVENT_SPILL_REFUSED:
      return `spill refused (${a}): disk tier at ${b} bytes`;
    case abi.EVENT_SPILL_FAILED:
      return `spill of stream ${a} failed (${b})`;
    case abi.EVENT_FILE_DELETED:
      return `deleted file slot ${a} (${b} bytes)`;
    case abi.EVENT_DELETE_FAILED:
      return `deleting file slot ${a} failed (${b}); will retry`;
    case abi.EVENT_STATE:
      return `state ${STATE_NAMES[a] ?? a} -> ${STATE_NAMES[b] ?? b}`;
    case abi.EVENT_FLUSH_COMPLETE:
      return `flush complete (${a} sectors moved): safe to power off`;
    case abi.EVENT_FLUSH_CANCELLED:
      return `flush cancelled after ${a} sectors`;
    case abi.EVENT_FORCE_CLEANUP:
      return `forced cleanup deleted ${a} files, discarding ${b} records`;
    case abi.EVENT_FILE_CORRUPT:
      return b === abi.E_HAL_NOT_FOUND
        ? `file slot ${a} is missing (read returned ${b}, E_HAL_NOT_FOUND)`
        : `file slot ${a} is corrupt (read returned ${b})`;
    case abi.EVENT_RECOVERY_DONE:
      return `recovery done: ${a} streams, ${b} records lost with RAM`;
    case abi.EVENT_ACK_PERSIST_FAILED:
      return `persisting stream positions failed (${b})`;
    case abi.EVENT_FILE_DISCARDED:
      return `disk full: deleted the oldest file of stream ${a} to make room (${b} records discarded)`;
    case abi.EVENT_WRITE_REFUSED:
      return `disk full (refuse-new): refused a write to stream ${a} (${b} refused so far)`;
    case abi.EVENT_SPILL_NO_SPACE:
      return `spill of stream ${a} met a full filesystem (ENOSPC) with the disk tier at ${b} bytes`;
    default:
      return `event ${event} (${a}, ${b})`;
  }
}

/** Where a CoreLogger writes: each line with its level. */
export type LogSink = (line: string, level: abi.CoreLogLevel) => void;

/**
 * A logger the device writes its lines to (DeviceOptions.logger): one method per level, so that
 * `console`, pino, winston or a test's array fit as they are.
 */
export interface Logger {
  /** A failure the device could not work around. */
  error(message: string): void;
  /** Recovery's quarantines and moves, a stale lock taken over, a full disk. */
  warn(message: string): void;
  /** Flushes, forced cleanup, boot. */
  info(message: string): void;
  /** Every state change, spill and deletion. */
  debug(message: string): void;
}

/**
 * Formats the core's log events and the host's lines and passes those at or above its level to a
 * sink (stderr by default).
 */
export class CoreLogger {
  private threshold: number;
  constructor(
    level: LogLevel = "off",
    private readonly sink: LogSink = (line) => process.stderr.write(line + "\n"),
  ) {
    this.threshold = LEVEL_VALUES[level];
  }

  /** A CoreLogger that writes to `logger` (each line to the method of its level), from `level` up ("info" by default). */
  static of(logger: Logger, level: LogLevel = "info"): CoreLogger {
    return new CoreLogger(level, (line, lineLevel) => logger[lineLevel](line));
  }

  /** Changes the level from now on. */
  setLevel(level: LogLevel): void {
    this.threshold = LEVEL_VALUES[level];
  }

  /** A line from the host side of the memory manager (recovery), logged at warn level. */
  line(text: string): void {
    if (LEVEL_VALUES.warn > this.threshold) return;
    this.sink(text, "warn");
  }

  /** One of the core's log events (the core calls it): written as a line if `level` passes the filter. */
  event(level: number, subsystem: number, event: number, a: number, b: number): void {
    if (level > this.threshold) return;
    const name = abi.LOG_SUBSYSTEM_BY_CODE[subsystem];
    this.sink(
      `[${name === undefined ? "imx" : `imx:${name}`}] ${eventText(event, a, b)}`,
      abi.CORE_LOG_LEVEL_BY_CODE[level] ?? "debug",
    );
  }
}
