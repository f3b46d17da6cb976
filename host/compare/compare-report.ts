// What `compare` prints and writes: a table with one line per run, the sum each row adds up to,
// and the notes (streams a board could not take); the --json document {"runs": [...]}.

import { durationFormat } from "../run/duration.js";
import type { CompareResult, CompareRow } from "./compare-run.js";

/** What the runs had in common, written beside them. */
export interface CompareContext {
  durationMs: number;
  outages: string[];
  /** The workload's origin (a file, "flags" or "default") and its stream count. */
  workload: { origin: string; streams: number };
  seed: number | null;
}

export interface CompareDocument extends CompareContext {
  runs: CompareRow[];
}

export function compareDocument(results: readonly CompareResult[], context: CompareContext): CompareDocument {
  return { ...context, runs: results.map((result) => result.row) };
}

const KIB = 1024;

/** Bytes as people read them: "512 B", "141.9 KiB", "2.0 MiB". */
export function bytesShow(bytes: number): string {
  if (bytes < KIB) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / KIB;
  let unit = 0;
  while (value >= KIB && unit < units.length - 1) {
    value /= KIB;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A lag or a tick time: "250 ms", "4.2 s", "3.5 min", "6.1 h". */
export function msShow(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const count = (n: number): string => n.toLocaleString("en-US");

export interface CompareColumn {
  title: string;
  /** The row's value as the table shows it. */
  show: (row: CompareRow) => string;
  /** The number a chart draws, or null for a text column. */
  value: ((row: CompareRow) => number | null) | null;
}

export const COMPARE_COLUMNS: readonly CompareColumn[] = [
  { title: "board", show: (r) => r.board, value: null },
  { title: "policy", show: (r) => r.policy, value: null },
  { title: "written", show: (r) => count(r.written), value: (r) => r.written },
  { title: "delivered", show: (r) => count(r.delivered), value: (r) => r.delivered },
  {
    title: "discarded",
    show: (r) => (r.discarded === 0 ? "0" : `${count(r.discarded)} oldest`),
    value: (r) => r.discarded,
  },
  {
    title: "refused",
    show: (r) => (r.refusedNewest === 0 ? "0" : `${count(r.refusedNewest)} newest`),
    value: (r) => r.refusedNewest,
  },
  { title: "stored", show: (r) => count(r.stored), value: (r) => r.stored },
  {
    title: "RAM peak",
    show: (r) => `${r.ramPeakPercent.toFixed(1)}% of ${count(r.ramSectors)}`,
    value: (r) => r.ramPeakPercent,
  },
  { title: "disk peak", show: (r) => bytesShow(r.diskPeakBytes), value: (r) => r.diskPeakBytes },
  { title: "files", show: (r) => count(r.filesCreated), value: (r) => r.filesCreated },
  {
    title: "mode",
    show: (r) => (r.tierMode === "direct" ? `direct ${count(r.directSectors)}` : "spill"),
    value: (r) => r.directSectors,
  },
  { title: "disk written", show: (r) => bytesShow(r.diskBytesWritten), value: (r) => r.diskBytesWritten },
  { title: "lag p50", show: (r) => msShow(r.uploadLagMsP50), value: (r) => r.uploadLagMsP50 },
  { title: "lag p99", show: (r) => msShow(r.uploadLagMsP99), value: (r) => r.uploadLagMsP99 },
  {
    title: "tick p99",
    show: (r) => (r.tickUsP99 === null ? "-" : `${r.tickUsP99.toFixed(1)} µs`),
    value: (r) => r.tickUsP99,
  },
];

/** The table, one line per run, then the sums and the notes. */
export function compareText(document: CompareDocument): string {
  const rows = document.runs;
  const table = [COMPARE_COLUMNS.map((c) => c.title), ...rows.map((row) => COMPARE_COLUMNS.map((c) => c.show(row)))];
  const widths = COMPARE_COLUMNS.map((_, i) => Math.max(...table.map((line) => (line[i] ?? "").length)));
  const lines = table.map((line) =>
    line
      .map((text, i) => (i < 2 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
  const outages = document.outages.length === 0 ? "no outage" : `outage ${document.outages.join(" + ")}`;
  const head = `compare    ${rows.length} run${rows.length === 1 ? "" : "s"} of ${durationFormat(document.durationMs)}, ${outages}, workload ${document.workload.origin} (${document.workload.streams} streams)`;
  const sums = rows.map(
    (r) =>
      `  ${r.board}/${r.policy}: written ${count(r.written)} = delivered ${count(r.delivered)} + discarded ${count(r.discarded)} + stored ${count(r.stored)}${r.addsUp ? "" : "  DOES NOT ADD UP"}`,
  );
  const notes = [...new Set(rows.map((r) => r.streamsNote).filter((n): n is string => n !== null))];
  const lossless = rows.filter((r) => r.lost === 0).map((r) => `${r.board}/${r.policy}`);
  return [
    head,
    "",
    ...lines,
    "",
    "adds up:",
    ...sums,
    `lost nothing: ${lossless.length === 0 ? "none" : lossless.join(", ")}`,
    "discarded records are the oldest (RAM full, files evicted); refused samples are the newest, never written",
    ...notes.map((note) => `note: ${note}`),
    "",
  ].join("\n");
}
