// `size`: the sizing answer computed by bisection over real runs (compare-run.ts, one device to
// the run's duration each), never read off a table. A run "survives" when it lost nothing: no
// record discarded, no sample refused. Three searches, each assuming that more of the searched
// resource never makes a run lose more:
//
//   1. the longest outage the board survives: the given outage's length varied (a repeating one
//      keeps its period and its place in the period), doubling from the given length until a run
//      loses or the cap is reached, then bisected to OUTAGE_RESOLUTION_MS;
//   2. with a disk tier, the smallest disk quota that survives the given outage with the board's
//      RAM: doubling up from the board's quota while it loses, then bisected down to one full .imx
//      file's bytes (the least quota a board may have); the file table grows with the quota in the
//      board's proportion of files per byte, never below the board's own;
//   3. the smallest RAM budget that survives the given outage with that quota: the sector count
//      bisected to one sector, the RAM budget (memory.ramBytes) the layout of that many sectors
//      rounded up to RAM_BYTES_STEP.
//
// The variant of step 3's last surviving run is the answer: a board file loadBoard accepts.

import {
  type Board,
  boardParse,
  RAM_BYTES_MAX,
  FILE_COUNT_MAX,
  ramLayoutEstimate,
  SECTORS_PER_FILE_COUNT_MAX,
} from "../boards.js";
import { SECTOR_NULL } from "../core/abi.generated.js";
import { imxFileBytes } from "../format/imx.js";
import type { RunSettings } from "../run/device-preflight.js";
import { durationFormat, HOUR_MS } from "../run/duration.js";
import { type OutageSpec, outageSpecParse } from "../run/outage-schedule.js";
import type { CompareRow, CompareRunInput } from "../compare/compare-run.js";

/** The longest outage is found to within this much. */
export const OUTAGE_RESOLUTION_MS = 60_000;
/** A single outage is not searched beyond this by default (each run simulates the whole outage). */
export const OUTAGE_MAX_MS_DEFAULT = 30 * 24 * HOUR_MS;
/** A variant's RAM budget is its layout rounded up to this. */
export const RAM_BYTES_STEP = 1024;
/** Time a run goes on after a single outage ends (the backlog starts to drain). */
export const AFTER_OUTAGE_MS = HOUR_MS;
/** Doublings of a quota or a sector count that still loses before the search gives up. */
const DOUBLINGS_MAX = 16;

/** Makes one run; `size` runs them in this process, one after the other. */
export type SizeRunner = (input: CompareRunInput) => Promise<CompareRow>;

export interface SizeOptions {
  /** The base run: board, workload (already cut to the board's stream slots), uplink, seed. */
  input: CompareRunInput;
  /** The outage to survive. */
  outage: OutageSpec;
  /** Simulated time of each run with the given outage; null: long enough for it (durationFor). */
  durationMs: number | null;
  outageMaxMs: number;
  /** The variant's board name (it must match the file it is written to). */
  variantName: string;
  run: SizeRunner;
  /** Told about each run: what was tried and whether it survived. */
  onRun?: (text: string) => void;
}

export interface SizeReport {
  board: string;
  outage: string;
  /** Simulated time of each run with the given outage. */
  durationMs: number;
  workload: { origin: string; streams: number; note: string | null };
  runs: number;
  realMs: number;
  /** The board as it is survives the given outage. */
  boardSurvives: boolean;
  longestOutage: {
    /** The longest outage of the given shape a run survived (0: the board loses even without one). */
    survivedMs: number;
    survivedText: string;
    /** The shortest one a run lost with, or null when none did up to the cap. */
    lostMs: number | null;
    /** The search's cap (a repeating outage: just under its period). */
    capMs: number;
    resolutionMs: number;
  };
  /** Null for a board without a disk tier. */
  disk: {
    quotaBytes: number;
    filesMax: number;
    boardQuotaBytes: number;
    boardFilesMax: number;
    resolutionBytes: number;
  } | null;
  ram: {
    sectorCount: number;
    ramBytes: number;
    boardSectorCount: number;
    boardRamBytes: number;
    resolutionSectors: number;
  } | null;
  /** The sized board (a valid board file), or null when no variant within the limits survived. */
  variant: Board | null;
  /** Why there is no variant, or null. */
  failure: string | null;
}

