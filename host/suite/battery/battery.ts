// The original's test battery, run_tiered_storage_tests.sh (reference section 6.10), as the
// project's equivalents: each of its ten runs is a run of the suite (run.ts) over the sections that
// do what the original program did, on a storage directory of its own that is emptied before it —
// except recovery_verification, which, as the script did, runs the tiered test a second time on the
// storage the first run left, without cleaning between. For each test the battery reports what the
// script grepped from the logs: records/s, peak RAM usage, files created and "Tests passed: x/y"
// (the distinct checks that passed every time they ran, of all checks run).

import fs from "node:fs";
import path from "node:path";
import type { Board, CleanupPolicy } from "../../boards.js";
import type { Device } from "../../core/device.js";
import type { DiskSim } from "../../hal/disk-sim.js";
import type { CheckFailure } from "../checks.js";
import { runSuite, type SuiteResult } from "../run.js";
import { SECTIONS, type PerformanceMetric, type Section } from "../sections/index.js";
import { evtRecordsHeldMax } from "../sections/section.js";
import { allocatorSection } from "./allocator-section.js";
import { diagnosticSection } from "./diagnostic-section.js";
import { realWorldSection } from "./real-world-section.js";
import { SPILLOVER_RECORDS_DEFAULT, spilloverScenario } from "./spillover-section.js";

/** Iterations of comprehensive_memory (the original's default was 1,000; the battery keeps to a few seconds). */
export const BATTERY_COMPREHENSIVE_ITERATIONS_DEFAULT = 100;

export interface BatteryTestSpec {
  /** The name the script gave the test (its log and report line). */
  name: string;
  /** What the script ran. */
  original: string;
  /** The sections of the suite that are its equivalent, in order. */
  sections: number[];
  iterations: number;
  /** IMX_TEST_DISK_* variables the script set for it. */
  diskEnv: Record<string, string>;
  /** The storage of the test before it, not cleaned between (recovery_verification). */
  reusesPreviousStorage: boolean;
  /** Leaves its storage for the next test (no final cleanup: the tiered test before recovery_verification). */
  keepsStorage: boolean;
}

/** The ten runs of run_tiered_storage_tests.sh, in its order. */
export function batteryTests(comprehensiveIterations: number): BatteryTestSpec[] {
  const test = (
    name: string,
    original: string,
    sections: number[],
    iterations: number,
    more: Partial<BatteryTestSpec> = {},
  ): BatteryTestSpec => ({
    name,
    original,
    sections,
    iterations,
    diskEnv: {},
    reusesPreviousStorage: false,
    keepsStorage: false,
    ...more,
  });
  return [
    test("memory_manager_basic", "simple_memory_test", [1, 3], 10),
    test("tiered_storage_complete", "tiered_storage_test", [4], 10, { keepsStorage: true }),
    test("recovery_verification", "tiered_storage_test, again, without cleaning between", [4], 10, {
      reusesPreviousStorage: true,
    }),
    test("performance_benchmark", "performance_test", [7, allocatorSection.id], 1),
    test("diagnostic_analysis", "diagnostic_test", [diagnosticSection.id], 1),
    test("spillover_validation", "spillover_test 500", [13], 1),
    test("real_world_usage", "real_world_test", [realWorldSection.id], 1),
    test(
      "comprehensive_memory",
      "comprehensive_memory_test",
      SECTIONS.map((s) => s.id),
      comprehensiveIterations,
    ),
    test("comprehensive_79pct_disk", "IMX_TEST_DISK_USAGE=79 comprehensive_memory_test --section 5", [5], 1, {
      diskEnv: { IMX_TEST_DISK_USAGE: "79" },
    }),
    test("comprehensive_95pct_disk", "IMX_TEST_DISK_USAGE=95 comprehensive_memory_test --section 5", [5], 1, {
      diskEnv: { IMX_TEST_DISK_USAGE: "95" },
    }),
  ];
}

/** What the IMX_TEST_DISK_* variables of a test make of the disk (the command line reads them as `test` does). */
export interface BatteryDiskSettings {
  usagePercent: number | null;
  sim: DiskSim | null;
}

