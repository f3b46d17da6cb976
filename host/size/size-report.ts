// What `size` prints: the three answers with their resolutions, the variant, and the runs made.

import { durationFormat } from "../run/duration.js";
import { bytesShow } from "../compare/compare-report.js";
import type { SizeReport } from "./size.js";

const count = (n: number): string => n.toLocaleString("en-US");

function lengthShow(ms: number): string {
  return durationFormat(ms);
}

export function sizeText(report: SizeReport): string {
  const lines: string[] = [];
  const streams = report.workload.note === null ? `${report.workload.streams} streams` : report.workload.note;
  lines.push(
    `size       board ${report.board}, outage "${report.outage}", ${durationFormat(report.durationMs)} per run, workload ${report.workload.origin} (${streams})`,
  );
  lines.push(`as it is   the board ${report.boardSurvives ? "loses nothing" : "loses records"} under this outage`);
  const o = report.longestOutage;
  const longest =
    o.survivedMs === 0
      ? o.lostMs === 0
        ? "none: the board loses records even without an outage"
        : `shorter than ${lengthShow(o.lostMs ?? 0)} ("${report.outage}" loses)`
      : o.lostMs === null
        ? `at least ${lengthShow(o.survivedMs)} ("${o.survivedText}"; the search stops at ${lengthShow(o.capMs)})`
        : `${lengthShow(o.survivedMs)} ("${o.survivedText}"; ${lengthShow(o.lostMs)} loses)`;
  lines.push(`longest    outage without loss: ${longest}; bisection to ${lengthShow(o.resolutionMs)}`);
  if (report.disk !== null) {
    const d = report.disk;
    lines.push(
      `disk       smallest quota: ${count(d.quotaBytes)} B (${bytesShow(d.quotaBytes)}), ${count(d.filesMax)} files; the board has ${count(d.boardQuotaBytes)} B, ${count(d.boardFilesMax)} files; bisection to ${count(d.resolutionBytes)} B (one full .imx file)`,
    );
  } else {
    lines.push("disk       none: the board has no disk tier");
  }
  if (report.ram !== null) {
    const r = report.ram;
    lines.push(
      `RAM        smallest budget: ${count(r.sectorCount)} sectors, ramBytes ${count(r.ramBytes)} (${bytesShow(r.ramBytes)}); the board has ${count(r.boardSectorCount)} sectors, ramBytes ${count(r.boardRamBytes)}; bisection to ${r.resolutionSectors} sector${report.disk === null ? "" : ", with the quota above"}`,
    );
  }
  if (report.variant !== null) {
    const v = report.variant;
    lines.push(
      `variant    ${v.name}: memory.sectorCount ${count(v.memory.sectorCount)}, memory.ramBytes ${count(v.memory.ramBytes)}${v.disk === null ? "" : `, disk.quotaBytes ${count(v.disk.quotaBytes)}, disk.filesMax ${count(v.disk.filesMax)}`}; run again: loses nothing`,
    );
  }
  if (report.failure !== null) lines.push(`no variant ${report.failure}`);
  lines.push(`runs       ${report.runs} real runs in ${durationFormat(report.realMs)}`);
  return `${lines.join("\n")}\n`;
}