/** A duration as durationParse reads it back: "1d6h", "23m", "90s", "250ms". */
export function durationText(ms: number): string {
  if (ms === 0) return "0";
  const units: Array<[string, number]> = [
    ["d", 24 * HOUR_MS],
    ["h", HOUR_MS],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1],
  ];
  let rest = Math.round(ms);
  let text = "";
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  return text;
}

/** The given outage with another length: a single one keeps its start, a repeating one its period and place. */
export function outageWithLength(spec: OutageSpec, lengthMs: number): OutageSpec {
  const words = spec.text.trim().split(/\s+/);
  words[0] = durationText(lengthMs);
  const parsed = outageSpecParse(words.join(" "));
  if (parsed === null) throw new Error(`outageWithLength: "${spec.text}" is not an outage`);
  return parsed;
}

/** Long enough for an outage: a single one and an hour after; a repeating one three times over. */
export function durationFor(spec: OutageSpec): number {
  if (spec.periodMs === 0) return spec.offsetMs + spec.durationMs + AFTER_OUTAGE_MS;
  return spec.offsetMs + spec.durationMs + spec.jitterMs + 2 * spec.periodMs;
}

function roundUp(value: number, step: number): number {
  return Math.ceil(value / step) * step;
}

/** The RAM budget for a layout: the board's own if it holds it, else the layout rounded up. */
function ramBudget(board: Board, keepBoards: boolean): number {
  const need = roundUp(ramLayoutEstimate(board).totalBytes, RAM_BYTES_STEP);
  return keepBoards ? Math.max(board.memory.ramBytes, need) : need;
}

/**
 * The board with `sectorCount` sectors and (with a disk tier) `quotaBytes`; the file table grows
 * with the quota in the board's proportion, the RAM budget holds the layout (the board's own
 * budget kept when `keepRam` and it is enough), and the device's RAM at least that budget.
 */
export function boardVariant(
  board: Board,
  change: { sectorCount?: number; quotaBytes?: number },
  keepRam: boolean,
): Board {
  const memory = { ...board.memory, sectorCount: change.sectorCount ?? board.memory.sectorCount };
  let disk = board.disk;
  if (disk !== null && change.quotaBytes !== undefined) {
    const filesMax = Math.min(
      FILE_COUNT_MAX,
      Math.max(disk.filesMax, Math.ceil((disk.filesMax * change.quotaBytes) / disk.quotaBytes)),
    );
    disk = { ...disk, quotaBytes: change.quotaBytes, filesMax };
  }
  const variant: Board = { ...board, memory, disk, device: { ...board.device } };
  variant.memory.ramBytes = Math.min(RAM_BYTES_MAX, ramBudget(variant, keepRam));
  if (variant.device.ramBytes < variant.memory.ramBytes) variant.device.ramBytes = variant.memory.ramBytes;
  return variant;
}

/** Most sectors a variant may have: its layout within the largest RAM budget, ids below the null id. */
function sectorCountMax(board: Board): number {
  const perSector = 8 + board.memory.sectorBytes;
  const diskIds =
    board.disk === null ? 0 : board.disk.filesMax * Math.min(board.disk.sectorsPerFileMax, SECTORS_PER_FILE_COUNT_MAX);
  return Math.max(1, Math.min(Math.floor(RAM_BYTES_MAX / perSector) - 1, SECTOR_NULL - 1 - diskIds));
}

interface Probe {
  survives: boolean;
  row: CompareRow;
}

/**
 * Smallest x in (lo, hi] that survives, to within `resolution`, with `lo` known to lose (or below
 * the least allowed) and `hi` known to survive. Returns hi.
 */
