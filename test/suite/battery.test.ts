// The battery (imx-memsim battery): the original's run_tiered_storage_tests.sh as the project's
// equivalents. A run on a correct core passes all ten tests in the script's order, each with checks,
// figures and (for the phased scenarios) a timing table; then each scenario the battery added is run
// on a core or disk broken one way at a time, and the check that covers it fails, saying what it
// expected and what it got.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Board, DEFAULT_BOARD_NAME, loadBoard } from "../../host/boards.js";
import type { Device, UploadRecord } from "../../host/core/device.js";
import type { Hal } from "../../host/hal/hal.js";
import { allocatorSection } from "../../host/suite/battery/allocator-section.js";
import { type BatteryOptions, runBattery } from "../../host/suite/battery/battery.js";
import { diagnosticSection } from "../../host/suite/battery/diagnostic-section.js";
import { realWorldSection } from "../../host/suite/battery/real-world-section.js";
import { spilloverScenario } from "../../host/suite/battery/spillover-section.js";
import { runSuite, type SuiteOptions, type SuiteResult } from "../../host/suite/run.js";

const fc1 = loadBoard(DEFAULT_BOARD_NAME);
const EXTRA = [allocatorSection, diagnosticSection, spilloverScenario(500), realWorldSection];

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "imx-battery-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The whole battery on `board`, 2 comprehensive iterations, the disk variables as usage only. */
function batteryOptions(board: Board): BatteryOptions {
  return {
    board,
    storageRoot: dir,
    policy: board.tier.cleanupPolicy,
    seed: 1,
    comprehensiveIterations: 2,
    spilloverRecords: 500,
    diskSettings: (variables) => ({
      usagePercent: variables["IMX_TEST_DISK_USAGE"] === undefined ? null : Number(variables["IMX_TEST_DISK_USAGE"]),
      sim: null,
    }),
  };
}

describe("the battery on a correct core", () => {
  it("runs the script's ten tests in its order and passes each, with figures", async () => {
    const result = await runBattery(batteryOptions(fc1));
    expect(result.tests.map((t) => t.name)).toEqual([
      "memory_manager_basic",
      "tiered_storage_complete",
      "recovery_verification",
      "performance_benchmark",
      "diagnostic_analysis",
      "spillover_validation",
      "real_world_usage",
      "comprehensive_memory",
      "comprehensive_79pct_disk",
      "comprehensive_95pct_disk",
    ]);
    expect(result.tests.flatMap((t) => t.failures)).toEqual([]);
    expect(result.passed).toBe(true);
    for (const t of result.tests) {
      expect(t.checksTotal, t.name).toBeGreaterThan(0);
      expect(t.checksPassed, t.name).toBe(t.checksTotal);
      expect(t.figures.recordsWritten, t.name).toBeGreaterThan(0);
      expect(t.figures.peakRamPercent, t.name).toBeGreaterThan(0);
    }
    const byName = new Map(result.tests.map((t) => [t.name, t]));
    // recovery_verification ran on the storage tiered_storage_complete left, and said so.
    expect(byName.get("recovery_verification")?.storageDir).toBe(byName.get("tiered_storage_complete")?.storageDir);
    expect(byName.get("recovery_verification")?.checks.map((c) => c.passed)).toEqual([true, true]);
    expect(byName.get("spillover_validation")?.phases.map((p) => p.name.split(":")[0])).toEqual([
      "phase 1",
      "phase 2",
      "phase 3",
      "phase 4",
      "phase 5",
      "phase 6",
    ]);
    expect(byName.get("real_world_usage")?.phases).toHaveLength(4);
    expect(byName.get("real_world_usage")?.figures.filesCreated).toBeGreaterThan(0);
  });
});

describe("the battery on small and direct-mode boards", () => {
  // tiny holds 86 records of one EVT stream below its thresholds (16 sectors, a 2 KiB quota), so
  // the spillover and real-world scenarios write what it holds, say so, and still lose nothing.
  it.each(["tiny", "esp32-direct"])("passes every test on %s", async (name) => {
    const board = loadBoard(name);
    const result = await runBattery(batteryOptions(board));
    expect(result.tests.flatMap((t) => t.failures)).toEqual([]);
    expect(result.passed).toBe(true);
    const spillover = result.tests.find((t) => t.name === "spillover_validation");
    if (name === "tiny")
      expect(spillover?.equivalent).toContain("500 records (tiny holds 86 without discarding: it writes 86)");
    else expect(spillover?.equivalent).toMatch(/500 records$/);
  });
});

function run(sections: number[], options: Partial<SuiteOptions> = {}): Promise<SuiteResult> {
  return runSuite(
    {
      board: fc1,
      storageDir: dir,
      iterations: 1,
      sections,
      fullEvery: 1,
      policy: fc1.tier.cleanupPolicy,
      diskUsagePercent: null,
      seed: 1,
      stopOnFail: false,
      skipIterationCleanup: false,
      fsync: false,
      verbose: false,
      ...options,
    },
    { line: () => {} },
    EXTRA,
  );
}

/** Replaces one method of every device the suite boots. */
function breakMethod<K extends keyof Device>(
  name: K,
  make: (original: Device[K], device: Device) => Device[K],
): (device: Device) => void {
  return (device) => {
    const original = (device[name] as unknown as (...args: unknown[]) => unknown).bind(device) as Device[K];
    Object.defineProperty(device, name, { value: make(original, device), configurable: true, writable: true });
  };
}

