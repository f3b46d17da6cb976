// `imx-memsim monitor --storage DIR`: the original's monitor_tiered_storage.sh for a storage of this
// project — disk usage (green below 70%, yellow below 85%, red above), the data, journal and
// corrupted files, the bucket distribution, the newest files, the average size, a per-sensor
// histogram (sampled above 10,000 files, as the original did) and the sequence range. Read-only: it
// lists and stats, never opens a file for writing, never takes the lock, so it works while a run uses
// the storage (a file deleted between the listing and its stat is skipped).

import { readdirSync, statfsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { durationFlag, numberFlag } from "../base/parse.js";
import { UsageError } from "../base/user-error.js";
import { CORRUPTED_DIR, HISTORY_BUCKETS, HISTORY_DIR, IMX_SUFFIX } from "../format/imx.js";

/** Above this many data files the per-sensor histogram is sampled (monitor_tiered_storage.sh). */
export const MONITOR_SAMPLE_ABOVE_FILES = 10_000;
/** Sampled: this many files of each bucket. */
export const MONITOR_SAMPLE_PER_BUCKET = 100;
export const MONITOR_NEWEST_SHOWN = 5;
export const MONITOR_SENSORS_SHOWN = 20;
const INTERVAL_DEFAULT = "2s";

export interface MonitorOptions {
  storage?: string;
  interval?: string;
  once?: boolean;
  json?: boolean;
}

export interface MonitorReport {
  storage: string;
  takenAt: string;
  disk: { totalBytes: number; freeBytes: number; usedPercent: number; level: "green" | "yellow" | "red" } | null;
  files: {
    data: number;
    journal: number;
    temporary: number;
    corrupted: number;
    dataBytes: number;
    averageBytes: number;
  };
  buckets: number[];
  newest: Array<{ path: string; bytes: number; modified: string }>;
  sensors: Array<{ source: number; sensor: number; files: number }>;
  sensorsSampled: boolean;
  seqRange: { first: number; last: number } | null;
}

interface DataFile {
  path: string;
  bytes: number;
  mtimeMs: number;
  source: number;
  sensor: number;
  firstSeq: number;
}

const NAME = /^(\d+)_(\d+)_(\d+)\.imx$/;

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function statOrNull(path: string): { size: number; mtimeMs: number; isFile: boolean } | null {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile() };
  } catch {
    return null; // deleted since the listing (cleanup at work): skipped
  }
}

function countFilesUnder(dir: string, depth = 0): number {
  let count = 0;
  for (const name of listOrEmpty(dir)) {
    const s = statOrNull(join(dir, name));
    if (s === null) continue;
    if (s.isFile) count++;
    else if (depth < 8) count += countFilesUnder(join(dir, name), depth + 1);
  }
  return count;
}

