// `imx-memsim test`: the comprehensive memory test, the project's main job (host/suite/run.ts).
// Flags follow the original comprehensive_memory_test where it had one. On a terminal a progress
// bar (stderr) shows iterations/s and the ETA; elsewhere plain progress lines every ~5% or 5 s.
// Then a summary table; --json writes the whole result. Exit 0 only if every check passed.

import { existsSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { type CleanupPolicy, DEFAULT_BOARD_NAME, cleanupPolicyChoices, isCleanupPolicy, loadBoard } from "../boards.js";
import { DISK_FULL_OPTION_HELP, diskFullOptionApply, diskFullOptionCheck } from "./disk-full-option.js";
import type { CheckFailure } from "../suite/checks.js";
import { LEAK_BOUNDS_PER_1000, LEAK_SPAN_MIN_ITERATIONS, type LeakFigure } from "../suite/leaks.js";
import { runSuite, type SuiteResult, type SuiteUi } from "../suite/run.js";
import { SECTION_COUNT, SECTIONS } from "../suite/sections/index.js";
import { bytesHuman } from "./boards-command.js";
import { bytesShort } from "../run/report.js";
import { integerFlag } from "../base/parse.js";
import { DiskSim, type DiskSimMode } from "../hal/disk-sim.js";
import { DISK_ENV, DISK_MODE_CHOICES, DISK_SIZE_MB_MAX, testDiskSettings } from "./test-disk-env.js";
import { UsageError } from "../base/user-error.js";
import { EXIT_FAILURE } from "./errors.js";
import { scratchStoragePrepare } from "./scratch-storage.js";

export const TEST_ITERATIONS_DEFAULT = 1000;
export const TEST_FULL_EVERY_DEFAULT = 1000;
export const TEST_ITERATIONS_MAX = 100_000_000;
/** Failures printed as they happen (all of them are in --json). */
const FAILURES_PRINTED_MAX = 20;
const PROGRESS_LINE_MS = 5000;

export interface TestCommandOptions {
  section?: string;
  iterations?: string;
  diskUsage?: string;
  diskSize?: string;
  diskMode?: string;
  diskLog?: boolean;
  verbose?: boolean;
  stopOnFail?: boolean;
  skipCleanup?: boolean;
  skipIterationCleanup?: boolean;
  board?: string;
  storage?: string;
  keep?: boolean;
  policy?: string;
  diskFull?: string;
  seed?: string;
  json?: string;
  fullEvery?: string;
  fsync?: boolean;
}

export interface TestIo {
  /** The environment the IMX_TEST_DISK_* variables are read from (process.env by default). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Human output (the summary): stdout. */
  out(text: string): void;
  /** Progress and failures as they happen: stderr. */
  err(text: string): void;
  /** Whether err is a terminal (a progress bar) or not (plain lines). */
  tty: boolean;
}

function integerIn(text: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  return text === undefined ? fallback : integerFlag(text, flag, min, max);
}

const num = (value: number, digits = 2): string => value.toFixed(digits);

function diskSimModeText(mode: DiskSimMode): string {
  switch (mode) {
    case "normal":
      return "its own size";
    case "gradual":
      return "gradual: others fill it from 50% by 1 MB per free-space query";
    case "fail5":
      return "fail5: no free space after 5 free-space queries";
  }
}

function bytesSigned(bytes: number): string {
  const sign = bytes < 0 ? "−" : "+";
  const abs = Math.abs(bytes);
  if (abs >= 1024 * 1024) return `${sign}${num(abs / (1024 * 1024))} MiB`;
  if (abs >= 1024) return `${sign}${num(abs / 1024, 1)} KiB`;
  return `${sign}${Math.round(abs)} B`;
}

function figureText(figure: LeakFigure): string {
  const names: Record<string, string> = { fds: "fds", heapBytes: "heap", externalBytes: "external", rssBytes: "RSS" };
  const name = names[figure.metric] ?? figure.metric;
  if (figure.per1000 === null) return `${name} n/a`;
  const value =
    figure.metric === "fds"
      ? `${figure.per1000 >= 0 ? "+" : "−"}${num(Math.abs(figure.per1000), 1)}`
      : bytesSigned(figure.per1000);
  const bound = figure.metric === "fds" ? String(figure.bound) : bytesSigned(figure.bound).slice(1);
  const verdict = figure.passed === null ? "" : figure.passed ? "" : " FAIL";
  return `${name} ${value} (≤ ${bound})${verdict}`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

function padLeft(text: string, width: number): string {
  return text.length >= width ? text : " ".repeat(width - text.length) + text;
}

/** The summary printed after the run. */
export function testSummary(result: SuiteResult): string {
  const lines: string[] = [];
  const titleWidth = 58;
  lines.push(
    `${pad("section", titleWidth + 4)}${padLeft("runs", 7)}${padLeft("checks", 8)}${padLeft("passed", 10)}${padLeft("failed", 8)}  ${pad("status", 8)}${padLeft("ms", 10)}`,
  );
  for (const s of result.sections) {
    const title = s.title.length > titleWidth ? `${s.title.slice(0, titleWidth - 1)}…` : s.title;
    const status = s.status === "skipped" ? "skipped" : s.status;
    lines.push(
      `${padLeft(String(s.id), 2)}  ${pad(title, titleWidth)}${padLeft(String(s.runs), 7)}${padLeft(String(s.checks), 8)}${padLeft(String(s.checkRunsPassed), 10)}${padLeft(String(s.checkRunsFailed), 8)}  ${pad(status, 8)}${padLeft(num(s.timeMs, 1), 10)}` +
        (s.skipReason ? `  (${s.skipReason})` : ""),
    );
  }
  const iterationChecks = result.checks.filter((c) => c.section === 0);
  const itPassed = iterationChecks.reduce((sum, c) => sum + c.passed, 0);
  const itFailed = iterationChecks.reduce((sum, c) => sum + c.failed, 0);
  lines.push(
    ` -  ${pad("every iteration: cycle, cleanup, free sectors, memory, leaks", titleWidth)}${padLeft(String(result.iterationsCompleted), 7)}${padLeft(String(iterationChecks.length), 8)}${padLeft(String(itPassed), 10)}${padLeft(String(itFailed), 8)}  ${pad(itFailed > 0 ? "failed" : "passed", 8)}`,
  );
  lines.push("");
  const c = result.cleanupMs;
  lines.push(
    `iterations   ${result.iterationsCompleted} of ${result.iterationsRequested} in ${num(result.durationMs / 1000, 1)} s (${num(result.iterationsPerSecond, 0)} it/s), ` +
      `${result.fullIterations} full (sections every ${result.fullEvery}), ${result.recordsPerIteration} records each, ${result.iterationsFailed} failed`,
  );
  lines.push(
    c.samples === 0
      ? `cleanup      not run between iterations (--skip-iteration-cleanup); ${result.finalCleanup ? "the final cleanup was checked" : "nor at the end"}`
      : `cleanup      per iteration p50 ${num(c.p50, 3)} ms, p99 ${num(c.p99, 3)} ms, max ${num(c.max, 3)} ms (${c.samples} iterations, ${result.cleanupIncomplete} incomplete)` +
          (result.finalCleanup ? "" : "; the final cleanup was skipped (--skip-cleanup)"),
  );
  lines.push(
    `files        ${result.files.created} .imx files created, ${result.files.deleted} deleted, ` +
      (result.files.quarantined > 0 ? `${result.files.quarantined} quarantined (found corrupt when read), ` : "") +
      `${result.files.leftAtEnd} left at the end` +
      (result.files.fsyncsSkipped > 0 ? ` (${result.files.fsyncsSkipped} fsyncs skipped; --fsync to sync)` : ""),
  );
  if (result.disk !== null)
    lines.push(
      `disk space   spill limit ${bytesShort(result.disk.bytesLimit)}, filesystem ` +
        (result.disk.freeBytes === null ? "without a limit" : `${bytesShort(result.disk.freeBytes)} free`),
    );
  if (result.diskSim !== null) {
    const d = result.diskSim;
    lines.push(
      `disk sim     ${diskSimModeText(d.mode)} on ${bytesHuman(d.sizeBytes)}: ${d.freeQueries} free-space queries, ` +
        `${d.simulatedAnswers} answered below the real figure, ${d.noSpaceAnswers} with no space`,
    );
  }
  const l = result.leaks;
  lines.push(
    `leaks        free sectors ${l.freeSectorsInitial} → ${l.freeSectorsFinal}, wasm memory ${bytesHuman(l.wasmMemoryBytes)} → ${bytesHuman(l.wasmMemoryBytesFinal)}`,
  );
  lines.push(
    `             per 1,000 iterations: ${l.figures.map(figureText).join(", ")}` +
      (l.judged
        ? ` [${l.samples} samples over ${l.spanIterations} iterations, gc ${l.gc}]`
        : ` [not judged: needs samples over ≥ ${LEAK_SPAN_MIN_ITERATIONS} iterations after the warm-up]`),
  );
  if (result.performance.length > 0) {
    const fmt = (v: number): string => (v >= 1e6 ? `${num(v / 1e6)} M` : v >= 1e3 ? `${num(v / 1e3, 1)} k` : num(v, 2));
    lines.push(
      `performance  ${result.performance.map((m) => `${m.name} ${fmt(m.value)} ${m.unit}`).join("; ")} (reported, not asserted)`,
    );
  }
  if (result.failures.length > 0) {
    lines.push("");
    lines.push(`first failures (${result.checkRunsFailed} failed check runs in all):`);
    for (const f of result.failures.slice(0, 10)) lines.push(`  ${failureText(f)}`);
  }
  if (result.stoppedEarly) lines.push(`stopped      ${result.stoppedEarly}`);
  lines.push(`result       ${result.passed ? "PASS" : "FAIL"}`);
  return lines.join("\n") + "\n";
}

export function failureText(f: CheckFailure): string {
  const where = f.section === 0 ? "iteration" : `section ${f.section}`;
  return `FAIL iteration ${f.iteration}, ${where}: ${f.check}: expected ${f.expected}, got ${f.actual}`;
}

function progressUi(io: TestIo, total: number): { ui: SuiteUi; stop(): void } {
  const started = performance.now();
  let printedFailures = 0;
  const buffered: string[] = [];
  let bar: cliProgress.SingleBar | null = null;
  let lastLineMs = started;
  let nextPercent = 5;
  if (io.tty) {
    bar = new cliProgress.SingleBar(
      {
        format: "test |{bar}| {value}/{total} iterations | {rate} it/s | ETA {eta_formatted} | {failed} failed checks",
        barsize: 30,
        hideCursor: true,
        etaBuffer: 200,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { rate: "0", failed: 0 });
  }
  const failure = (f: CheckFailure): void => {
    if (printedFailures >= FAILURES_PRINTED_MAX) return;
    printedFailures++;
    const text =
      failureText(f) +
      (printedFailures === FAILURES_PRINTED_MAX
        ? `\n(further failures are not printed as they happen; see the summary and --json)`
        : "");
    if (bar) buffered.push(text);
    else io.err(text + "\n");
  };
  const ui: SuiteUi = {
    line: (text) => {
      if (bar) buffered.push(text);
      else io.out(text + "\n");
    },
    failure,
    progress: (done, all, failed) => {
      const now = performance.now();
      const rate = done / Math.max(1e-9, (now - started) / 1000);
      if (bar) {
        bar.update(done, { rate: num(rate, 0), failed });
        return;
      }
      const percent = (done * 100) / all;
      if (percent >= nextPercent || now - lastLineMs >= PROGRESS_LINE_MS || done === all) {
        while (nextPercent <= percent) nextPercent += 5;
        lastLineMs = now;
        const etaS = (all - done) / Math.max(rate, 1e-9);
        io.err(
          `test: ${done}/${all} iterations (${num(percent, 0)}%), ${num(rate, 0)} it/s, ETA ${num(etaS, 0)} s, ${failed} failed checks\n`,
        );
      }
    },
  };
  return {
    ui,
    stop: () => {
      bar?.stop();
      for (const text of buffered) io.err(text + "\n");
    },
  };
}

/** Parses the flags, runs the suite and prints; returns the result (the caller sets the exit code). */
export async function testCommandRun(options: TestCommandOptions, io: TestIo): Promise<SuiteResult> {
  const section = integerIn(options.section, "--section", 0, SECTION_COUNT, 0);
  const iterations = integerIn(options.iterations, "--iterations", 1, TEST_ITERATIONS_MAX, TEST_ITERATIONS_DEFAULT);
  const fullEvery = integerIn(options.fullEvery, "--full-every", 1, TEST_ITERATIONS_MAX, TEST_FULL_EVERY_DEFAULT);
  const seed = integerIn(options.seed, "--seed", 0, 0xffffffff, 1);
  if (options.policy !== undefined && !isCleanupPolicy(options.policy)) {
    throw new UsageError(`--policy must be ${cleanupPolicyChoices()} (got "${options.policy}")`);
  }
  diskFullOptionCheck(options.diskFull);
  const board = diskFullOptionApply(loadBoard(options.board ?? DEFAULT_BOARD_NAME), options.diskFull);
  const disk = testDiskSettings(options, io.env ?? process.env);
  const diskUsagePercent = disk.usagePercent;
  if (diskUsagePercent !== null && board.disk === null) {
    const from = options.diskUsage !== undefined ? "--disk-usage" : DISK_ENV.usage;
    throw new UsageError(`${from} needs a disk tier; board ${board.name} has none`);
  }
  if (disk.sim !== null && board.disk === null) {
    const from =
      options.diskSize !== undefined
        ? "--disk-size"
        : options.diskMode !== undefined
          ? "--disk-mode"
          : "IMX_TEST_DISK_SIZE/MODE";
    throw new UsageError(`${from} needs a disk tier; board ${board.name} has none`);
  }
  if (options.skipCleanup === true && options.skipIterationCleanup === true) {
    throw new UsageError(
      "--skip-cleanup and --skip-iteration-cleanup cannot be combined (the run would clean up nothing)",
    );
  }
  const diskSim =
    disk.sim === null
      ? null
      : new DiskSim({
          sizeBytes: disk.sim.sizeBytes,
          mode: disk.sim.mode,
          log: disk.sim.log ? (line) => io.err(line + "\n") : null,
        });
  if (options.json !== undefined && !existsSync(dirname(resolve(options.json)))) {
    throw new UsageError(`--json ${options.json}: the directory ${dirname(resolve(options.json))} does not exist`);
  }
  const policy: CleanupPolicy =
    options.policy !== undefined && isCleanupPolicy(options.policy) ? options.policy : board.tier.cleanupPolicy;
  const storage = scratchStoragePrepare(
    options.storage,
    "test",
    "the test needs an empty directory it may fill and clean",
  );
  const sections = section === 0 ? SECTIONS.map((s) => s.id) : [section];
  io.out(
    `imx-memsim test: board ${board.name} (${board.memory.sectorCount} sectors of ${board.memory.sectorBytes} B, ` +
      `${board.disk ? `disk quota ${bytesHuman(board.disk.quotaBytes)}` : "no disk tier"}), policy ${policy}, seed ${seed}` +
      (diskUsagePercent !== null ? `, disk ${diskUsagePercent}% used` : "") +
      (diskSim !== null
        ? `, simulated disk of ${bytesHuman(diskSim.sizeBytes)} (${diskSimModeText(diskSim.mode)})`
        : "") +
      `\n  ${iterations} iterations of write/spill/read/ACK/cleanup; section${sections.length > 1 ? `s ${sections[0]}–${sections[sections.length - 1]}` : ` ${sections[0]}`} ` +
      `in full on iteration 1, every ${fullEvery}th and the last; storage ${storage.dir}${options.fsync ? " (fsync on)" : ""}\n` +
      disk.notes.map((note) => `  ${note}\n`).join(""),
  );
  const keep = options.keep === true || options.skipCleanup === true;
  const progress = progressUi(io, iterations);
  let result: SuiteResult;
  try {
    result = await runSuite(
      {
        board,
        storageDir: storage.dir,
        iterations,
        sections,
        fullEvery,
        policy,
        diskUsagePercent,
        seed,
        stopOnFail: options.stopOnFail === true,
        skipIterationCleanup: options.skipIterationCleanup === true,
        skipFinalCleanup: options.skipCleanup === true,
        diskSim,
        fsync: options.fsync === true,
        verbose: options.verbose === true,
      },
      progress.ui,
    );
  } finally {
    progress.stop();
    if (storage.temporary && !keep) rmSync(storage.dir, { recursive: true, force: true });
  }
  io.out("\n" + testSummary(result));
  if (options.skipCleanup === true) io.out(`storage      kept (--skip-cleanup): ${storage.dir}\n`);
  if (options.json !== undefined) {
    writeFileSync(
      options.json,
      JSON.stringify(
        {
          command: "test",
          options: { ...options, policy, diskUsagePercent, sections },
          leakBoundsPer1000: LEAK_BOUNDS_PER_1000,
          ...result,
        },
        null,
        2,
      ) + "\n",
    );
    io.out(`wrote ${options.json}\n`);
  }
  return result;
}

const HELP_AFTER = `
An iteration writes about 100 RAM sectors of records on 4 streams, flushes half of them to .imx
files, reads everything back (disk first, then RAM), checks every record exactly and acknowledges
it; then ensureCleanupComplete must leave 0 .imx files in the storage directory and 0 RAM sectors
with data, or the iteration fails and says how many remained. Iteration 1, every --full-every-th
iteration and the last also run the selected sections in full:
${SECTIONS.map((s) => `  ${String(s.id).padStart(2)}  ${s.title}${s.needsDisk ? " [disk tier]" : ""}`).join("\n")}

Leaks: after every iteration the free sectors must be back at their initial count and the wasm
memory at its size. File descriptors, heap, external memory and RSS are sampled ~50 times; their
growth per 1,000 iterations (slope after the first 20%) fails the run above: fds ${LEAK_BOUNDS_PER_1000.fds},
heap ${LEAK_BOUNDS_PER_1000.heapBytes / 1024 / 1024} MiB, external ${LEAK_BOUNDS_PER_1000.externalBytes / 1024 / 1024} MiB, RSS ${LEAK_BOUNDS_PER_1000.rssBytes / 1024 / 1024} MiB (judged when the samples span ≥ ${LEAK_SPAN_MIN_ITERATIONS} iterations).

Disk simulation, as the original's memory_test_disk_sim: ${DISK_ENV.usage}=PCT is --disk-usage;
${DISK_ENV.size}=MB (--disk-size) puts the storage on a simulated filesystem of that size (10 GB
when only a mode is given): the core's free-space queries see its size less what the disk tier
holds; ${DISK_ENV.mode}=gradual (--disk-mode) has other writers fill it from 50% by 1 MB per query,
fail5 answers 0 bytes free from the 6th query on; ${DISK_ENV.log}=1 (--disk-log) prints each query.
Only the answers are simulated: writes go to the real directory. A flag wins over its variable; the
run's first lines say which values came from where.

--skip-cleanup keeps what the run left: no final cleanup (and no check of it) and the storage stays,
as the original's flag; --skip-iteration-cleanup skips the cleanup between iterations instead.

Without --fsync the disk tier's writes are not fsynced: the test checks the memory manager and its
files, not power-loss durability (test/crash does), and an fsync costs milliseconds per file.
Exit status: 0 if every check passed, 1 if any failed, 2 for bad input.`;

export function registerTestCommand(program: Command): void {
  program
    .command("test")
    .description("the comprehensive memory test: N clean iterations, 10 sections, leak detection (the main job)")
    .option("--section <n>", `run only section n in full (1–${SECTION_COUNT}; 0 = all)`, "0")
    .option("--iterations <n>", "iterations", String(TEST_ITERATIONS_DEFAULT))
    .option(
      "--disk-usage <pct>",
      `the disk tier behaves as if pct% of its quota were already used (env ${DISK_ENV.usage}; the flag wins)`,
    )
    .option(
      "--disk-size <mb>",
      `simulate a filesystem of mb MB (1 to ${DISK_SIZE_MB_MAX}) under the storage (env ${DISK_ENV.size})`,
    )
    .option("--disk-mode <mode>", `simulated filesystem: ${DISK_MODE_CHOICES} (env ${DISK_ENV.mode})`)
    .option("--disk-log", `print every free-space query of the simulated filesystem (env ${DISK_ENV.log}=1)`)
    .option("--verbose", "print every section check and a line per iteration")
    .option("--stop-on-fail", "stop after the first iteration or section with a failed check")
    .option(
      "--skip-cleanup",
      "as the original: skip the final cleanup and keep the storage (the cleanup between iterations still runs)",
    )
    .option(
      "--skip-iteration-cleanup",
      "no ensureCleanupComplete between iterations (the final cleanup is still checked)",
    )
    .option("--board <name-or-path>", "board name in boards/, or a path to a board JSON file", DEFAULT_BOARD_NAME)
    .option(
      "--storage <dir>",
      "an empty directory for the disk tier (default: a fresh temp directory, removed afterwards)",
    )
    .option("--keep", "keep the temp storage directory")
    .option(
      "--policy <policy>",
      `cleanup policy of the shared device: ${cleanupPolicyChoices()} (default: the board's)`,
    )
    .option("--disk-full <policy>", DISK_FULL_OPTION_HELP)
    .option("--seed <n>", "seed of the values written (a failure replays with the same seed)", "1")
    .option("--json <file>", "write the whole result as JSON")
    .option(
      "--full-every <n>",
      "run the sections in full every n iterations (1 = every iteration, as the original)",
      String(TEST_FULL_EVERY_DEFAULT),
    )
    .option("--fsync", "fsync the disk tier's files and directories (slow; off by default)")
    .addHelpText("after", HELP_AFTER)
    .action(async (options: TestCommandOptions, command: Command) => {
      const merged = {
        ...options,
        verbose: options.verbose === true || command.optsWithGlobals<{ verbose?: boolean }>().verbose === true,
      };
      const result = await testCommandRun(merged, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        // isTTY is undefined, not false, when stderr is not a terminal (the types say boolean).
        tty: (process.stderr.isTTY as boolean | undefined) === true,
      });
      if (!result.passed) process.exitCode = EXIT_FAILURE;
    });
}
