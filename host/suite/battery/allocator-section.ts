// Battery section 11 — the allocator as performance_test.c measured it (reference section 6.5), its
// four tests made exact: 100 allocations and 100 frees timed (min / max / mean µs, reported); 1,000
// allocate / write one word / read it / free cycles that must leave the sectors in use unchanged (the
// original allowed ±2); fragmentation at 500 sectors (allocate 500, free every second one, allocate
// into the holes: the holes are exactly what is reused and fragmentation comes back to where it
// was); and the stress scenario, 10,000 seeded random operations with a 60% allocation bias and at
// most 100 live sectors, each sector's word checked before it is freed, allocations = frees at the
// end and usage kept below 50%. Timings are reported, never asserted.

import type { Section, SectionRun } from "../sections/section.js";

/** performance_test.c's constants. */
export const BASIC_SECTORS = 100;
export const LEAK_CYCLES = 1000;
export const FRAGMENTATION_SECTORS = 500;
export const STRESS_OPERATIONS = 10_000;
export const STRESS_LIVE_MAX = 100;
/** Percent of the stress scenario's operations that allocate (when a sector may be allocated). */
export const STRESS_ALLOCATE_PERCENT = 60;

const word = (id: number, salt: number): number => (Math.imul(id + 1, 0x9e3779b1) ^ salt) >>> 0;

