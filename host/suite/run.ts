// runSuite: the comprehensive memory test. One shared device, reused by every iteration.
//
// An iteration runs the cycle (cycle.ts: write, spill, read back across tiers, ACK) and then
// ensureCleanupComplete, which must leave 0 `.imx` files in the storage directory and 0 RAM sectors
// with data; a *full* iteration — the first, every fullEvery-th and the last — first runs every
// selected section. After every iteration the free sectors must be back at their initial count and
// the wasm memory at its size; file descriptors, heap, external memory and RSS are sampled for
// leaks (leaks.ts). Every check records what it expected and what it got (checks.ts).

import { CoreAssertionError } from "../core/errors.js";
import type { DiskSimStats } from "../hal/disk-sim.js";
import type { Device } from "../core/device.js";
import { CheckBook, CheckContext, type CheckFailure, type CheckSummary, ITERATION_SECTION } from "./checks.js";
import { Cycle } from "./cycle.js";
import { imxFilesCount, SuiteEnv, type SuiteOptions } from "./env.js";
import { type LeakReport, LeakMonitor } from "./leaks.js";
import { type PerformanceMetric, type Section, SECTIONS } from "./sections/index.js";

export type { SuiteOptions } from "./env.js";

export interface SectionSummary {
  id: number;
  title: string;
  status: "passed" | "failed" | "skipped" | "not run";
  skipReason: string | null;
  /** Full iterations that ran it. */
  runs: number;
  checks: number;
  checkRunsPassed: number;
  checkRunsFailed: number;
  timeMs: number;
}

export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SuiteResult {
  passed: boolean;
  board: string;
  policy: string;
  seed: number;
  storageDir: string;
  iterationsRequested: number;
  iterationsCompleted: number;
  iterationsFailed: number;
  fullEvery: number;
  fullIterations: number;
  stoppedEarly: string | null;
  durationMs: number;
  iterationsPerSecond: number;
  recordsPerIteration: number;
  sections: SectionSummary[];
  checks: CheckSummary[];
  checkRunsPassed: number;
  checkRunsFailed: number;
  failures: CheckFailure[];
  cleanupMs: LatencySummary;
  cleanupIncomplete: number;
  /** Quarantined: found corrupt when read (section 9 corrupts one on purpose), moved to corrupted/. */
  files: { created: number; deleted: number; quarantined: number; leftAtEnd: number; fsyncsSkipped: number };
  /**
   * The disk tier's space at the end (null without one): the spill limit (the quota's threshold, or
   * less when the filesystem has less room) and the filesystem's free bytes as the core reckoned
   * them (null when it reports no limit).
   */
  disk: { bytesLimit: number; freeBytes: number | null } | null;
  /** The simulated disk's statistics (IMX_TEST_DISK_*), null on the real one. */
  diskSim: DiskSimStats | null;
  /** Whether the final cleanup ran and was checked (false with the original's --skip-cleanup). */
  finalCleanup: boolean;
  leaks: LeakReport & {
    freeSectorsInitial: number;
    freeSectorsFinal: number;
    wasmMemoryBytes: number;
    wasmMemoryBytesFinal: number;
  };
  performance: PerformanceMetric[];
}

export interface SuiteUi {
  /** A line of human output. */
  line(text: string): void;
  /** Progress after each iteration. */
  progress?(done: number, total: number, failedChecks: number): void;
  /** A failed check, as it happens. */
  failure?(failure: CheckFailure): void;
}

function latency(samples: Float64Array, count: number): LatencySummary {
  if (count === 0) return { samples: 0, p50: 0, p99: 0, max: 0, mean: 0 };
  const sorted = samples.slice(0, count).sort();
  const at = (q: number): number => sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))] ?? 0;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i] ?? 0;
  return { samples: count, p50: at(0.5), p99: at(0.99), max: sorted[count - 1] ?? 0, mean: sum / count };
}

