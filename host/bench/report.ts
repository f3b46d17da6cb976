// Renders a bench report: a text table for stdout, a self-contained HTML page with inline SVG
// charts, and the comparison against a saved report.
//
// --compare compares, per figure id present in both reports, the ratio to the baseline measured in
// the same run (core median time / baseline median time for the same work). Ratios are used because
// both sides of a ratio see the same machine, load and thermal state, so a ratio holds on a noisy
// or different machine where absolute times do not; the baselines are interleaved with the
// measured work (one repetition after each) so both sides see the same moment. A ratio that grows
// by more than RATIO_NOISE (25%; a figure may carry its own `noise`) is a regression.
// Figures without a baseline (iteration, tick) are compared on their median time with the wider
// ABSOLUTE_NOISE band (150%: fsync latency alone swung 2x between back-to-back runs on a shared
// VM), and only flagged when both reports come from the same machine model and the change exceeds
// ABSOLUTE_FLOOR_MS. The MemoryHal cleanup and disk read+ACK figures are judged the same way: their
// ratios divide work in one medium by a baseline in another, which cancels no noise.
// Device-independent counters are deterministic for given parameters, so any change beyond
// COUNTER_NOISE (1%) is flagged. Nothing is judged unless both reports used the same mode (quick or
// full) and board: a quick run's few, barely warmed repetitions are not comparable to a full run.

import type { BenchReport, Figure } from "./suite.js";

export const RATIO_NOISE = 0.25;
export const ABSOLUTE_NOISE = 1.5;
export const COUNTER_NOISE = 0.01;
/** Median changes smaller than this (timer and scheduler granularity) are never flagged. */
export const ABSOLUTE_FLOOR_MS = 0.05;

function fmtMs(ms: number): string {
  if (ms === 0) return "0";
  if (ms < 0.01) return `${(ms * 1000).toFixed(2)}µs`;
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 100) return `${ms.toFixed(2)}ms`;
  return `${ms.toFixed(0)}ms`;
}

export function fmtRate(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(value < 10 ? 2 : 0);
}

function targetsText(figure: Figure): string {
  return (figure.targets ?? []).map((t) => `${t.met ? "met" : "MISSED"}: ${t.text}`).join("; ");
}