/** One look at the storage. */
export function monitorLook(root: string, now = new Date()): MonitorReport {
  const history = join(root, HISTORY_DIR);
  const buckets = new Array<number>(HISTORY_BUCKETS).fill(0);
  const data: DataFile[] = [];
  let journal = 0;
  let temporary = 0;
  let dataBytes = 0;
  for (const name of listOrEmpty(history)) {
    const path = join(history, name);
    const s = statOrNull(path);
    if (s === null) continue;
    if (s.isFile) {
      if (name.endsWith(".tmp")) temporary++;
      else journal++;
      continue;
    }
    const bucket = /^\d$/.test(name) ? Number(name) : -1;
    for (const file of listOrEmpty(path)) {
      if (file.endsWith(".tmp")) {
        temporary++;
        continue;
      }
      const match = NAME.exec(file);
      if (match === null || !file.endsWith(IMX_SUFFIX)) continue;
      const fs = statOrNull(join(path, file));
      if (fs === null || !fs.isFile) continue;
      if (bucket >= 0 && bucket < HISTORY_BUCKETS) buckets[bucket] = (buckets[bucket] ?? 0) + 1;
      dataBytes += fs.size;
      data.push({
        path: `${HISTORY_DIR}/${name}/${file}`,
        bytes: fs.size,
        mtimeMs: fs.mtimeMs,
        source: Number(match[1]),
        sensor: Number(match[2]),
        firstSeq: Number(match[3]),
      });
    }
  }
  const corrupted = countFilesUnder(join(root, CORRUPTED_DIR));

  const sampled = data.length > MONITOR_SAMPLE_ABOVE_FILES;
  const forHistogram = sampled ? sampleByBucket(data) : data;
  const perSensor = new Map<string, { source: number; sensor: number; files: number }>();
  for (const file of forHistogram) {
    const key = `${file.source}:${file.sensor}`;
    const entry = perSensor.get(key) ?? { source: file.source, sensor: file.sensor, files: 0 };
    entry.files++;
    perSensor.set(key, entry);
  }
  const sensors = [...perSensor.values()].sort(
    (a, b) => b.files - a.files || a.source - b.source || a.sensor - b.sensor,
  );
  const newest = [...data]
    .sort((a, b) => b.mtimeMs - a.mtimeMs || a.path.localeCompare(b.path))
    .slice(0, MONITOR_NEWEST_SHOWN)
    .map((f) => ({ path: f.path, bytes: f.bytes, modified: new Date(f.mtimeMs).toISOString() }));
  let seqRange: MonitorReport["seqRange"] = null;
  for (const f of data) {
    seqRange =
      seqRange === null
        ? { first: f.firstSeq, last: f.firstSeq }
        : { first: Math.min(seqRange.first, f.firstSeq), last: Math.max(seqRange.last, f.firstSeq) };
  }
  return {
    storage: root,
    takenAt: now.toISOString(),
    disk: diskLook(root),
    files: {
      data: data.length,
      journal,
      temporary,
      corrupted,
      dataBytes,
      averageBytes: data.length === 0 ? 0 : Math.round(dataBytes / data.length),
    },
    buckets,
    newest,
    sensors,
    sensorsSampled: sampled,
    seqRange,
  };
}

function sampleByBucket(data: DataFile[]): DataFile[] {
  const taken = new Map<string, number>();
  const sample: DataFile[] = [];
  for (const file of data) {
    const bucket = file.path.split("/")[1] ?? "";
    const n = taken.get(bucket) ?? 0;
    if (n >= MONITOR_SAMPLE_PER_BUCKET) continue;
    taken.set(bucket, n + 1);
    sample.push(file);
  }
  return sample;
}

function diskLook(root: string): MonitorReport["disk"] {
  try {
    const s = statfsSync(root);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    const usedPercent = total === 0 ? 0 : ((total - s.bfree * s.bsize) * 100) / total;
    return {
      totalBytes: total,
      freeBytes: free,
      usedPercent,
      level: usedPercent < 70 ? "green" : usedPercent < 85 ? "yellow" : "red",
    };
  } catch {
    return null;
  }
}

const COLOURS = { green: "\x1b[32m", yellow: "\x1b[33m", red: "\x1b[31m" } as const;

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The report as the original's script showed it (colours only on a terminal). */
export function monitorText(report: MonitorReport, colour: boolean): string {
  const lines: string[] = [];
  lines.push(`imx-memsim monitor: ${report.storage} at ${report.takenAt}`);
  const d = report.disk;
  if (d === null) lines.push("disk         unknown (statfs failed)");
  else {
    const pct = `${d.usedPercent.toFixed(1)}% used`;
    const shown = colour ? `${COLOURS[d.level]}${pct}\x1b[0m` : pct;
    lines.push(`disk         ${shown} (${d.level}), ${mib(d.freeBytes)} free of ${mib(d.totalBytes)}`);
  }
  const f = report.files;
  lines.push(
    `files        ${f.data} data (.imx, ${mib(f.dataBytes)}, average ${f.averageBytes} B), ${f.journal} journal (positions and logs), ` +
      `${f.temporary} temporary, ${f.corrupted} corrupted`,
  );
  lines.push(`buckets      ${report.buckets.map((n, i) => `${i}:${n}`).join("  ")}`);
  lines.push(
    report.seqRange === null
      ? "sequences    no data files"
      : `sequences    files start at ${report.seqRange.first} … ${report.seqRange.last}`,
  );
  lines.push(`newest       ${report.newest.length === 0 ? "none" : ""}`);
  for (const n of report.newest) lines.push(`  ${n.modified}  ${String(n.bytes).padStart(8)} B  ${n.path}`);
  const most = report.sensors[0]?.files ?? 0;
  lines.push(
    `per sensor   ${report.sensors.length} streams` +
      (report.sensorsSampled ? ` (sampled: the first ${MONITOR_SAMPLE_PER_BUCKET} files of each bucket)` : ""),
  );
  for (const s of report.sensors.slice(0, MONITOR_SENSORS_SHOWN)) {
    const bar = "#".repeat(most === 0 ? 0 : Math.max(1, Math.round((s.files * 40) / most)));
    lines.push(`  ${`${s.source}/${s.sensor}`.padEnd(16)} ${String(s.files).padStart(7)} ${bar}`);
  }
  return lines.join("\n") + "\n";
}

