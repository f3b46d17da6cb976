// The original harness's disk simulation (memory_test_disk_sim.c) on a Hal: the free-space answer
// is the simulated disk's size less what the tier holds and what other writers took — from 50% and
// 1 MB more per query in gradual mode, everything from the 6th query on in fail5 mode — and never
// more than the wrapped Hal has. Writes are not simulated: they land as they would without it.

import { describe, expect, it } from "vitest";
import { DISK_SIM_MB_BYTES, DiskSim } from "../../host/hal/disk-sim.js";
import { MemoryHal } from "../../host/hal/memory.js";

const MB = DISK_SIM_MB_BYTES;

describe("DiskSim", () => {
  it("normal: a filesystem of its size, the tier's files counted against it", () => {
    const disk = new DiskSim({ sizeBytes: 10 * MB, mode: "normal" });
    const hal = disk.wrap(new MemoryHal());
    expect(hal.freeBytes()).toBe(10 * MB);
    hal.writeFile("a.imx", new Uint8Array(MB));
    expect(hal.freeBytes()).toBe(9 * MB);
    hal.remove("a.imx");
    expect(hal.freeBytes()).toBe(10 * MB);
    expect(disk.stats()).toMatchObject({ mode: "normal", freeQueries: 3, noSpaceAnswers: 0 });
  });

  it("gradual: fills from 50% by 1 MB per query, down to 0", () => {
    const disk = new DiskSim({ sizeBytes: 8 * MB, mode: "gradual" });
    const hal = disk.wrap(new MemoryHal());
    const answers = Array.from({ length: 6 }, () => hal.freeBytes() / MB);
    expect(answers).toEqual([4, 3, 2, 1, 0, 0]);
    expect(disk.stats()).toMatchObject({ freeQueries: 6, noSpaceAnswers: 2, foreignBytes: 8 * MB });
  });

  it("fail5: the first 5 queries see the real room, then no free space", () => {
    const disk = new DiskSim({ sizeBytes: 4 * MB, mode: "fail5" });
    const hal = disk.wrap(new MemoryHal());
    const answers = Array.from({ length: 7 }, () => hal.freeBytes() / MB);
    expect(answers).toEqual([4, 4, 4, 4, 4, 0, 0]);
    // Writes are not refused: only the answer to the query is simulated, as in the original.
    hal.writeFile("b.imx", new Uint8Array(16));
    expect(hal.readFile("b.imx")).toHaveLength(16);
  });

  it("never answers more than the wrapped Hal has, and one disk is shared by its HALs", () => {
    const disk = new DiskSim({ sizeBytes: 100 * MB, mode: "fail5" });
    const small = disk.wrap(new MemoryHal({ capacityBytes: MB }));
    expect(small.freeBytes()).toBe(MB);
    const other = disk.wrap(new MemoryHal());
    for (let i = 0; i < 4; i++) other.freeBytes();
    expect(small.freeBytes()).toBe(0);
    expect(disk.stats()).toMatchObject({ freeQueries: 6, simulatedAnswers: 5, noSpaceAnswers: 1 });
  });

  it("logs a line per query", () => {
    const lines: string[] = [];
    const disk = new DiskSim({ sizeBytes: 2 * MB, mode: "gradual", log: (line) => lines.push(line) });
    const hal = disk.wrap(new MemoryHal());
    hal.freeBytes();
    hal.freeBytes();
    expect(lines).toEqual([
      "disk sim: query 1 (gradual): size 2.00 MB, others 1.00 MB, tier 0.00 MB, free 1.00 MB",
      "disk sim: query 2 (gradual): size 2.00 MB, others 2.00 MB, tier 0.00 MB, free 0.00 MB (no space)",
    ]);
  });

  it("refuses a size that is not a positive integer", () => {
    expect(() => new DiskSim({ sizeBytes: 0, mode: "normal" })).toThrow(/sizeBytes must be a positive integer/);
  });
});
