// The device's events (device.on(event, listener)): what the memory manager did that an
// application may want to count, alert on or log — spills, discards, evictions, quarantines and
// cleanup completion. They come from the core's log events (every one reaches the host, whatever
// the log level) and from the host's own work (boot recovery's quarantines, resetSensor).
//
// Listeners never run inside a core call: an event is queued while the core works and delivered
// when the Device method that caused it returns (or, for work that completes off the main loop, in
// a microtask), so a listener may call the device.

import * as abi from "./abi.generated.js";
import type { QuarantinedFile } from "./quarantine.js";

/** Why records were discarded (see DeviceEvents.discard). */
export type DiscardReason = "ram-full" | "forced-cleanup" | "reset";

/** The payload of each device event, by name. */
export interface DeviceEvents {
  /** The tier state machine moved `sectors` RAM sectors of a stream into a new `.imx` file. */
  spill: { source: number; sensor: number; sectors: number };
  /**
   * Records discarded, counted: "ram-full" — RAM was full and the disk tier could not take them
   * (or there is none), so the stream's oldest non-pending sector went; "forced-cleanup" —
   * forceCleanupAllDiskFiles() deleted every file (source and sensor null: all streams);
   * "reset" — resetSensor() emptied the stream.
   */
  discard: { source: number | null; sensor: number | null; reason: DiscardReason; records: number };
  /**
   * The disk tier was full under the evict-oldest policy: the stream's oldest file was deleted to
   * make room, with the records it still held.
   */
  eviction: { source: number; sensor: number; records: number };
  /** A file was refused (at boot recovery, or on a read while running) and moved to `corrupted/`. */
  quarantine: QuarantinedFile;
  /** Cleanup caught up: after these deletions no file awaits deletion and none is in flight. */
  cleanupComplete: { filesDeleted: number; bytesDeleted: number };
}

/** The device's event names: "spill", "discard", "eviction", "quarantine", "cleanupComplete". */
export type DeviceEventName = keyof DeviceEvents;

/** A listener of event `E`, called with its payload (DeviceEvents). */
export type DeviceListener<E extends DeviceEventName> = (payload: DeviceEvents[E]) => void;

/** Listeners by event, as DeviceOptions.on takes them (those see boot recovery's events too). */
export type DeviceListeners = { [E in DeviceEventName]?: DeviceListener<E> };

type Queued = { [E in DeviceEventName]: [E, DeviceEvents[E]] }[DeviceEventName];

/** Events queued at most between two deliveries; beyond, the oldest are dropped (and counted). */
export const DEVICE_EVENTS_QUEUED_MAX = 4096;

export class DeviceEventHub {
  private readonly listeners = new Map<DeviceEventName, Set<DeviceListener<DeviceEventName>>>();
  private readonly queue: Queued[] = [];
  private scheduled = false;
  /** Files deleted (and their bytes) since the last cleanupComplete event. */
  filesDeleted = 0;
  bytesDeleted = 0;
  /** A file was deleted since the device last checked whether cleanup is complete. */
  deletedSinceCheck = false;
  /** Events dropped because the queue was full (no listener drained it). */
  dropped = 0;

  constructor(
    private readonly streamOf: (index: number) => { source: number; sensor: number } | undefined,
    /** Called at each delivery before the queue is emptied: adds what only the device can tell. */
    private readonly collect: () => void,
  ) {}

  on<E extends DeviceEventName>(event: E, listener: DeviceListener<E>): void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as DeviceListener<DeviceEventName>);
  }

  off<E extends DeviceEventName>(event: E, listener: DeviceListener<E>): void {
    this.listeners.get(event)?.delete(listener as DeviceListener<DeviceEventName>);
  }

  /** Whether anything waits for delivery (checked on the device's hot paths). */
  get pending(): boolean {
    return this.queue.length > 0 || this.deletedSinceCheck;
  }

  push<E extends DeviceEventName>(event: E, payload: DeviceEvents[E]): void {
    if (this.queue.length >= DEVICE_EVENTS_QUEUED_MAX) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push([event, payload] as Queued);
    this.schedule();
  }

  /** One of the core's log events (called from inside a core call: only queues). */
  coreEvent(event: number, a: number, b: number): void {
    switch (event) {
      case abi.EVENT_SPILL: {
        const stream = this.streamOf(a);
        if (stream !== undefined) this.push("spill", { source: stream.source, sensor: stream.sensor, sectors: b });
        return;
      }
      case abi.EVENT_DISCARD: {
        const stream = this.streamOf(a);
        if (stream !== undefined)
          this.push("discard", { source: stream.source, sensor: stream.sensor, reason: "ram-full", records: b });
        return;
      }
      case abi.EVENT_FILE_DISCARDED: {
        const stream = this.streamOf(a);
        if (stream !== undefined) this.push("eviction", { source: stream.source, sensor: stream.sensor, records: b });
        return;
      }
      case abi.EVENT_FORCE_CLEANUP:
        if (b > 0) this.push("discard", { source: null, sensor: null, reason: "forced-cleanup", records: b });
        return;
      case abi.EVENT_FILE_DELETED:
        this.filesDeleted++;
        this.bytesDeleted += b;
        this.deletedSinceCheck = true;
        this.schedule();
        return;
      default:
        return;
    }
  }

  /** Delivers every queued event to its listeners, oldest first. */
  deliver(): void {
    this.collect();
    let failed: { error: unknown } | null = null;
    for (let delivered = 0; this.queue.length > 0 && delivered < DEVICE_EVENTS_QUEUED_MAX; delivered++) {
      const [event, payload] = this.queue.shift() as Queued;
      const set = this.listeners.get(event);
      if (set === undefined) continue;
      for (const listener of [...set]) {
        try {
          listener(payload);
        } catch (error) {
          failed ??= { error };
        }
      }
    }
    // The first listener's error, once every event has reached every listener.
    if (failed !== null) throw failed.error instanceof Error ? failed.error : new Error(String(failed.error));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.deliver();
    });
  }
}
