// `imx-memsim run`: a device's main loop over simulated time (host/run/): sensors write records at
// their rates, processMemory ticks at the board's loop interval, an uploader reads in bulk and
// acknowledges or reverts through scheduled outages, lost answers and latency, and every record
// the cloud accepted goes to an upload log first. The storage directory is resumable: a rerun
// recovers and continues; SIGTERM/SIGINT stop gracefully (flush to disk, then exit); after a
// kill the next run recovers. `--devices N` runs a fleet on worker threads.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import {
  type Board,
  DEFAULT_BOARD_NAME,
  cleanupPolicyChoices,
  isCleanupPolicy,
  loadBoard,
  packageRootDir,
} from "../boards.js";
import { LOG_LEVELS, type LogLevel } from "../core/log.js";
import { CHECKPOINT_EVERY_MS, devicePreflight, type RunSettings } from "../run/device-preflight.js";
import type { DeviceSummary } from "../run/device-report.js";
import { DeviceRun } from "../run/device-run.js";
import { drive, type Speed } from "../run/drive.js";
import { durationFormat, SECOND_MS } from "../run/duration.js";
import { fleetRun, perDevicePath } from "../run/fleet.js";
import { outageSpecParse, type OutageSpec } from "../run/outage-schedule.js";
import {
  deviceSummaryText,
  fleetSummaryText,
  plainStatusView,
  silentStatusView,
  statusAggregate,
  type StatusView,
  terminalStatusView,
} from "../run/report.js";
import { type PacketFormat, UPLOAD_TIMEOUT_MS_DEFAULT, type UplinkSettings } from "../run/uplink.js";
import { type Workload, WorkloadError, workloadFromFlags, workloadLoad } from "../run/workload.js";
import { durationFlag, durationParse, integerFlag, integerParse, numberFlag } from "../base/parse.js";
import { type OutputPath, outputPathsCheck } from "../base/output-path.js";
import { UsageError } from "../base/user-error.js";
import { SHUTDOWN_DEADLINE_MS_DEFAULT } from "../core/flush.js";
import { EXIT_FAILURE } from "./errors.js";
import { DISK_FULL_OPTION_HELP, diskFullOptionApply, diskFullOptionCheck } from "./disk-full-option.js";
import { stopSignalsListen } from "./graceful.js";
import { RunExtras } from "../ui/run-extras.js";

export interface RunCommandOptions {
  board: string;
  storage?: string;
  policy?: string;
  diskFull?: string;
  seed?: string;
  start?: string;
  workload?: string;
  tsd?: string[];
  evt?: string[];
  replay?: string[];
  source?: string;
  speed: string;
  duration?: string;
  drain?: boolean;
  tick?: string;
  packet?: string;
  packetFormat?: string;
  packets?: string;
  uploadEvery: string;
  latency: string;
  uploadTimeout: string;
  ackLoss: string;
  outage?: string[];
  uploadLog?: string;
  json?: string;
  trace?: string;
  traceEvery: string;
  statusEvery: string;
  quiet?: boolean;
  shutdownDeadline: string;
  devices: string;
  workers?: string;
  keep?: boolean;
  log: string;
  /** --ui without a port is true. */
  ui?: string | boolean;
  perfetto?: string;
  ramDump?: string;
}

export interface RunIo {
  out(text: string): void;
  err(text: string): void;
  /** Draw the status block in place (stderr is a terminal). */
  tty: boolean;
}

const U32_MAX = 0xffffffff;
const PORT_MAX = 65535;
const DEVICES_MAX = 100_000;

function speedOption(text: string): Speed {
  if (text === "max") return "max";
  return numberFlag(text, "--speed", { above: 0 }, 'a positive number (times real time) or "max"');
}

// A latency is a time in ms ("250") or a duration ("2s"), or a range of them ("100-2000", "1s-3s").
function latencyPartParse(text: string): number | null {
  const ms = integerParse(text);
  if (ms !== null) return ms >= 0 ? ms : null;
  return durationParse(text);
}