function table(rows: string[][], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function reportTable(report: BenchReport): string {
  const lines: string[] = [
    `imx-memsim bench — board ${report.board}, ${report.machine.model} × ${report.machine.cores}, Node ${report.node}` +
      `${report.quick ? ", quick" : ""}, ${(report.durationMs / 1000).toFixed(1)} s`,
    "",
  ];
  const rows: string[][] = [["figure", "median", "p99", "max", "rate", "baseline", "ratio", "targets"]];
  for (const bench of report.benchmarks) {
    if (bench.skipped) rows.push([`${bench.name}: skipped (${bench.skipped})`, "", "", "", "", "", "", ""]);
    if (bench.error) rows.push([`${bench.name}: ERROR ${bench.error}`, "", "", "", "", "", "", ""]);
    for (const f of bench.figures) {
      rows.push([
        f.id,
        fmtMs(f.median),
        fmtMs(f.p99),
        fmtMs(f.max),
        f.rate ? `${fmtRate(f.rate.value)} ${f.rate.unit}` : "",
        f.baseline
          ? `${fmtMs(f.baseline.median)}${f.baseline.rate !== undefined ? ` (${fmtRate(f.baseline.rate)}/s)` : ""}`
          : "",
        f.ratio !== undefined ? `${f.ratio.toFixed(2)}x` : "",
        targetsText(f),
      ]);
    }
  }
  lines.push(table(rows, new Set([1, 2, 3, 4, 5, 6])), "", "counters (device-independent):");
  for (const bench of report.benchmarks) {
    const entries = Object.entries(bench.counters);
    if (entries.length === 0) continue;
    lines.push(`  ${bench.name}: ${entries.map(([k, v]) => `${k}=${v}`).join(", ")}`);
  }
  lines.push(
    "",
    "times are per repetition; ratio = median time / baseline median time for the same work (lower is better)",
  );
  return `${lines.join("\n")}\n`;
}

export interface CompareLine {
  id: string;
  metric: "ratio" | "median" | "counter";
  before: number;
  after: number;
  change: number;
  regression: boolean;
}

export interface Comparison {
  lines: CompareLine[];
  regressions: CompareLine[];
  notes: string[];
}

function change(before: number, after: number): number {
  if (before === 0) return after === 0 ? 0 : Infinity;
  return (after - before) / Math.abs(before);
}

export function compareReports(before: BenchReport, after: BenchReport): Comparison {
  const lines: CompareLine[] = [];
  const notes: string[] = [];
  const sameMachine = before.machine.model === after.machine.model && before.machine.cores === after.machine.cores;
  const sameMode = before.quick === after.quick && before.board === after.board;
  if (!sameMachine) notes.push("different machine: only ratios and counters are judged");
  if (!sameMode) notes.push("different mode (quick/full) or board: changes are printed, not judged");
  const figuresBefore = new Map<string, Figure>();
  const countersBefore = new Map<string, number>();
  for (const bench of before.benchmarks) {
    for (const f of bench.figures) figuresBefore.set(f.id, f);
    for (const [k, v] of Object.entries(bench.counters)) countersBefore.set(`${bench.name}.${k}`, v);
  }
  for (const bench of after.benchmarks) {
    for (const f of bench.figures) {
      const old = figuresBefore.get(f.id);
      if (!old) continue;
      if (f.ratio !== undefined && old.ratio !== undefined && f.compareBy !== "median") {
        const c = change(old.ratio, f.ratio);
        const regression = sameMode && c > (f.noise ?? RATIO_NOISE);
        lines.push({ id: f.id, metric: "ratio", before: old.ratio, after: f.ratio, change: c, regression });
      } else {
        const c = change(old.median, f.median);
        const regression =
          sameMode && sameMachine && c > (f.noise ?? ABSOLUTE_NOISE) && f.median - old.median > ABSOLUTE_FLOOR_MS;
        lines.push({ id: f.id, metric: "median", before: old.median, after: f.median, change: c, regression });
      }
    }
    for (const [k, v] of Object.entries(bench.counters)) {
      const id = `${bench.name}.${k}`;
      const old = countersBefore.get(id);
      if (old === undefined || id.endsWith("Us")) continue;
      const c = change(old, v);
      if (c === 0) continue;
      lines.push({
        id,
        metric: "counter",
        before: old,
        after: v,
        change: c,
        regression: sameMode && Math.abs(c) > COUNTER_NOISE,
      });
    }
  }
  return { lines, regressions: lines.filter((line) => line.regression), notes };
}

export function comparisonText(comparison: Comparison, file: string): string {
  const out = [
    `change against ${file} (ratio to the same-run baseline; regression if it grows > ${RATIO_NOISE * 100}%;` +
      ` figures without a baseline: median, > ${ABSOLUTE_NOISE * 100}% on the same machine; counters: any change > ${COUNTER_NOISE * 100}%)`,
    ...comparison.notes.map((note) => `  note: ${note}`),
  ];
  const rows = [["figure", "metric", "before", "after", "change", ""]];
  for (const line of comparison.lines) {
    rows.push([
      line.id,
      line.metric,
      String(line.before),
      String(line.after),
      Number.isFinite(line.change) ? `${line.change >= 0 ? "+" : ""}${(line.change * 100).toFixed(0)}%` : "new",
      line.regression ? "REGRESSION" : "",
    ]);
  }
  out.push(table(rows, new Set([2, 3, 4])));
  out.push(
    comparison.regressions.length === 0
      ? "no regressions beyond the noise band"
      : `${comparison.regressions.length} regression(s) beyond the noise band`,
  );
  return `${out.join("\n")}\n`;
}

// --- HTML ---------------------------------------------------------------------------------------

function esc(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

/** Horizontal box plot (median, p99, max) of several figures, each with its baseline median as a tick. */
function latencyChart(title: string, figures: readonly Figure[]): string {
  const rowH = 34;
  const left = 260;
  const width = 900;
  const plotW = width - left - 30;
  const height = 50 + figures.length * rowH;
  const maxValue = Math.max(1e-6, ...figures.map((f) => Math.max(f.max, f.baseline?.median ?? 0)));
  // Log scale so µs and ms figures share one axis.
  const lo = Math.max(1e-4, Math.min(...figures.map((f) => Math.min(f.median, f.baseline?.median ?? Infinity))) / 2);
  const x = (v: number): number =>
    left +
    (plotW * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / Math.max(1e-9, Math.log10(maxValue) - Math.log10(lo));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`,
    `<text x="10" y="18" font-weight="bold">${esc(title)}</text>`,
  ];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(maxValue)); e++) ticks.push(10 ** e);
  for (const t of ticks) {
    if (t < lo || t > maxValue * 1.0001) continue;
    parts.push(
      `<line x1="${x(t)}" y1="28" x2="${x(t)}" y2="${height - 12}" stroke="#ddd"/>`,
      `<text x="${x(t)}" y="${height - 2}" font-size="10" text-anchor="middle">${esc(fmtMs(t))}</text>`,
    );
  }
  figures.forEach((f, i) => {
    const y = 36 + i * rowH;
    parts.push(
      `<text x="${left - 8}" y="${y + 14}" font-size="12" text-anchor="end">${esc(f.label)}</text>`,
      `<line x1="${x(f.median)}" y1="${y + 10}" x2="${x(f.max)}" y2="${y + 10}" stroke="#555"/>`,
      `<rect x="${x(f.median)}" y="${y + 2}" width="${Math.max(1, x(f.p99) - x(f.median))}" height="16" fill="#8ab4f8" stroke="#1a5fb4"><title>median ${fmtMs(f.median)}, p99 ${fmtMs(f.p99)}, max ${fmtMs(f.max)}</title></rect>`,
      `<line x1="${x(f.median)}" y1="${y}" x2="${x(f.median)}" y2="${y + 20}" stroke="#1a5fb4" stroke-width="3"/>`,
      `<line x1="${x(f.max)}" y1="${y + 4}" x2="${x(f.max)}" y2="${y + 16}" stroke="#555"/>`,
    );
    if (f.baseline) {
      parts.push(
        `<path d="M${x(f.baseline.median)},${y} l-5,-6 h10 z" fill="#e66100"><title>baseline median ${fmtMs(f.baseline.median)} (${esc(f.baseline.label)})</title></path>`,
      );
    }
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Paired bars: rate of the core and of the baseline, each pair scaled to its own maximum. */
function throughputChart(title: string, figures: readonly Figure[]): string {
  const rowH = 46;
  const left = 260;
  const width = 1000;
  // Room right of the longest bar for its label ("341.33M (TypeScript FIFO (RAM))").
  const plotW = width - left - 330;
  const height = 36 + figures.length * rowH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">`,
    `<text x="10" y="18" font-weight="bold">${esc(title)}</text>`,
  ];
  figures.forEach((f, i) => {
    const y = 30 + i * rowH;
    const core = f.rate?.value ?? 0;
    const base = f.baseline?.rate ?? 0;
    const top = Math.max(1, core, base);
    parts.push(
      `<text x="${left - 8}" y="${y + 18}" font-size="12" text-anchor="end">${esc(f.label)}</text>`,
      `<rect x="${left}" y="${y}" width="${(plotW * core) / top}" height="16" fill="#1a5fb4"/>`,
      `<text x="${left + (plotW * core) / top + 4}" y="${y + 12}" font-size="11">${fmtRate(core)} ${esc(f.rate?.unit ?? "")} (core)</text>`,
      `<rect x="${left}" y="${y + 18}" width="${(plotW * base) / top}" height="16" fill="#e66100"/>`,
      `<text x="${left + (plotW * base) / top + 4}" y="${y + 30}" font-size="11">${fmtRate(base)} (${esc(f.baseline?.label ?? "baseline")})</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

export function reportHtml(report: BenchReport): string {
  const all = report.benchmarks.flatMap((b) => b.figures);
  const sections: string[] = [];
  const cleanup = all.filter((f) => f.id.startsWith("cleanup-latency."));
  if (cleanup.length > 0)
    sections.push(
      latencyChart("Cleanup latency per policy (median–p99 box, max whisker, ▼ plain-unlink baseline)", cleanup),
    );
  const ticks = all.filter((f) => f.id.startsWith("tick.") || f.id.startsWith("iteration."));
  if (ticks.length > 0) sections.push(latencyChart("processMemory tick and full iteration durations", ticks));
  const recovery = all.filter((f) => f.id.startsWith("recovery."));
  if (recovery.length > 0) sections.push(latencyChart("Boot recovery (▼ plain reads of the same files)", recovery));
  const throughput = all.filter((f) => f.rate && f.baseline?.rate !== undefined);
  if (throughput.length > 0) sections.push(throughputChart("Throughput against the same-run baseline", throughput));
  const rows = all
    .map(
      (f) =>
        `<tr><td>${esc(f.id)}</td><td>${fmtMs(f.median)}</td><td>${fmtMs(f.p99)}</td><td>${fmtMs(f.max)}</td>` +
        `<td>${f.rate ? `${fmtRate(f.rate.value)} ${esc(f.rate.unit)}` : ""}</td>` +
        `<td>${f.baseline ? fmtMs(f.baseline.median) : ""}</td><td>${f.ratio !== undefined ? `${f.ratio.toFixed(2)}x` : ""}</td>` +
        `<td>${esc(targetsText(f))}</td></tr>`,
    )
    .join("\n");
  const counters = report.benchmarks
    .map(
      (b) =>
        `<h3>${esc(b.name)}</h3><p>${esc(b.what)}${b.skipped ? ` — skipped: ${esc(b.skipped)}` : ""}${b.error ? ` — error: ${esc(b.error)}` : ""}</p>` +
        `<p class="c">${Object.entries(b.counters)
          .map(([k, v]) => `${esc(k)}=${v}`)
          .join(", ")}</p>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>imx-memsim bench — ${esc(report.board)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child{text-align:left}svg{display:block;margin:1.5em 0;font-family:system-ui,sans-serif}.c{font-family:monospace;font-size:12px}</style>
</head><body>
<h1>imx-memsim bench</h1>
<p>Board <b>${esc(report.board)}</b>; ${esc(report.machine.model)} × ${report.machine.cores} (${esc(report.machine.platform)}); Node ${esc(report.node)}; seed ${report.seed}; ${report.quick ? "quick run; " : ""}${esc(report.startedAt)}; ${(report.durationMs / 1000).toFixed(1)} s.</p>
<p>Times are per repetition. Ratio = median time / median time of the baseline measured in the same run for the same work (lower is better).</p>
${sections.join("\n")}
<table><tr><th>figure</th><th>median</th><th>p99</th><th>max</th><th>rate</th><th>baseline</th><th>ratio</th><th>targets</th></tr>
${rows}
</table>
<h2>Counters</h2>
${counters}
</body></html>
`;
}
