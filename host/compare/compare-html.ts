// The --html page of `compare`: one self-contained file that works offline. It holds the table, a
// bar chart per figure (inline SVG), and time series over simulated time per run (RAM use, disk
// bytes, records stored, delivered and lost) drawn by uPlot, whose script and stylesheet are
// inlined from node_modules: no CDN, no request of any kind.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { CompareResult, CompareSeries } from "./compare-run.js";
import { COMPARE_COLUMNS, type CompareDocument, compareText } from "./compare-report.js";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

/** Text placed inside <script> or <style>: "</" never closes the element early. */
function inlineSafe(text: string): string {
  return text.replace(/<\/(script|style)/gi, "<\\/$1");
}

function uplotInline(): { script: string; css: string } {
  const dist = dirname(createRequire(import.meta.url).resolve("uplot"));
  return {
    script: readFileSync(join(dist, "uPlot.iife.min.js"), "utf8"),
    css: readFileSync(join(dist, "uPlot.min.css"), "utf8"),
  };
}

const PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"];
const BAR_WIDTH_MAX = 200;
const BAR_ROW_HEIGHT = 22;
const LABEL_WIDTH = 150;

function barCharts(document: CompareDocument): string {
  const rows = document.runs;
  return COMPARE_COLUMNS.filter((column) => column.value !== null)
    .map((column) => {
      const values = rows.map((row) => column.value?.(row) ?? 0);
      const max = Math.max(...values, 0);
      const bars = rows
        .map((row, i) => {
          const value = values[i] ?? 0;
          const width = max > 0 ? Math.round((value / max) * BAR_WIDTH_MAX) : 0;
          const y = i * BAR_ROW_HEIGHT;
          const colour = PALETTE[i % PALETTE.length] ?? "#1565c0";
          return (
            `<text x="0" y="${y + 15}">${escapeHtml(`${row.board} ${row.policy}`)}</text>` +
            `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${width}" height="16" fill="${colour}"/>` +
            `<text x="${LABEL_WIDTH + width + 6}" y="${y + 15}">${escapeHtml(column.show(row))}</text>`
          );
        })
        .join("");
      const height = rows.length * BAR_ROW_HEIGHT + 4;
      return `<figure class="bars"><figcaption>${escapeHtml(column.title)}</figcaption><svg width="${LABEL_WIDTH + BAR_WIDTH_MAX + 110}" height="${height}" font-size="12">${bars}</svg></figure>`;
    })
    .join("\n");
}

const SERIES_CHARTS: ReadonlyArray<{ id: string; title: string; key: keyof Omit<CompareSeries, "sinceStartMs"> }> = [
  { id: "ram", title: "RAM use (% of sectors)", key: "ramPercent" },
  { id: "disk", title: "disk tier (bytes)", key: "diskBytes" },
  { id: "stored", title: "records stored on the device", key: "stored" },
  { id: "delivered", title: "records delivered", key: "delivered" },
  { id: "lost", title: "records lost (discarded + refused)", key: "lost" },
];

/** The page: self-contained, with `compareText`'s table as a fallback when scripts are off. */
export function compareHtml(document: CompareDocument, results: readonly CompareResult[]): string {
  const uplot = uplotInline();
  const head = COMPARE_COLUMNS.map((c) => `<th>${escapeHtml(c.title)}</th>`).join("");
  const body = document.runs
    .map(
      (row) =>
        `<tr data-run="${escapeHtml(`${row.board}/${row.policy}`)}">${COMPARE_COLUMNS.map((c) => `<td>${escapeHtml(c.show(row))}</td>`).join("")}</tr>`,
    )
    .join("\n");
  const data = {
    labels: document.runs.map((row) => `${row.board} ${row.policy}`),
    colours: document.runs.map((_, i) => PALETTE[i % PALETTE.length]),
    charts: SERIES_CHARTS.map((chart) => ({ id: chart.id, title: chart.title, key: chart.key })),
    series: results.map((result) => result.series),
  };
  // JSON inside a script: "<" is escaped so no text of the data can close the element.
  const dataJson = JSON.stringify(data).replace(/</g, "\\u003c");
  const title = `imx-memsim compare: ${document.runs.map((r) => `${r.board}/${r.policy}`).join(", ")}`;
  const figures = SERIES_CHARTS.map(
    (chart) =>
      `<figure class="series"><figcaption>${escapeHtml(chart.title)}</figcaption><div id="chart-${chart.id}"></div></figure>`,
  ).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${inlineSafe(uplot.css)}</style>
<style>
body{font:13px system-ui,sans-serif;margin:1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}
td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}
figure{display:inline-block;margin:1em;vertical-align:top}figcaption{font-weight:600;margin-bottom:4px}
pre{background:#f6f6f6;padding:8px;overflow:auto}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<table id="runs"><thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody></table>
<h2>Over simulated time</h2>
${figures}
<h2>Per run</h2>
${barCharts(document)}
<h2>As printed</h2>
<pre>${escapeHtml(compareText(document))}</pre>
<script>${inlineSafe(uplot.script)}</script>
<script>
const DATA = ${dataJson};
for (const chart of DATA.charts) {
  const el = document.getElementById("chart-" + chart.id);
  // One x axis for all runs: every run's samples, in hours since the start, merged.
  const xs = [...new Set(DATA.series.flatMap((s) => s.sinceStartMs))].sort((a, b) => a - b);
  const columns = DATA.series.map((s) => {
    const at = new Map(s.sinceStartMs.map((t, i) => [t, s[chart.key][i]]));
    return xs.map((t) => (at.has(t) ? at.get(t) : null));
  });
  const opts = {
    width: 560,
    height: 260,
    scales: { x: { time: false } },
    axes: [{ label: "simulated hours" }, { size: 70 }],
    series: [{ label: "h" }, ...DATA.labels.map((label, i) => ({ label, stroke: DATA.colours[i], width: 1.5, spanGaps: true }))],
  };
  new uPlot(opts, [xs.map((t) => t / 3600000), ...columns], el);
}
</script>
</body>
</html>
`;
}
