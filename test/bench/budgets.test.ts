// The I/O budgets: the durability benchmark's counters come from the HAL's own call counts during a
// real iteration, so they are the same on every machine, and bench/budgets.json holds each to an
// upper bound. A change that makes an ACK, a spill or a cleanup cost more syncs, HAL calls or
// metadata bytes fails here; a change that lowers a figure lowers its budget in the same commit.
// A whole-file ACK (SPEC.md 6.5) is measured on its own and must cost only the file's deletion.

import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DURABILITY_BUDGETED } from "../../host/bench/durability-core.js";
import { type BenchmarkResult, runBench } from "../../host/bench/suite.js";

interface Budgets {
  durability: Record<string, number>;
}

const budgets = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, "../../bench/budgets.json"), "utf8"),
) as Budgets;
let durability: BenchmarkResult;

beforeAll(async () => {
  const report = await runBench({ only: ["durability"], quick: true });
  const found = report.benchmarks.find((b) => b.name === "durability");
  if (!found) throw new Error("no durability benchmark in the report");
  durability = found;
}, 60_000);

describe("bench/budgets.json", () => {
  it("the durability benchmark runs on every board with a disk tier", () => {
    expect(durability.error).toBeUndefined();
    for (const board of ["esp32", "fc1-imx6", "tiny"]) {
      expect(durability.counters[`${board}.syncsPerIteration`], board).toBeGreaterThan(0);
    }
  });

  it("budgets every headline counter", () => {
    for (const name of DURABILITY_BUDGETED) expect(budgets.durability[name], name).toBeTypeOf("number");
  });

  it("a whole-file ACK costs its deletion alone on every board: one directory sync, no record", () => {
    for (const board of ["esp32", "fc1-imx6", "tiny"]) {
      expect(durability.counters[`${board}.wholeFileAckSyncs`], board).toBe(1);
      expect(durability.counters[`${board}.wholeFileAckHalCalls`], board).toBe(2);
      expect(durability.counters[`${board}.wholeFileAckMetadataBytes`], board).toBe(0);
    }
  });

  it.each(Object.entries(budgets.durability))("%s stays within its budget of %d", (name, budget) => {
    const value = durability.counters[name];
    expect(value, `${name} is not reported`).toBeTypeOf("number");
    expect(value, name).toBeLessThanOrEqual(budget);
  });
});
