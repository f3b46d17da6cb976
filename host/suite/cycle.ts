// The iteration cycle: what every iteration does on the shared device, on the seed document's
// "typical iteration (100 sectors)". Four streams (TSD and EVT; uint32, int32 and float32) write
// about half of those sectors, which a flush moves into `.imx` files (the spill), then the other
// half, which stays in RAM; an upload reads every record back — disk first, then RAM — checks it
// exactly and acknowledges it, so every file becomes fully acknowledged and is handed to cleanup.
// The iteration then ends with ensureCleanupComplete, which must leave 0 files and 0 RAM sectors.
//
// The threshold-driven spill (RAM at 80%) is not part of the cycle: on the default board it needs
// about 1,600 sectors per iteration, which would make 100,000 iterations take several times as long;
// sections 4, 5 and 10 run it on every full iteration.

import { IMX_HEADER_BYTES, recordsPerSector } from "../format/imx.js";
import type { CheckContext } from "./checks.js";
import type { SuiteEnv } from "./env.js";
import { Ledger, ledgersUpload, outcomeNew } from "./ledger.js";
import { CYCLE_STREAMS } from "./streams.js";

/** RAM sectors one cycle fills at most: the seed's typical iteration. */
export const CYCLE_SECTORS_MAX = 100;

export class Cycle {
  readonly ledgers: Ledger[];
  /** Records per stream written before the flush (part A) and after it (part B). */
  private readonly recordsA: number[];
  private readonly recordsB: number[];
  private readonly recordsABy: Map<Ledger, number>;
  private readonly filesExpected: number;
  private readonly flushBytes: number;
  /** Files the cycle's flushes wrote, over the run. */
  filesFlushed = 0;

  constructor(readonly env: SuiteEnv) {
    const board = env.board;
    const device = env.device;
    this.ledgers = CYCLE_STREAMS.map((spec) => new Ledger(device, spec));
    const total = Math.max(this.ledgers.length, Math.min(CYCLE_SECTORS_MAX, Math.floor(board.memory.sectorCount / 2)));
    const perStream = Math.max(1, Math.floor(total / this.ledgers.length));
    const sectorsA = Math.ceil(perStream / 2);
    const sectorsB = perStream - sectorsA;
    this.recordsA = this.ledgers.map((l) => sectorsA * recordsPerSector(l.spec.type, board.memory.sectorBytes));
    this.recordsB = this.ledgers.map((l) => sectorsB * recordsPerSector(l.spec.type, board.memory.sectorBytes));
    this.recordsABy = new Map(this.ledgers.map((l, s) => [l, this.recordsA[s] ?? 0]));
    const spf = board.disk?.sectorsPerFileMax ?? 1;
    this.filesExpected = this.ledgers.length * Math.ceil(sectorsA / spf);
    this.flushBytes = this.filesExpected * IMX_HEADER_BYTES + this.ledgers.length * sectorsA * board.memory.sectorBytes;
  }

  get recordsPerIteration(): number {
    return this.recordsA.reduce((a, b) => a + b, 0) + this.recordsB.reduce((a, b) => a + b, 0);
  }

  private readonly scratch = {
    uint32: new Uint32Array(0),
    int32: new Int32Array(0),
    float32: new Float64Array(0),
  };

  /** The next `count` values of `ledger`'s stream from the PRNG, in a typed array of its data type (reused). */
  private values(ledger: Ledger, count: number): Float64Array | Uint32Array | Int32Array {
    const prng = this.env.prng;
    const scratch = this.scratch;
    switch (ledger.spec.dataType) {
      case "uint32": {
        if (scratch.uint32.length < count) scratch.uint32 = new Uint32Array(count);
        const out = scratch.uint32.subarray(0, count);
        for (let i = 0; i < count; i++) out[i] = prng.next();
        return out;
      }
      case "int32": {
        if (scratch.int32.length < count) scratch.int32 = new Int32Array(count);
        const out = scratch.int32.subarray(0, count);
        for (let i = 0; i < count; i++) out[i] = prng.next() | 0;
        return out;
      }
      case "float32": {
        if (scratch.float32.length < count) scratch.float32 = new Float64Array(count);
        const out = scratch.float32.subarray(0, count);
        for (let i = 0; i < count; i++) out[i] = (prng.next() / 0x1_0000_0000) * 2000 - 1000;
        return out;
      }
    }
  }

  /** Whether the flush's files fit under the quota with --disk-usage (a flush may use all of it). */
  private flushFits(): boolean {
    const disk = this.env.board.disk;
    if (disk === null) return false;
    const offset = Math.floor((disk.quotaBytes * (this.env.options.diskUsagePercent ?? 0)) / 100);
    return offset + this.flushBytes <= disk.quotaBytes;
  }

  run(ctx: CheckContext): void {
    const { env, ledgers } = this;
    const device = env.device;
    for (const ledger of ledgers) ledger.reset();
    ledgers.forEach((ledger, s) => ledger.writeMany(this.values(ledger, this.recordsA[s] ?? 0)));
    const flushed = this.flushFits();
    if (flushed) {
      const ticks = env.flush(device, 1000);
      ctx.check(
        "cycle: the flush (spill of part A) reaches 101",
        ticks >= 0,
        "101 within 1000 ticks",
        ticks < 0 ? `${device.getFlushProgress()}` : `101 after ${ticks} ticks`,
      );
      // The directory itself is counted by ensureCleanupComplete at the end of the iteration.
      let files = 0;
      for (const ledger of ledgers) files += device.counts(ledger.spec.source, ledger.spec.sensor).diskFiles;
      this.filesFlushed += files;
      ctx.equal("cycle: the flush wrote one file per stream", this.filesExpected, files);
    }
    ledgers.forEach((ledger, s) => ledger.writeMany(this.values(ledger, this.recordsB[s] ?? 0)));
    const outcome = outcomeNew();
    const read = ledgersUpload(ledgers, outcome, (ledger, i) =>
      flushed && i < (this.recordsABy.get(ledger) ?? 0) ? "disk" : "ram",
    );
    const written = this.recordsPerIteration;
    ctx.check(
      "cycle: every record read back exactly, disk first then RAM, and acknowledged",
      outcome.mismatches === 0 && outcome.missing === 0 && read === written,
      `${written} records exact`,
      `${read} records, ${outcome.mismatches} mismatches, ${outcome.missing} missing${outcome.first ? `; first: ${outcome.first}` : ""}`,
    );
  }
}
