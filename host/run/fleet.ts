// A fleet: N independent devices (each its own wasm instance, RAM and storage directory
// <storage>/device-<i>) spread over worker threads. The main thread checks every device's storage
// first (nothing changes if any is bad), starts the workers, aggregates their status, forwards a
// stop, and collects the devices' summaries.
//
// Workers run the compiled JavaScript (dist/host/run/fleet-worker.js): Node 20 cannot load
// TypeScript in a worker, so `npm run build` must have run (the tests' pretest does).

import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { packageRootDir } from "../boards.js";
import { devicePreflight, type RunSettings } from "./device-preflight.js";
import type { DeviceStatus, DeviceSummary } from "./device-report.js";
import type { Speed } from "./drive.js";
import { fleetSummary, type FleetSummary, statusAggregate, type StatusView } from "./report.js";
import { identityFor, IDENTITY_FILE, lockCheck, lockTake, storageFileWrite, storagePreflight } from "./storage.js";

export interface FleetWorkerData {
  settings: RunSettings[];
  speed: Speed;
  statusEveryMs: number;
}

export type FleetWorkerMessage =
  | { type: "status"; statuses: DeviceStatus[] }
  | { type: "done"; summaries: DeviceSummary[] }
  | { type: "error"; message: string; stack: string | null };

export type FleetControlMessage = { type: "stop"; signal: NodeJS.Signals | null };

export interface FleetOptions {
  base: RunSettings;
  /** Prints a warning line (a stale lock taken over, a lock that could not be written). */
  warn?: (text: string) => void;
  devices: number;
  workers: number;
  speed: Speed;
  statusEveryMs: number;
  view: StatusView;
  /** Resolves when a stop is requested (a signal). */
  stopRequested: Promise<NodeJS.Signals>;
}

/** `<file>.device-<i><ext>`: a per-device copy of a file option. */
export function perDevicePath(path: string | null, device: number): string | null {
  if (path === null) return null;
  const match = /^(.*?)(\.[^./\\]*)?$/.exec(path);
  return `${match?.[1] ?? path}.device-${device}${match?.[2] ?? ""}`;
}

export function deviceSettings(base: RunSettings, device: number): RunSettings {
  return {
    ...base,
    storageDir: join(base.storageDir, `device-${device}`),
    uploadLogPath: perDevicePath(base.uploadLogPath, device),
    packetsPath: perDevicePath(base.packetsPath ?? null, device),
    tracePath: perDevicePath(base.tracePath, device),
    // Device i draws from seed + i (the stored seed when resuming without --seed).
    seed: base.seed === null ? null : base.seed + device,
    device,
  };
}

export function fleetWorkerPath(): string {
  const path = join(packageRootDir(), "dist", "host", "run", "fleet-worker.js");
  if (!existsSync(path))
    throw new Error(`${path} is missing: fleets run the compiled workers; run \`npm run build\` first`);
  return path;
}

export async function fleetRun(options: FleetOptions): Promise<FleetSummary> {
  const { base, devices } = options;
  const root = storagePreflight(base.storageDir, base.board, "fleet");
  const stale = root.exists ? lockCheck(root.dir, base.storageDir) : null;
  if (stale !== null) options.warn?.(stale);
  const settings = Array.from({ length: devices }, (_, i) => deviceSettings(base, i));
  // Every device's storage, workload and upload log is checked before anything is written.
  for (const s of settings) devicePreflight(s, { lock: false });
  const workerPath = fleetWorkerPath();

  if (root.identity === null)
    storageFileWrite(root.dir, IDENTITY_FILE, identityFor(base.board, "fleet", base.version, devices));
  const lock = lockTake(root.dir);
  if (lock.failure !== null) options.warn?.(`warning: storage ${base.storageDir}: ${lock.failure}; running without it`);
  const started = performance.now();
  const workerCount = Math.max(1, Math.min(options.workers, devices));
  const latest = new Array<DeviceStatus | undefined>(devices);
  const summaries: DeviceSummary[] = [];
  const errors: string[] = [];
  const workers: Worker[] = [];
  let lastViewMs = -Infinity;

  try {
    const done = Array.from({ length: workerCount }, (_, w) => {
      const share = settings.filter((_, i) => i % workerCount === w);
      const data: FleetWorkerData = { settings: share, speed: options.speed, statusEveryMs: options.statusEveryMs };
      const worker = new Worker(workerPath, { workerData: data });
      workers.push(worker);
      return new Promise<void>((resolve) => {
        let finished = false;
        worker.on("message", (message: FleetWorkerMessage) => {
          if (message.type === "status") {
            for (const status of message.statuses) if (status.device !== null) latest[status.device] = status;
            const now = performance.now();
            if (now - lastViewMs >= options.statusEveryMs / 2) {
              lastViewMs = now;
              const known = latest.filter((s): s is DeviceStatus => s !== undefined);
              options.view.update(statusAggregate(known, devices, workerCount, now - started));
            }
          } else if (message.type === "done") {
            summaries.push(...message.summaries);
            finished = true;
          } else {
            errors.push(message.stack ?? message.message);
            finished = true;
          }
        });
        worker.on("error", (error) => {
          errors.push(error.stack ?? error.message);
          finished = true;
        });
        worker.on("exit", (code) => {
          if (!finished) errors.push(`worker ${w} exited with code ${code} before reporting`);
          resolve();
        });
      });
    });
    let signal: NodeJS.Signals | null = null;
    void options.stopRequested.then((s) => {
      signal = s;
      for (const worker of workers) worker.postMessage({ type: "stop", signal } satisfies FleetControlMessage);
    });
    await Promise.all(done);
    if (errors.length > 0) throw new Error(`fleet: ${errors.length} worker(s) failed:\n${errors.join("\n")}`);
  } finally {
    for (const worker of workers) void worker.terminate();
    lock.release();
  }
  summaries.sort((a, b) => (a.device ?? 0) - (b.device ?? 0));
  const known = latest.filter((s): s is DeviceStatus => s !== undefined);
  options.view.update(statusAggregate(known, devices, workerCount, performance.now() - started));
  return fleetSummary(summaries, workerCount, performance.now() - started);
}
