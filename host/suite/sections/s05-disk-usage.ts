// Section 5 — disk usage: with the disk tier behaving as if 50% or 79% of its quota were used, a
// spill is allowed; at 81% and 95% it is refused and counted (the board's 80% disk threshold);
// and a gradual fill — the used share rising step by step while RAM keeps reaching its spill
// threshold — spills at least once and stops spilling before the threshold, never passing it.
// Every record comes back exactly, except those evict-oldest gives up (whole old files, counted as
// discarded) to make room for a spill near the limit, as it does on esp32's 1 MiB quota.
// Whether a spill is allowed is predicted from SPEC.md section 4 (a board whose whole file would
// not fit in the room left, like tiny at 79%, is expected to refuse), so the same code runs on
// every board with a disk tier.

import { IMX_HEADER_BYTES } from "../../format/imx.js";
import { ledgersUpload, outcomeNew } from "../ledger.js";
import { FILL_EVT, withLedgers } from "../streams.js";
import { fillTo, type Section, type SectionRun, sectorsToMove, spillExpectation, tickUntilIdle } from "./section.js";

const PERCENTS = [50, 79, 81, 95];
const GRADUAL_ATTEMPTS_MAX = 20;

export const diskUsageSection: Section = {
  id: 5,
  title: "disk usage: spills allowed at 50/79%, refused at 81/95%; gradual fill stops before the quota",
  needsDisk: true,
  async run({ ctx, env }: SectionRun): Promise<void> {
    const board = env.board;
    const disk = board.disk;
    if (disk === null) return;
    await withLedgers(env, ctx, "disk-usage", [FILL_EVT], true, async (device, [ledger], fresh) => {
      if (ledger === undefined) return;
      // The usage at which a tick moves data to disk (in direct mode past the threshold by a batch).
      const threshold = sectorsToMove(board);
      const value = (i: number): number => (i * 40503) >>> 0;
      const ramSectors = (): number => device.counts(FILL_EVT.source, FILL_EVT.sensor).ramSectors;

      const outcome = outcomeNew();
      // Under evict-oldest, a spill near the limit makes its own room by giving up the oldest
      // files (SPEC.md section 4, "Disk full"): those records are lost, but counted.
      const evictedBefore = device.stats().recordsDiscardedFiles;
      const discardedBefore = device.stats().recordsDiscarded;
      const drain = async (): Promise<void> => {
        device.setDiskUsagePercent(fresh ? 0 : (env.options.diskUsagePercent ?? 0));
        ledgersUpload([ledger], outcome);
        await env.cleanupFinish(device);
      };
      for (const percent of PERCENTS) {
        device.setDiskUsagePercent(percent);
        fillTo(device, ledger, threshold, value);
        const expectation = spillExpectation(device, percent, ramSectors());
        const before = device.stats();
        tickUntilIdle(env, device);
        const after = device.stats();
        const spilled = after.filesCreated - before.filesCreated;
        const refused = after.spillsRefused - before.spillsRefused;
        ctx.check(
          `spill with ${percent}% of the disk quota used`,
          expectation.allowed ? spilled > 0 && refused === 0 : spilled === 0 && refused > 0,
          expectation.reason,
          spilled > 0
            ? `${spilled} files written`
            : refused > 0
              ? `refused (${refused} counted)`
              : "neither spilled nor refused",
        );
        await drain();
      }

      // Gradual fill: the used share rises a step per attempt, from 75% or lower on a small quota.
      const limit = Math.floor((disk.quotaBytes * disk.thresholdPercent) / 100);
      const fileBytesMax =
        IMX_HEADER_BYTES +
        Math.min(disk.sectorsPerFileMax, board.tier.spillSectorsPerTickMax) * board.memory.sectorBytes;
      const stepBytes = Math.max(Math.ceil(disk.quotaBytes / 100), 1);
      let offsetBytes = Math.min(
        Math.floor(disk.quotaBytes * 0.75),
        limit - device.stats().diskBytesUsed - 2 * fileBytesMax,
      );
      offsetBytes = Math.max(0, offsetBytes);
      let successes = 0;
      let refusedAt = 0;
      let worstBytes = 0;
      for (let attempt = 1; attempt <= GRADUAL_ATTEMPTS_MAX && refusedAt === 0; attempt++) {
        device.setDiskUsagePercent((offsetBytes * 100) / disk.quotaBytes);
        const offset = Math.floor((disk.quotaBytes * ((offsetBytes * 100) / disk.quotaBytes)) / 100);
        fillTo(device, ledger, threshold, value);
        const before = device.stats();
        tickUntilIdle(env, device);
        const after = device.stats();
        if (after.filesCreated > before.filesCreated) {
          successes++;
          worstBytes = Math.max(worstBytes, after.diskBytesUsed + offset);
        } else if (after.spillsRefused > before.spillsRefused) refusedAt = attempt;
        offsetBytes += stepBytes;
      }
      ctx.atLeast("gradual fill: spills succeed at least once", 1, successes);
      ctx.check(
        "gradual fill: spilling stops within 20 attempts",
        refusedAt > 0,
        `refused before attempt ${GRADUAL_ATTEMPTS_MAX + 1}`,
        refusedAt > 0 ? `refused at attempt ${refusedAt}` : "never refused",
      );
      ctx.atMost(
        `gradual fill: after every spill, disk bytes + used share are within ${disk.thresholdPercent}% of the quota (bytes)`,
        limit,
        worstBytes,
      );

      // Drain with the disk back to the run's usage, and clean up.
      await drain();
      const evicted = device.stats().recordsDiscardedFiles - evictedBefore;
      const discarded = device.stats().recordsDiscarded - discardedBefore;
      const evicts = board.tier.diskFullPolicy === "evict-oldest";
      ctx.check(
        evicts
          ? "every record written in the section read back exactly, or given up by evict-oldest and counted"
          : "every record written in the section read back exactly",
        outcome.mismatches === 0 &&
          outcome.missing === evicted &&
          discarded === evicted &&
          (evicts || evicted === 0) &&
          ledger.readBack === ledger.written,
        `${ledger.written} records, 0 mismatches, missing = discarded by evict-oldest`,
        `${ledger.readBack} records, ${outcome.mismatches} mismatches, ${outcome.missing} missing, ${evicted} discarded by evict-oldest, ${discarded} discarded in all${outcome.first ? `; first: ${outcome.first}` : ""}`,
      );
      ctx.check("cleanup completes", device.isCleanupComplete(), "complete", "incomplete");
    });
  },
};
