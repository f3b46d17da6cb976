// Section 7 — performance: sector allocation and free, record write and bulk read rates, and (with
// a disk tier) a flush and the cleanup after it. The numbers are printed and reported, never
// asserted (timings belong to benchmarks); what is checked is that the work measured was done —
// the counters moved by exactly the operations timed.

import { ledgersUpload, outcomeNew } from "../ledger.js";
import { recordsPerSector } from "../../format/imx.js";
import { FILL_TSD, withLedgers } from "../streams.js";
import type { Section, SectionRun } from "./section.js";

const ALLOC_ROUNDS = 100;

export const performanceSection: Section = {
  id: 7,
  title: "performance: allocation, write, read, flush and cleanup rates (reported, not asserted)",
  needsDisk: false,
  async run({ ctx, env, metric }: SectionRun): Promise<void> {
    const n = env.board.memory.sectorCount;
    const device = env.device;

    // Allocation and free: rounds of up to 100 sectors.
    const batch = Math.min(100, n);
    const ids = new Array<number>(batch);
    const a0 = device.stats();
    let allocMs = 0;
    let freeMs = 0;
    for (let round = 0; round < ALLOC_ROUNDS; round++) {
      let t = performance.now();
      for (let i = 0; i < batch; i++) ids[i] = device.sectorAlloc();
      allocMs += performance.now() - t;
      t = performance.now();
      for (let i = 0; i < batch; i++) device.sectorFree(ids[i] ?? 0);
      freeMs += performance.now() - t;
    }
    const a1 = device.stats();
    const ops = ALLOC_ROUNDS * batch;
    ctx.check(
      "allocations and frees counted: one each per operation timed",
      a1.allocations - a0.allocations === ops && a1.frees - a0.frees === ops,
      `${ops} and ${ops}`,
      `${a1.allocations - a0.allocations} and ${a1.frees - a0.frees}`,
    );
    metric("sector allocations", ops / (allocMs / 1000), "per s");
    metric("sector frees", ops / (freeMs / 1000), "per s");

    await withLedgers(env, ctx, "performance", [FILL_TSD], true, async (dev, [ledger]) => {
      if (ledger === undefined) return;
      const records = Math.floor(n / 2) * recordsPerSector("tsd", env.board.memory.sectorBytes);
      const w0 = dev.stats();
      let t = performance.now();
      for (let i = 0; i < records; i++) ledger.write(i);
      const writeMs = performance.now() - t;
      metric("TSD record writes", records / (writeMs / 1000), "per s");
      metric("TSD record writes", (records * 4) / 1e6 / (writeMs / 1000), "MB/s of values");

      if (dev.hasDiskTier) {
        dev.setDiskUsagePercent(0);
        t = performance.now();
        const ticks = env.flush(dev);
        const flushMs = performance.now() - t;
        ctx.check(
          "the timed flush completed",
          ticks >= 0,
          "progress 101",
          ticks < 0 ? "not complete" : `101 after ${ticks} ticks`,
        );
        metric("flush of half the RAM to disk", flushMs, "ms");
      }
      const outcome = outcomeNew();
      t = performance.now();
      ledgersUpload([ledger], outcome);
      const readMs = performance.now() - t;
      metric(`bulk read + ACK${dev.hasDiskTier ? " (from disk)" : ""}`, records / (readMs / 1000), "records per s");
      const w1 = dev.stats();
      ctx.check(
        "every record timed was written, read back exactly and acknowledged",
        w1.recordsWritten - w0.recordsWritten === records &&
          w1.recordsAcked - w0.recordsAcked === records &&
          outcome.mismatches === 0,
        `${records} written, ${records} acknowledged, 0 mismatches`,
        `${w1.recordsWritten - w0.recordsWritten} written, ${w1.recordsAcked - w0.recordsAcked} acknowledged, ${outcome.mismatches} mismatches`,
      );
      if (dev.hasDiskTier) {
        t = performance.now();
        await env.cleanupFinish(dev);
        metric("cleanup of the flushed files", performance.now() - t, "ms");
        env.diskUsageRestore(dev);
      }
    });
  },
};
