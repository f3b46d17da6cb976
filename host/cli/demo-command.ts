// `imx-memsim demo`: one device on a board, the original test harness's 8 sensors and 4 controls,
// an uplink that is down for the first half of the run (so RAM fills and spills to `.imx` files)
// and then uploads everything: read in bulk, verify, ACK. The run ends with cleanup and fails
// (exit 1) unless every record came back exactly once, in order, and no file is left behind.

import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { DEFAULT_BOARD_NAME, cleanupPolicyChoices, isCleanupPolicy, loadBoard, withOverrides } from "../boards.js";
import { DISK_FULL_OPTION_HELP, diskFullOptionApply, diskFullOptionCheck } from "./disk-full-option.js";
import { Device } from "../core/device.js";
import { ensureCleanupComplete } from "../core/ensure-cleanup.js";
import { Prng } from "../base/prng.js";
import { HARNESS_SENSORS } from "../suite/harness-sensors.js";
import { LOG_LEVELS, type LogLevel } from "../core/log.js";
import { integerFlag } from "../base/parse.js";
import { UsageError } from "../base/user-error.js";
import { EXIT_FAILURE } from "./errors.js";

export interface DemoOptions {
  board: string;
  storage?: string;
  policy?: string;
  diskFull?: string;
  records: string;
  seed: string;
  keep?: boolean;
  log: string;
}

const DEMO_SOURCE = 0;
const DEMO_START_MS = Date.UTC(2025, 0, 10);

/** The most records a demo writes: it keeps every one in memory to check what comes back. */
export const DEMO_RECORDS_MAX = 10_000_000;

export interface DemoResult {
  board: string;
  policy: string;
  recordsWritten: number;
  recordsDelivered: number;
  recordsDiscarded: number;
  mismatches: number;
  filesCreated: number;
  filesDeleted: number;
  filesLeft: number;
  ramSectorsLeft: number;
  sectorsPerFile: number;
  peakUsagePercent: number;
  cleanupMs: number;
  passed: boolean;
}

