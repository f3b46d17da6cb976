// The simulator's "small-filesystem" profile: the storage is a MemoryHal whose capacity is 60% of
// the board's disk quota, a filesystem smaller than the quota. Every guarantee holds under it (no
// acknowledged record delivered again, nothing lost uncounted, with power cuts, graceful restarts
// and write errors), the campaign really fills the filesystem up to the disk tier's limit (its
// free space less the margin, SPEC.md 4.1), and never past it: the same seeds on a filesystem as
// large as they like go beyond the small one's capacity. `imx-memsim sim --faults small-filesystem
// --seeds 100` runs the same campaign.

import { describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { programBuild } from "../../host/cli/main.js";
import { imxFileBytes } from "../../host/format/imx.js";
import { positionsFileBytes } from "../../host/format/positions.js";
import { FAULT_PROFILES, type FaultProfile, type SimResult } from "../../host/sim/options.js";
import { simulateSeed } from "../../host/sim/simulator.js";

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const profile = FAULT_PROFILES["small-filesystem"] as FaultProfile;
const tiny = loadBoard("tiny");
const disk = tiny.disk ?? { quotaBytes: 0, sectorsPerFileMax: 0, freeMarginFiles: 0 };
const capacityBytes = Math.floor((disk.quotaBytes * (profile.filesystemQuotaPercent ?? 100)) / 100);
const fileBytes = imxFileBytes(disk.sectorsPerFileMax, tiny.memory.sectorBytes);
const marginBytes = disk.freeMarginFiles * Math.max(fileBytes, positionsFileBytes(tiny.memory.streamsMax));

async function campaign(faults: FaultProfile): Promise<SimResult[]> {
  const results: SimResult[] = [];
  for (const seed of SEEDS) results.push(await simulateSeed(seed, { faults, steps: 300 }));
  return results;
}

describe('the "small-filesystem" simulator profile', () => {
  it("is a filesystem smaller than the quota, listed with the other profiles", () => {
    expect(capacityBytes).toBeLessThan(disk.quotaBytes);
    expect(capacityBytes).toBeGreaterThan(marginBytes + fileBytes);
    const sim = programBuild().commands.find((command) => command.name() === "sim");
    expect(sim?.helpInformation()).toContain("small-filesystem");
  });

  it(
    "every guarantee holds, the filesystem fills up to the disk tier's limit and never past it",
    { timeout: 120_000 },
    async () => {
      const results = await campaign(profile);
      const peak = Math.max(...results.map((r) => r.filesystemBytesPeak));
      // Full up to its free space less the margin (one file short of it at most) ...
      expect(peak).toBeGreaterThan(capacityBytes - marginBytes - fileBytes);
      // ... and never fuller than leaves room for one atomic write's temp file: spills stop at the
      // margin, and the ACK log's appends, which may go into the margin, are compacted first when
      // they would leave less than that (SPEC.md 6.5).
      expect(peak).toBeLessThanOrEqual(capacityBytes - fileBytes);
      const sum = (field: keyof SimResult): number => results.reduce((total, r) => total + (r[field] as number), 0);
      expect(sum("crashes")).toBeGreaterThan(0);
      expect(sum("restarts")).toBeGreaterThan(0);
      expect(sum("recordsAcked")).toBeGreaterThan(0);

      // The same workloads on a filesystem without a capacity hold more than the small one could.
      const unlimited = await campaign({
        ...profile,
        name: "small-filesystem-unlimited",
        filesystemQuotaPercent: undefined,
      });
      expect(Math.max(...unlimited.map((r) => r.filesystemBytesPeak))).toBeGreaterThan(capacityBytes);
    },
  );
});
