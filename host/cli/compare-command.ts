// `imx-memsim compare --board A,B --policy P,Q [--workload F | sensor flags] [--outage S] --duration T
// [--json F] [--html F]`: every board × policy combination run to --duration on worker threads
// (host/compare/), one row each: where the records went (written = delivered + discarded +
// stored), peak RAM and disk, files and bytes written to the disk tier, upload lag, tick time.
// Bad input (an unknown board or policy, a bad duration, an output that cannot be written) exits
// 2 before any run starts and writes nothing; a row that does not add up exits 1.

import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { cleanupPolicyChoices, type CleanupPolicy, isCleanupPolicy } from "../boards.js";
import { integerFlag } from "../base/parse.js";
import { outputPathsCheck } from "../base/output-path.js";
import { UsageError } from "../base/user-error.js";
import { compareHtml } from "../compare/compare-html.js";
import { compareDocument, compareText } from "../compare/compare-report.js";
import { compareInputs, compareRunAll } from "../compare/compare.js";
import { defaultWorkload } from "../run/workload.js";
import { EXIT_FAILURE } from "./errors.js";
import { listFlag, type RunLikeOptions, runLikeOptionsAdd, runLikeSettings } from "./run-like-options.js";

export interface CompareCommandOptions extends RunLikeOptions {
  board: string;
  policy?: string;
  duration: string;
  json?: string;
  html?: string;
  workers?: string;
}

export interface CompareIo {
  out(text: string): void;
  err(text: string): void;
  /** stderr is a terminal: progress is one line drawn in place. */
  tty: boolean;
}

/** Real time between two progress lines when stderr is not a terminal (on one, the line is redrawn). */
const PROGRESS_LINE_EVERY_MS = 5000;
const PROGRESS_DRAW_EVERY_MS = 200;
/** Runs shorter than this print no progress at all. */
const PROGRESS_FIRST_AFTER_MS = 1000;

function policiesOption(text: string | undefined): CleanupPolicy[] | null {
  if (text === undefined) return null;
  return listFlag(text, "--policy").map((name) => {
    if (!isCleanupPolicy(name)) throw new UsageError(`--policy must list ${cleanupPolicyChoices()} (got "${name}")`);
    return name;
  });
}

/** Runs the command; returns its exit code (0, or 1 if a row does not add up). */
export async function compareCommand(options: CompareCommandOptions, io: CompareIo): Promise<number> {
  const boards = listFlag(options.board, "--board");
  const policies = policiesOption(options.policy);
  const cores = availableParallelism();
  const workers = options.workers === undefined ? cores : integerFlag(options.workers, "--workers", 1, 1024);
  const json = options.json === undefined ? null : resolve(options.json);
  const html = options.html === undefined ? null : resolve(options.html);
  if (json !== null && json === html) throw new UsageError(`--json and --html name the same file (${options.json})`);
  const perBoard = boards.map((board) => runLikeSettings(board, options, options.duration));
  outputPathsCheck([
    ...(json === null ? [] : [{ flag: "--json", path: json }]),
    ...(html === null ? [] : [{ flag: "--html", path: html }]),
  ]);
  const inputs = compareInputs(perBoard, policies);
  const first = perBoard[0];
  if (first === undefined || first.durationMs === null) throw new UsageError("--board names no board");
  for (const note of new Set(inputs.map((input) => input.streamsNote)))
    if (note !== null && options.quiet !== true) io.err(`compare: ${note}\n`);

  const lanes = Math.max(1, Math.min(workers, cores, inputs.length));
  const progress = progressView(
    inputs.map(
      (input) => `${input.settings.board.name}/${input.settings.policy ?? input.settings.board.tier.cleanupPolicy}`,
    ),
    lanes,
    options.quiet === true,
    io,
  );
  let results;
  try {
    results = await compareRunAll(inputs, { workers: lanes, onProgress: progress.update, onDone: progress.done });
  } finally {
    progress.stop();
  }
  const workload = first.workload ?? defaultWorkload();
  const document = compareDocument(results, {
    durationMs: first.durationMs,
    outages: first.outages.map((spec) => spec.text),
    workload: { origin: workload.origin, streams: workload.streams.length },
    seed: first.seed,
  });
  io.out(compareText(document));
  if (json !== null) writeFileSync(json, `${JSON.stringify(document, null, 2)}\n`);
  if (html !== null) writeFileSync(html, compareHtml(document, results));
  return document.runs.every((row) => row.addsUp) ? 0 : EXIT_FAILURE;
}

