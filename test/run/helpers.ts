// Helpers for the `imx-memsim run` tests: an independent reader of the records in `.imx` files
// (host/format, written from SPEC.md 6.2 and 3.2, not the core's code), upload-log checks, a byte-for-
// byte snapshot of a directory, and a child-process runner for the compiled CLI.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { loadBoard } from "../../host/boards.js";
import type { RunSettings } from "../../host/run/device-preflight.js";
import { HISTORY_DIR, IMX_SUFFIX, imxHeaderRead, imxRecordsRead, imxValueOf } from "../../host/format/imx.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = join(ROOT, "dist", "host", "cli", "main.js");

export interface LoggedRecord {
  source: number;
  sensor: number;
  seq: number;
  utcMs: number;
  value: number;
}

/** Every record of every complete `.imx` file under `<dir>/history` (erased ones included). */
export function imxRecords(dir: string): LoggedRecord[] {
  const history = join(dir, HISTORY_DIR);
  if (!existsSync(history)) return [];
  const out: LoggedRecord[] = [];
  for (const bucket of readdirSync(history)) {
    const bucketDir = join(history, bucket);
    if (!statSync(bucketDir).isDirectory()) continue;
    for (const name of readdirSync(bucketDir)) {
      if (!name.endsWith(IMX_SUFFIX)) continue;
      const data = readFileSync(join(bucketDir, name));
      const header = imxHeaderRead(data);
      if (header === null) continue;
      const { source, sensor } = header;
      for (const r of imxRecordsRead(data, header)) {
        out.push({ source, sensor, seq: r.seq, utcMs: r.utcMs, value: imxValueOf(r.word, header.dataType) });
      }
    }
  }
  return out;
}

/** The records of an upload log; a last line cut short by a kill (no newline) is not one. */
export function uploadLogRecords(path: string): LoggedRecord[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, "utf8").split("\n");
  lines.pop();
  return lines.filter((line) => line !== "").map((line) => JSON.parse(line) as LoggedRecord);
}

/** A record's identity: its stream, time and value (times are unique per stream in these workloads). */
export const recordId = (r: { source: number; sensor: number; utcMs: number; value: number }): string =>
  `${r.source}/${r.sensor}@${r.utcMs}=${r.value}`;

/** Duplicates and seqs that do not grow, per stream, in an upload log. */
export function logCheck(records: readonly LoggedRecord[]): {
  duplicates: number;
  outOfOrder: number;
  byId: Map<string, number>;
} {
  const byId = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  let duplicates = 0;
  let outOfOrder = 0;
  for (const r of records) {
    const id = recordId(r);
    const n = (byId.get(id) ?? 0) + 1;
    byId.set(id, n);
    if (n > 1) duplicates++;
    const key = `${r.source}/${r.sensor}`;
    const last = lastSeq.get(key);
    if (last !== undefined && r.seq <= last) outOfOrder++;
    lastSeq.set(key, r.seq);
  }
  return { duplicates, outOfOrder, byId };
}

/** The largest step between consecutive seqs of one stream in an upload log (1 = no gap anywhere). */
export function seqStepMax(records: readonly LoggedRecord[]): number {
  const lastSeq = new Map<string, number>();
  let stepMax = 0;
  for (const r of records) {
    const key = `${r.source}/${r.sensor}`;
    const last = lastSeq.get(key);
    if (last !== undefined) stepMax = Math.max(stepMax, r.seq - last);
    lastSeq.set(key, r.seq);
  }
  return stepMax;
}

/** Every file under `dir` with its bytes, and every directory: equal snapshots mean nothing changed. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (current: string): void => {
    for (const name of readdirSync(current).sort()) {
      const path = join(current, name);
      const rel = relative(dir, path);
      const st = statSync(path);
      if (st.isDirectory()) {
        out.set(`${rel}/`, "dir");
        walk(path);
      } else {
        out.set(rel, readFileSync(path).toString("base64"));
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI to completion. */
export function cli(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return cliWith(spawnCli(args), options.timeoutMs ?? 60_000);
}

export function spawnCli(args: readonly string[]): ChildProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test's pretest does)`);
  return spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
}

export function cliWith(child: ChildProcess, timeoutMs: number): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** Resolves once the child's stderr has printed `pattern` (the status lines show progress). */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms: ${seen}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve();
      }
    };
    child.stderr?.on("data", onData);
  });
}

/** Run settings for an in-process run on fc1-imx6 under root/name, with an upload log beside it. */
export function runSettings(root: string, name: string, overrides: Partial<RunSettings> = {}): RunSettings {
  const board = loadBoard("fc1-imx6");
  return {
    board,
    policy: null,
    storageDir: join(root, name),
    uploadLogPath: join(root, `${name}.ndjson`),
    tracePath: null,
    traceEveryMs: 60_000,
    seed: 1,
    startUtcMs: null,
    durationMs: null,
    drain: false,
    workload: null,
    uplink: {
      packetRecords: board.memory.bulkRecordsMax,
      everyMs: 60_000,
      latencyMinMs: 250,
      latencyMaxMs: 250,
      timeoutMs: 30_000,
      ackLossPpm: 0,
    },
    outages: [],
    tickMs: null,
    shutdownDeadlineMs: 60_000,
    checkpointEveryMs: 3_600_000,
    logLevel: "off",
    device: null,
    version: "test",
    ...overrides,
  };
}