function latencyOption(text: string): { min: number; max: number } {
  const parts = text.split("-");
  const ms = parts.map((part) => latencyPartParse(part));
  const [min, max] = ms.length === 1 ? [ms[0], ms[0]] : ms.length === 2 ? [ms[0], ms[1]] : [null, null];
  if (min === null || max === null || min === undefined || max === undefined || min > max || max > U32_MAX) {
    throw new UsageError(
      `--latency must be a time in ms (250) or a range MIN-MAX (100-2000; durations like 2s work too) (got "${text}")`,
    );
  }
  return { min, max };
}

function percentOption(text: string, flag: string): number {
  return numberFlag(text, flag, { min: 0, max: 100 }, "a percentage from 0 to 100");
}

function startOption(text: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || ms < 0)
    throw new UsageError(`--start must be a UTC date and time like 2025-01-10T00:00:00Z (got "${text}")`);
  return Math.floor(ms);
}

function workloadOption(options: RunCommandOptions): Workload | null {
  const tsd = options.tsd ?? [];
  const evt = options.evt ?? [];
  const replay = options.replay ?? [];
  const flagged = tsd.length + evt.length + replay.length > 0;
  if (options.workload !== undefined && flagged)
    throw new UsageError("give either --workload or --tsd/--evt/--replay, not both");
  if (options.workload !== undefined) return workloadLoad(options.workload);
  try {
    return workloadFromFlags({
      tsd,
      evt,
      replay,
      ...(options.source === undefined ? {} : { source: integerFlag(options.source, "--source", 0, U32_MAX) }),
    });
  } catch (error) {
    if (error instanceof WorkloadError) throw new UsageError(error.message);
    throw error;
  }
}

function packetFormatOption(options: RunCommandOptions): PacketFormat {
  const text = options.packetFormat ?? (options.packets === undefined ? "bulk" : "imatrix");
  if (text !== "bulk" && text !== "imatrix")
    throw new UsageError(`--packet-format must be bulk or imatrix (got "${text}")`);
  if (text === "bulk" && options.packets !== undefined)
    throw new UsageError("--packets writes iMatrix messages: it needs --packet-format imatrix (its default)");
  if (text === "imatrix" && options.packet !== undefined)
    throw new UsageError(
      "--packet sets the bulk format's records per packet; with --packet-format imatrix the byte limits set them",
    );
  return text;
}

export interface RunPlan {
  settings: RunSettings;
  /** The dashboard's port (0: any free one), or null without --ui. */
  uiPort: number | null;
  perfettoPath: string | null;
  ramDumpPath: string | null;
  speed: Speed;
  devices: number;
  workers: number;
  statusEveryMs: number;
  temporaryStorage: boolean;
}

