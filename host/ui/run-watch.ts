// Watching a single-device run from the outside: the core's log events (every one, whatever the
// --log level; the level still decides what is printed) and the end of every tick, handed to the
// listeners that want them (the dashboard, the Perfetto trace). A listener reads the run and the
// device; it never changes them, so a watched run goes exactly as an unwatched one.

import * as abi from "../core/abi.generated.js";
import { CoreLogger, type LogLevel } from "../core/log.js";
import type { DeviceRun, RunObserver } from "../run/device-run.js";

export interface WatchListener {
  /** A core log event, at the device's current simulated time. */
  event?(simMs: number, level: number, event: number, a: number, b: number): void;
  /** The end of a tick (sensors written, uploader stepped, processMemory called). */
  tick?(run: DeviceRun, nowMs: number): void;
}

/** A core logger that also tells the watch about every event. */
class WatchLogger extends CoreLogger {
  constructor(
    level: LogLevel,
    private readonly watch: RunWatch,
  ) {
    super(level);
  }

  override event(level: number, subsystem: number, event: number, a: number, b: number): void {
    this.watch.eventNote(level, event, a, b);
    super.event(level, subsystem, event, a, b);
  }
}

export class RunWatch implements RunObserver {
  readonly logger: CoreLogger;
  private readonly listeners: WatchListener[] = [];
  /** The run watched, once started (events logged before it, during boot, are timed `startMs`). */
  private run: DeviceRun | null = null;

  constructor(
    level: LogLevel,
    private readonly startMs = 0,
  ) {
    this.logger = new WatchLogger(level, this);
  }

  listen(listener: WatchListener): void {
    this.listeners.push(listener);
  }

  /** Called by the logger for each core event. */
  eventNote(level: number, event: number, a: number, b: number): void {
    // The run's clock moves at the start of a tick: an event belongs to the tick under way.
    const simMs = this.run === null ? this.startMs : this.run.nowMs;
    for (const listener of this.listeners) listener.event?.(simMs, level, event, a, b);
  }

  /** The run, once DeviceRun.start has returned it. */
  attach(run: DeviceRun): void {
    this.run = run;
  }

  tick(run: DeviceRun, nowMs: number): void {
    this.run = run;
    for (const listener of this.listeners) listener.tick?.(run, nowMs);
  }
}

/** Events the dashboard's log pane leaves out: state changes have their own strip. */
export const EVENTS_NOT_LOGGED: ReadonlySet<number> = new Set([abi.EVENT_STATE]);