/** readBulk and readBulkInto return each value + 1. */
const valuesOffByOne = (device: Device): void => {
  const readBulk = device.readBulk.bind(device);
  const broken = (source: number, sensor: number, max: number): UploadRecord[] =>
    readBulk(source, sensor, max).map((r) => ({ ...r, value: r.value + 1 }));
  Object.defineProperty(device, "readBulk", { value: broken, configurable: true, writable: true });
  Object.defineProperty(device, "readBulkInto", {
    value: (
      source: number,
      sensor: number,
      max: number,
      into: { seq: Float64Array; utcMs: Float64Array; value: Float64Array; disk: Uint8Array },
    ) => {
      const records = broken(source, sensor, Math.min(max, into.seq.length));
      records.forEach((r, i) => {
        into.seq[i] = r.seq;
        into.utcMs[i] = r.utcMs;
        into.value[i] = r.value;
        into.disk[i] = r.tier === "disk" ? 1 : 0;
      });
      return records.length;
    },
    configurable: true,
    writable: true,
  });
};

/** A Hal whose remove() of `.imx` files reports success and keeps the file. */
function keepImxFiles(hal: Hal): Hal {
  return new Proxy(hal, {
    get(target, prop, receiver) {
      if (prop === "remove") return (p: string) => (p.endsWith(".imx") ? undefined : hal.remove(p));
      if (prop === "removeAsync") return (p: string) => (p.endsWith(".imx") ? Promise.resolve() : hal.removeAsync(p));
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value.bind(target) as unknown) : value;
    },
  });
}

describe("each battery scenario fails on a core broken the way it covers", () => {
  const cases: Array<{ section: number; broken: string; options: Partial<SuiteOptions>; check: string }> = [
    {
      section: 11,
      broken: "sectorFree frees nothing",
      options: { deviceHook: breakMethod("sectorFree", () => () => undefined) },
      check: "leak: 1000 allocate/write/read/free cycles",
    },
    {
      section: 11,
      broken: "stats() reports no fragmentation",
      options: { deviceHook: breakMethod("stats", (stats) => () => ({ ...stats(), fragmentationPercent: 0 })) },
      check: "fragmentation: 500 allocated, every second freed",
    },
    {
      section: 11,
      broken: "sectorRead flips bit 0",
      options: { deviceHook: breakMethod("sectorRead", (read) => (id: number, o: number) => (read(id, o) ^ 1) >>> 0) },
      check: "stress: every sector's word read back",
    },
    {
      section: 11,
      broken: "stats() stops counting frees",
      options: { deviceHook: breakMethod("stats", (stats) => () => ({ ...stats(), frees: 0 })) },
      check: "stress: 10000 random operations",
    },
    {
      section: 12,
      broken: "sectorRead flips bit 0",
      options: { deviceHook: breakMethod("sectorRead", (read) => (id: number, o: number) => (read(id, o) ^ 1) >>> 0) },
      check: "write sizes 4/8/12/16/20/32/64 B",
    },
    {
      section: 12,
      broken: "bulk reads return wrong values",
      options: { deviceHook: valuesOffByOne },
      check: "file analysis: every record of the spill read back exactly",
    },
    {
      section: 13,
      broken: "bulk reads return wrong values",
      options: { deviceHook: valuesOffByOne },
      check: "phase 1: RAM filled to 60%, every record verified",
    },
    {
      section: 13,
      broken: "processMemory never runs the state machine",
      options: { deviceHook: breakMethod("processMemory", (_pm, device) => () => device.tierState) },
      check: "phase 2: RAM at 80% spills to .imx files",
    },
    {
      section: 13,
      broken: "file deletion keeps the files",
      options: { halWrap: keepImxFiles },
      check: "phase 6: 0 files and every sector free at the end",
    },
    {
      section: 14,
      broken: "file deletion keeps the files",
      options: { halWrap: keepImxFiles },
      check: "phase 2: the files are deleted by the cleanup once acknowledged",
    },
    {
      section: 14,
      broken: "bulk reads return wrong values",
      options: { deviceHook: valuesOffByOne },
      check: "phase 3 (phase 1 again): every record in RAM verified",
    },
  ];

  it.each(cases)("section $section: $broken", async ({ section, options, check }) => {
    const result = await run([section], options);
    const failure = result.checks.find((c) => c.section === section && c.name.startsWith(check) && c.failed > 0);
    expect(
      failure,
      `"${check}" did not fail; failures: ${result.failures.map((f) => f.check).join(" | ")}`,
    ).toBeDefined();
    expect(failure?.firstFailure?.actual).not.toBe(failure?.firstFailure?.expected);
    expect(result.passed).toBe(false);
  });

  it("the spillover scenario's recovery check fails when the power cut loses a file", async () => {
    let hals = 0;
    // The third HAL the run makes (shared device, the scenario's device, its boot after the power
    // cut) finds a file of the storage gone before it boots.
    const result = await run([13], {
      halWrap: (hal) => {
        if (++hals === 3) {
          const fresh = path.join(dir, "fresh");
          const imx = fs.readdirSync(fresh, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".imx"));
          if (imx[0] !== undefined) fs.rmSync(path.join(fresh, imx[0]));
        }
        return hal;
      },
    });
    expect(
      result.checks.find((c) => c.name.startsWith("phase 4: after a power cut") && c.failed > 0),
      result.failures.map((f) => f.check).join(" | "),
    ).toBeDefined();
  });
});
