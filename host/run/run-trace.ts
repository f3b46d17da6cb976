// The run's trace: one JSON line per trace interval (--trace-every) with the device's RAM and disk
// use, the link, the backlog and the counters, buffered and appended to the trace file.

import { appendFileSync, writeFileSync } from "node:fs";

function spaceError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG";
}
import type { DeviceStats } from "../core/device.js";

const TRACE_LINES_PER_WRITE = 256;

/** What one trace line says besides the device's statistics. */
export interface RunTracePoint {
  device: number | null;
  simMs: number;
  sinceStartMs: number;
  inflight: number;
  linkUp: boolean;
  written: number;
  uploaded: number;
}

export class RunTrace {
  private buffered: string[] = [];
  /** Lines that could not be appended because the filesystem was full (dropped, counted). */
  linesDropped = 0;
  lastError: string | null = null;

  /** Appends to `path`; a new run (`fresh`) starts the file empty. */
  constructor(
    readonly path: string,
    fresh: boolean,
  ) {
    if (fresh) {
      try {
        writeFileSync(path, "");
      } catch (error) {
        if (!spaceError(error)) throw error;
        this.lastError = (error as { code: string }).code;
      }
    }
  }

  add(point: RunTracePoint, s: DeviceStats): void {
    const line = {
      ...(point.device === null ? {} : { device: point.device }),
      simMs: point.simMs,
      sinceStartMs: point.sinceStartMs,
      usagePercent: Math.round(s.usagePercent * 100) / 100,
      sectorsUsed: s.sectorsUsed,
      state: s.state,
      filesLive: s.filesLive,
      diskBytesUsed: s.diskBytesUsed,
      backlog: s.recordsLive,
      inflight: point.inflight,
      linkUp: point.linkUp,
      written: point.written,
      uploaded: point.uploaded,
      discarded: s.recordsDiscarded,
      filesCreated: s.filesCreated,
      filesDeleted: s.filesDeleted,
      cleanupPending: s.filesAwaitingDelete + s.filesDeleting,
      spills: s.spills,
    };
    this.buffered.push(JSON.stringify(line));
    if (this.buffered.length >= TRACE_LINES_PER_WRITE) this.flush();
  }

  /** Appends the buffered lines; on a full filesystem they are dropped and counted. */
  flush(): void {
    if (this.buffered.length === 0) return;
    try {
      appendFileSync(this.path, this.buffered.join("\n") + "\n");
    } catch (error) {
      if (!spaceError(error)) throw error;
      this.linesDropped += this.buffered.length;
      this.lastError = (error as { code: string }).code;
    }
    this.buffered = [];
  }
}
