// A finished `run --trace` file as a dashboard source: every NDJSON line becomes a point; the
// last one is the frame. A trace has the totals, not the RAM: no SAT map, one backlog series,
// no upload lag; the limits come from the board given (the trace does not name its board).
// A trace of a fleet device (lines with `device`) is read as it is: one device per file.

import { readFileSync } from "node:fs";
import type { Board } from "../boards.js";
import { UsageError } from "../base/user-error.js";
import type { DashboardFrame, DashboardHello, DashboardPoint } from "./frame.js";
import type { DashboardSource } from "./server.js";

interface TraceLine {
  simMs: number;
  sinceStartMs: number;
  usagePercent: number;
  sectorsUsed: number;
  state: string;
  filesLive: number;
  diskBytesUsed: number;
  backlog: number;
  linkUp: boolean;
  written: number;
  uploaded: number;
  discarded: number;
  filesDeleted: number;
  cleanupPending: number;
}

const NUMBER_FIELDS = [
  "simMs",
  "sinceStartMs",
  "usagePercent",
  "sectorsUsed",
  "filesLive",
  "diskBytesUsed",
  "backlog",
  "written",
  "uploaded",
  "discarded",
  "filesDeleted",
  "cleanupPending",
] as const;

function lineParse(text: string, path: string, lineNumber: number): TraceLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${path}:${lineNumber}: not a JSON line of a run --trace file`);
  }
  const line = value as Record<string, unknown>;
  for (const field of NUMBER_FIELDS) {
    if (typeof line[field] !== "number")
      throw new UsageError(`${path}:${lineNumber}: a run --trace line needs a number "${field}"`);
  }
  if (typeof line["state"] !== "string" || typeof line["linkUp"] !== "boolean")
    throw new UsageError(`${path}:${lineNumber}: a run --trace line needs "state" and "linkUp"`);
  return line as unknown as TraceLine;
}

export class TraceSource implements DashboardSource {
  private readonly lines: TraceLine[];
  private readonly pointList: DashboardPoint[];

  constructor(
    readonly path: string,
    readonly board: Board,
  ) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new UsageError(`--trace ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
    this.lines = text
      .split("\n")
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => line.trim() !== "")
      .map(({ line, i }) => lineParse(line, path, i + 1));
    if (this.lines.length === 0) throw new UsageError(`--trace ${path}: the file holds no trace line`);
    this.pointList = this.lines.map((line) => ({
      simMs: line.simMs,
      usagePercent: line.usagePercent,
      diskBytesUsed: line.diskBytesUsed,
      filesLive: line.filesLive,
      backlog: [line.backlog],
      written: line.written,
      uploaded: line.uploaded,
      discarded: line.discarded,
      uploadLagMs: null,
      linkUp: line.linkUp,
      state: line.state,
    }));
  }

  private get first(): TraceLine {
    return this.lines[0] as TraceLine;
  }
  private get last(): TraceLine {
    return this.lines[this.lines.length - 1] as TraceLine;
  }

  hello(): DashboardHello {
    const { board } = this;
    return {
      source: "trace",
      title: this.path,
      board: board.name,
      streams: ["backlog (all streams)"],
      sectorsTotal: board.memory.sectorCount,
      spillThresholdPercent: board.tier.spillThresholdPercent,
      spillTargetPercent: board.tier.spillTargetPercent,
      quotaBytes: board.disk?.quotaBytes ?? null,
      diskThresholdPercent: board.disk?.thresholdPercent ?? null,
      filesMax: board.disk?.filesMax ?? null,
      runStartMs: this.first.simMs - this.first.sinceStartMs,
      endMs: this.last.simMs,
      controls: false,
    };
  }

  points(): DashboardPoint[] {
    return this.pointList;
  }

  frame(): DashboardFrame {
    const last = this.last;
    const point = this.pointList[this.pointList.length - 1] as DashboardPoint;
    const states: Array<{ simMs: number; state: string }> = [];
    for (const line of this.lines) {
      if (states[states.length - 1]?.state !== line.state) states.push({ simMs: line.simMs, state: line.state });
    }
    return {
      ...point,
      sinceStartMs: last.sinceStartMs,
      sectorsUsed: last.sectorsUsed,
      sectorsTotal: this.board.memory.sectorCount,
      phase: "trace",
      flushProgress: 0,
      cleanup: {
        filesPending: last.cleanupPending,
        filesDeleted: last.filesDeleted,
        etaMs: -1,
        complete: last.cleanupPending === 0,
      },
      cells: null,
      states: states.slice(-48),
      log: [],
      paused: false,
      speed: 1,
    };
  }
}
