// The benchmarks size their rounds from the sector geometry with the format's records per sector:
// a throughput round fills about 3/4 of the sectors with (S − 8) / 4 TSD or S / 12 EVT records each,
// and a cleanup iteration fills its sectors exactly, on every sector size a board may have.

import { describe, expect, it } from "vitest";
import { recordsPerIteration } from "../../host/bench/cleanup-core.js";
import { recordsPerRound } from "../../host/bench/throughput-core.js";
import { boardClone } from "../core/helpers.js";

describe.each([16, 32, 64, 128, 4096])("bench rounds with %i-byte sectors", (sectorBytes) => {
  const board = boardClone("tiny", (b) => {
    b.memory.sectorBytes = sectorBytes;
  });
  const sectors = Math.floor(board.memory.sectorCount * 0.75);

  it("fill 3/4 of the sectors with whole sectors of TSD or EVT records", () => {
    expect(recordsPerRound(board, "tsd")).toBe(sectors * ((sectorBytes - 8) / 4));
    expect(recordsPerRound(board, "evt")).toBe(sectors * Math.floor(sectorBytes / 12));
  });

  it("fill a cleanup iteration's sectors exactly", () => {
    expect(recordsPerIteration(board, 10)).toBe(10 * ((sectorBytes - 8) / 4));
  });
});
