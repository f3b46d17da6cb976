// `imx-memsim sim`: the deterministic simulator (host/sim/simulator.ts) over a range of seeds. Each
// seed is one device life story on a faulty disk, checked against the model after every step.
// Prints a progress bar (plain lines when stderr is not a terminal), each failure with its seed as
// it happens, and a summary; exits 1 if any seed failed. SEED=<n> replays exactly one seed.

import { writeFileSync } from "node:fs";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import {
  type Board,
  TIER_MODES,
  type TierMode,
  cleanupPolicyChoices,
  isCleanupPolicy,
  isDiskFullPolicy,
  loadBoard,
} from "../boards.js";
import { DISK_FULL_OPTION_HELP, diskFullOptionCheck } from "./disk-full-option.js";
import type { FaultKind } from "../hal/faulty.js";
import { FAULT_PROFILES, type SimResult } from "../sim/options.js";
import { seedFromEnv, simulateSeed } from "../sim/simulator.js";
import { SimFailure } from "../sim/trace.js";
import { outputPathCheck } from "../base/output-path.js";
import { integerFlag } from "../base/parse.js";
import { UsageError } from "../base/user-error.js";
import { EXIT_FAILURE } from "./errors.js";

export const SIM_DEFAULT_BOARD = "tiny";
export const SIM_DEFAULT_STEPS = 300;
const PROGRESS_LINE_MS = 2000;
const FAILURE_LINES_MAX = 30;

export interface SimCommandOptions {
  seeds: string;
  from: string;
  board: string;
  steps: string;
  faults: string;
  policy?: string;
  diskFull?: string;
  tierMode?: string;
  json?: string;
}

export interface SimIo {
  out(text: string): void;
  err(text: string): void;
  /** Draw a progress bar (stderr is a terminal) rather than plain progress lines. */
  tty: boolean;
  env: NodeJS.ProcessEnv;
}

export interface SimSeedFailure {
  seed: number;
  step: number;
  detail: string;
  message: string;
}

export interface SimSummary {
  board: string;
  /** The --board value as given (a name or a path to a board file), which the replay line repeats. */
  boardGiven: string;
  faults: string;
  policy: string | null;
  diskFull: string | null;
  /** --tier-mode, null for the board's. */
  tierMode: string | null;
  steps: number;
  seedFrom: number;
  seeds: number;
  seedsPassed: number;
  stepsRun: number;
  crashes: number;
  restarts: number;
  shadowChecks: number;
  halOps: number;
  faultsInjected: number;
  faultsByKind: Record<FaultKind, number>;
  recordsWritten: number;
  recordsDelivered: number;
  recordsAcked: number;
  recordsLostRam: number;
  recordsDiscarded: number;
  filesQuarantined: number;
  filesMisplaced: number;
  filesMovedBack: number;
  failures: SimSeedFailure[];
  elapsedMs: number;
  passed: boolean;
}

function boardWithDisk(nameOrPath: string): Board {
  const board = loadBoard(nameOrPath);
  if (!board.disk)
    throw new UsageError(`board ${board.name} has no disk tier; the simulator needs one (try --board tiny)`);
  return board;
}