export interface BatteryOptions {
  board: Board;
  /** An empty directory; each test gets `<root>/<name>`. */
  storageRoot: string;
  policy: CleanupPolicy;
  seed: number;
  comprehensiveIterations: number;
  spilloverRecords: number;
  diskSettings: (variables: Record<string, string>) => BatteryDiskSettings;
  /** Runs only these tests (by name; recovery_verification brings tiered_storage_complete). */
  only?: readonly string[];
  /** Called with every device a test boots (tests use it to break one). */
  deviceHook?: (test: string, device: Device) => void;
  /** Called as each test finishes. */
  onTest?: (result: BatteryTestResult) => void;
}

/** A check the battery makes itself, beyond the suite's (recovery_verification's boot). */
export interface BatteryCheck {
  name: string;
  passed: boolean;
  expected: string;
  actual: string;
}

export interface BatteryPhase {
  name: string;
  ms: number;
}

export interface BatteryTestResult {
  name: string;
  original: string;
  /** The project's equivalent, as a command. */
  equivalent: string;
  passed: boolean;
  /** "Tests passed: x/y": distinct checks that passed every run, of the distinct checks made. */
  checksPassed: number;
  checksTotal: number;
  checkRunsFailed: number;
  figures: {
    recordsWritten: number;
    recordsPerSecond: number;
    /** The highest share of RAM sectors in use on any device the test booted. */
    peakRamPercent: number;
    filesCreated: number;
    durationMs: number;
  };
  /** The per-phase timing table of the scenarios that have phases (spillover, real world). */
  phases: BatteryPhase[];
  metrics: PerformanceMetric[];
  checks: BatteryCheck[];
  failures: CheckFailure[];
  storageDir: string;
}

export interface BatteryResult {
  passed: boolean;
  board: string;
  policy: string;
  seed: number;
  storageRoot: string;
  durationMs: number;
  testsPassed: number;
  tests: BatteryTestResult[];
}

const FAILURES_KEPT = 10;

function equivalentOf(
  spec: BatteryTestSpec,
  extra: readonly Section[],
  spilloverRecords: number,
  board: Board,
): string {
  const env = Object.entries(spec.diskEnv)
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  const known = spec.sections.every((id) => SECTIONS.some((s) => s.id === id));
  if (known) {
    const section = spec.sections.length === SECTIONS.length ? "" : ` --section ${spec.sections.join(",")}`;
    return `${env}imx-memsim test${section} --iterations ${spec.iterations}${spec.keepsStorage ? " --skip-cleanup" : ""}${spec.reusesPreviousStorage ? " (on the storage the test before left)" : ""}`;
  }
  const titles = spec.sections.map((id) => {
    const section = [...SECTIONS, ...extra].find((s) => s.id === id);
    return section === undefined ? `section ${id}` : `section ${id} (${section.title.split(":")[0] ?? ""})`;
  });
  const held = evtRecordsHeldMax(board, 1);
  const records =
    spilloverRecords > held
      ? `, ${spilloverRecords} records (${board.name} holds ${held} without discarding: it writes ${held})`
      : `, ${spilloverRecords} records`;
  return `battery ${titles.join(" + ")}${spec.sections.includes(13) ? records : ""}`;
}

function figuresOf(devices: readonly Device[], result: SuiteResult): BatteryTestResult["figures"] {
  let written = 0;
  let peak = 0;
  for (const device of devices) {
    try {
      const stats = device.stats();
      written += stats.recordsWritten;
      if (stats.sectorsTotal > 0) peak = Math.max(peak, (stats.sectorsUsedPeak * 100) / stats.sectorsTotal);
    } catch {
      // A device whose storage is gone (a fresh one, disposed) has nothing more to say.
    }
  }
  return {
    recordsWritten: written,
    recordsPerSecond: written / Math.max(1e-9, result.durationMs / 1000),
    peakRamPercent: peak,
    filesCreated: result.files.created,
    durationMs: result.durationMs,
  };
}

function storageEntries(dir: string): number {
  return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).length : 0;
}