export async function demoRun(options: DemoOptions, print: (line: string) => void): Promise<DemoResult> {
  const records = integerFlag(options.records, "--records", 1, DEMO_RECORDS_MAX);
  const seed = integerFlag(options.seed, "--seed", 1, 0xffffffff);
  if (options.policy !== undefined && !isCleanupPolicy(options.policy)) {
    throw new UsageError(`--policy must be ${cleanupPolicyChoices()} (got "${options.policy}")`);
  }
  if (!LOG_LEVELS.includes(options.log as LogLevel)) {
    throw new UsageError(`--log must be one of ${LOG_LEVELS.join(", ")} (got "${options.log}")`);
  }
  diskFullOptionCheck(options.diskFull);
  let board = loadBoard(options.board);
  if (options.policy !== undefined && isCleanupPolicy(options.policy))
    board = withOverrides(board, { cleanupPolicy: options.policy });
  board = diskFullOptionApply(board, options.diskFull);
  if (options.storage !== undefined && existsSync(options.storage) && !statSync(options.storage).isDirectory())
    throw new UsageError(`--storage ${options.storage} is not a directory`);
  const storage = options.storage ?? mkdtempSync(join(tmpdir(), "imx-memsim-demo-"));
  const removeStorage = options.storage === undefined && !options.keep;
  try {
    const device = Device.create({ board, storageDir: storage, log: options.log as LogLevel, nowMs: DEMO_START_MS });
    const sensors = HARNESS_SENSORS.slice(0, board.memory.streamsMax);
    for (const s of sensors)
      device.configureStream(DEMO_SOURCE, s.sensor, {
        type: s.type,
        dataType: s.dataType,
        sampleRateMs: s.sampleRateMs,
      });
    print(
      `demo: board ${board.name} (${board.memory.sectorCount} sectors of ${board.memory.sectorBytes} B, ` +
        `${board.disk ? `disk quota ${board.disk.quotaBytes} B` : "no disk tier"}), policy ${board.tier.cleanupPolicy}, ` +
        `${records} records, storage ${storage}`,
    );

    // Every record written, per stream, to check what comes back.
    const written = sensors.map(() => [] as Array<{ value: number; utcMs: number }>);
    const next = sensors.map(() => 0);
    const delivered = sensors.map(() => 0);
    let nowMs = DEMO_START_MS;
    let mismatches = 0;
    const prng = new Prng(seed);
    const loopMs = Math.max(1, board.tier.tickIntervalMs);
    let peakUsage = 0;
    let discardReported = false;

    const upload = (): void => {
      sensors.forEach((s, i) => {
        const got = device.readBulk(DEMO_SOURCE, s.sensor, device.bulkCapacity);
        for (const record of got) {
          const expected = written[i]?.[record.seq];
          if (!expected || expected.value !== record.value || expected.utcMs !== record.utcMs) mismatches++;
          else if (record.seq < (delivered[i] ?? 0)) mismatches++;
          delivered[i] = record.seq + 1;
        }
        device.ack(DEMO_SOURCE, s.sensor, got.length);
      });
    };

    const half = Math.floor(records / 2);
    for (let r = 0; r < records; r++) {
      const i = prng.below(sensors.length);
      const s = sensors[i];
      const list = written[i];
      if (!s || !list) continue;
      const k = next[i] ?? 0;
      const value = s.dataType === "float32" ? Math.fround(s.value(k)) : s.value(k);
      const utcMs = s.type === "tsd" ? DEMO_START_MS + k * s.sampleRateMs : nowMs;
      if (s.type === "tsd") device.writeTsd(DEMO_SOURCE, s.sensor, value, utcMs);
      else device.writeEvt(DEMO_SOURCE, s.sensor, value, utcMs);
      list.push({ value, utcMs });
      next[i] = k + 1;
      if (r % 8 === 7) {
        nowMs += loopMs;
        device.processMemory(nowMs);
        const st = device.stats();
        peakUsage = Math.max(peakUsage, st.usagePercent);
        if (st.recordsDiscarded > 0 && !discardReported) {
          discardReported = true;
          print(`demo: RAM full, oldest non-pending data discarded (counted) by record ${r + 1}`);
        }
        if (r >= half && r % 64 === 63) upload();
      }
      if ((r + 1) % Math.max(1, Math.floor(records / 4)) === 0) {
        const st = device.stats();
        print(
          `demo: ${r + 1} records written, RAM ${st.usagePercent.toFixed(1)}%, ${device.countDiskFiles()} .imx files, ` +
            `${st.filesCreated} created, ${st.filesDeleted} deleted${r < half ? " (uplink down)" : ""}`,
        );
      }
    }
    // Drain what is left, then clean up.
    for (let guard = 0; guard < 100_000; guard++) {
      const pending = sensors.reduce((sum, s) => sum + device.counts(DEMO_SOURCE, s.sensor).total, 0);
      if (pending === 0) break;
      upload();
      nowMs += loopMs;
      device.processMemory(nowMs);
    }
    const cleanup = await ensureCleanupComplete(device, { nowMs });
    const stats = device.stats();
    const deliveredTotal = delivered.reduce((a, b) => a + b, 0) - stats.recordsDiscarded;
    const result: DemoResult = {
      board: board.name,
      policy: board.tier.cleanupPolicy,
      recordsWritten: stats.recordsWritten,
      recordsDelivered: stats.recordsAcked,
      recordsDiscarded: stats.recordsDiscarded,
      mismatches,
      filesCreated: stats.filesCreated,
      filesDeleted: stats.filesDeleted,
      filesLeft: cleanup.filesLeft,
      ramSectorsLeft: cleanup.ramSectorsLeft,
      sectorsPerFile: stats.filesCreated === 0 ? 0 : stats.sectorsSpilled / stats.filesCreated,
      peakUsagePercent: peakUsage,
      cleanupMs: cleanup.elapsedMs,
      passed:
        mismatches === 0 &&
        cleanup.complete &&
        cleanup.filesLeft === 0 &&
        cleanup.ramSectorsLeft === 0 &&
        stats.recordsAcked + stats.recordsDiscarded === stats.recordsWritten &&
        deliveredTotal === stats.recordsAcked,
    };
    print(
      [
        `records   written ${result.recordsWritten}, delivered ${result.recordsDelivered}, discarded ${result.recordsDiscarded}, mismatches ${mismatches}`,
        `RAM       peak ${peakUsage.toFixed(1)}% of ${stats.sectorsTotal} sectors, ${result.ramSectorsLeft} sectors with data at the end`,
        `disk      ${result.filesCreated} files created (${result.sectorsPerFile.toFixed(1)} sectors each), ${result.filesDeleted} deleted, ${result.filesLeft} left`,
        `cleanup   complete in ${cleanup.ticks} ticks, ${cleanup.elapsedMs.toFixed(2)} ms`,
        `result    ${result.passed ? "PASS" : "FAIL"}`,
      ].join("\n"),
    );
    return result;
  } finally {
    if (removeStorage) rmSync(storage, { recursive: true, force: true });
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("run one device through an uplink outage: spill to .imx files, upload, verify, clean up")
    .option("--board <name-or-path>", "board name in boards/, or a path to a board JSON file", DEFAULT_BOARD_NAME)
    .option("--storage <dir>", "directory for the disk tier (default: a fresh temp directory, removed afterwards)")
    .option("--policy <policy>", `cleanup policy: ${cleanupPolicyChoices()} (default: the board's)`)
    .option("--disk-full <policy>", DISK_FULL_OPTION_HELP)
    .option("--records <n>", "records to write across the 12 streams", "20000")
    .option("--seed <n>", "seed for which sensor writes next", "1")
    .option("--keep", "keep the temp storage directory")
    .option("--log <level>", "core log level: off, error, warn, info, debug", "off")
    .action(async (options: DemoOptions) => {
      const result = await demoRun(options, (line) => process.stdout.write(line + "\n"));
      if (!result.passed) process.exitCode = EXIT_FAILURE;
    });
}