/** Runs the seeds; reports progress and failures through `io`; returns the summary. */
export async function simRun(options: SimCommandOptions, io: SimIo): Promise<SimSummary> {
  const replay = (() => {
    try {
      return seedFromEnv(io.env);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  })();
  const seeds = replay === null ? integerFlag(options.seeds, "--seeds", 1, 1_000_000) : 1;
  const from = replay ?? integerFlag(options.from, "--from", 0, 0xffffffff);
  if (from + seeds - 1 > 0xffffffff) throw new UsageError("--from + --seeds goes past the largest seed, 2^32 − 1");
  const steps = integerFlag(options.steps, "--steps", 1, 1_000_000);
  const board = boardWithDisk(options.board);
  if (!Object.hasOwn(FAULT_PROFILES, options.faults)) {
    throw new UsageError(`--faults must be one of ${Object.keys(FAULT_PROFILES).join(", ")} (got "${options.faults}")`);
  }
  const policy = options.policy;
  if (policy !== undefined && !isCleanupPolicy(policy)) {
    throw new UsageError(`--policy must be ${cleanupPolicyChoices()} (got "${policy}")`);
  }
  const diskFull = options.diskFull;
  diskFullOptionCheck(diskFull);
  const tierMode = options.tierMode;
  if (tierMode !== undefined && !(TIER_MODES as readonly string[]).includes(tierMode))
    throw new UsageError(`--tier-mode must be ${TIER_MODES.join(" or ")} (got "${tierMode}")`);
  const tierModeChosen: TierMode | undefined = TIER_MODES.find((mode) => mode === tierMode);

  const summary: SimSummary = {
    board: board.name,
    boardGiven: options.board,
    faults: options.faults,
    policy: policy ?? null,
    diskFull: diskFull ?? null,
    tierMode: tierMode ?? null,
    steps,
    seedFrom: from,
    seeds,
    seedsPassed: 0,
    stepsRun: 0,
    crashes: 0,
    restarts: 0,
    shadowChecks: 0,
    halOps: 0,
    faultsInjected: 0,
    faultsByKind: { "io-error": 0, enospc: 0, "torn-write": 0, "zero-tail": 0, crash: 0 },
    recordsWritten: 0,
    recordsDelivered: 0,
    recordsAcked: 0,
    recordsLostRam: 0,
    recordsDiscarded: 0,
    filesQuarantined: 0,
    filesMisplaced: 0,
    filesMovedBack: 0,
    failures: [],
    elapsedMs: 0,
    passed: false,
  };
  const started = performance.now();
  const bar = io.tty
    ? new cliProgress.SingleBar(
        {
          format: "sim |{bar}| {value}/{total} seeds | {failed} failed | ETA {eta_formatted}",
          barsize: 30,
          hideCursor: true,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const report = (text: string): void => {
    if (bar) bar.stop();
    io.err(text);
    if (bar) bar.start(seeds, summary.seedsPassed + summary.failures.length, { failed: summary.failures.length });
  };
  bar?.start(seeds, 0, { failed: 0 });
  let lastLineMs = started;
  try {
    for (let i = 0; i < seeds; i++) {
      const seed = from + i;
      let result: SimResult | null = null;
      try {
        // The board as given, so that a failure's replay line names a board file by its path.
        const seedOptions = {
          board: options.board,
          steps,
          faults: options.faults,
          ...(policy ? { policy } : {}),
          ...(diskFull !== undefined && isDiskFullPolicy(diskFull) ? { diskFull } : {}),
          ...(tierModeChosen === undefined ? {} : { tierMode: tierModeChosen }),
        };
        result = await simulateSeed(seed, seedOptions);
      } catch (e) {
        const failure: SimSeedFailure =
          e instanceof SimFailure
            ? { seed, step: e.step, detail: e.detail, message: e.message }
            : {
                seed,
                step: -1,
                detail: String(e),
                message: `sim seed=${seed}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
              };
        summary.failures.push(failure);
        report(`${failure.message.split("\n").slice(0, FAILURE_LINES_MAX).join("\n")}\n`);
      }
      if (result) {
        summary.seedsPassed++;
        summary.stepsRun += result.steps;
        summary.crashes += result.crashes;
        summary.restarts += result.restarts;
        summary.shadowChecks += result.shadowChecks;
        summary.halOps += result.halOps;
        summary.faultsInjected += result.faultsInjected;
        for (const [kind, n] of Object.entries(result.faultsByKind) as Array<[FaultKind, number]>)
          summary.faultsByKind[kind] += n;
        summary.recordsWritten += result.recordsWritten;
        summary.recordsDelivered += result.recordsDelivered;
        summary.recordsAcked += result.recordsAcked;
        summary.recordsLostRam += result.recordsLostRam;
        summary.recordsDiscarded += result.recordsDiscarded;
        summary.filesQuarantined += result.filesQuarantined;
        summary.filesMisplaced += result.filesMisplaced;
        summary.filesMovedBack += result.filesMovedBack;
      }
      const done = i + 1;
      if (bar) {
        bar.update(done, { failed: summary.failures.length });
      } else {
        const now = performance.now();
        if (now - lastLineMs >= PROGRESS_LINE_MS || done === seeds) {
          lastLineMs = now;
          io.err(`sim: ${done}/${seeds} seeds, ${summary.failures.length} failed\n`);
        }
      }
    }
  } finally {
    bar?.stop();
  }
  summary.elapsedMs = performance.now() - started;
  summary.passed = summary.failures.length === 0;
  return summary;
}

export function simSummaryText(s: SimSummary): string {
  const kinds = Object.entries(s.faultsByKind)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(", ");
  const lines = [
    `board        ${s.board}, faults ${s.faults}, policy ${s.policy ?? "drawn per seed"}, ${s.steps} steps per seed`,
    `seeds        ${s.seeds} (${s.seedFrom} … ${s.seedFrom + s.seeds - 1}), ${s.seedsPassed} passed, ${s.failures.length} failed`,
    `steps        ${s.stepsRun} (passed seeds), ${s.halOps} HAL operations, ${s.shadowChecks} shadow power-cut checks`,
    `power        ${s.crashes} power cuts, ${s.restarts} graceful restarts`,
    `faults       ${s.faultsInjected} injected${kinds === "" ? "" : ` (${kinds})`}`,
    `records      ${s.recordsWritten} written, ${s.recordsDelivered} delivered, ${s.recordsAcked} acknowledged, ` +
      `${s.recordsLostRam} lost with RAM at power cuts, ${s.recordsDiscarded} discarded (RAM full)`,
    `files        ${s.filesQuarantined} quarantined (damaged by injected faults)` +
      (s.filesMisplaced > 0
        ? `, ${s.filesMisplaced} moved to another bucket, ${s.filesMovedBack} moved back at boot`
        : ""),
  ];
  if (s.failures.length > 0) {
    lines.push(`failed seeds ${s.failures.map((f) => f.seed).join(", ")}`);
    const first = s.failures[0];
    if (first)
      lines.push(
        `replay       SEED=${first.seed} imx-memsim sim --board ${s.boardGiven} --steps ${s.steps}${s.faults === "default" ? "" : ` --faults ${s.faults}`}${s.policy ? ` --policy ${s.policy}` : ""}${s.diskFull ? ` --disk-full ${s.diskFull}` : ""}${s.tierMode ? ` --tier-mode ${s.tierMode}` : ""}`,
      );
  }
  lines.push(`time         ${(s.elapsedMs / 1000).toFixed(1)} s`);
  lines.push(`result       ${s.passed ? "PASS" : "FAIL"}`);
  return `${lines.join("\n")}\n`;
}

export function registerSimCommand(program: Command): void {
  program
    .command("sim")
    .description("run the deterministic crash and fault simulator over a range of seeds (SEED=<n> replays one)")
    .option("--seeds <n>", "how many seeds to run", "100")
    .option("--from <seed>", "first seed", "1")
    .option("--board <name-or-path>", "board with a disk tier", SIM_DEFAULT_BOARD)
    .option("--steps <n>", "workload steps per seed", String(SIM_DEFAULT_STEPS))
    .option("--faults <profile>", `fault profile: ${Object.keys(FAULT_PROFILES).join(", ")}`, "default")
    .option("--policy <policy>", `cleanup policy: ${cleanupPolicyChoices()} (default: drawn per seed)`)
    .option("--disk-full <policy>", DISK_FULL_OPTION_HELP)
    .option("--tier-mode <mode>", "tier mode: spill or direct (MM2's direct tiered allocation; default: the board's)")
    .option("--json <file>", "also write the summary, failures included, as JSON to this file")
    .action(async (options: SimCommandOptions) => {
      const io: SimIo = {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        // isTTY is undefined, not false, when stderr is not a terminal (the types say boolean).
        tty: (process.stderr.isTTY as boolean | undefined) === true,
        env: process.env,
      };
      if (options.json !== undefined) outputPathCheck({ flag: "--json", path: options.json });
      const summary = await simRun(options, io);
      io.out(simSummaryText(summary));
      if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(summary, null, 2)}\n`);
      if (!summary.passed) process.exitCode = EXIT_FAILURE;
    });
}
