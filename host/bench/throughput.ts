// Append and bulk read+ACK throughput of the wasm core, on one RAM-resident stream, with a plain
// TypeScript FIFO over typed arrays measured in the same run as a baseline. Prints JSON.
// Usage: node dist/host/bench/throughput.js [--board NAME] [--repeats N]

import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { loadBoard } from "../boards.js";
import { Device } from "../core/device.js";

const { values } = parseArgs({
  options: { board: { type: "string", default: "fc1-imx6" }, repeats: { type: "string", default: "15" } },
});
const board = loadBoard(values.board ?? "fc1-imx6");
const repeats = Math.max(3, Number(values.repeats));

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

// The baseline: the same FIFO shape (fixed capacity, append at the tail, bulk copy out, erase at the head).
class TypedFifo {
  private readonly values: Uint32Array;
  private readonly times: Float64Array;
  private head = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    this.values = new Uint32Array(capacity);
    this.times = new Float64Array(capacity);
  }
  append(value: number, utcMs: number): boolean {
    if (this.size === this.capacity) return false;
    const at = (this.head + this.size) % this.capacity;
    this.values[at] = value;
    this.times[at] = utcMs;
    this.size++;
    return true;
  }
  read(outValues: Uint32Array, outTimes: Float64Array, max: number): number {
    const n = Math.min(max, this.size);
    for (let i = 0; i < n; i++) {
      const at = (this.head + i) % this.capacity;
      outValues[i] = this.values[at] ?? 0;
      outTimes[i] = this.times[at] ?? 0;
    }
    return n;
  }
  ack(count: number): void {
    this.head = (this.head + count) % this.capacity;
    this.size -= count;
  }
}

const tsdPerSector = Math.floor((board.memory.sectorBytes - 8) / 4);
const recordsPerRound = Math.floor(board.memory.sectorCount * 0.75) * tsdPerSector;
const appendCore: number[] = [];
const readAckCore: number[] = [];
const appendBaseline: number[] = [];
const readAckBaseline: number[] = [];

for (let round = 0; round < repeats; round++) {
  const device = Device.create({ board });
  const index = device.configureStream(0, 1, { type: "tsd", sampleRateMs: 1000 });
  const core = device.exports;
  let t = performance.now();
  for (let i = 0; i < recordsPerRound; i++) {
    if (core.streamWriteTsd(index, i, 1_700_000_000_000 + i * 1000) !== 0) throw new Error("append failed");
  }
  appendCore.push(recordsPerRound / ((performance.now() - t) / 1000));
  const bulk = device.bulkCapacity;
  t = performance.now();
  let left = recordsPerRound;
  while (left > 0) {
    const n = core.streamReadBulk(index, bulk);
    if (n <= 0 || core.streamAck(index, n) !== 0) throw new Error("read/ack failed");
    left -= n;
  }
  readAckCore.push(recordsPerRound / ((performance.now() - t) / 1000));

  const fifo = new TypedFifo(recordsPerRound);
  t = performance.now();
  for (let i = 0; i < recordsPerRound; i++) fifo.append(i, 1_700_000_000_000 + i * 1000);
  appendBaseline.push(recordsPerRound / ((performance.now() - t) / 1000));
  const outValues = new Uint32Array(bulk);
  const outTimes = new Float64Array(bulk);
  t = performance.now();
  left = recordsPerRound;
  while (left > 0) {
    const n = fifo.read(outValues, outTimes, bulk);
    fifo.ack(n);
    left -= n;
  }
  readAckBaseline.push(recordsPerRound / ((performance.now() - t) / 1000));
}

const result = {
  machine: cpus()[0]?.model ?? "unknown",
  node: process.version,
  board: board.name,
  recordsPerRound,
  repeats,
  appendTsdRecordsPerSecond: { core: median(appendCore), baseline: median(appendBaseline) },
  readAckRecordsPerSecond: { core: median(readAckCore), baseline: median(readAckBaseline) },
  ratios: {
    appendCoreOverBaseline: median(appendCore) / median(appendBaseline),
    readAckCoreOverBaseline: median(readAckCore) / median(readAckBaseline),
  },
};
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