/** Turns the flags into settings; throws UsageError (exit 2) for a bad one. Changes nothing. */
export function runPlan(options: RunCommandOptions): RunPlan {
  if (!LOG_LEVELS.includes(options.log as LogLevel))
    throw new UsageError(`--log must be one of ${LOG_LEVELS.join(", ")} (got "${options.log}")`);
  if (options.policy !== undefined && !isCleanupPolicy(options.policy)) {
    throw new UsageError(`--policy must be ${cleanupPolicyChoices()} (got "${options.policy}")`);
  }
  diskFullOptionCheck(options.diskFull);
  const board: Board = diskFullOptionApply(loadBoard(options.board), options.diskFull);
  const speed = speedOption(options.speed);
  const devices = integerFlag(options.devices, "--devices", 1, DEVICES_MAX);
  const workers =
    options.workers === undefined ? availableParallelism() : integerFlag(options.workers, "--workers", 1, 1024);
  const latency = latencyOption(options.latency);
  const packetFormat = packetFormatOption(options);
  const packetRecords =
    options.packet === undefined
      ? board.memory.bulkRecordsMax
      : integerFlag(options.packet, "--packet", 1, board.memory.bulkRecordsMax);
  const uplink: UplinkSettings = {
    packetFormat,
    packetRecords,
    everyMs: durationFlag(options.uploadEvery, "--upload-every"),
    latencyMinMs: latency.min,
    latencyMaxMs: latency.max,
    timeoutMs: durationFlag(options.uploadTimeout, "--upload-timeout"),
    ackLossPpm: Math.round(percentOption(options.ackLoss, "--ack-loss") * 10_000),
  };
  const outages: OutageSpec[] = [];
  for (const text of options.outage ?? []) {
    const spec = outageSpecParse(text);
    if (spec !== null) outages.push(spec);
  }
  const tickMs = options.tick === undefined ? null : integerFlag(options.tick, "--tick", 1, U32_MAX);
  const uiPort =
    options.ui === undefined ? null : options.ui === true ? 0 : integerFlag(String(options.ui), "--ui", 0, PORT_MAX);
  if (uiPort !== null && devices > 1)
    throw new UsageError(`--ui shows one device: it cannot be used with --devices ${devices}`);
  for (const [flag, given] of [
    ["--perfetto", options.perfetto],
    ["--ram-dump", options.ramDump],
  ] as const) {
    if (given !== undefined && devices > 1)
      throw new UsageError(`${flag} records one device: it cannot be used with --devices ${devices}`);
  }
  const temporaryStorage = options.storage === undefined;
  const storageDir = options.storage === undefined ? "" : resolve(options.storage);
  const settings: RunSettings = {
    board,
    policy: options.policy !== undefined && isCleanupPolicy(options.policy) ? options.policy : null,
    storageDir,
    uploadLogPath: options.uploadLog === undefined ? null : resolve(options.uploadLog),
    packetsPath: options.packets === undefined ? null : resolve(options.packets),
    tracePath: options.trace === undefined ? null : resolve(options.trace),
    traceEveryMs: durationFlag(options.traceEvery, "--trace-every"),
    seed: options.seed === undefined ? null : integerFlag(options.seed, "--seed", 0, U32_MAX - DEVICES_MAX),
    startUtcMs: options.start === undefined ? null : startOption(options.start),
    durationMs: options.duration === undefined ? null : durationFlag(options.duration, "--duration"),
    drain: options.drain === true,
    workload: workloadOption(options),
    uplink,
    outages,
    tickMs,
    shutdownDeadlineMs: durationFlag(options.shutdownDeadline, "--shutdown-deadline"),
    checkpointEveryMs: CHECKPOINT_EVERY_MS,
    logLevel: options.log as LogLevel,
    device: null,
    version: packageVersion(),
  };
  return {
    settings,
    uiPort,
    perfettoPath: options.perfetto === undefined ? null : resolve(options.perfetto),
    ramDumpPath: options.ramDump === undefined ? null : resolve(options.ramDump),
    speed,
    devices,
    workers,
    statusEveryMs: durationFlag(options.statusEvery, "--status-every"),
    temporaryStorage,
  };
}

/**
 * The files the run will write, checked before the storage is touched: the upload log and the
 * packets file (read too when they exist; per device in a fleet), the trace (per device) and the
 * --json summary. Throws UsageError (exit 2) for the first that could not be written.
 */
export function runOutputsCheck(plan: RunPlan, jsonPath: string | undefined): void {
  const { settings } = plan;
  const outputs: OutputPath[] = [];
  const perDevice = (flag: string, path: string | null | undefined, read: boolean): void => {
    if (path === null || path === undefined) return;
    if (plan.devices === 1) outputs.push({ flag, path, read });
    else for (let i = 0; i < plan.devices; i++) outputs.push({ flag, path: perDevicePath(path, i) ?? path, read });
  };
  perDevice("--upload-log", settings.uploadLogPath, true);
  perDevice("--packets", settings.packetsPath, true);
  perDevice("--trace", settings.tracePath, false);
  if (plan.perfettoPath !== null) outputs.push({ flag: "--perfetto", path: plan.perfettoPath });
  if (plan.ramDumpPath !== null) outputs.push({ flag: "--ram-dump", path: plan.ramDumpPath });
  if (jsonPath !== undefined) outputs.push({ flag: "--json", path: jsonPath });
  outputPathsCheck(outputs);
}

