// The simulator's "misplace" fault: between two device lives a valid `.imx` file is moved into
// another bucket directory (one time in four also under a name with a leading zero), durably, as
// an operator or a restore from a backup might. Boot recovery must move it back (SPEC.md 6.4) and
// the simulator's checks must hold throughout: every record that was in a complete file comes
// back, none is delivered again after its ACK, nothing disappears uncounted. The "moved-files"
// profile draws the fault with the boot profile's I/O errors and power cuts; `imx-memsim sim
// --faults moved-files --seeds 100` runs the same campaign.

import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { Device } from "../../host/core/device.js";
import { flushDrain } from "../../host/core/flush.js";
import { imxPathFormat, imxPathIsCanonical } from "../../host/format/imx.js";
import { listFilesRecursive } from "../../host/hal/atomic.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { FAULT_PROFILES, resultNew, type SimResult } from "../../host/sim/options.js";
import { misplaceFile, simulateSeed } from "../../host/sim/simulator.js";

function total(results: SimResult[], field: keyof SimResult): number {
  return results.reduce((sum, r) => sum + (r[field] as number), 0);
}

describe("files moved between buckets between lives", () => {
  it("the fault moves one valid file, durably, into another bucket directory", () => {
    const board = loadBoard("tiny");
    const hal = new MemoryHal();
    const device = Device.create({ board, hal });
    device.configureStream(1, 2, { type: "tsd", sampleRateMs: 10 });
    for (let k = 0; k < 12; k++) device.writeTsd(1, 2, k, 1000 + k * 10);
    device.flushAllToDisk();
    let nowMs = 0;
    expect(flushDrain(device, () => device.processMemory((nowMs += 10)), 100)).toBeGreaterThanOrEqual(0);
    const before = listFilesRecursive(hal, "history", ".imx");
    const result = resultNew(1, board, "immediate", FAULT_PROFILES["none"] as (typeof FAULT_PROFILES)["none"]);
    const lines: string[] = [];
    misplaceFile(hal, 0x100, (line) => lines.push(line), result);
    const after = listFilesRecursive(hal, "history", ".imx");
    expect(result.filesMisplaced).toBe(1);
    expect(after).toHaveLength(before.length);
    const moved = after.filter((p) => !before.includes(p));
    expect(moved).toHaveLength(1);
    expect(imxPathIsCanonical(moved[0] as string)).toBe(false);
    expect(moved[0]).toMatch(/^history\/\d\/01_2_\d{20}\.imx$/); // pick 0x100: the leading-zero spelling
    expect(lines).toEqual([expect.stringMatching(/^ {2}moved history\/\d\/1_2_\d{20}\.imx to history\//)]);
    const cut = hal.clone();
    cut.crash();
    expect(listFilesRecursive(cut, "history", ".imx")).toEqual(after);
    // And recovery puts it back where the core reads it, under its header's name.
    const again = Device.create({ board, hal });
    expect(again.recovery?.filesMoved).toBe(1);
    expect(listFilesRecursive(hal, "history", ".imx").sort()).toEqual(before.sort());
    expect(before).toContain(imxPathFormat(1, 2, 0));
  });

  it(
    "the moved-files profile: every guarantee holds, and files were moved and moved back",
    { timeout: 60_000 },
    async () => {
      const results: SimResult[] = [];
      for (let seed = 1; seed <= 8; seed++)
        results.push(await simulateSeed(seed, { faults: "moved-files", steps: 300 }));
      expect(total(results, "filesMisplaced")).toBeGreaterThan(20);
      expect(total(results, "filesMovedBack")).toBeGreaterThanOrEqual(total(results, "filesMisplaced"));
      expect(total(results, "filesQuarantined")).toBe(0);
      expect(total(results, "crashes")).toBeGreaterThan(0);
      expect(total(results, "faultsInjected")).toBeGreaterThan(0);
      expect(total(results, "recordsAcked")).toBeGreaterThan(0);
    },
  );

  it("other profiles never move files", async () => {
    const result = await simulateSeed(3, { faults: "boot", steps: 300 });
    expect(result.filesMisplaced).toBe(0);
    expect(FAULT_PROFILES["moved-files"]?.movesFiles).toBe(true);
  });
});
