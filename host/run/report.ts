// What `imx-memsim run` shows: the live status (a block of lines redrawn about once a second on a
// terminal, through cli-progress; a plain line every few seconds otherwise), the final summary as
// text, and the fleet's aggregate of its devices' figures.

import cliProgress from "cli-progress";
import type { TierState } from "../core/device.js";
import { durationFormat, HOUR_MS, utcFormat } from "./duration.js";
import { DRAIN_MS_MAX } from "./device-preflight.js";
import type { DeviceStatus, DeviceSummary } from "./device-report.js";

// ---- Aggregate --------------------------------------------------------------------------------------

export interface AggregateStatus {
  board: string;
  devices: number;
  devicesDone: number;
  workers: number;
  runStartMs: number;
  /** Devices whose status has come in (a fleet's workers report as they start). */
  devicesReporting: number;
  /** Slowest and fastest device clocks, as time since the run's start. */
  sinceStartMinMs: number;
  sinceStartMaxMs: number;
  durationMs: number | null;
  usagePercentMean: number;
  usagePercentMax: number;
  sectorsTotal: number;
  spillThresholdPercent: number;
  states: Partial<Record<TierState, number>>;
  filesLive: number;
  diskBytesUsed: number;
  quotaBytes: number | null;
  linkUp: number;
  linkChangeMs: number | null;
  inflight: number;
  backlog: number;
  storedAtStart: number;
  written: number;
  uploaded: number;
  discarded: number;
  writeFailures: number;
  filesCreated: number;
  filesDeleted: number;
  cleanupFilesPending: number;
  /** The largest device's estimate; null when one of them cannot estimate yet. */
  cleanupEtaMs: number | null;
  /** Σ over devices of simulated time run in this invocation, in hours. */
  deviceSimHours: number;
  realMs: number;
  phase: DeviceStatus["phase"];
}

export function statusAggregate(
  statuses: readonly DeviceStatus[],
  devices: number,
  workers: number,
  realMs: number,
): AggregateStatus {
  const first = statuses[0];
  const a: AggregateStatus = {
    board: first?.board ?? "",
    devices,
    devicesDone: 0,
    devicesReporting: statuses.length,
    workers,
    runStartMs: first?.runStartMs ?? 0,
    sinceStartMinMs: Infinity,
    sinceStartMaxMs: 0,
    durationMs: first?.endMs != null ? first.endMs - first.runStartMs : null,
    usagePercentMean: 0,
    usagePercentMax: 0,
    sectorsTotal: first?.sectorsTotal ?? 0,
    spillThresholdPercent: first?.spillThresholdPercent ?? 0,
    states: {},
    filesLive: 0,
    diskBytesUsed: 0,
    quotaBytes: first?.quotaBytes ?? null,
    linkUp: 0,
    linkChangeMs: devices === 1 ? (first?.linkChangeMs ?? null) : null,
    inflight: 0,
    backlog: 0,
    storedAtStart: 0,
    written: 0,
    uploaded: 0,
    discarded: 0,
    writeFailures: 0,
    filesCreated: 0,
    filesDeleted: 0,
    cleanupFilesPending: 0,
    cleanupEtaMs: 0,
    deviceSimHours: 0,
    realMs,
    phase: devices === 1 ? (first?.phase ?? "running") : "running",
  };
  for (const s of statuses) {
    const since = s.simNowMs - s.runStartMs;
    a.sinceStartMinMs = Math.min(a.sinceStartMinMs, since);
    a.sinceStartMaxMs = Math.max(a.sinceStartMaxMs, since);
    if (s.phase === "done") a.devicesDone++;
    a.usagePercentMean += s.usagePercent / Math.max(1, statuses.length);
    a.usagePercentMax = Math.max(a.usagePercentMax, s.usagePercent);
    a.states[s.state] = (a.states[s.state] ?? 0) + 1;
    a.filesLive += s.filesLive;
    a.diskBytesUsed += s.diskBytesUsed;
    if (s.linkUp) a.linkUp++;
    a.inflight += s.inflight;
    a.backlog += s.backlog;
    a.storedAtStart += s.storedAtStart;
    a.written += s.written;
    a.uploaded += s.uploaded;
    a.discarded += s.discarded;
    a.writeFailures += s.writeFailures;
    a.filesCreated += s.filesCreated;
    a.filesDeleted += s.filesDeleted;
    a.cleanupFilesPending += s.cleanupFilesPending;
    a.cleanupEtaMs =
      a.cleanupEtaMs === null || s.cleanupEtaMs === null ? null : Math.max(a.cleanupEtaMs, s.cleanupEtaMs);
    a.deviceSimHours += (s.simNowMs - s.lifeStartMs) / HOUR_MS;
  }
  if (!Number.isFinite(a.sinceStartMinMs)) a.sinceStartMinMs = 0;
  return a;
}