export interface RunOutcome {
  exitCode: number;
  device: DeviceSummary | null;
  fleet: Awaited<ReturnType<typeof fleetRun>> | null;
}

function viewFor(io: RunIo, quiet: boolean, statusEveryMs: number): StatusView {
  if (quiet) return silentStatusView;
  if (io.tty) return terminalStatusView(process.stderr);
  return plainStatusView((text) => io.err(text), statusEveryMs);
}

/** Runs the command; returns the exit code (0, or 1 if a check failed) and the summary. */
export async function runCommand(options: RunCommandOptions, io: RunIo): Promise<RunOutcome> {
  const plan = runPlan(options);
  const { settings } = plan;
  runOutputsCheck(plan, options.json);
  if (plan.temporaryStorage) settings.storageDir = mkdtempSync(join(tmpdir(), "imx-memsim-run-"));
  const quiet = options.quiet === true;
  const view = viewFor(io, quiet, plan.statusEveryMs);
  const stop = stopSignalsListen({
    onFirst: (signal) =>
      view.note(
        `run: ${signal}: stopping: flushing RAM to disk (deadline ${settings.shutdownDeadlineMs / SECOND_MS} s)`,
      ),
  });
  try {
    if (plan.devices > 1) {
      const fleet = await fleetRun({
        base: settings,
        devices: plan.devices,
        workers: plan.workers,
        speed: plan.speed,
        statusEveryMs: Math.min(plan.statusEveryMs, SECOND_MS),
        view,
        stopRequested: stop.received,
        warn: (text) => io.err(`imx-memsim: ${text}\n`),
      });
      view.stop();
      io.out(fleetSummaryText(fleet));
      const jsonWritten = options.json === undefined || summaryWrite(options.json, fleet, io);
      const failed =
        !jsonWritten ||
        !fleet.records.balanced ||
        fleet.perDevice.some((s) => s.stop.flush === "deadline") ||
        fleet.perDevice.some((s) => s.uplink.redeliveryMismatches > 0);
      return { exitCode: failed ? EXIT_FAILURE : 0, device: null, fleet };
    }
    const pre = devicePreflight(settings);
    for (const warning of pre.warnings) io.err(`imx-memsim: ${warning}\n`);
    const extras = new RunExtras({
      uiPort: plan.uiPort,
      perfettoPath: plan.perfettoPath,
      ramDumpPath: plan.ramDumpPath,
      counterEveryMs: settings.traceEveryMs,
      logLevel: settings.logLevel,
      speed: plan.speed,
      runStartMs: pre.runStartMs,
      note: (text) => io.err(text),
    });
    const run = DeviceRun.start(settings, pre, extras.runOptions());
    try {
      await extras.started(run);
      return await deviceRunDrive(run, pre, plan, options, io, view, stop, extras);
    } finally {
      await extras.finish();
      // A run that failed before its graceful stop still gives its lock back.
      run.release();
    }
  } finally {
    view.stop();
    stop.release();
    if (plan.temporaryStorage && options.keep !== true) rmSync(settings.storageDir, { recursive: true, force: true });
    else if (plan.temporaryStorage) io.err(`run: storage kept in ${settings.storageDir}\n`);
  }
}

/** Writes the --json summary; a write the filesystem refuses is reported in one line (exit 1), not thrown. */
function summaryWrite(path: string, summary: unknown, io: RunIo): boolean {
  try {
    writeFileSync(path, `${JSON.stringify(summary, null, 2)}\n`);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOSPC" && code !== "EDQUOT" && code !== "EFBIG") throw error;
    io.err(`imx-memsim: the summary could not be written to ${path} (${code}); it is printed above\n`);
    return false;
  }
}

