// The deterministic simulator (host/sim/simulator.ts) over a fixed set of seeds on every board that
// has a disk tier: random workloads of writes, bulk reads, ACKs, reverts, ticks, flushes, clock
// jumps, graceful restarts and power cuts, on a disk that injects I/O errors, torn and zero-filled
// writes and disk-full windows, and on the sector geometries of test/support/geometries.ts (tiny
// with 16-, 64- and 128-byte sectors, a few seeds each). Every step is checked against the model
// (see the simulator's header comment); a failure names the seed, and
// `SEED=<n> npx vitest run test/crash/simulator` replays just that seed on every board. The same
// seed always gives the same run.

import { describe, expect, it } from "vitest";
import type { Board, TierMode } from "../../host/boards.js";
import type { SimResult } from "../../host/sim/options.js";
import { seedFromEnv, simulateSeed } from "../../host/sim/simulator.js";
import { VARIANTS } from "../support/geometries.js";

const replay = seedFromEnv();

interface BoardRun {
  board: string | Board;
  seeds: number[];
  steps: number;
  /** MM2's direct tiered allocation instead of spilling (SPEC.md 4.2). */
  tierMode?: TierMode;
}

const seedRange = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

// Seed counts sized so the whole file runs in about 15 s on a 2-core machine (the geometries take
// about 2 s of it).
const RUNS: BoardRun[] = [
  { board: "tiny", seeds: seedRange(1, 20), steps: 300 },
  { board: "esp32", seeds: seedRange(1001, 8), steps: 250 },
  { board: "fc1-imx6", seeds: seedRange(2001, 5), steps: 200 },
  ...VARIANTS.map((board, i) => ({ board, seeds: seedRange(3001 + 100 * i, 4), steps: 300 })),
  // Direct tiered allocation: files and RAM sectors of a stream interleave.
  { board: "tiny", seeds: seedRange(4001, 12), steps: 300, tierMode: "direct" },
  { board: "esp32-direct", seeds: seedRange(4101, 4), steps: 250 },
];

function total(results: SimResult[], field: keyof SimResult): number {
  return results.reduce((sum, r) => sum + (r[field] as number), 0);
}

describe("the simulator finds no broken guarantee", () => {
  for (const run of RUNS) {
    const seeds = replay === null ? run.seeds : [replay];
    const name =
      (typeof run.board === "string" ? run.board : run.board.name) + (run.tierMode ? ` (${run.tierMode})` : "");
    it(`${name}: ${seeds.length} seeds × ${run.steps} steps`, { timeout: 60_000 }, async () => {
      const results: SimResult[] = [];
      const mode = run.tierMode === undefined ? {} : { tierMode: run.tierMode };
      for (const seed of seeds) results.push(await simulateSeed(seed, { board: run.board, steps: run.steps, ...mode }));
      if (replay !== null) return;
      // The runs did exercise what they claim to.
      expect(total(results, "crashes")).toBeGreaterThan(0);
      expect(total(results, "restarts")).toBeGreaterThan(0);
      expect(total(results, "faultsInjected")).toBeGreaterThan(0);
      expect(total(results, "shadowChecks")).toBeGreaterThan(0);
      expect(total(results, "recordsDelivered")).toBeGreaterThan(0);
      expect(total(results, "recordsAcked")).toBeGreaterThan(0);
    });
  }
});

describe("the simulator is deterministic", () => {
  it("the same seed gives the same run, counters and all", async () => {
    const a = await simulateSeed(7, { board: "tiny", steps: 150 });
    const b = await simulateSeed(7, { board: "tiny", steps: 150 });
    expect(b).toEqual(a);
    const c = await simulateSeed(8, { board: "tiny", steps: 150 });
    expect(c).not.toEqual(a);
  });

  it("a failure names the seed and the step, and says how to replay it", async () => {
    // A disk that silently keeps the old positions file brings acknowledged records back.
    const failure = await simulateSeed(32, { board: "tiny", steps: 300, faults: "lying-positions" }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toMatch(/^sim seed=32 step=\d+ board=tiny/);
    expect(message).toContain("replay: SEED=32 imx-memsim sim --board tiny --steps 300 --faults lying-positions");
    expect(message).toContain("last steps:");
  });
});
