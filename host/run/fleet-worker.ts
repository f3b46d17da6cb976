// A worker thread of a fleet (see fleet.ts): starts its devices, drives them through simulated
// time, posts their status, and on "stop" (or when they finish) stops each one gracefully and
// posts their summaries. Loaded as compiled JavaScript from dist/.

import { parentPort, workerData } from "node:worker_threads";
import { devicePreflight } from "./device-preflight.js";
import { DeviceRun } from "./device-run.js";
import { drive } from "./drive.js";
import type { FleetControlMessage, FleetWorkerData, FleetWorkerMessage } from "./fleet.js";

const port = parentPort;
if (port === null) throw new Error("fleet-worker.ts runs as a worker thread");
const data = workerData as FleetWorkerData;
const post = (message: FleetWorkerMessage): void => port.postMessage(message);

let stopSignal: NodeJS.Signals | null = null;
let stopRequested = false;
port.on("message", (message: FleetControlMessage) => {
  // "stop" is the only control message.
  stopRequested = true;
  stopSignal = message.signal;
});

const runs: DeviceRun[] = [];
try {
  for (const settings of data.settings)
    runs.push(DeviceRun.start(settings, devicePreflight(settings, { lock: false }), { lock: false }));
  await drive(runs, {
    speed: data.speed,
    stopRequested: () => stopRequested,
    statusEveryMs: data.statusEveryMs,
    onStatus: (statuses) => post({ type: "status", statuses }),
  });
  for (const run of runs) await run.stop(stopSignal);
  post({ type: "status", statuses: runs.map((run) => run.status()) });
  post({ type: "done", summaries: runs.map((run) => run.summary()) });
} catch (error) {
  // Stop what did start, so its RAM reaches the disk, then report.
  for (const run of runs) {
    try {
      await run.stop(stopSignal);
    } catch {
      // Reported below.
    }
  }
  post({ type: "error", message: (error as Error).message, stack: (error as Error).stack ?? null });
}
port.close();