// ---- Formatting -------------------------------------------------------------------------------------

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
export const count = (n: number): string => int.format(n);

export function bytesShort(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function bar(percent: number, width: number, markPercent: number | null): string {
  const filled = Math.max(0, Math.min(width, Math.round((percent * width) / 100)));
  const chars: string[] = Array.from({ length: width }, (_, i) => (i < filled ? "█" : "░"));
  if (markPercent !== null) {
    const at = Math.min(width - 1, Math.max(0, Math.round((markPercent * width) / 100)));
    chars[at] = "|";
  }
  return chars.join("");
}

function speedText(a: AggregateStatus): string {
  if (a.realMs <= 0) return "";
  const simMs = (a.deviceSimHours * HOUR_MS) / Math.max(1, a.devices);
  return `×${count(simMs / a.realMs)}`;
}

function statesText(states: Partial<Record<TierState, number>>): string {
  return Object.entries(states)
    .sort((x, y) => y[1] - x[1])
    .map(([state, n]) => `${state} ${n}`)
    .join(", ");
}

function recordsText(a: AggregateStatus): string {
  const recovered = a.storedAtStart > 0 ? `recovered ${count(a.storedAtStart)} + ` : "";
  return (
    `${recovered}written ${count(a.written)} = uploaded ${count(a.uploaded)} + stored ${count(a.backlog)} + discarded ${count(a.discarded)}` +
    (a.writeFailures > 0 ? ` (${count(a.writeFailures)} writes refused: RAM full of pending data)` : "")
  );
}

/** The status block's lines (without colours, so they read the same in a log). */
export function statusLines(a: AggregateStatus): string[] {
  const of = a.durationMs === null ? "" : ` of ${durationFormat(a.durationMs)}`;
  const done = a.durationMs === null ? 0 : Math.min(100, (a.sinceStartMinMs * 100) / Math.max(1, a.durationMs));
  const progress = a.durationMs === null ? "" : ` [${bar(done, 10, null)}] ${Math.floor(done)}%`;
  const lines: string[] = [];
  if (a.devices === 1) {
    lines.push(
      `sim      +${durationFormat(a.sinceStartMinMs)}${of}${progress} · ${utcFormat(a.runStartMs + a.sinceStartMinMs)} · ${speedText(a)}`,
    );
    const state = Object.keys(a.states)[0] ?? "idle";
    const ram = `[${bar(a.usagePercentMean, 20, a.spillThresholdPercent)}] ${a.usagePercentMean.toFixed(1)}% of ${a.sectorsTotal} sectors`;
    lines.push(`RAM      ${ram} (spill at ${a.spillThresholdPercent}%) · ${state}`);
    const link = a.linkUp === 1 ? "up" : "DOWN";
    const at = a.linkChangeMs === null ? "" : `+${durationFormat(a.linkChangeMs - a.runStartMs)}`;
    const change = at === "" ? "" : a.linkUp === 1 ? ` (next outage ${at})` : ` until ${at}`;
    lines.push(`uplink   ${link}${change} · in flight ${count(a.inflight)} · backlog ${count(a.backlog)}`);
  } else {
    const rate = (a.deviceSimHours / Math.max(1e-9, a.realMs / 1000)).toFixed(0);
    const starting = a.devicesReporting < a.devices ? ` · ${a.devices - a.devicesReporting} starting` : "";
    lines.push(
      `fleet    ${a.devices} devices, ${a.workers} workers${starting} · ${a.devicesDone} done · ${rate} device·sim-h/s · ${speedText(a)} each`,
    );
    lines.push(
      `sim      +${durationFormat(a.sinceStartMinMs)} … +${durationFormat(a.sinceStartMaxMs)}${of}${progress}`,
    );
    lines.push(
      `RAM      mean ${a.usagePercentMean.toFixed(1)}%, max ${a.usagePercentMax.toFixed(1)}% (spill at ${a.spillThresholdPercent}%) · ${statesText(a.states)}`,
    );
    lines.push(
      `uplink   ${a.linkUp} up, ${a.devicesReporting - a.linkUp} down · in flight ${count(a.inflight)} · backlog ${count(a.backlog)}`,
    );
  }
  const quota = a.quotaBytes === null ? " (no disk tier)" : ` of ${bytesShort(a.quotaBytes * a.devices)}`;
  const cleanup =
    a.cleanupFilesPending === 0 ? "cleanup complete" : `cleanup: ${count(a.cleanupFilesPending)} files pending`;
  lines.push(
    `disk     ${count(a.filesLive)} files, ${bytesShort(a.diskBytesUsed)}${quota} · ${count(a.filesCreated)} created, ${count(a.filesDeleted)} deleted · ${cleanup}`,
  );
  lines.push(`records  ${recordsText(a)}`);
  return lines;
}

/** One line for logs (not a terminal). */
export function statusLine(a: AggregateStatus): string {
  const of = a.durationMs === null ? "" : `/${durationFormat(a.durationMs)}`;
  const who = a.devices === 1 ? "" : `${a.devicesDone}/${a.devices} devices done, `;
  const state = a.devices === 1 ? ` ${Object.keys(a.states)[0] ?? "idle"}` : "";
  const link = a.devices === 1 ? (a.linkUp === 1 ? "up" : "down") : `${a.linkUp}/${a.devicesReporting} up`;
  return (
    `run: ${who}+${durationFormat(a.sinceStartMinMs)}${of} ${speedText(a)} · RAM ${a.usagePercentMean.toFixed(1)}%${state} · ` +
    `disk ${count(a.filesLive)} files ${bytesShort(a.diskBytesUsed)} · uplink ${link} · backlog ${count(a.backlog)} · ` +
    `written ${count(a.written)} uploaded ${count(a.uploaded)} discarded ${count(a.discarded)}`
  );
}

export interface StatusView {
  update(a: AggregateStatus): void;
  /** Prints a line above the status (or as is without a terminal). */
  note(text: string): void;
  stop(): void;
}

/** Redraws the status block in place on a terminal. */
export function terminalStatusView(stream: NodeJS.WriteStream): StatusView {
  let current: string[] = [];
  let stopped = false;
  const multibar = new cliProgress.MultiBar({
    stream,
    hideCursor: true,
    forceRedraw: true,
    fps: 4,
    linewrap: false,
    clearOnComplete: false,
    format: () => "",
  });
  const bars: cliProgress.SingleBar[] = [];
  const lineFormat = (i: number) => (): string => current[i] ?? "";
  return {
    update(a) {
      if (stopped) return;
      current = statusLines(a);
      while (bars.length < current.length) bars.push(multibar.create(1, 0, {}, { format: lineFormat(bars.length) }));
      for (const b of bars) b.update(0);
    },
    note(text) {
      if (stopped) stream.write(`${text}\n`);
      else multibar.log(`${text}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multibar.stop();
    },
  };
}

/** Prints a status line every `everyMs` of real time. */
export function plainStatusView(write: (text: string) => void, everyMs: number): StatusView {
  let lastMs = -Infinity;
  return {
    update(a) {
      const now = performance.now();
      if (now - lastMs < everyMs) return;
      lastMs = now;
      write(`${statusLine(a)}\n`);
    },
    note(text) {
      write(`${text}\n`);
    },
    stop() {},
  };
}

export const silentStatusView: StatusView = { update() {}, note() {}, stop() {} };

// ---- Summary ----------------------------------------------------------------------------------------

export function deviceSummaryText(s: DeviceSummary): string {
  const r = s.records;
  const lines: string[] = [];
  const rec = s.recovery;
  const recoveryText =
    rec === null
      ? ""
      : `: ${count(rec.recordsRecovered)} records recovered, ${rec.filesKept} files kept, ${rec.filesQuarantined} quarantined, ` +
        `${count(r.lostWithRamAtLastKill)} lost with RAM at the last stop or kill`;
  const life = s.resumed ? `life ${s.life} (resumed${recoveryText})` : "life 1 (new storage)";
  lines.push(`run        ${s.board}, policy ${s.policy}, seed ${s.seed}, storage ${s.storage}, ${life}`);
  lines.push(
    `simulated  ${utcFormat(Date.parse(s.simulated.lifeStartUtc))} → ${utcFormat(Date.parse(s.simulated.endUtc))} (${durationFormat(s.simulated.lifeMs)}, ` +
      `${count(s.simulated.ticks)} ticks of ${s.simulated.tickMs} ms) in ${(s.realMs / 1000).toFixed(1)} s: ×${count(s.speedup)} real time`,
  );
  const recovered = r.storedAtStart > 0 ? `recovered ${count(r.storedAtStart)} + ` : "";
  lines.push(
    `records    ${recovered}written ${count(r.written)} = uploaded ${count(r.uploaded)} + stored ${count(r.stored)} + discarded ${count(r.discarded)}` +
      (r.balanced ? "  (adds up)" : `  DOES NOT ADD UP: ${count(r.unaccounted)} unaccounted`),
  );
  if (r.writeFailures > 0)
    lines.push(
      `           ${count(r.writeFailures)} samples not written: RAM full (of pending data, or with the disk full under refuse-new)`,
    );
  const u = s.uplink;
  lines.push(
    (s.uploadLog === null
      ? `upload log none (${count(r.appendedToLog)} records accepted, ${count(r.redelivered)} accepted twice)`
      : `upload log ${s.uploadLog}: ${count(r.appendedToLog)} appended, ${count(r.redelivered)} delivered again (already in the log: acknowledged, not appended)`) +
      (u.redeliveryMismatches > 0 ? `, ${u.redeliveryMismatches} MISMATCHED` : ""),
  );
  lines.push(
    `uplink     ${count(u.cycles)} cycles, ${count(u.packetsSent)} packets: ${count(u.packetsAcked)} acknowledged, ${count(u.packetsLost)} answers lost, ` +
      `${count(u.packetsTimedOut)} timed out, ${count(u.packetsOutage)} cut by an outage; ${u.outagesSeen} outages; ` +
      `${u.ackPersistFailures} ACKs refused; ${u.logFailures} log failures`,
  );
  if (u.lastLogError !== null)
    lines.push(`           the upload log could not be written (packets reverted): ${u.lastLogError}`);
  const w = s.wire;
  if (w !== null)
    lines.push(
      `wire       iMatrix CoAP: ${count(w.messages)} messages acknowledged, ${count(w.bytes)} bytes on the wire, ` +
        `${w.bytesPerRecord} bytes per record; ${count(w.messagesSent)} sent (${count(w.bytesSent)} bytes), largest ${count(w.messageBytesMax)} bytes` +
        (w.packets === null ? "" : `; packets file ${w.packets}`),
    );
  lines.push(
    `RAM        peak ${s.ram.usagePercentPeak}% of ${count(s.ram.sectorsTotal)} sectors, ${s.ram.usagePercentEnd}% at the end`,
  );
  lines.push(
    `disk       ${count(s.disk.spills)} spills (${count(s.disk.sectorsSpilled)} sectors, ${count(s.disk.spillsRefused)} refused), ` +
      (s.disk.directSectors > 0 ? `${count(s.disk.directSectors)} sectors allocated on disk (direct), ` : "") +
      `${count(s.disk.filesCreated)} files created, ` +
      `${count(s.disk.filesDeleted)} deleted` +
      (s.disk.filesEvicted > 0
        ? ` (${count(s.disk.filesEvicted)} of them evicted for room, with ${count(s.disk.recordsEvicted)} records)`
        : "") +
      `, ${count(s.disk.filesOnDisk)} on disk (${bytesShort(s.disk.diskBytesUsed)})` +
      (s.disk.diskBytesLimit > 0 || s.disk.diskFreeBytes !== null
        ? `; spill limit ${bytesShort(s.disk.diskBytesLimit)}, filesystem ${s.disk.diskFreeBytes === null ? "without a limit" : `${bytesShort(s.disk.diskFreeBytes)} free`}`
        : ""),
  );
  const cleanup = s.cleanup.complete ? "complete" : `${s.cleanup.filesPending} files pending`;
  lines.push(
    `cleanup    ${cleanup}, ${s.cleanup.failedAttempts} failed attempts, delete p99 ${s.cleanup.deleteLatencyP99Ms} ms`,
  );
  const st = s.stop;
  const reasons: Record<string, string> = {
    signal: `stopped by ${st.signal}`,
    duration: "duration reached",
    drained: "duration reached and drained",
    "drain-limit": `duration reached; the drain gave up after ${durationFormat(DRAIN_MS_MAX)}`,
  };
  const why = reasons[st.reason] ?? st.reason;
  const flush =
    st.flush === "flushed"
      ? `flushed to disk in ${st.flushTicks} ticks (${st.flushRealMs} ms): safe to power off`
      : st.flush === "no-disk-tier"
        ? `no disk tier: the ${count(st.ramRecordsLeft)} records in RAM are lost at power off`
        : st.flush === "disk-full"
          ? `the disk is full: ${count(st.ramRecordsLeft)} records in ${count(s.ram.ramSectorsLeft)} RAM sectors could not be written and are lost at power off (counted)`
          : `flush NOT complete by the deadline: ${count(st.ramRecordsLeft)} records in ${count(s.ram.ramSectorsLeft)} RAM sectors lost at power off`;
  lines.push(
    `stop       ${why}; ${flush}${st.recordsReverted > 0 ? `; ${count(st.recordsReverted)} records in the air reverted` : ""}`,
  );
  const h = s.hostFiles;
  if (h.errors.length > 0 || h.checkpointFailures > 0 || h.traceLinesDropped > 0)
    lines.push(
      `host files filesystem full: ${h.checkpointFailures} of ${h.checkpoints} run-state writes refused (retried), ` +
        (h.lastCheckpointWritten
          ? "the last one written"
          : "the last one NOT written (the next life resumes from the last checkpoint written)") +
        `; ${u.logFailures} upload cycles not acknowledged (records kept, sent again); ${count(h.traceLinesDropped)} trace lines dropped` +
        (h.errors.length > 0 ? `; ${h.errors.join(", ")}` : ""),
    );
  return `${lines.join("\n")}\n`;
}

export interface FleetSummary {
  board: string;
  devices: number;
  workers: number;
  realMs: number;
  deviceSimHours: number;
  deviceSimHoursPerSecond: number;
  speedupPerDevice: number;
  records: Pick<
    DeviceSummary["records"],
    | "storedAtStart"
    | "written"
    | "uploaded"
    | "stored"
    | "discarded"
    | "unaccounted"
    | "balanced"
    | "redelivered"
    | "writeFailures"
    | "lostWithRamAtLastKill"
    | "lostWithRamAtStop"
  >;
  flushComplete: number;
  /** Devices whose final flush stopped at a full disk (their records left in RAM are counted as lost). */
  flushDiskFull: number;
  stopReasons: Record<string, number>;
  perDevice: DeviceSummary[];
}

export function fleetSummary(perDevice: DeviceSummary[], workers: number, realMs: number): FleetSummary {
  const sum = (f: (s: DeviceSummary) => number): number => perDevice.reduce((a, s) => a + f(s), 0);
  const deviceSimHours = sum((s) => s.simulated.lifeMs) / HOUR_MS;
  const stopReasons: Record<string, number> = {};
  for (const s of perDevice) stopReasons[s.stop.reason] = (stopReasons[s.stop.reason] ?? 0) + 1;
  const unaccounted = sum((s) => s.records.unaccounted);
  return {
    board: perDevice[0]?.board ?? "",
    devices: perDevice.length,
    workers,
    realMs: Math.round(realMs),
    deviceSimHours: Math.round(deviceSimHours * 100) / 100,
    deviceSimHoursPerSecond: realMs > 0 ? Math.round((deviceSimHours / (realMs / 1000)) * 10) / 10 : 0,
    speedupPerDevice:
      realMs > 0 && perDevice.length > 0 ? Math.round((deviceSimHours * HOUR_MS) / perDevice.length / realMs) : 0,
    records: {
      storedAtStart: sum((s) => s.records.storedAtStart),
      written: sum((s) => s.records.written),
      uploaded: sum((s) => s.records.uploaded),
      stored: sum((s) => s.records.stored),
      discarded: sum((s) => s.records.discarded),
      unaccounted,
      balanced: perDevice.every((s) => s.records.balanced),
      redelivered: sum((s) => s.records.redelivered),
      writeFailures: sum((s) => s.records.writeFailures),
      lostWithRamAtLastKill: sum((s) => s.records.lostWithRamAtLastKill),
      lostWithRamAtStop: sum((s) => s.records.lostWithRamAtStop),
    },
    flushComplete: perDevice.filter((s) => s.stop.flushComplete).length,
    flushDiskFull: perDevice.filter((s) => s.stop.flush === "disk-full").length,
    stopReasons,
    perDevice,
  };
}

export function fleetSummaryText(f: FleetSummary): string {
  const r = f.records;
  const recovered = r.storedAtStart > 0 ? `recovered ${count(r.storedAtStart)} + ` : "";
  const reasons = Object.entries(f.stopReasons)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return (
    [
      `fleet      ${f.devices} × ${f.board} on ${f.workers} worker threads`,
      `simulated  ${count(f.deviceSimHours)} device·hours in ${(f.realMs / 1000).toFixed(1)} s: ` +
        `${count(f.deviceSimHoursPerSecond)} device·sim-hours per second, ×${count(f.speedupPerDevice)} real time per device`,
      `records    ${recovered}written ${count(r.written)} = uploaded ${count(r.uploaded)} + stored ${count(r.stored)} + discarded ${count(r.discarded)}` +
        (r.balanced ? "  (adds up on every device)" : `  DOES NOT ADD UP: ${count(r.unaccounted)} unaccounted`),
      `stop       ${reasons}; ${f.flushComplete} of ${f.devices} flushed to disk` +
        (f.flushDiskFull > 0
          ? `, ${f.flushDiskFull} stopped by a full disk (${count(r.lostWithRamAtStop)} records left in RAM, lost at power off)`
          : ""),
    ].join("\n") + "\n"
  );
}