/** Runs the battery; every test runs even when one before it failed, as the script did. */
export async function runBattery(options: BatteryOptions): Promise<BatteryResult> {
  const started = performance.now();
  const extra: Section[] = [
    allocatorSection,
    diagnosticSection,
    spilloverScenario(options.spilloverRecords),
    realWorldSection,
  ];
  const specs = batteryTests(options.comprehensiveIterations);
  const wanted = (name: string): boolean =>
    options.only === undefined ||
    options.only.includes(name) ||
    (name === "tiered_storage_complete" && options.only.includes("recovery_verification"));
  const tests: BatteryTestResult[] = [];
  let previousDir = "";
  for (const spec of specs) {
    if (!wanted(spec.name)) continue;
    const dir =
      spec.reusesPreviousStorage && previousDir !== "" ? previousDir : path.join(options.storageRoot, spec.name);
    const checks: BatteryCheck[] = [];
    let entriesBefore = 0;
    if (spec.reusesPreviousStorage) {
      entriesBefore = storageEntries(dir);
      checks.push({
        name: "the storage of the run before is there, not cleaned",
        passed: entriesBefore > 0,
        expected: "≥ 1 entry",
        actual: `${entriesBefore} entries in ${dir}`,
      });
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.mkdirSync(dir, { recursive: true });
    const disk = options.diskSettings(spec.diskEnv);
    const devices: Device[] = [];
    const result = await runSuite(
      {
        board: options.board,
        storageDir: dir,
        iterations: spec.iterations,
        sections: spec.sections,
        fullEvery: Math.max(1, spec.iterations),
        policy: options.policy,
        diskUsagePercent: disk.usagePercent,
        seed: options.seed,
        stopOnFail: false,
        skipIterationCleanup: false,
        skipFinalCleanup: spec.keepsStorage,
        diskSim: disk.sim,
        fsync: false,
        verbose: false,
        deviceHook: (device) => {
          devices.push(device);
          options.deviceHook?.(spec.name, device);
        },
      },
      { line: () => {} },
      extra,
    );
    if (spec.reusesPreviousStorage) {
      const report = devices[0]?.recovery ?? null;
      checks.push({
        name: "the second run boots on it: recovery quarantines nothing and loses nothing",
        passed: report !== null && report.filesQuarantined === 0 && report.recordsLostRamMax === 0,
        expected: "0 quarantined, 0 records lost",
        actual:
          report === null
            ? "no recovery report"
            : `${report.filesQuarantined} quarantined, ${report.recordsLostRamMax} records at most lost, ${report.filesKept} files kept`,
      });
    }
    const suiteChecks = result.checks;
    const clean = suiteChecks.filter((c) => c.failed === 0).length + checks.filter((c) => c.passed).length;
    const total = suiteChecks.length + checks.length;
    const metrics = result.performance;
    const entry: BatteryTestResult = {
      name: spec.name,
      original: spec.original,
      equivalent: equivalentOf(spec, extra, options.spilloverRecords, options.board),
      passed: result.passed && checks.every((c) => c.passed),
      checksPassed: clean,
      checksTotal: total,
      checkRunsFailed: result.checkRunsFailed + checks.filter((c) => !c.passed).length,
      figures: figuresOf(devices, result),
      phases: metrics
        .filter((m) => m.unit === "ms" && m.name.startsWith("phase "))
        .map((m) => ({ name: m.name, ms: m.value })),
      metrics: metrics.filter((m) => !(m.unit === "ms" && m.name.startsWith("phase "))),
      checks,
      failures: [
        ...checks
          .filter((c) => !c.passed)
          .map((c) => ({ iteration: 0, section: 0, check: c.name, expected: c.expected, actual: c.actual })),
        ...result.failures,
      ].slice(0, FAILURES_KEPT),
      storageDir: dir,
    };
    tests.push(entry);
    options.onTest?.(entry);
    if (spec.keepsStorage) previousDir = dir;
  }
  return {
    passed: tests.length > 0 && tests.every((t) => t.passed),
    board: options.board.name,
    policy: options.policy,
    seed: options.seed,
    storageRoot: options.storageRoot,
    durationMs: performance.now() - started,
    testsPassed: tests.filter((t) => t.passed).length,
    tests,
  };
}

export { SPILLOVER_RECORDS_DEFAULT };
