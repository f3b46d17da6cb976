// Strict parsing of command-line values: every flag of every command reads its numbers and durations
// here, so that all of them accept and refuse the same texts.
//
//   integer   decimal digits with an optional leading "-": no "+", no hex ("0x10"), no exponent
//             ("1e3"), no spaces (" 5"), no leading zeros ("007"), no "-0", at most 2^53 − 1 in size
//   number    an integer as above with an optional fraction ("2.5"): no exponent, no ".5", no "5."
//   duration  one or more NUMBER UNIT parts, units ms, s, m, h, d, w ("90m", "1h30m", "2.5h",
//             "250ms"); the unit is required, so a bare "5" is not a duration (a bare "0" is: zero
//             is the same in every unit)
//
// The *Parse functions return null for a text they refuse; the *Flag functions throw a UsageError
// that names the flag, the rule and the text given.

import { UsageError } from "./user-error.js";

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)/y;

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** A decimal integer within ±(2^53 − 1), or null. */
export function integerParse(text: string): number | null {
  if (!INTEGER.test(text) || text === "-0") return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** A finite decimal number (digits, an optional fraction, no exponent), or null; "-0" is refused. */
export function numberParse(text: string): number | null {
  if (!NUMBER.test(text)) return null;
  const value = Number(text);
  if (!Number.isFinite(value) || (value === 0 && text.startsWith("-"))) return null;
  return value;
}

/** Whole milliseconds for a duration with units ("90m", "1h30m", "2.5h") or "0", or null. Units may be upper case. */
export function durationParse(text: string): number | null {
  const lower = text.toLowerCase();
  if (lower === "") return null;
  if (lower === "0") return 0;
  let at = 0;
  let totalMs = 0;
  // Each match consumes at least two characters, so the loop ends by the end of the text.
  while (at < lower.length) {
    DURATION_PART.lastIndex = at;
    const match = DURATION_PART.exec(lower);
    if (match === null) return null;
    const unitMs = DURATION_UNIT_MS[match[2] ?? ""];
    if (unitMs === undefined) return null;
    totalMs += Number(match[1]) * unitMs;
    at = DURATION_PART.lastIndex;
  }
  const rounded = Math.round(totalMs);
  return Number.isSafeInteger(rounded) ? rounded : null;
}

/** The integer `text` if it is one from `min` to `max`; otherwise a UsageError naming `flag`. */
export function integerFlag(text: string, flag: string, min: number, max: number): number {
  const value = integerParse(text);
  if (value === null || value < min || value > max)
    throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got "${text}")`);
  return value;
}

export interface NumberRange {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
}

function rangeShow(range: NumberRange): string {
  const low = range.above !== undefined ? `above ${range.above}` : range.min !== undefined ? `from ${range.min}` : "";
  const high = range.max === undefined ? "" : range.min !== undefined ? `to ${range.max}` : `at most ${range.max}`;
  return [low, high].filter((part) => part !== "").join(range.above !== undefined && high !== "" ? " and " : " ");
}

/**
 * The decimal number `text` if it is within `range`; otherwise a UsageError naming `flag` and the
 * rule (`rule`, or "a number" with the range).
 */
export function numberFlag(text: string, flag: string, range: NumberRange, rule?: string): number {
  const value = numberParse(text);
  const inRange =
    value !== null &&
    (range.min === undefined || value >= range.min) &&
    (range.above === undefined || value > range.above) &&
    (range.max === undefined || value <= range.max);
  if (value === null || !inRange) {
    const shown = rule ?? `a number ${rangeShow(range)}`.trimEnd();
    throw new UsageError(`${flag} must be ${shown} (got "${text}")`);
  }
  return value;
}

function msShow(ms: number): string {
  for (const [unit, unitMs] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= unitMs && ms % unitMs === 0) return `${ms / unitMs}${unit}`;
  }
  return `${ms}ms`;
}

/** Milliseconds of the duration `text` from `minMs` to `maxMs`; otherwise a UsageError naming `flag`. */
export function durationFlag(text: string, flag: string, minMs = 1, maxMs = Number.MAX_SAFE_INTEGER): number {
  const ms = durationParse(text);
  if (ms === null || ms < minMs || ms > maxMs) {
    const bounds =
      maxMs === Number.MAX_SAFE_INTEGER ? `at least ${msShow(minMs)}` : `from ${msShow(minMs)} to ${msShow(maxMs)}`;
    throw new UsageError(
      `${flag} must be a duration with a unit (ms, s, m, h, d, w) like 90m, 7d or 500ms, ${bounds} (got "${text}")`,
    );
  }
  return ms;
}
