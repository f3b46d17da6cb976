// Stress under memory pressure, seeded and replayable. A random main loop (test/support/tier-stress.ts)
// keeps writing 4 streams and uploading them — bulk reads, partial and full ACKs, sometimes a NACK —
// while processMemory ticks, flushes start and get cancelled, the disk crosses its quota threshold
// and back, and lazy deletions settle at random moments; on tiny and fc1-imx6, with each cleanup
// policy, plus runs where the HAL fails writes and removals and forced cleanups drop the disk tier;
// and on the sector geometries of test/support/geometries.ts, one policy each, with and without faults.
// Every read is checked on the spot; at the end, after draining everything, every sequence number
// was acknowledged exactly once and in order or was skipped, the skipped ones equal
// stats.recordsDiscarded, and ensureCleanupComplete leaves 0 `.imx` files and 0 RAM sectors.
// A failure says its seed; IMX_SEED=<seed> npx vitest run test/tier/stress.test.ts replays it.

import { describe, expect, it } from "vitest";
import type { CleanupPolicy } from "../../host/boards.js";
import { seedFromEnv } from "../support/prng.js";
import { VARIANTS } from "../support/geometries.js";
import { type StressScenario, stressRun } from "../support/tier-stress.js";

const POLICIES: CleanupPolicy[] = ["immediate", "batched", "lazy"];
const SCENARIOS: StressScenario[] = [];
POLICIES.forEach((policy, i) => {
  SCENARIOS.push({ boardName: "tiny", policy, steps: 4000, seed: seedFromEnv(0x5eed0001 + i) });
  SCENARIOS.push({ boardName: "fc1-imx6", policy, steps: 3000, seed: seedFromEnv(0x5eed0101 + i) });
  SCENARIOS.push({
    boardName: "tiny",
    policy,
    steps: 4000,
    seed: seedFromEnv(0x5eed0201 + i),
    faults: true,
    forcedCleanups: true,
  });
});
VARIANTS.forEach((board, i) => {
  const policy = POLICIES[i % POLICIES.length] ?? "immediate";
  const seed = seedFromEnv(0x5eed0301 + i);
  SCENARIOS.push({ boardName: board.name, board, policy, steps: 4000, seed });
  SCENARIOS.push({ boardName: board.name, board, policy, steps: 4000, seed, faults: true, forcedCleanups: true });
});

describe("stress under memory pressure", () => {
  it.each(SCENARIOS)(
    "$boardName, $policy policy, $steps steps, faults $faults, forced cleanups $forcedCleanups, seed $seed",
    async (scenario) => {
      const result = await stressRun(scenario);
      // The run really put the tiers under pressure: files were written and deleted, data was discarded.
      const replay = `replay with IMX_SEED=${scenario.seed}`;
      expect(result.filesCreated, replay).toBeGreaterThan(0);
      expect(result.acked, replay).toBeGreaterThan(0);
      expect(result.discarded, replay).toBeGreaterThan(0);
      expect(result.flushesCompleted, replay).toBeGreaterThan(0);
      expect(result.spillsRefused, replay).toBeGreaterThan(0);
      if (scenario.faults === true) {
        expect(result.spillsFailed, replay).toBeGreaterThan(0);
        expect(result.deleteFailures, replay).toBeGreaterThan(0);
        expect(result.forcedCleanups, replay).toBeGreaterThan(0);
      }
    },
  );
});
