// `imx-memsim battery`: the original's run_tiered_storage_tests.sh (host/suite/battery/battery.ts):
// its ten runs as the project's equivalents, then the report the script wrote — per test PASS or
// FAIL, records/s, peak RAM usage, files created, "Tests passed: x/y" — and the per-phase timing
// table of the scenarios that have phases. --json writes it all. Exit 1 if any test failed.

import { existsSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { type CleanupPolicy, DEFAULT_BOARD_NAME, cleanupPolicyChoices, isCleanupPolicy, loadBoard } from "../boards.js";
import { integerFlag } from "../base/parse.js";
import { UsageError } from "../base/user-error.js";
import { DiskSim } from "../hal/disk-sim.js";
import {
  BATTERY_COMPREHENSIVE_ITERATIONS_DEFAULT,
  type BatteryResult,
  type BatteryTestResult,
  batteryTests,
  runBattery,
  SPILLOVER_RECORDS_DEFAULT,
} from "../suite/battery/battery.js";
import { bytesHuman } from "./boards-command.js";
import { EXIT_FAILURE } from "./errors.js";
import { scratchStoragePrepare } from "./scratch-storage.js";
import { testDiskSettings } from "./test-disk-env.js";

export interface BatteryCommandOptions {
  board?: string;
  storage?: string;
  keep?: boolean;
  policy?: string;
  seed?: string;
  iterations?: string;
  records?: string;
  only?: string;
  json?: string;
}

export interface BatteryIo {
  out(text: string): void;
  err(text: string): void;
}

const ITERATIONS_MAX = 100_000;
const RECORDS_MAX = 10_000_000;

function rate(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(0);
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** One test's lines of the report, as the script's report had them. */
export function batteryTestText(t: BatteryTestResult): string {
  const f = t.figures;
  const lines = [
    `[${t.passed ? "PASS" : "FAIL"}] ${t.name}`,
    `       ${t.original} → ${t.equivalent}`,
    `       records/sec: ${rate(f.recordsPerSecond)}   Peak RAM usage: ${f.peakRamPercent.toFixed(1)}%   ` +
      `Files created: ${f.filesCreated}   Tests passed: ${t.checksPassed}/${t.checksTotal}   (${(f.durationMs / 1000).toFixed(2)} s)`,
  ];
  for (const failure of t.failures.slice(0, 5))
    lines.push(`       FAIL ${failure.check}: expected ${failure.expected}, got ${failure.actual}`);
  return lines.join("\n") + "\n";
}

/** The report after the run: the timing table and the summary. */
export function batteryReport(result: BatteryResult): string {
  const lines: string[] = [];
  const phased = result.tests.filter((t) => t.phases.length > 0);
  if (phased.length > 0) {
    lines.push("", "per-phase timing");
    for (const t of phased) {
      lines.push(`  ${t.name}`);
      for (const p of t.phases) lines.push(`    ${pad(p.name, 52)}${p.ms.toFixed(2).padStart(10)} ms`);
    }
  }
  const failed = result.tests.length - result.testsPassed;
  lines.push(
    "",
    `Summary: ${result.tests.length} tests, ${result.testsPassed} passed, ${failed} failed in ${(result.durationMs / 1000).toFixed(1)} s`,
    `result       ${result.passed ? "PASS" : "FAIL"}`,
  );
  return lines.join("\n") + "\n";
}

export async function batteryCommandRun(options: BatteryCommandOptions, io: BatteryIo): Promise<BatteryResult> {
  const seed = options.seed === undefined ? 1 : integerFlag(options.seed, "--seed", 0, 0xffffffff);
  const iterations =
    options.iterations === undefined
      ? BATTERY_COMPREHENSIVE_ITERATIONS_DEFAULT
      : integerFlag(options.iterations, "--iterations", 1, ITERATIONS_MAX);
  const records =
    options.records === undefined
      ? SPILLOVER_RECORDS_DEFAULT
      : integerFlag(options.records, "--records", 1, RECORDS_MAX);
  if (options.policy !== undefined && !isCleanupPolicy(options.policy))
    throw new UsageError(`--policy must be ${cleanupPolicyChoices()} (got "${options.policy}")`);
  const names = batteryTests(iterations).map((t) => t.name);
  const only = options.only?.split(",").map((s) => s.trim());
  for (const name of only ?? [])
    if (!names.includes(name)) throw new UsageError(`--only: no test "${name}" (the tests: ${names.join(", ")})`);
  const board = loadBoard(options.board ?? DEFAULT_BOARD_NAME);
  if (board.disk === null)
    throw new UsageError(`board ${board.name} has no disk tier: the battery tests the tiered storage`);
  if (options.json !== undefined && !existsSync(dirname(resolve(options.json))))
    throw new UsageError(`--json ${options.json}: the directory ${dirname(resolve(options.json))} does not exist`);
  const policy: CleanupPolicy =
    options.policy !== undefined && isCleanupPolicy(options.policy) ? options.policy : board.tier.cleanupPolicy;
  const storage = scratchStoragePrepare(options.storage, "battery");
  io.out(
    `imx-memsim battery: board ${board.name} (${board.memory.sectorCount} sectors of ${board.memory.sectorBytes} B, ` +
      `disk quota ${bytesHuman(board.disk.quotaBytes)}), policy ${policy}, seed ${seed}; storage ${storage.dir}\n` +
      `  run_tiered_storage_tests.sh's runs as the project's equivalents\n\n`,
  );
  let result: BatteryResult;
  try {
    result = await runBattery({
      board,
      storageRoot: storage.dir,
      policy,
      seed,
      comprehensiveIterations: iterations,
      spilloverRecords: records,
      // Only the variables the script set for the test: the caller's environment does not leak in.
      diskSettings: (variables) => {
        const settings = testDiskSettings({}, variables);
        return {
          usagePercent: settings.usagePercent,
          sim:
            settings.sim === null
              ? null
              : new DiskSim({ sizeBytes: settings.sim.sizeBytes, mode: settings.sim.mode, log: null }),
        };
      },
      ...(only === undefined ? {} : { only }),
      onTest: (t) => io.out(batteryTestText(t)),
    });
  } finally {
    if (storage.temporary && options.keep !== true) rmSync(storage.dir, { recursive: true, force: true });
  }
  io.out(batteryReport(result));
  if (options.keep === true && storage.temporary) io.out(`storage      kept (--keep): ${storage.dir}\n`);
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      JSON.stringify({ command: "battery", options: { ...options, policy, iterations, records }, ...result }, null, 2) +
        "\n",
    );
    io.out(`wrote ${options.json}\n`);
  }
  return result;
}

