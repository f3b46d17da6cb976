// Append and bulk read+ACK throughput of the wasm core, on one RAM-resident stream, with a plain
// TypeScript FIFO over typed arrays measured in the same run as a baseline. Prints JSON.
// Usage: node dist/host/bench/throughput.js [--board NAME] [--repeats N]

import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { loadBoard } from "../boards.js";
import { median } from "./common.js";
import { measureRamThroughput } from "./throughput-core.js";

const { values } = parseArgs({
  options: { board: { type: "string", default: "fc1-imx6" }, repeats: { type: "string", default: "15" } },
});
const board = loadBoard(values.board);
const repeats = Math.max(3, Number(values.repeats));

const { append, readAck } = measureRamThroughput(board, "tsd", repeats);

const result = {
  machine: cpus()[0]?.model ?? "unknown",
  node: process.version,
  board: board.name,
  recordsPerRound: append.records,
  repeats,
  appendTsdRecordsPerSecond: { core: median(append.core), baseline: median(append.baseline) },
  readAckRecordsPerSecond: { core: median(readAck.core), baseline: median(readAck.baseline) },
  ratios: {
    appendCoreOverBaseline: median(append.core) / median(append.baseline),
    readAckCoreOverBaseline: median(readAck.core) / median(readAck.baseline),
  },
};
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
