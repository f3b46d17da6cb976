// Boot recovery time on the real filesystem, as a function of how many `.imx` files a previous run
// left. For each file count N: a device writes one TSD stream and lets the tier state machine spill
// it into N files (a graceful stop flushes the rest and persists the positions file), on a
// NodeFsHal under os.tmpdir(); then Device.create on that directory is timed REPEATS times (warm
// page cache: recovery lists history/, reads the positions file, reads and checks every file, and
// changes nothing when everything is valid). Every boot must adopt all N files.
//
// Boards: "fc1-imx6" as shipped (8192 file slots, files of up to 256 sectors as its per-tick spill
// budget allows), and "fc1-imx6-16k": fc1-imx6 with 16384 file slots and files of at most 4
// sectors (224 bytes), so 10,000 files fit in its file table and the RAM budget.
//
// Prints one JSON object to stdout (progress goes to stderr):
//   { machine, node, filesystem: tmpdir, repeats,
//     results: [{ board, files, bytesOnDisk, records, createMs (writing the files),
//                 bootMedianMs, bootMinMs, bootMaxMs, recoveryMedianMs, filesKept, recordsRecovered }] }
// Run: npx tsc -p tsconfig.json && node dist/host/bench/recovery-measure.js [--files 1000,10000] [--repeats 5]

import os from "node:os";
import { parseArgs } from "node:util";
import { measureRecovery, recoveryWarmup, smallFilesBoard, stockBoard } from "./recovery-core.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "1000,10000" },
    repeats: { type: "string", default: "5" },
  },
});
const FILE_COUNTS = values.files.split(",").map(Number);
const REPEATS = Math.max(1, Number(values.repeats));
const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

recoveryWarmup();

const results = [];
for (const files of FILE_COUNTS) {
  const board = files <= (stockBoard().disk?.filesMax ?? 0) / 2 ? stockBoard() : smallFilesBoard();
  for (const measureBoard of board.name === "fc1-imx6" ? [board, smallFilesBoard()] : [smallFilesBoard()]) {
    const { bootSamplesMs, baselineSamplesMs, ...result } = measureRecovery(measureBoard, files, REPEATS, progress);
    results.push(result);
  }
}
process.stdout.write(
  `${JSON.stringify(
    {
      machine: `${os.cpus()[0]?.model ?? "unknown"} × ${os.cpus().length}`,
      node: process.version,
      filesystem: os.tmpdir(),
      repeats: REPEATS,
      results,
    },
    null,
    2,
  )}\n`,
);