const HELP_AFTER = `
The runs of the original's run_tiered_storage_tests.sh, in its order, each as the project's
equivalent (the storage emptied before each, except that recovery_verification runs the tiered test
again on the storage the first run left, without cleaning between, as the script did):
${batteryTests(BATTERY_COMPREHENSIVE_ITERATIONS_DEFAULT)
  .map((t) => `  ${t.name.padEnd(26)} ${t.original}`)
  .join("\n")}
performance_benchmark, diagnostic_analysis, spillover_validation and real_world_usage run scenarios
of their own (performance_test's 10,000-operation stress and fragmentation at 500 sectors;
diagnostic_test's sizes and file analysis; spillover_test's phases with a power cut and recovery in
the middle; real_world_test's three rounds of phases 1 and 2 with spillover), with a per-phase
timing table. The 79%/95% runs set IMX_TEST_DISK_USAGE for section 5 as the script did; the
caller's IMX_TEST_DISK_* variables are not read.
For each test: PASS/FAIL, records/sec, Peak RAM usage, Files created, Tests passed: x/y (distinct
checks that passed every time, of the checks made). Timings are reported, never asserted.
Exit status: 0 if every test passed, 1 if any failed, 2 for bad input.`;

export function registerBatteryCommand(program: Command): void {
  program
    .command("battery")
    .description("the original's test battery (run_tiered_storage_tests.sh) as the project's equivalents")
    .option("--board <name-or-path>", "board name in boards/, or a path to a board JSON file", DEFAULT_BOARD_NAME)
    .option("--storage <dir>", "an empty directory for the tests' storage (default: a temp directory, removed)")
    .option("--keep", "keep the temp storage directory")
    .option("--policy <policy>", `cleanup policy: ${cleanupPolicyChoices()} (default: the board's)`)
    .option("--seed <n>", "seed of the values written and of the stress scenario", "1")
    .option(
      "--iterations <n>",
      "iterations of comprehensive_memory (the original's default was 1000)",
      String(BATTERY_COMPREHENSIVE_ITERATIONS_DEFAULT),
    )
    .option(
      "--records <n>",
      "records of spillover_validation (the script passed 500)",
      String(SPILLOVER_RECORDS_DEFAULT),
    )
    .option("--only <names>", "run only these tests (comma-separated names)")
    .option("--json <file>", "write the report as JSON (a tests array, one entry per test)")
    .addHelpText("after", HELP_AFTER)
    .action(async (options: BatteryCommandOptions) => {
      const result = await batteryCommandRun(options, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
      });
      if (!result.passed) process.exitCode = EXIT_FAILURE;
    });
}