/** Puts the shared device back to a clean state after a section or cycle failed, so one failure does not cascade. */
async function deviceReset(env: SuiteEnv): Promise<void> {
  const device: Device = env.device;
  device.cancelMemoryFlush();
  for (const stream of device.streamList()) {
    device.revert(stream.source, stream.sensor);
    for (let reads = 0; reads < 1_000_000; reads++) {
      const batch = device.readBulk(stream.source, stream.sensor, device.bulkCapacity);
      if (batch.length === 0) break;
      device.ack(stream.source, stream.sensor, batch.length);
    }
  }
  const n = env.board.memory.sectorCount;
  for (let id = 0; id < n; id++) device.exports.sectorFree(id);
  device.setCleanupPolicy(env.options.policy);
  env.diskUsageRestore(device);
  await env.cleanup(device);
  if (device.countDiskFiles() > 0) device.forceCleanupAllDiskFiles();
}

/**
 * Runs the suite. `extraSections` are sections beyond the comprehensive test's ten (the battery's
 * scenarios, host/suite/battery/): selected by id in `options.sections` like the ten.
 */
export async function runSuite(
  options: SuiteOptions,
  ui: SuiteUi,
  extraSections: readonly Section[] = [],
): Promise<SuiteResult> {
  const started = performance.now();
  const env = new SuiteEnv(options);
  const book = new CheckBook();
  book.onFailure = (failure) => ui.failure?.(failure);
  if (options.verbose) {
    book.onCheck = (summary, passed, expected, actual) => {
      if (summary.section === ITERATION_SECTION || !passed) return;
      ui.line(
        `  ok   [${summary.section}] ${summary.name}: ${actual}${actual === expected ? "" : ` (expected ${expected})`}`,
      );
    };
  }
  const device = env.sharedBoot();
  const cycle = new Cycle(env);
  const n = env.board.memory.sectorCount;
  const freeInitial = n - device.countRamSectorsWithData();
  const memoryBytes = device.memory.buffer.byteLength;
  const selected = [...SECTIONS, ...extraSections].filter((s) => options.sections.includes(s.id));
  const sectionStats = new Map<number, SectionSummary>(
    selected.map((s) => [
      s.id,
      {
        id: s.id,
        title: s.title,
        status: "not run",
        skipReason: null,
        runs: 0,
        checks: 0,
        checkRunsPassed: 0,
        checkRunsFailed: 0,
        timeMs: 0,
      },
    ]),
  );
  const metrics = new Map<string, PerformanceMetric>();
  const cleanupSamples = new Float64Array(Math.max(1, options.iterations));
  let cleanupCount = 0;
  let cleanupIncomplete = 0;
  let iterationsFailed = 0;
  let fullIterations = 0;
  let stoppedEarly: string | null = null;
  let completed = 0;
  const leaks = new LeakMonitor(options.iterations);

  const abort = (error: unknown): boolean => {
    if (error instanceof CoreAssertionError) {
      stoppedEarly = error.message;
      return true;
    }
    return false;
  };

  for (let iteration = 1; iteration <= options.iterations && stoppedEarly === null; iteration++) {
    const failedBefore = book.failedTotal;
    const full = iteration === 1 || iteration % options.fullEvery === 0 || iteration === options.iterations;
    if (full) {
      fullIterations++;
      for (const section of selected) {
        const summary = sectionStats.get(section.id);
        if (summary === undefined) continue;
        if (section.needsDisk && !env.hasDisk) {
          summary.status = "skipped";
          summary.skipReason = `board ${env.board.name} has no disk tier`;
          continue;
        }
        const ctx = new CheckContext(book, section.id, iteration);
        const t0 = performance.now();
        try {
          await section.run({
            ctx,
            env,
            note: (text) => {
              if (options.verbose) ui.line(`  [${section.id}] ${text}`);
            },
            metric: (name, value, unit) => {
              metrics.set(`${name} (${unit})`, { name, value, unit });
              if (options.verbose) ui.line(`  [${section.id}] ${name}: ${value.toFixed(1)} ${unit}`);
            },
          });
          ctx.check("ran without an unexpected error", true, "no error", "no error");
        } catch (error) {
          ctx.check(
            "ran without an unexpected error",
            false,
            "no error",
            error instanceof Error ? `${error.name}: ${error.message}` : String(error),
          );
          if (abort(error)) break;
        }
        summary.timeMs += performance.now() - t0;
        summary.runs++;
        // Between sections: the section must have left nothing behind (the original deleted it by force).
        const after = await env.cleanup(device);
        const clean = ctx.check(
          "leaves nothing behind: ensureCleanupComplete finds 0 .imx files, 0 RAM sectors with data",
          after.complete && after.filesLeft === 0 && after.ramSectorsLeft === 0,
          "0 files, 0 sectors, complete",
          `${after.filesLeft} files, ${after.ramSectorsLeft} sectors, ${after.complete ? "complete" : "incomplete"}`,
        );
        if (!clean) await deviceReset(env);
        if (options.stopOnFail && book.failedTotal > failedBefore) {
          stoppedEarly = `--stop-on-fail: section ${section.id} failed in iteration ${iteration}`;
          break;
        }
      }
      if (stoppedEarly !== null) break;
    }

    const ctx = new CheckContext(book, ITERATION_SECTION, iteration);
    try {
      cycle.run(ctx);
    } catch (error) {
      ctx.check(
        "cycle: ran without an unexpected error",
        false,
        "no error",
        error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      );
      if (abort(error)) break;
      await deviceReset(env);
    }
    options.iterationHook?.(iteration, env);

    if (!options.skipIterationCleanup) {
      const result = await env.cleanup(device);
      cleanupSamples[cleanupCount++] = result.elapsedMs;
      if (!result.complete) cleanupIncomplete++;
      const files = full ? imxFilesCount(options.storageDir) : result.filesLeft;
      ctx.check(
        "ensureCleanupComplete leaves 0 .imx files and 0 RAM sectors with data",
        result.complete && files === 0 && result.ramSectorsLeft === 0,
        "0 .imx files, 0 RAM sectors with data, cleanup complete",
        `${files} .imx files and ${result.ramSectorsLeft} RAM sectors with data remained (cleanup ${result.complete ? "complete" : "incomplete"} after ${result.ticks} ticks)`,
      );
    }
    const free = n - device.countRamSectorsWithData();
    if (!options.skipIterationCleanup) ctx.equal("free sectors back to the initial count", freeInitial, free);
    ctx.equal("wasm memory size unchanged (bytes)", memoryBytes, device.memory.buffer.byteLength);
    leaks.maybeSample(iteration, full);
    if (options.verbose) {
      const ms =
        cleanupCount > 0 && !options.skipIterationCleanup ? (cleanupSamples[cleanupCount - 1] ?? 0).toFixed(2) : "-";
      ui.line(
        `iteration ${iteration}${full ? " (full)" : ""}: cleanup ${ms} ms, ${book.failedTotal - failedBefore} failed checks`,
      );
    }
    completed = iteration;
    if (book.failedTotal > failedBefore) iterationsFailed++;
    ui.progress?.(iteration, options.iterations, book.failedTotal);
    if (options.stopOnFail && book.failedTotal > failedBefore) {
      stoppedEarly = `--stop-on-fail: iteration ${iteration} failed`;
    }
  }

  // The final cleanup is checked unless skipFinalCleanup (the original's --skip-cleanup) leaves
  // what the run left for a look at the storage; with skipIterationCleanup it is the only one.
  const final = new CheckContext(book, ITERATION_SECTION, completed);
  let leftAtEnd: number;
  let freeFinal = 0;
  if (options.skipFinalCleanup === true) {
    leftAtEnd = imxFilesCount(options.storageDir);
    try {
      freeFinal = n - device.countRamSectorsWithData();
    } catch {
      // An unusable device (after a core assertion) has no count to give.
    }
  } else {
    try {
      const last = await env.cleanup(device);
      leftAtEnd = imxFilesCount(options.storageDir);
      final.check(
        "at the end: 0 .imx files anywhere in the storage directory, 0 RAM sectors with data",
        last.complete && leftAtEnd === 0 && last.ramSectorsLeft === 0,
        "0 files, 0 sectors",
        `${leftAtEnd} files, ${last.ramSectorsLeft} sectors, ${last.complete ? "complete" : "incomplete"}`,
      );
      freeFinal = n - device.countRamSectorsWithData();
      final.equal("at the end: every sector free (the initial count)", freeInitial, freeFinal);
    } catch (error) {
      // After a core assertion the device may be unusable; say so rather than throw.
      leftAtEnd = imxFilesCount(options.storageDir);
      final.check(
        "at the end: the final cleanup ran",
        false,
        "no error",
        error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      );
    }
  }

  const leakReport = leaks.report();
  const names: Record<string, string> = {
    fds: "open file descriptors",
    heapBytes: "host heap (bytes)",
    externalBytes: "external memory (bytes)",
    rssBytes: "RSS (bytes)",
  };
  for (const figure of leakReport.figures) {
    if (figure.passed === null) continue;
    final.check(
      `leak: ${names[figure.metric] ?? figure.metric} growth per 1,000 iterations`,
      figure.passed,
      `≤ ${figure.bound}`,
      (figure.per1000 ?? 0).toFixed(1),
    );
  }

  let stats = {
    filesCreated: 0,
    filesDeleted: 0,
    filesCorrupt: 0,
    diskBytesLimit: 0,
    diskFreeBytes: null as number | null,
  };
  try {
    stats = device.stats();
  } catch {
    // An unusable device (after a core assertion) counts no files of its own.
  }
  const checks = book.list();
  for (const summary of sectionStats.values()) {
    const mine = checks.filter((c) => c.section === summary.id);
    summary.checks = mine.length;
    summary.checkRunsPassed = mine.reduce((s, c) => s + c.passed, 0);
    summary.checkRunsFailed = mine.reduce((s, c) => s + c.failed, 0);
    if (summary.status !== "skipped" && summary.runs > 0)
      summary.status = summary.checkRunsFailed > 0 ? "failed" : "passed";
  }
  const durationMs = performance.now() - started;
  return {
    passed: book.failedTotal === 0 && stoppedEarly === null,
    board: env.board.name,
    policy: options.policy,
    seed: options.seed,
    storageDir: options.storageDir,
    iterationsRequested: options.iterations,
    iterationsCompleted: completed,
    iterationsFailed,
    fullEvery: options.fullEvery,
    fullIterations,
    stoppedEarly,
    durationMs,
    iterationsPerSecond: completed / (durationMs / 1000),
    recordsPerIteration: cycle.recordsPerIteration,
    sections: [...sectionStats.values()],
    checks,
    checkRunsPassed: book.passedTotal,
    checkRunsFailed: book.failedTotal,
    failures: book.failures,
    cleanupMs: latency(cleanupSamples, cleanupCount),
    cleanupIncomplete,
    files: {
      created: stats.filesCreated + env.freshFilesCreated,
      deleted: stats.filesDeleted + env.freshFilesDeleted,
      quarantined: stats.filesCorrupt + env.freshFilesCorrupt,
      leftAtEnd,
      fsyncsSkipped: env.syncs.skipped,
    },
    disk: env.board.disk === null ? null : { bytesLimit: stats.diskBytesLimit, freeBytes: stats.diskFreeBytes },
    diskSim: options.diskSim ? options.diskSim.stats() : null,
    finalCleanup: options.skipFinalCleanup !== true,
    leaks: {
      ...leakReport,
      freeSectorsInitial: freeInitial,
      freeSectorsFinal: freeFinal,
      wasmMemoryBytes: memoryBytes,
      wasmMemoryBytesFinal: device.memory.buffer.byteLength,
    },
    performance: [...metrics.values()],
  };
}
