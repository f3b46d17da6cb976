// The dashboard's view of a live single-device run: it listens to the run's watch (core log
// events, the end of each tick) and, when the server asks, builds a frame from the device's RAM
// (the SAT map, read with host/inspect/ram-layout.ts) and its statistics. It keeps the last
// HISTORY_POINTS_MAX points so a page opened late still draws the series.

import * as abi from "../core/abi.generated.js";
import { eventText, STATE_NAMES } from "../core/log.js";
import type { DrivePace } from "../run/drive.js";
import type { DeviceRun } from "../run/device-run.js";
import { durationFormat } from "../run/duration.js";
import { OWNER_RAW, RamView, SAT, STATE, statePtrOf, STREAM } from "../inspect/ram-layout.js";
import {
  CELL_FREE,
  CELL_RAW,
  CELL_SPILLED,
  CELL_STREAM_LETTERS,
  type DashboardControl,
  type DashboardFrame,
  type DashboardHello,
  type DashboardPoint,
} from "./frame.js";
import { EVENTS_NOT_LOGGED, type WatchListener } from "./run-watch.js";

export const HISTORY_POINTS_MAX = 4000;
const LOG_LINES_MAX = 40;
const STATES_MAX = 48;
/** Frames a sector freed by a spill stays marked as just spilled. */
const SPILLED_FRAMES = 4;

export class LiveDashboard implements WatchListener {
  private readonly history: DashboardPoint[] = [];
  private readonly logLines: string[] = [];
  private readonly states: Array<{ simMs: number; state: string }> = [];
  private uploadLagMs: number | null = null;
  private readonly ackedSeen: number[];
  private cellsBefore: string | null = null;
  private spilledFrames: Uint8Array | null = null;
  private spillsBefore = 0;

  constructor(
    readonly run: DeviceRun,
    readonly pace: DrivePace,
  ) {
    this.ackedSeen = run.streams.map((stream) => stream.acked);
    this.states.push({ simMs: run.nowMs, state: run.device.tierState });
  }

  hello(): DashboardHello {
    const { board } = this.run.settings;
    return {
      source: "run",
      title: this.run.settings.storageDir,
      board: board.name,
      streams: this.run.streams.map((stream) => stream.sensorStream.spec.name),
      sectorsTotal: this.run.device.stats().sectorsTotal,
      spillThresholdPercent: board.tier.spillThresholdPercent,
      spillTargetPercent: board.tier.spillTargetPercent,
      quotaBytes: board.disk?.quotaBytes ?? null,
      diskThresholdPercent: board.disk?.thresholdPercent ?? null,
      filesMax: board.disk?.filesMax ?? null,
      runStartMs: this.run.pre.runStartMs,
      endMs: this.run.endMs,
      controls: true,
    };
  }

  event(simMs: number, _level: number, event: number, a: number, b: number): void {
    if (event === abi.EVENT_STATE) {
      this.states.push({ simMs, state: STATE_NAMES[b] ?? String(b) });
      if (this.states.length > STATES_MAX) this.states.shift();
    }
    if (EVENTS_NOT_LOGGED.has(event)) return;
    this.logLines.push(`+${durationFormat(simMs - this.run.pre.runStartMs)} ${eventText(event, a, b)}`);
    if (this.logLines.length > LOG_LINES_MAX) this.logLines.shift();
  }

  tick(run: DeviceRun, nowMs: number): void {
    for (const stream of run.streams) {
      if (stream.acked === this.ackedSeen[stream.index]) continue;
      this.ackedSeen[stream.index] = stream.acked;
      if (Number.isFinite(stream.ackedFirstUtcMs)) this.uploadLagMs = nowMs - stream.ackedFirstUtcMs;
    }
  }

  points(): DashboardPoint[] {
    return this.history;
  }

  /** The frame of this moment; its point joins the history. */
  frame(): DashboardFrame {
    const { run } = this;
    const device = run.device;
    const s = device.stats();
    const cleanup = device.getCleanupProgress();
    const status = run.status();
    const point: DashboardPoint = {
      simMs: run.nowMs,
      usagePercent: round2(s.usagePercent),
      diskBytesUsed: s.diskBytesUsed,
      filesLive: s.filesLive,
      backlog: run.streams.map((stream) => device.counts(stream.source, stream.sensor).total),
      written: status.written,
      uploaded: status.uploaded,
      discarded: s.recordsDiscarded,
      uploadLagMs: this.uploadLagMs,
      linkUp: status.linkUp,
      state: s.state,
    };
    this.history.push(point);
    if (this.history.length > HISTORY_POINTS_MAX) this.history.splice(0, this.history.length - HISTORY_POINTS_MAX);
    return {
      ...point,
      sinceStartMs: run.nowMs - run.pre.runStartMs,
      sectorsUsed: s.sectorsUsed,
      sectorsTotal: s.sectorsTotal,
      phase: run.phase,
      flushProgress: s.flushProgress,
      cleanup: {
        filesPending: cleanup.filesPending + cleanup.filesInFlight,
        filesDeleted: cleanup.filesDeleted,
        etaMs: cleanup.etaMs === null ? -1 : Math.round(cleanup.etaMs),
        complete: cleanup.complete,
      },
      cells: this.cells(s.spills),
      states: [...this.states],
      log: [...this.logLines],
      paused: this.pace.paused,
      speed: this.pace.speed,
    };
  }

  /** The SAT map: one character per sector (frame.ts, `cells`). */
  private cells(spills: number): string {
    const device = this.run.device;
    const ram = new RamView(
      new Uint8Array(device.memory.buffer, 0, device.ramBytes),
      statePtrOf(device.exports.configImagePtr()),
    );
    const sectorCount = ram.state(STATE.sectorCount);
    const spilled = this.spilledFrames ?? new Uint8Array(sectorCount);
    const before = this.cellsBefore;
    const spilling = spills !== this.spillsBefore;
    this.spillsBefore = spills;
    const readSeq: number[] = [];
    for (let k = 0; k < ram.state(STATE.streamCount); k++) readSeq.push(ram.u64(ram.streamEntry(k) + STREAM.readSeq));
    const chars: string[] = new Array<string>(sectorCount);
    for (let id = 0; id < sectorCount; id++) {
      const entry = ram.satEntry(id);
      const owner = ram.u16(entry + SAT.owner);
      if (owner === abi.STREAM_NULL) {
        // A spill moves new (unread) records to disk; an ACK frees pending ones.
        const code = before?.charCodeAt(id) ?? 0;
        const wasNew = code >= 65 && code < 65 + CELL_STREAM_LETTERS;
        if (wasNew && spilling) spilled[id] = SPILLED_FRAMES;
        else if ((spilled[id] ?? 0) > 0) spilled[id] = (spilled[id] ?? 1) - 1;
        chars[id] = (spilled[id] ?? 0) > 0 ? CELL_SPILLED : CELL_FREE;
      } else if (owner === OWNER_RAW) {
        spilled[id] = 0;
        chars[id] = CELL_RAW;
      } else {
        spilled[id] = 0;
        const pending = ram.u64(entry + SAT.firstSeq) < (readSeq[owner] ?? 0);
        chars[id] = String.fromCharCode((pending ? 97 : 65) + (owner % CELL_STREAM_LETTERS));
      }
    }
    const cells = chars.join("");
    this.cellsBefore = cells;
    this.spilledFrames = spilled;
    return cells;
  }

  control(request: DashboardControl): void {
    if (request.action === "pause") this.pace.paused = true;
    else if (request.action === "resume") this.pace.paused = false;
    else this.pace.speed = request.speed;
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
