// `run --perfetto FILE`: the run as Chrome Trace Event JSON on simulated time (microseconds since
// the run's start), so that it opens in https://ui.perfetto.dev or chrome://tracing. One process,
// four tracks:
//   tier    a span (`ph: "X"`) for each tick in which the state machine left idle or the core
//           logged something, named by the state it ended in; a span per spill
//   disk    a span per tick that wrote files (`file write`, with files and bytes) and per tick
//           that deleted files (`delete`), from the statistics block's counters
//   uplink  a span per acknowledged upload (`upload`, records) and one per outage
//   core    instant events (`ph: "i"`) for the core's other log events
// and counters (`ph: "C"`) every counter interval: RAM sectors used, disk bytes and files,
// backlog, records written / uploaded / discarded. The statistics are read straight from the
// block in device RAM (no statsRefresh per tick), so watching costs little.

import { writeFileSync } from "node:fs";
import * as abi from "../core/abi.generated.js";
import { eventText, STATE_NAMES } from "../core/log.js";
import type { DeviceRun } from "../run/device-run.js";
import type { WatchListener } from "./run-watch.js";

export interface TraceEvent {
  name: string;
  ph: "X" | "C" | "i" | "M";
  /** Microseconds since the run's start (simulated). */
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: "t";
  args?: Record<string, number | string>;
}

const PID = 1;
const TID = { tier: 1, disk: 2, uplink: 3, core: 4 } as const;
const US_PER_MS = 1000;
/** Events kept at most; past it the trace ends early and says so in its metadata. */
export const PERFETTO_EVENTS_MAX = 2_000_000;

export class PerfettoTrace implements WatchListener {
  private readonly events: TraceEvent[] = [];
  private stats: Float64Array | null = null;
  private eventsThisTick = 0;
  private filesCreated = 0;
  private bytesWritten = 0;
  private filesDeleted = 0;
  private bytesDeleted = 0;
  private acked: number[] = [];
  private outageStartMs: number | null = null;
  private nextCounterMs = 0;
  private truncated = false;

  constructor(
    readonly path: string,
    private readonly runStartMs: number,
    private readonly counterEveryMs: number,
  ) {
    const thread = (tid: number, name: string): TraceEvent => ({
      name: "thread_name",
      ph: "M",
      ts: 0,
      pid: PID,
      tid,
      args: { name },
    });
    this.events.push(
      { name: "process_name", ph: "M", ts: 0, pid: PID, tid: 0, args: { name: "imx-memsim device" } },
      thread(TID.tier, "tier state machine"),
      thread(TID.disk, "disk tier"),
      thread(TID.uplink, "uplink"),
      thread(TID.core, "core log"),
    );
  }

  private us(simMs: number): number {
    return Math.round((simMs - this.runStartMs) * US_PER_MS);
  }

  private push(event: TraceEvent): void {
    if (this.events.length >= PERFETTO_EVENTS_MAX) {
      this.truncated = true;
      return;
    }
    this.events.push(event);
  }

  event(simMs: number, _level: number, event: number, a: number, b: number): void {
    this.eventsThisTick++;
    if (event === abi.EVENT_STATE) return;
    if (event === abi.EVENT_SPILL) {
      this.push({
        name: "spill",
        ph: "X",
        ts: this.us(simMs),
        dur: 1,
        pid: PID,
        tid: TID.tier,
        args: { stream: a, sectors: b },
      });
      return;
    }
    this.push({ name: eventText(event, a, b), ph: "i", s: "t", ts: this.us(simMs), pid: PID, tid: TID.core });
  }

