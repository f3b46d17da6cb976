// A worker thread of `compare`: makes the one run it is given (compare-run.ts), posts its progress
// now and then and its result at the end. Loaded as compiled JavaScript from dist/.

import { parentPort, workerData } from "node:worker_threads";
import { type CompareRunInput, compareRunOne } from "./compare-run.js";
import type { CompareWorkerMessage } from "./compare.js";

const port = parentPort;
if (port === null) throw new Error("compare-worker.ts runs as a worker thread");
const post = (message: CompareWorkerMessage): void => port.postMessage(message);
/** Real time between two progress messages. */
const PROGRESS_EVERY_MS = 250;

let lastPostMs = -Infinity;
try {
  const result = await compareRunOne(workerData as CompareRunInput, (fraction) => {
    const now = performance.now();
    if (now - lastPostMs < PROGRESS_EVERY_MS) return;
    lastPostMs = now;
    post({ type: "progress", fraction });
  });
  post({ type: "done", result });
} catch (error) {
  post({ type: "error", message: (error as Error).message, stack: (error as Error).stack ?? null });
}
port.close();
