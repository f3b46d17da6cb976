// `compare`: every board × policy combination run on worker threads (compare-worker.ts, at most
// `workers` at once), one row each (compare-run.ts). The table, the JSON and the page are in
// compare-report.ts and compare-html.ts.
//
// Workers run the compiled JavaScript (dist/host/compare/compare-worker.js): Node 20 cannot load
// TypeScript in a worker, so `npm run build` must have run (the tests' pretest does).

import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { packageRootDir, type CleanupPolicy } from "../boards.js";
import type { RunSettings } from "../run/device-preflight.js";
import { defaultWorkload } from "../run/workload.js";
import type { CompareResult, CompareRunInput } from "./compare-run.js";

export type CompareWorkerMessage =
  | { type: "progress"; fraction: number }
  | { type: "done"; result: CompareResult }
  | { type: "error"; message: string; stack: string | null };

/**
 * The run of `settings` as compare makes it: a board with fewer stream slots than the workload has
 * takes the workload's first streams, and the note says so.
 */
export function compareInput(settings: RunSettings): CompareRunInput {
  const workload = settings.workload ?? defaultWorkload();
  const max = settings.board.memory.streamsMax;
  if (workload.streams.length <= max) return { settings: { ...settings, workload }, streamsNote: null };
  return {
    settings: { ...settings, workload: { ...workload, streams: workload.streams.slice(0, max) } },
    streamsNote: `board ${settings.board.name} has ${max} stream slots: it runs the workload's first ${max} of ${workload.streams.length} streams`,
  };
}

/**
 * One run per board and policy, boards first: `perBoard` holds each board's settings; `policies`
 * null runs each board with its own cleanup policy.
 */
export function compareInputs(
  perBoard: readonly RunSettings[],
  policies: readonly CleanupPolicy[] | null,
): CompareRunInput[] {
  const inputs: CompareRunInput[] = [];
  for (const settings of perBoard) {
    if (policies === null) inputs.push(compareInput({ ...settings, policy: null }));
    else for (const policy of policies) inputs.push(compareInput({ ...settings, policy }));
  }
  return inputs;
}

export function compareWorkerPath(): string {
  const path = join(packageRootDir(), "dist", "host", "compare", "compare-worker.js");
  if (!existsSync(path))
    throw new Error(`${path} is missing: compare runs the compiled workers; run \`npm run build\` first`);
  return path;
}

export interface CompareRunOptions {
  /** At most this many runs at once (each on its own worker thread). */
  workers: number;
  /** Run `index` has simulated this fraction of its duration. */
  onProgress?: (index: number, fraction: number) => void;
  /** Run `index` is done. */
  onDone?: (index: number, result: CompareResult) => void;
}

function workerRun(
  path: string,
  input: CompareRunInput,
  onProgress: (fraction: number) => void,
): Promise<CompareResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path, { workerData: input });
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      reject(error);
    };
    worker.on("message", (message: CompareWorkerMessage) => {
      if (message.type === "progress") onProgress(message.fraction);
      else if (message.type === "done") {
        settled = true;
        resolve(message.result);
      } else fail(new Error(message.stack ?? message.message));
    });
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`compare worker exited with code ${code} before reporting`)));
  });
}

/** Makes the runs, at most `options.workers` at once; results in the inputs' order. */
export async function compareRunAll(
  inputs: readonly CompareRunInput[],
  options: CompareRunOptions,
): Promise<CompareResult[]> {
  const path = compareWorkerPath();
  const results = new Array<CompareResult>(inputs.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (next < inputs.length && !failed) {
      const index = next++;
      const input = inputs[index];
      if (input === undefined) continue;
      let result: CompareResult;
      try {
        result = await workerRun(path, input, (fraction) => options.onProgress?.(index, fraction));
      } catch (error) {
        // The other lanes finish the run they are making and start no other.
        failed = true;
        throw error;
      }
      results[index] = result;
      options.onDone?.(index, result);
    }
  };
  const lanes = Math.max(1, Math.min(options.workers, inputs.length));
  await Promise.all(Array.from({ length: lanes }, () => lane()));
  return results;
}
