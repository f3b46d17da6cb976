// What the dashboard page receives over Server-Sent Events: one `hello` (what does not change: the
// board, the streams, the limits), one `history` (the points so far, for a page opened late), then
// a `frame` about four times a second of real time, and `end` when the run (or the trace) is over.
// A live run and a finished --trace file speak the same messages; a trace has no SAT map
// (`cells` null) and no controls.

/** One sample of the time series. */
export interface DashboardPoint {
  simMs: number;
  usagePercent: number;
  diskBytesUsed: number;
  filesLive: number;
  /** Records stored on the device, per stream (a trace has only the total: one entry). */
  backlog: number[];
  written: number;
  uploaded: number;
  discarded: number;
  /** Age of the oldest record of the last acknowledged packet when it was acknowledged; null before. */
  uploadLagMs: number | null;
  linkUp: boolean;
  state: string;
}

export interface DashboardFrame extends DashboardPoint {
  sinceStartMs: number;
  sectorsUsed: number;
  sectorsTotal: number;
  phase: string;
  flushProgress: number;
  cleanup: { filesPending: number; filesDeleted: number; etaMs: number; complete: boolean };
  /**
   * One character per RAM sector, in sector order: CELL_FREE, CELL_SPILLED (freed by a spill in the
   * last second or so), CELL_RAW (raw sector API), or the owner stream k (index modulo 26) as
   * "A" + k while its records are new and "a" + k once the uploader has read them (pending).
   */
  cells: string | null;
  /** The tier state machine's latest states, oldest first, with the simulated time each began. */
  states: Array<{ simMs: number; state: string }>;
  /** The latest core log lines, oldest first, each prefixed by its simulated time. */
  log: string[];
  paused: boolean;
  speed: number | "max";
}

export interface DashboardHello {
  source: "run" | "trace";
  /** The trace file shown, or the run's storage. */
  title: string;
  board: string;
  streams: string[];
  sectorsTotal: number;
  spillThresholdPercent: number;
  spillTargetPercent: number;
  quotaBytes: number | null;
  diskThresholdPercent: number | null;
  filesMax: number | null;
  runStartMs: number;
  endMs: number | null;
  /** Pause, resume and speed work (a live run). */
  controls: boolean;
}

export const CELL_FREE = ".";
export const CELL_SPILLED = "*";
export const CELL_RAW = "#";
/** Streams shown with their own letter; stream k uses letter k modulo this. */
export const CELL_STREAM_LETTERS = 26;

/** What the page may ask of a live run (POST /control). */
export type DashboardControl = { action: "pause" } | { action: "resume" } | { action: "speed"; speed: number | "max" };
