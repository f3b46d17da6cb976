// `imx-memsim bench`: runs the benchmark suite (host/bench/suite.ts), prints a table, and writes
// the JSON report, the HTML page and the comparison against a saved report on request.

import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { type OutputPath, outputPathsCheck } from "../base/output-path.js";
import { UsageError } from "../base/user-error.js";
import { type BenchReport, benchmarkNamesParse, runBench } from "../bench/suite.js";
import { PEERS_INSTALL } from "../bench/peer-outbox.js";
import { compareReports, comparisonText, reportHtml, reportTable } from "../bench/report.js";

export interface BenchCommandOptions {
  only?: string;
  board?: string;
  json?: string;
  html?: string;
  compare?: string;
  quick?: boolean;
  peers?: boolean;
  /** Where the peers are installed (default: $IMX_MEMSIM_PEERS_DIR, else bench/peers under the package root). */
  peersDir?: string;
}

// The fields of a saved report that the comparison reads; anything else may be missing or extra.
const baselineSchema = z.object({
  board: z.string(),
  quick: z.boolean(),
  machine: z.object({ model: z.string(), cores: z.number() }),
  benchmarks: z.array(
    z.object({
      name: z.string(),
      figures: z.array(
        z.object({
          id: z.string(),
          median: z.number(),
          ratio: z.number().optional(),
          noise: z.number().optional(),
          compareBy: z.string().optional(),
        }),
      ),
      counters: z.record(z.string(), z.number()),
    }),
  ),
});

/** The saved report of --compare; a UsageError (exit 2) naming the file and the field if it is not one. */
export function baselineRead(file: string): BenchReport {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `--compare ${file}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--compare ${file}: not JSON: ${(error as Error).message.replace(/\s*\n\s*/g, " ")}`);
  }
  const parsed = baselineSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? "" : issue.path.map(String).join(".");
    throw new UsageError(
      `--compare ${file}: not a bench report (--json writes one): ${where === "" ? "" : `${where}: `}${issue?.message ?? "invalid"}`,
    );
  }
  return raw as BenchReport;
}

export async function benchCommand(
  options: BenchCommandOptions,
  write: (text: string) => void = (text) => process.stdout.write(text),
  progress: (line: string) => void = (line) => process.stderr.write(`bench: ${line}\n`),
): Promise<{ report: BenchReport; regressions: number }> {
  let only: ReturnType<typeof benchmarkNamesParse> | undefined;
  try {
    only = options.only === undefined ? undefined : benchmarkNamesParse(options.only);
  } catch (error) {
    throw new UsageError(`--only: ${(error as Error).message}`);
  }
  const baseline = options.compare === undefined ? undefined : baselineRead(options.compare);
  const outputs: OutputPath[] = [];
  if (options.json !== undefined) outputs.push({ flag: "--json", path: options.json });
  if (options.html !== undefined) outputs.push({ flag: "--html", path: options.html });
  outputPathsCheck(outputs);
  const peersDir = options.peersDir ?? process.env.IMX_MEMSIM_PEERS_DIR;
  const report = await runBench({
    ...(only ? { only } : {}),
    ...(options.board ? { board: options.board } : {}),
    quick: options.quick === true,
    ...(options.peers === true ? { peers: true } : {}),
    ...(peersDir !== undefined && peersDir !== "" ? { peersDir } : {}),
    progress,
  });
  write(reportTable(report));
  if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  if (options.html !== undefined) writeFileSync(options.html, reportHtml(report));
  let regressions = 0;
  if (baseline !== undefined && options.compare !== undefined) {
    const comparison = compareReports(baseline, report);
    regressions = comparison.regressions.length;
    write(`\n${comparisonText(comparison, options.compare)}`);
  }
  const errors = report.benchmarks.filter((b) => b.error !== undefined);
  if (errors.length > 0)
    throw new Error(`${errors.length} benchmark(s) failed: ${errors.map((b) => b.name).join(", ")}`);
  return { report, regressions };
}

export function registerBenchCommand(program: Command): void {
  program
    .command("bench")
    .description("benchmark cleanup latency and throughput against same-run baselines")
    .option(
      "--only <names>",
      "comma-separated benchmarks: cleanup-latency,iteration,append,read-ack,spill,tick,recovery,durability,cleanup-many (and peer-outbox, with --peers)",
    )
    .option("--board <name>", "board to benchmark (default fc1-imx6)")
    .option("--json <file>", "write the report as JSON")
    .option("--html <file>", "write a self-contained HTML page with charts")
    .option("--compare <file>", "print the change against a saved JSON report and flag regressions")
    .option("--quick", "tiny parameters (CI smoke test)")
    .option("--peers", `also run peer-outbox against SQLite (install it first: ${PEERS_INSTALL})`)
    .action(async (options: BenchCommandOptions) => {
      const { regressions } = await benchCommand(options);
      if (regressions > 0) process.exitCode = 1;
    });
}