/** One device's run, from the recovery note to the summary; the caller releases the run. */
async function deviceRunDrive(
  run: DeviceRun,
  pre: ReturnType<typeof devicePreflight>,
  plan: RunPlan,
  options: RunCommandOptions,
  io: RunIo,
  view: StatusView,
  stop: ReturnType<typeof stopSignalsListen>,
  extras: RunExtras,
): Promise<RunOutcome> {
  const { settings } = plan;
  const quiet = options.quiet === true;
  if (run.device.recovery !== null && pre.resumed) {
    const r = run.device.recovery;
    view.note(
      `run: resuming ${settings.storageDir}: ${r.recordsRecovered} records recovered from ${r.filesKept} files, ` +
        `${r.filesQuarantined} quarantined, ${run.lostWithRamAtLastKill} lost with RAM at the last stop or kill; clock +${durationFormat(run.lifeStartMs - pre.runStartMs)}`,
    );
  }
  await drive([run], {
    speed: plan.speed,
    pace: extras.pace,
    stopRequested: () => stop.requested,
    statusEveryMs: quiet ? Infinity : SECOND_MS,
    onStatus: (statuses, realMs) => view.update(statusAggregate(statuses, 1, 0, realMs)),
  });
  await run.stop(stop.signal);
  await extras.stopped(run);
  await extras.finish();
  view.update(statusAggregate([run.status()], 1, 0, run.summary().realMs));
  view.stop();
  const summary = run.summary();
  io.out(deviceSummaryText(summary));
  const jsonWritten = options.json === undefined || summaryWrite(options.json, summary, io);
  const failed =
    !jsonWritten ||
    !summary.records.balanced ||
    summary.uplink.redeliveryMismatches > 0 ||
    // A full disk is an event the device lives through (its losses are counted): only a flush
    // that missed its deadline with room on the disk fails the run.
    summary.stop.flush === "deadline";
  return { exitCode: failed ? EXIT_FAILURE : 0, device: summary, fleet: null };
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRootDir(), "package.json"), "utf8")) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The defaults of run's flags that take a value, for the commands that make runs of their own (compare, size). */
export const RUN_OPTION_DEFAULTS = {
  speed: "1",
  uploadEvery: "1m",
  latency: "250",
  uploadTimeout: `${UPLOAD_TIMEOUT_MS_DEFAULT / SECOND_MS}s`,
  ackLoss: "0",
  traceEvery: "1m",
  statusEvery: "5s",
  shutdownDeadline: `${SHUTDOWN_DEADLINE_MS_DEFAULT / SECOND_MS}s`,
  devices: "1",
  log: "off",
} as const satisfies Partial<Record<keyof RunCommandOptions, string>>;

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description(
      "simulate a device (or a fleet) over time: sensors, the memory manager's main loop, an uploader with outages; resumable",
    )
    .option("--board <name-or-path>", "board name in boards/, or a path to a board JSON file", DEFAULT_BOARD_NAME)
    .option("--storage <dir>", "the device's storage (resumable); default: a temp directory, removed afterwards")
    .option("--policy <policy>", `cleanup policy: ${cleanupPolicyChoices()} (default: the board's)`)
    .option("--disk-full <policy>", DISK_FULL_OPTION_HELP)
    .option("--seed <n>", "seed for events, values, latency, losses and jitter (default 1, or the storage's)")
    .option("--start <utc>", "simulated start of a new storage (default 2025-01-10T00:00:00Z)")
    .option("--workload <file>", "the sensors, as a workload JSON file (see docs/run.md)")
    .option("--tsd <sensor:rate[:type]>", "a TSD stream, e.g. 1004:10s or 1001:1m:int32 (repeatable)", collect)
    .option(
      "--evt <sensor:rate[:type]>",
      "an EVT stream with an event rate, e.g. 1006:720/h or 2001:30s (repeatable)",
      collect,
    )
    .option("--replay <file[:sensor,...]>", "EVT streams replayed from an iMatrix cloud export (repeatable)", collect)
    .option("--source <n>", "upload source of the --tsd/--evt/--replay streams (default 0)")
    .option("--speed <n|max>", "simulated time per real time, or max", RUN_OPTION_DEFAULTS.speed)
    .option("--duration <time>", "total simulated time of the storage's run, e.g. 7d or 90m (default: until stopped)")
    .option("--drain", "after --duration, stop the sensors and upload until the device is empty")
    .option("--tick <ms>", "main-loop interval (default: the board's)")
    .option("--packet <n>", "records per stream per upload packet (default: the board's bulk-read size)")
    .option(
      "--packet-format <format>",
      "bulk: one packet per stream of --packet records; imatrix: one CoAP message per cycle within 1152 bytes (default: bulk, imatrix with --packets)",
    )
    .option(
      "--packets <file>",
      "append every acknowledged iMatrix message as a device-log hex line, fsynced with the upload log (implies --packet-format imatrix; per device: <file>.device-<i>)",
    )
    .option(
      "--upload-every <time>",
      "time between upload cycles when there is no backlog",
      RUN_OPTION_DEFAULTS.uploadEvery,
    )
    .option("--latency <ms|min-max>", "the cloud's answer time, simulated", RUN_OPTION_DEFAULTS.latency)
    .option(
      "--upload-timeout <time>",
      "revert a packet whose answer has not come by then",
      RUN_OPTION_DEFAULTS.uploadTimeout,
    )
    .option("--ack-loss <percent>", "chance that a packet's answer is lost", RUN_OPTION_DEFAULTS.ackLoss)
    .option(
      "--outage <schedule>",
      'uplink outages, e.g. "30m every 6h", "6h every 1d at 2h", "2h at 3d" (repeatable)',
      collect,
    )
    .option(
      "--upload-log <file>",
      "the cloud: NDJSON of every accepted record, fsynced before the ACK (per device: <file>.device-<i>)",
    )
    .option("--json <file>", "write the final summary as JSON")
    .option("--trace <file>", "write a time series as NDJSON, one line per --trace-every of simulated time")
    .option("--trace-every <time>", "simulated time between trace lines", RUN_OPTION_DEFAULTS.traceEvery)
    .option(
      "--status-every <time>",
      "real time between status lines when stderr is not a terminal",
      RUN_OPTION_DEFAULTS.statusEvery,
    )
    .option("--quiet", "no live status")
    .option(
      "--shutdown-deadline <time>",
      "how long a graceful stop may take to flush",
      RUN_OPTION_DEFAULTS.shutdownDeadline,
    )
    .option(
      "--devices <n>",
      "run a fleet of N independent devices (storage <dir>/device-<i>)",
      RUN_OPTION_DEFAULTS.devices,
    )
    .option("--workers <n>", "worker threads for a fleet (default: the number of cores)")
    .option("--keep", "keep the temp storage directory")
    .option("--log <level>", "core log level: off, error, warn, info, debug", RUN_OPTION_DEFAULTS.log)
    .option(
      "--ui [port]",
      "serve a live dashboard on http://127.0.0.1:PORT/ (0 or none: any free port; one device only); its address is printed on stderr",
    )
    .option(
      "--perfetto <file>",
      "write the run as Chrome Trace Event JSON on simulated time (ticks, spills, files, uploads, outages, counters) for Perfetto",
    )
    .option(
      "--ram-dump <file>",
      "write the device's RAM (exactly the board's ramBytes) after the stop, for imx-memsim inspect",
    )
    .action(async (options: RunCommandOptions) => {
      const outcome = await runCommand(options, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        // isTTY is undefined, not false, when stderr is not a terminal (the types say boolean).
        tty: (process.stderr.isTTY as boolean | undefined) === true,
      });
      if (outcome.exitCode !== 0) process.exitCode = outcome.exitCode;
    });
}
