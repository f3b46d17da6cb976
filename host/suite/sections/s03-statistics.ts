// Section 3 — statistics: the counters move exactly as SPEC.md 3.6 says (allocations, frees, used,
// peak, records written / read / acknowledged, peeks not counted), and fragmentation is computed
// from the free sectors: 100% after freeing every other sector of a full pool, 0% once all are
// free, and for the original's "free every other of 20" case exactly the value the free runs give.

import type { Device } from "../../core/device.js";
import { FILL_EVT, withLedgers } from "../streams.js";
import type { Section, SectionRun } from "./section.js";

/** 100 × (runs − 1) / (free − 1) of the free sectors (SPEC.md 3.6), from which ids are held. */
function fragmentationExpected(sectorCount: number, held: ReadonlySet<number>): number {
  const free = sectorCount - held.size;
  if (free < 2) return 0;
  let runs = 0;
  let previousFree = false;
  for (let id = 0; id < sectorCount; id++) {
    const isFree = !held.has(id);
    if (isFree && !previousFree) runs++;
    previousFree = isFree;
  }
  return Math.floor(((runs - 1) * 100) / (free - 1));
}

export const statisticsSection: Section = {
  id: 3,
  title: "statistics: counters move as specified; fragmentation",
  needsDisk: false,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const n = env.board.memory.sectorCount;
    const device: Device = env.device;

    // Allocations, frees, used, peak.
    const s0 = device.stats();
    const k = Math.min(5, n);
    const ids: number[] = [];
    for (let i = 0; i < k; i++) ids.push(device.sectorAlloc());
    const s1 = device.stats();
    ctx.check(
      `allocate ${k}: used and allocations rise by ${k}, free falls by ${k}`,
      s1.sectorsUsed === s0.sectorsUsed + k &&
        s1.allocations === s0.allocations + k &&
        s1.sectorsFree === s0.sectorsFree - k,
      `used ${s0.sectorsUsed + k}, allocations ${s0.allocations + k}, free ${s0.sectorsFree - k}`,
      `used ${s1.sectorsUsed}, allocations ${s1.allocations}, free ${s1.sectorsFree}`,
    );
    ctx.check(
      "peak is at least the used count",
      s1.sectorsUsedPeak >= s1.sectorsUsed,
      `≥ ${s1.sectorsUsed}`,
      String(s1.sectorsUsedPeak),
    );
    ctx.check(
      "usage percent is used × 100 / total",
      s1.usagePercent === (s1.sectorsUsed * 100) / n,
      String((s1.sectorsUsed * 100) / n),
      String(s1.usagePercent),
    );
    for (const id of ids) device.sectorFree(id);
    const s2 = device.stats();
    ctx.check(
      `free ${k}: frees rise by ${k}, used back`,
      s2.frees === s1.frees + k && s2.sectorsUsed === s0.sectorsUsed,
      `frees ${s1.frees + k}, used ${s0.sectorsUsed}`,
      `frees ${s2.frees}, used ${s2.sectorsUsed}`,
    );
    ctx.equal("one contiguous run of free sectors: fragmentation 0%", 0, s2.fragmentationPercent);

    // Fragmentation: the original's 20 sectors, every other one freed.
    const m = Math.min(20, n);
    const twenty: number[] = [];
    for (let i = 0; i < m; i++) twenty.push(device.sectorAlloc());
    const held = new Set(twenty);
    twenty.forEach((id, i) => {
      if (i % 2 === 1) {
        device.sectorFree(id);
        held.delete(id);
      }
    });
    ctx.equal(
      `allocate ${m}, free every other: fragmentation from the free runs`,
      fragmentationExpected(n, held),
      device.stats().fragmentationPercent,
    );
    for (const id of held) device.sectorFree(id);

    // Every sector allocated, every other id freed: no two free sectors adjacent.
    const all: number[] = [];
    for (let i = 0; i < n; i++) all.push(device.sectorAlloc());
    ctx.equal("full pool: fragmentation 0% (fewer than two free)", 0, device.stats().fragmentationPercent);
    for (let id = 0; id < n; id += 2) device.sectorFree(id);
    if (n >= 4) ctx.equal("every other sector id freed: fragmentation 100%", 100, device.stats().fragmentationPercent);
    for (let id = 1; id < n; id += 2) device.sectorFree(id);
    const s3 = device.stats();
    ctx.check(
      "all freed: fragmentation 0%, every sector free",
      s3.fragmentationPercent === 0 && s3.sectorsFree === n,
      `0%, ${n} free`,
      `${s3.fragmentationPercent}%, ${s3.sectorsFree} free`,
    );
    ctx.equal("peak reached the whole pool", n, s3.sectorsUsedPeak);

    // Records: written, read (peeks not counted), acknowledged, live.
    await withLedgers(env, ctx, "statistics", [FILL_EVT], false, (dev, [ledger]) => {
      if (ledger === undefined) return;
      const r0 = dev.stats();
      const count = Math.min(10, dev.bulkCapacity, Math.max(1, n - 1));
      for (let i = 0; i < count; i++) ledger.write(i);
      const r1 = dev.stats();
      ctx.check(
        "records written and live rise by the records written",
        r1.recordsWritten === r0.recordsWritten + count && r1.recordsLive === r0.recordsLive + count,
        `+${count}, +${count}`,
        `+${r1.recordsWritten - r0.recordsWritten}, +${r1.recordsLive - r0.recordsLive}`,
      );
      dev.peek(FILL_EVT.source, FILL_EVT.sensor, count);
      ctx.equal("a peek reads nothing as far as the counters go", r1.recordsRead, dev.stats().recordsRead);
      const read = dev.readBulk(FILL_EVT.source, FILL_EVT.sensor, count);
      const r2 = dev.stats();
      ctx.equal("records read rise by what a bulk read returned", r1.recordsRead + read.length, r2.recordsRead);
      dev.ack(FILL_EVT.source, FILL_EVT.sensor, read.length);
      const r3 = dev.stats();
      ctx.check(
        "an ACK: records acknowledged rise, live fall back",
        r3.recordsAcked === r2.recordsAcked + read.length && r3.recordsLive === r0.recordsLive,
        `acked +${read.length}, live ${r0.recordsLive}`,
        `acked +${r3.recordsAcked - r2.recordsAcked}, live ${r3.recordsLive}`,
      );
      ctx.equal("nothing discarded", r0.recordsDiscarded, r3.recordsDiscarded);
    });
  },
};
