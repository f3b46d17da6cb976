// `imx-memsim bench`: runs the benchmark suite (host/bench/suite.ts), prints a table, and writes
// the JSON report, the HTML page and the comparison against a saved report on request.

import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { type BenchReport, benchmarkNamesParse, runBench } from "../bench/suite.js";
import { compareReports, comparisonText, reportHtml, reportTable } from "../bench/report.js";

export interface BenchCommandOptions {
  only?: string;
  board?: string;
  json?: string;
  html?: string;
  compare?: string;
  quick?: boolean;
}

export async function benchCommand(
  options: BenchCommandOptions,
  write: (text: string) => void = (text) => process.stdout.write(text),
  progress: (line: string) => void = (line) => process.stderr.write(`bench: ${line}\n`),
): Promise<{ report: BenchReport; regressions: number }> {
  const only = options.only === undefined ? undefined : benchmarkNamesParse(options.only);
  const baseline =
    options.compare === undefined ? undefined : (JSON.parse(readFileSync(options.compare, "utf8")) as BenchReport);
  const report = await runBench({
    ...(only ? { only } : {}),
    ...(options.board ? { board: options.board } : {}),
    quick: options.quick === true,
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
      "comma-separated benchmarks: cleanup-latency,iteration,append,read-ack,spill,tick,recovery",
    )
    .option("--board <name>", "board to benchmark (default fc1-imx6)")
    .option("--json <file>", "write the report as JSON")
    .option("--html <file>", "write a self-contained HTML page with charts")
    .option("--compare <file>", "print the change against a saved JSON report and flag regressions")
    .option("--quick", "tiny parameters (CI smoke test)")
    .action(async (options: BenchCommandOptions) => {
      const { regressions } = await benchCommand(options);
      if (regressions > 0) process.exitCode = 1;
    });
}