  tick(run: DeviceRun, nowMs: number): void {
    const device = run.device;
    if (this.stats === null) {
      this.stats = new Float64Array(device.memory.buffer, device.exports.statsPointer(), abi.STAT_COUNT);
      this.acked = run.streams.map((stream) => stream.acked);
      this.nextCounterMs = nowMs;
      this.readBaseline();
    }
    const s = this.stats;
    const at = (index: number): number => s[index] ?? 0;
    const startUs = this.us(nowMs - run.tickMs);
    const durUs = run.tickMs * US_PER_MS;
    const state = at(abi.STAT_STATE);
    if (state !== abi.STATE_IDLE || this.eventsThisTick > 0) {
      this.push({
        name: STATE_NAMES[state] ?? `state ${state}`,
        ph: "X",
        ts: startUs,
        dur: durUs,
        pid: PID,
        tid: TID.tier,
      });
    }
    this.eventsThisTick = 0;
    const filesCreated = at(abi.STAT_FILES_CREATED);
    if (filesCreated !== this.filesCreated) {
      const bytes = at(abi.STAT_BYTES_WRITTEN) - this.bytesWritten;
      this.push({
        name: "file write",
        ph: "X",
        ts: startUs,
        dur: durUs,
        pid: PID,
        tid: TID.disk,
        args: { files: filesCreated - this.filesCreated, bytes },
      });
      this.filesCreated = filesCreated;
      this.bytesWritten += bytes;
    }
    const filesDeleted = at(abi.STAT_FILES_DELETED);
    if (filesDeleted !== this.filesDeleted) {
      const bytes = at(abi.STAT_BYTES_DELETED) - this.bytesDeleted;
      this.push({
        name: "delete",
        ph: "X",
        ts: startUs,
        dur: durUs,
        pid: PID,
        tid: TID.disk,
        args: { files: filesDeleted - this.filesDeleted, bytes },
      });
      this.filesDeleted = filesDeleted;
      this.bytesDeleted += bytes;
    }
    let records = 0;
    for (const stream of run.streams) {
      records += stream.acked - (this.acked[stream.index] ?? 0);
      this.acked[stream.index] = stream.acked;
    }
    if (records > 0)
      this.push({ name: "upload", ph: "X", ts: startUs, dur: durUs, pid: PID, tid: TID.uplink, args: { records } });
    const up = run.schedule.isUp(nowMs);
    if (!up && this.outageStartMs === null) this.outageStartMs = nowMs;
    if (up && this.outageStartMs !== null) this.outageEnd(nowMs);
    if (nowMs >= this.nextCounterMs) {
      this.nextCounterMs = nowMs + this.counterEveryMs;
      this.counters(run, nowMs, s);
    }
  }

  private readBaseline(): void {
    const s = this.stats;
    if (s === null) return;
    this.filesCreated = s[abi.STAT_FILES_CREATED] ?? 0;
    this.bytesWritten = s[abi.STAT_BYTES_WRITTEN] ?? 0;
    this.filesDeleted = s[abi.STAT_FILES_DELETED] ?? 0;
    this.bytesDeleted = s[abi.STAT_BYTES_DELETED] ?? 0;
  }

  private outageEnd(nowMs: number): void {
    if (this.outageStartMs === null) return;
    const ts = this.us(this.outageStartMs);
    this.push({ name: "outage", ph: "X", ts, dur: this.us(nowMs) - ts, pid: PID, tid: TID.uplink });
    this.outageStartMs = null;
  }

  private counters(run: DeviceRun, nowMs: number, s: Float64Array): void {
    const ts = this.us(nowMs);
    const at = (index: number): number => s[index] ?? 0;
    let written = 0;
    let uploaded = 0;
    for (const stream of run.streams) {
      written += stream.sensorStream.written;
      uploaded += stream.acked;
    }
    const counter = (name: string, args: Record<string, number>): void =>
      this.push({ name, ph: "C", ts, pid: PID, tid: 0, args });
    counter("RAM sectors", { used: at(abi.STAT_SECTORS_USED) });
    counter("disk bytes", { used: at(abi.STAT_DISK_BYTES_USED) });
    counter("disk files", { live: at(abi.STAT_FILES_LIVE) });
    counter("backlog", { records: at(abi.STAT_RECORDS_LIVE) });
    counter("records", { written, uploaded, discarded: at(abi.STAT_RECORDS_DISCARDED) });
  }

  /** Writes the file (an outage still under way ends at `endMs`). */
  write(endMs: number): void {
    this.outageEnd(endMs);
    const document = {
      traceEvents: this.events,
      displayTimeUnit: "ms",
      otherData: { clock: "simulated time since the run's start", truncated: this.truncated },
    };
    writeFileSync(this.path, JSON.stringify(document));
  }
}