interface ProgressView {
  update: (index: number, fraction: number) => void;
  done: (index: number) => void;
  stop: () => void;
}

/** Progress on stderr: runs done, and the share of simulated time of those under way. */
function progressView(names: readonly string[], lanes: number, quiet: boolean, io: CompareIo): ProgressView {
  const fractions = names.map(() => 0);
  const finished = names.map(() => false);
  const started = performance.now();
  let lastMs = -Infinity;
  let drawn = false;
  const line = (): string => {
    const doneCount = finished.filter(Boolean).length;
    const active = names
      .map((name, i) =>
        fractions[i] !== undefined && fractions[i] > 0 && finished[i] !== true
          ? `${name} ${Math.floor((fractions[i] ?? 0) * 100)}%`
          : null,
      )
      .filter((text): text is string => text !== null);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    return `compare: ${doneCount}/${names.length} runs done on ${lanes} worker thread${lanes === 1 ? "" : "s"}, ${seconds} s${active.length > 0 ? `: ${active.join(", ")}` : ""}`;
  };
  const show = (force: boolean): void => {
    if (quiet) return;
    const now = performance.now();
    if (now - started < PROGRESS_FIRST_AFTER_MS && !force) return;
    if (!force && now - lastMs < (io.tty ? PROGRESS_DRAW_EVERY_MS : PROGRESS_LINE_EVERY_MS)) return;
    lastMs = now;
    drawn = true;
    io.err(io.tty ? `\r\x1b[K${line()}` : `${line()}\n`);
  };
  return {
    update: (index, fraction) => {
      fractions[index] = fraction;
      show(false);
    },
    done: (index) => {
      finished[index] = true;
      fractions[index] = 1;
      if (performance.now() - started >= PROGRESS_FIRST_AFTER_MS) show(!io.tty);
    },
    stop: () => {
      if (quiet || !drawn) return;
      if (io.tty) io.err(`\r\x1b[K${line()}\n`);
    },
  };
}

export function registerCompareCommand(program: Command): void {
  const command = program
    .command("compare")
    .description(
      "run every board × policy combination (on worker threads) and compare where the records went, RAM, disk, flash wear and upload lag",
    )
    .requiredOption("--board <names>", "boards to compare, comma-separated names or paths (e.g. esp32,fc1-imx6)")
    .option(
      "--policy <policies>",
      `cleanup policies, comma-separated: ${cleanupPolicyChoices()} (default: each board's)`,
    )
    .requiredOption("--duration <time>", "simulated time of each run, e.g. 1d or 6h");
  runLikeOptionsAdd(command, 'uplink outages, e.g. "6h every 1d", "2h at 3h" (repeatable)')
    .option("--json <file>", 'write {"runs": [{"board", "policy", ...figures}]} (schemas/compare.v1.schema.json)')
    .option("--html <file>", "write a self-contained page (works offline) with the table and charts")
    .option("--workers <n>", "worker threads (default and most: the number of cores)")
    .action(async (options: CompareCommandOptions) => {
      const code = await compareCommand(options, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        // isTTY is undefined, not false, when stderr is not a terminal (the types say boolean).
        tty: (process.stderr.isTTY as boolean | undefined) === true,
      });
      if (code !== 0) process.exitCode = code;
    });
}