export const allocatorSection: Section = {
  id: 11,
  title: "allocator (performance_test): timed allocate/free, leak, fragmentation at 500, 10,000-op stress",
  needsDisk: false,
  async run({ ctx, env, metric, note }: SectionRun): Promise<void> {
    const device = env.device;
    const n = env.board.memory.sectorCount;
    await Promise.resolve();

    // 1. Basic: 100 allocations then 100 frees, each timed.
    const basic = Math.min(BASIC_SECTORS, n);
    const ids: number[] = [];
    const allocUs: number[] = [];
    const freeUs: number[] = [];
    const b0 = device.stats();
    for (let i = 0; i < basic; i++) {
      const t = performance.now();
      ids.push(device.sectorAlloc());
      allocUs.push((performance.now() - t) * 1000);
    }
    for (const id of ids) {
      const t = performance.now();
      device.sectorFree(id);
      freeUs.push((performance.now() - t) * 1000);
    }
    const b1 = device.stats();
    ctx.check(
      `basic: ${basic} allocations and ${basic} frees, distinct valid ids, all counted`,
      b1.allocations - b0.allocations === basic &&
        b1.frees - b0.frees === basic &&
        new Set(ids).size === basic &&
        ids.every((id) => id >= 0 && id < n),
      `${basic} allocations, ${basic} frees, ${basic} distinct ids below ${n}`,
      `${b1.allocations - b0.allocations} allocations, ${b1.frees - b0.frees} frees, ${new Set(ids).size} distinct ids`,
    );
    const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
    metric("basic: allocation mean", mean(allocUs), "µs");
    metric("basic: allocation max", Math.max(...allocUs), "µs");
    metric("basic: free mean", mean(freeUs), "µs");
    metric("basic: free max", Math.max(...freeUs), "µs");

    // 2. Leak: allocate, write one word, read it back, free, 1,000 times.
    const used0 = device.stats().sectorsUsed;
    let wrong = 0;
    for (let i = 0; i < LEAK_CYCLES; i++) {
      const id = device.sectorAlloc();
      device.sectorWrite(id, 0, word(id, i));
      if (device.sectorRead(id, 0) !== word(id, i)) wrong++;
      device.sectorFree(id);
    }
    const used1 = device.stats().sectorsUsed;
    ctx.check(
      `leak: ${LEAK_CYCLES} allocate/write/read/free cycles leave the sectors in use unchanged`,
      used1 === used0 && wrong === 0,
      `${used0} in use, 0 words read back wrong`,
      `${used1} in use, ${wrong} words read back wrong`,
    );

    // 3. Fragmentation at 500 sectors (fewer on a smaller board: all but one).
    const count = Math.min(FRAGMENTATION_SECTORS, n - 1);
    const held: number[] = [];
    const f0 = device.stats().fragmentationPercent;
    for (let i = 0; i < count; i++) held.push(device.sectorAlloc());
    const holes = held.filter((_, i) => i % 2 === 1);
    for (const id of holes) device.sectorFree(id);
    const fragmented = device.stats().fragmentationPercent;
    const refilled: number[] = [];
    for (let i = 0; i < holes.length; i++) refilled.push(device.sectorAlloc());
    const f1 = device.stats().fragmentationPercent;
    const reused = new Set(holes);
    ctx.check(
      `fragmentation: ${count} allocated, every second freed: ${holes.length} holes, fragmentation above 0`,
      holes.length > 0 && fragmented > 0,
      `${Math.floor(count / 2)} holes, fragmentation > 0`,
      `${holes.length} holes, fragmentation ${fragmented}%`,
    );
    ctx.check(
      "fragmentation: allocating into the holes reuses exactly them and fragmentation comes back (≤ fragmented + 10)",
      refilled.length === holes.length && refilled.every((id) => reused.has(id)) && f1 === f0 && f1 <= fragmented + 10,
      `the ${holes.length} freed ids, fragmentation ${f0}%`,
      `${refilled.filter((id) => reused.has(id)).length} of ${refilled.length} from the holes, fragmentation ${f1}%`,
    );
    for (const id of held) device.sectorFree(id);
    note(`fragmentation: ${f0}% → ${fragmented}% with ${holes.length} holes → ${f1}% refilled`);

    // 4. Stress: 10,000 random operations, 60% allocations, at most 100 live sectors.
    const liveMax = Math.max(1, Math.min(STRESS_LIVE_MAX, Math.floor((n - 1) / 2)));
    const live: number[] = [];
    const salts = new Map<number, number>();
    const s0 = device.stats();
    let allocations = 0;
    let frees = 0;
    let corrupt = 0;
    let liveSeen = 0;
    const t0 = performance.now();
    for (let op = 0; op < STRESS_OPERATIONS; op++) {
      const allocate = live.length === 0 || (live.length < liveMax && env.prng.chance(STRESS_ALLOCATE_PERCENT, 100));
      if (allocate) {
        const id = device.sectorAlloc();
        device.sectorWrite(id, 0, word(id, op));
        salts.set(id, op);
        live.push(id);
        allocations++;
        liveSeen = Math.max(liveSeen, live.length);
      } else {
        const at = env.prng.below(live.length);
        const id = live[at] ?? 0;
        live[at] = live[live.length - 1] ?? id;
        live.pop();
        if (device.sectorRead(id, 0) !== word(id, salts.get(id) ?? -1)) corrupt++;
        device.sectorFree(id);
        frees++;
      }
    }
    const stressMs = performance.now() - t0;
    const peakPercent = (liveSeen * 100) / n;
    for (const id of live) {
      if (device.sectorRead(id, 0) !== word(id, salts.get(id) ?? -1)) corrupt++;
      device.sectorFree(id);
      frees++;
    }
    const s1 = device.stats();
    ctx.check(
      `stress: ${STRESS_OPERATIONS} random operations, then every live sector freed: allocations = frees, all counted`,
      allocations === frees && s1.allocations - s0.allocations === allocations && s1.frees - s0.frees === frees,
      `allocations = frees = counted (${allocations})`,
      `${allocations} allocations, ${frees} frees; counted ${s1.allocations - s0.allocations} and ${s1.frees - s0.frees}`,
    );
    ctx.equal("stress: every sector's word read back as written before its free", 0, corrupt);
    ctx.check(
      "stress: usage stayed below 50% and is back where it started",
      peakPercent < 50 && s1.sectorsUsed === s0.sectorsUsed,
      `< 50% at the peak, ${s0.sectorsUsed} in use at the end`,
      `${peakPercent.toFixed(1)}% at the peak (${liveSeen} live), ${s1.sectorsUsed} in use at the end`,
    );
    metric("stress: operations", STRESS_OPERATIONS / (stressMs / 1000), "per s");
  },
};