async function bisectDown(
  lo: number,
  hi: number,
  resolution: number,
  survives: (x: number) => Promise<boolean>,
): Promise<number> {
  // Each pass halves hi − lo, so the loop ends after log2((hi − lo) / resolution) runs.
  while (hi - lo > resolution) {
    const mid = Math.floor((lo + hi) / 2);
    if (mid <= lo || mid >= hi) break;
    if (await survives(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

export async function sizeSearch(options: SizeOptions): Promise<SizeReport> {
  const started = performance.now();
  const base = options.input.settings;
  const board = base.board;
  const given = options.outage;
  const durationMs = options.durationMs ?? durationFor(given);
  let runs = 0;
  const probe = async (what: string, settings: Partial<RunSettings>): Promise<Probe> => {
    runs++;
    const row = await options.run({ ...options.input, settings: { ...base, ...settings } });
    const survives = row.lost === 0;
    options.onRun?.(
      `size: run ${runs}: ${what}: ${survives ? "loses nothing" : `loses ${row.lost.toLocaleString("en-US")} (${row.discarded.toLocaleString("en-US")} discarded, ${row.refusedNewest.toLocaleString("en-US")} refused)`}`,
    );
    return { survives, row };
  };

  // 1. The longest outage of the given shape.
  const capMs =
    given.periodMs === 0 ? Math.max(given.durationMs, options.outageMaxMs) : given.periodMs - 2 * given.jitterMs - 1;
  const outageRun = (lengthMs: number): Promise<Probe> => {
    if (lengthMs === 0) return probe("no outage", { outages: [], durationMs });
    const spec = outageWithLength(given, lengthMs);
    return probe(`outage "${spec.text}"`, {
      outages: [spec],
      durationMs: Math.max(durationMs, durationFor(spec)),
    });
  };
  let survivedMs = 0;
  let lostMs: number | null = null;
  // The given outage is within the cap (a repeating one is shorter than its period less the jitter).
  const boardSurvives = (await outageRun(given.durationMs)).survives;
  if (boardSurvives) {
    survivedMs = given.durationMs;
    while (survivedMs < capMs) {
      const next = Math.min(capMs, survivedMs * 2);
      if ((await outageRun(next)).survives) survivedMs = next;
      else {
        lostMs = next;
        break;
      }
    }
  } else if ((await outageRun(0)).survives) {
    lostMs = given.durationMs;
  } else {
    lostMs = 0;
  }
  if (lostMs !== null && lostMs > 0) {
    // Longest that survives: bisect on the losing side (survivedMs survives, lostMs loses).
    let lo = survivedMs;
    let hi = lostMs;
    while (hi - lo > OUTAGE_RESOLUTION_MS) {
      const mid = Math.floor((lo + hi) / 2 / 1000) * 1000;
      if (mid <= lo || mid >= hi) break;
      if ((await outageRun(mid)).survives) lo = mid;
      else hi = mid;
    }
    survivedMs = lo;
    lostMs = hi;
  }

  // 2. The smallest disk quota that survives the given outage with the board's RAM.
  const withOutage: Partial<RunSettings> = { outages: [given], durationMs };
  let failure: string | null = null;
  let sized: Board = board;
  let diskReport: SizeReport["disk"] = null;
  if (board.disk !== null) {
    const disk = board.disk;
    const fileBytes = imxFileBytes(disk.sectorsPerFileMax, board.memory.sectorBytes);
    const quotaRun = (quotaBytes: number): Promise<Probe> => {
      const variant = boardVariant(board, { quotaBytes }, true);
      return probe(`disk quota ${quotaBytes.toLocaleString("en-US")} B (${variant.disk?.filesMax ?? 0} files)`, {
        ...withOutage,
        board: variant,
      });
    };
    let hi = disk.quotaBytes;
    // The board's own quota is the board itself: the given outage's run above.
    let found = boardSurvives;
    for (let i = 0; !found && i < DOUBLINGS_MAX; i++) {
      hi *= 2;
      found = (await quotaRun(hi)).survives;
    }
    if (!found) {
      failure = `no disk quota up to ${hi.toLocaleString("en-US")} B survives the outage with ${board.memory.sectorCount} RAM sectors`;
    } else {
      const quotaBytes = await bisectDown(fileBytes - 1, hi, fileBytes, async (q) => (await quotaRun(q)).survives);
      sized = boardVariant(board, { quotaBytes }, true);
      diskReport = {
        quotaBytes,
        filesMax: sized.disk?.filesMax ?? 0,
        boardQuotaBytes: disk.quotaBytes,
        boardFilesMax: disk.filesMax,
        resolutionBytes: fileBytes,
      };
    }
  }

  // 3. The smallest RAM budget that survives with that quota.
  let ramReport: SizeReport["ram"] = null;
  let variant: Board | null = null;
  if (failure === null) {
    const quota = sized.disk?.quotaBytes;
    const change = (sectorCount: number): { sectorCount: number; quotaBytes?: number } =>
      quota === undefined ? { sectorCount } : { sectorCount, quotaBytes: quota };
    const ramRun = (sectorCount: number): Promise<Probe> => {
      const candidate = boardVariant(board, change(sectorCount), false);
      return probe(
        `${sectorCount.toLocaleString("en-US")} RAM sectors (ramBytes ${candidate.memory.ramBytes.toLocaleString("en-US")})`,
        {
          ...withOutage,
          board: candidate,
        },
      );
    };
    // With a disk tier, step 2 ran the board's sector count with this quota and it survived (the
    // RAM budget beyond the layout is not used); without one, the board itself is the first run.
    let hi = board.memory.sectorCount;
    let found = board.disk !== null || boardSurvives;
    const most = sectorCountMax(board);
    for (let i = 0; !found && i < DOUBLINGS_MAX && hi < most; i++) {
      hi = Math.min(most, hi * 2);
      found = (await ramRun(hi)).survives;
    }
    if (!found) {
      failure = `no RAM budget up to ${hi.toLocaleString("en-US")} sectors survives the outage${board.disk === null ? " (the board has no disk tier)" : ""}`;
    } else {
      // The sector count of step 3's runs: its RAM budget is the layout's, not the board's.
      const sectorCount = await bisectDown(0, hi, 1, async (n) => (await ramRun(n)).survives);
      const chosen = variantDescribe(boardVariant(board, change(sectorCount), false), options, durationMs);
      // The answer is checked as it will be written: one more run of exactly that board.
      const check = await probe(`the variant ${chosen.name}`, { ...withOutage, board: chosen });
      if (!check.survives)
        failure = `the variant ${chosen.name} lost records when run again (a search assumption failed)`;
      else variant = chosen;
      ramReport = {
        sectorCount,
        ramBytes: chosen.memory.ramBytes,
        boardSectorCount: board.memory.sectorCount,
        boardRamBytes: board.memory.ramBytes,
        resolutionSectors: 1,
      };
    }
  }
  const note = options.input.streamsNote;
  const workload = base.workload;
  return {
    board: board.name,
    outage: given.text,
    durationMs,
    workload: { origin: workload?.origin ?? "default", streams: workload?.streams.length ?? 0, note },
    runs,
    realMs: Math.round(performance.now() - started),
    boardSurvives,
    longestOutage: {
      survivedMs,
      survivedText: survivedMs === 0 ? "none" : outageWithLength(given, survivedMs).text,
      lostMs,
      capMs,
      resolutionMs: OUTAGE_RESOLUTION_MS,
    },
    disk: diskReport,
    ram: ramReport,
    variant,
    failure,
  };
}

/** The variant as a board file: its name, a title and notes that say how it was sized, checked. */
function variantDescribe(board: Board, options: SizeOptions, durationMs: number): Board {
  const how = `imx-memsim size: the smallest that lost nothing under --outage "${options.outage.text}" over ${durationFormat(durationMs)} of the workload (${options.input.settings.workload?.origin ?? "default"}), by bisection over real runs`;
  const variant: Board = {
    ...board,
    name: options.variantName,
    title: `${board.title}, sized for the outage "${options.outage.text}"`,
    notes: `${how}. Sized from board ${board.name}.`,
    memory: {
      ...board.memory,
      source: `${how}: ${board.memory.sectorCount} sectors to within 1 sector; ramBytes holds the RAM layout, rounded up to ${RAM_BYTES_STEP} B`,
    },
    disk:
      board.disk === null
        ? null
        : {
            ...board.disk,
            source: `${how}: the quota to within one full .imx file (${imxFileBytes(board.disk.sectorsPerFileMax, board.memory.sectorBytes)} B); filesMax grows with the quota in ${board.name}'s proportion, never below its own`,
          },
  };
  // The variant is a valid board (loadBoard would accept it): a failure here is a bug.
  return boardParse(JSON.parse(JSON.stringify(variant)) as unknown, `size variant ${variant.name}`);
}
