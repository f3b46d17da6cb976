// Simulated durations as people write them ("7d", "90m", "1h30m", "250ms", "2.5h") and back.
// Every duration is a whole number of milliseconds, as the core's clock is.

import { durationParse as unitDurationParse } from "../base/parse.js";

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/**
 * Milliseconds for `text`, or null if it is not a duration. A bare integer is milliseconds (workload
 * files allow it); flags use host/base/parse.ts's durationParse, which requires the unit.
 */
export function durationParse(text: string): number | null {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const ms = Number(trimmed);
    return Number.isSafeInteger(ms) ? ms : null;
  }
  return unitDurationParse(trimmed);
}

/** A compact form: "7d", "1d 02:03:04", "90 ms", "2.5 s". */
export function durationFormat(ms: number): string {
  if (!Number.isFinite(ms)) return "∞";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(Math.round(ms));
  if (rest < SECOND_MS) return `${sign}${rest} ms`;
  if (rest < MINUTE_MS) return `${sign}${(rest / SECOND_MS).toFixed(rest % SECOND_MS === 0 ? 0 : 1)} s`;
  const days = Math.floor(rest / DAY_MS);
  rest -= days * DAY_MS;
  const hours = Math.floor(rest / HOUR_MS);
  rest -= hours * HOUR_MS;
  const minutes = Math.floor(rest / MINUTE_MS);
  rest -= minutes * MINUTE_MS;
  const seconds = Math.floor(rest / SECOND_MS);
  if (days > 0 && hours === 0 && minutes === 0 && seconds === 0) return `${sign}${days}d`;
  const clock = `${String(hours).padStart(2, "0")}:${String(minutes).padStart(2, "0")}:${String(seconds).padStart(2, "0")}`;
  return days > 0 ? `${sign}${days}d ${clock}` : `${sign}${clock}`;
}

/** An ISO UTC time without milliseconds, "2025-01-10 14:03:00". */
export function utcFormat(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "");
}
