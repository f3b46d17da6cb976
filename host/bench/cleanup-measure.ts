// Cleanup latency, measured: the seed's "100-sector iteration" on the default board (fc1-imx6),
// with the `.imx` tier on the real filesystem under os.tmpdir().
//
// Per cleanup policy, ITERATIONS times on one device: write 600 TSD records into one stream
// (100 full sectors of 6 records), flush them to disk (flushAllToDisk + processMemory until progress
// 101), then upload them in bulk reads of up to bulkRecordsMax records, each acknowledged, and time
// from just before the last ACK until isCleanupComplete() — for immediate that is the ACK itself,
// for batched the processMemory ticks it takes on a simulated clock advancing by the tick interval,
// for lazy the awaited settle(). Every iteration must end with no `.imx` file in the directory.
// A baseline in the same run unlinks as many files of the same sizes with plain fs.unlinkSync.
// Then, steady spilling: 100,000 records written at RECORDS_PER_TICK per 100 ms tick with no flush
// and no upload, counting the files the spills create.
//
// Prints one JSON object to stdout (progress goes to stderr):
//   { machine, node, board, iterations, sectorsPerIteration,
//     results: { <policy>: { medianMs, p99Ms, maxMs, files, lastAckMedianMs } },
//       files = .imx files per iteration; lastAckMedianMs = the last ACK call alone, which also
//       rewrites the ACK positions file (SPEC.md §6.3) before anything is erased
//     baselineUnlinkMedianMs, filesPer1000Records, sectorsPerFile, steady: {...} }
// Run: npx tsc -p tsconfig.json && node dist/host/bench/cleanup-measure.js

import os from "node:os";
import { CLEANUP_POLICIES, DEFAULT_BOARD_NAME, loadBoard } from "../boards.js";
import { IMX_HEADER_BYTES } from "../format/imx.js";
import { type Summary, summary } from "./common.js";
import { SECTORS_PER_ITERATION, baselineUnlinkSamples, measurePolicy, steadySpill } from "./cleanup-core.js";

const ITERATIONS = 50;
const WARMUP_ITERATIONS = 3;
const STEADY_RECORDS = 100_000;
const RECORDS_PER_TICK = 10;

async function main(): Promise<void> {
  const board = loadBoard(DEFAULT_BOARD_NAME);
  const results: Record<string, Summary & { files: number; lastAckMedianMs: number }> = {};
  let fileBytes: number[] = [];
  for (const policy of CLEANUP_POLICIES) {
    const measured = await measurePolicy(board, policy, { iterations: ITERATIONS, warmup: WARMUP_ITERATIONS });
    process.stderr.write(`${policy}: ${ITERATIONS} iterations done\n`);
    results[policy] = { ...measured.cleanup, files: measured.files, lastAckMedianMs: measured.lastAckMedianMs };
    fileBytes = measured.fileBytes;
  }
  const baselineUnlinkMedianMs = summary(baselineUnlinkSamples(fileBytes, ITERATIONS, WARMUP_ITERATIONS)).medianMs;
  const { tickSamplesMs, filesPer1000Records, sectorsPerFile, ...steady } = steadySpill(
    board,
    STEADY_RECORDS,
    RECORDS_PER_TICK,
  );
  const output = {
    machine: os.cpus()[0]?.model ?? "unknown",
    node: process.version,
    board: board.name,
    iterations: ITERATIONS,
    warmupIterations: WARMUP_ITERATIONS,
    sectorsPerIteration: SECTORS_PER_ITERATION,
    iterationFileBytes: fileBytes,
    fileHeaderBytes: IMX_HEADER_BYTES,
    results,
    baselineUnlinkMedianMs,
    filesPer1000Records,
    sectorsPerFile,
    steady,
  };
  process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`cleanup-measure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