export interface MonitorIo {
  out(text: string): void;
  tty: boolean;
  /** Waits `ms` (a test passes a fake); returns false to stop. */
  sleep(ms: number): Promise<boolean>;
}

/** Looks once, or every interval until stopped. Waits while the directory is missing, as the original did. */
export async function monitorCommandRun(options: MonitorOptions, io: MonitorIo): Promise<void> {
  if (options.storage === undefined) throw new UsageError("monitor needs --storage DIR");
  const intervalText = options.interval ?? INTERVAL_DEFAULT;
  // A bare number is seconds, as the original's -i took; otherwise a TIME with its unit.
  const intervalMs = /^\d+(\.\d+)?$/.test(intervalText)
    ? Math.round(
        numberFlag(
          intervalText,
          "--interval",
          { min: 0.1, max: 86_400 },
          "seconds from 0.1 to 86400, or a time with a unit",
        ) * 1000,
      )
    : durationFlag(intervalText, "--interval", 100, 24 * 3_600_000);
  const root = resolve(options.storage);
  for (;;) {
    const exists = statOrNull(root);
    if (exists !== null && exists.isFile) throw new UsageError(`--storage ${options.storage} is not a directory`);
    if (exists === null) {
      if (options.once === true) throw new UsageError(`--storage ${options.storage} does not exist`);
      io.out(`imx-memsim monitor: ${root} does not exist yet; waiting\n`);
    } else {
      const report = monitorLook(root);
      io.out(options.json === true ? JSON.stringify(report) + "\n" : monitorText(report, io.tty));
    }
    if (options.once === true) return;
    if (!(await io.sleep(intervalMs))) return;
    if (options.json !== true) io.out("\n");
  }
}

export function registerMonitorCommand(program: Command): void {
  program
    .command("monitor")
    .description("a live, read-only view of a storage directory (the original's monitor_tiered_storage.sh)")
    .requiredOption("--storage <dir>", "the storage directory to watch (a run may be using it)")
    .option("--interval <s>", `seconds between looks, or a time with a unit (default ${INTERVAL_DEFAULT})`)
    .option("--once", "look once and exit")
    .option("--json", "one JSON object per look (one line each) instead of the text view")
    .addHelpText(
      "after",
      `
Shows the filesystem's usage (green below 70%, yellow below 85%, red above), the data (.imx),
journal (the positions file and logs under history/), temporary and corrupted files, the
distribution over the ${HISTORY_BUCKETS} buckets, the ${MONITOR_NEWEST_SHOWN} newest files, the average size, a per-sensor
histogram (sampled: the first ${MONITOR_SAMPLE_PER_BUCKET} files of each bucket above ${MONITOR_SAMPLE_ABOVE_FILES} files) and the range of
first sequence numbers. It only lists and stats: it never writes, never takes the lock, and skips a
file deleted while it looks. Without --once it waits while the directory does not exist yet.
Exit status: 0, or 2 for bad input.`,
    )
    .action(async (options: MonitorOptions) => {
      let stop = false;
      const onSignal = (): void => {
        stop = true;
      };
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await monitorCommandRun(options, {
          out: (text) => process.stdout.write(text),
          tty: (process.stdout.isTTY as boolean | undefined) === true,
          sleep: (ms) =>
            new Promise((done) => {
              const timer = setTimeout(() => done(!stop), ms);
              if (stop) {
                clearTimeout(timer);
                done(false);
              }
            }),
        });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}
